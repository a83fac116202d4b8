"""The web layer's conventions (docs/web.md): one coded error and one JSON error body, one way to
write a handler (a door), one body limit, sessions written only when they changed; and the
example docs/web.md gives a newcomer runs as written."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Final

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

import fxml
import simulator
from fxml.clock import FixedClock
from fxml.errors import CodedError
from fxml.web.app import WebSettings, create_app
from fxml.web.errors import WebError, WebErrorCode, error_body
from fxml.web.handlers import Door, form, principal, session
from fxml.web.sessions import CookiePolicy, SessionStore
from tests.support.bank import NOW, Bank, customer

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


# -- one coded error, one body ------------------------------------------------------------------------
_STATUS: Final = {"LATE": 409}
_MESSAGES: Final = {"LATE": "已逾 {minutes} 分鐘。"}


class DemoError(CodedError):
    STATUS = _STATUS
    MESSAGES = _MESSAGES


def test_a_coded_error_fills_its_message_from_its_details_and_reads_back_from_its_json() -> None:
    late = DemoError("LATE", details={"minutes": 10})
    assert (late.status, late.message, str(late)) == (409, "已逾 10 分鐘。", "[LATE] 已逾 10 分鐘。")
    body = json.loads(error_body(late))
    assert body == {"error": {"code": "LATE", "status": 409, "message": "已逾 10 分鐘。", "details": {"minutes": 10}}}
    again = DemoError.from_json(body)
    assert again is not None and (again.code, again.status, again.message, again.details) == (
        "LATE", 409, "已逾 10 分鐘。", {"minutes": 10})
    assert DemoError.from_json("<html>") is None and DemoError("OTHER").status == 400


def _builds_the_error_body(path: Path) -> bool:
    """Whether a module writes the JSON error body, ``{"error": ...}`` (a dict whose one key is
    "error"), itself."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict) and len(node.keys) == 1:
            key = node.keys[0]
            if isinstance(key, ast.Constant) and key.value == "error":
                return True
    return False


def test_the_json_error_body_is_built_in_one_place() -> None:
    modules = [p for package in (fxml, simulator) for p in Path(package.__path__[0]).rglob("*.py")]
    builders = sorted(str(p.relative_to(ROOT)) for p in modules if _builds_the_error_body(p))
    assert builders == ["fxml/web/errors.py"]


def test_every_part_s_refusal_is_a_coded_error() -> None:
    from fxml.agent.api import AgentError
    from fxml.ca.client import CaError
    from fxml.platform.bankapi import BankApiError
    from fxml.platform.tickets import TicketError
    from fxml.platform.wizard import WizardError
    from fxml.renewal.errors import RenewalError
    from fxml.renewal.model import RecordError
    from fxml.web.sessions import CsrfError
    from simulator.bank.auth import BankError
    from simulator.ca.errors import CaServiceError

    for kind in (AgentError, CaError, BankApiError, TicketError, WizardError, RenewalError, RecordError, CsrfError,
                 BankError, CaServiceError, WebError):
        assert issubclass(kind, CodedError), kind


# -- the door -------------------------------------------------------------------------------------------
def _door_app(tmp_path: Path) -> tuple[TestClient, SessionStore]:
    sessions = SessionStore(tmp_path / "sessions.sqlite3", CookiePolicy("demo_session"))

    def refuse(request: Request, error: CodedError, *, back: str | None, title: str | None) -> Response:
        return PlainTextResponse(f"{error.code} {back} {title}", status_code=error.status)

    door: Door[str] = Door(identify=lambda request, found: found.get("who") if found else None,
                           stranger=lambda request: WebError(WebErrorCode.NOT_FOUND, "誰？", 401),
                           refuse=refuse, sessions=sessions, login_url="/login")

    async def login(request: Request) -> Response:
        door.rotate(request)["who"] = "wang"
        return PlainTextResponse("in")

    async def page(request: Request) -> Response:
        who = principal(request, str)
        if request.method == "POST":
            session(request)["note"] = (await form(request)).get("note")
        return PlainTextResponse(f"{who} {session(request).csrf_token}")

    async def fails(request: Request) -> Response:
        raise WebError(WebErrorCode.BAD_REQUEST, "不行。")

    app = create_app([
        Route("/login", door.page(login, anyone=True), methods=["POST"]),
        Route("/page/{n}", door.page(page, back="/back/{n}", title="標題"), methods=["GET", "POST"]),
        Route("/fails", door.json(fails)),
    ])
    return TestClient(app, base_url="http://127.0.0.1:8999"), sessions


def _row(sessions: SessionStore) -> tuple[Any, ...]:
    return tuple(sessions.connection().execute("SELECT id, data, expires FROM web_sessions").fetchall())


def test_a_door_refuses_strangers_answers_refusals_and_saves_only_what_changed(tmp_path: Path) -> None:
    client, sessions = _door_app(tmp_path)
    stranger = client.get("/page/1")
    assert (stranger.status_code, stranger.text) == (401, "NOT_FOUND /login None")
    assert "set-cookie" not in stranger.headers and _row(sessions) == ()
    assert client.post("/login").text == "in"
    first = client.get("/page/7")  # the CSRF token is made: the session changed
    who, token = first.text.split()
    assert who == "wang" and "demo_session=" in first.headers["set-cookie"]
    (sid, data, _expires), = _row(sessions)
    sessions.connection().execute("UPDATE web_sessions SET data = ? WHERE id = ?",
                                  (json.dumps({**json.loads(data), "marker": 1}), sid))
    again = client.get("/page/7")  # nothing changed: the data is not written again, the idle timeout is
    assert again.text == first.text and json.loads(_row(sessions)[0][1])["marker"] == 1
    forged = client.post("/page/7", data={"csrf_token": "forged", "note": "x"})
    assert (forged.status_code, forged.text) == (403, "CSRF_FAILED /back/7 標題")
    noted = client.post("/page/7", data={"csrf_token": token, "note": "記下"})
    assert noted.status_code == 200 and json.loads(_row(sessions)[0][1])["note"] == "記下"
    refused = client.get("/fails")
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "不行。"


def test_the_body_limit_is_the_app_s_and_answers_in_its_words(tmp_path: Path) -> None:
    async def echo(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    app = create_app([Route("/api/echo", echo, methods=["POST"])], settings=WebSettings(max_body=10))
    with TestClient(app) as client:
        assert client.post("/api/echo", content=b"x" * 10).text == "10"
        for answer in (client.post("/api/echo", content=b"x" * 11),
                       client.post("/api/echo", content=iter([b"x" * 6, b"x" * 6]))):  # declared, then chunked
            assert answer.status_code == 413 and answer.headers["connection"] == "close"
            assert answer.json()["error"] == {"code": "PAYLOAD_TOO_LARGE", "status": 413, "message": "請求內容過大。",
                                              "details": {"limit": 10}}


# -- the example of docs/web.md ---------------------------------------------------------------------------
def test_the_example_of_the_docs_runs_as_written(bank: Bank) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC[DOC.index("## Handlers"):], re.S)
    example = next(b for b in blocks if b.startswith("from "))
    handler = re.search(r"async def note\(.*?\n\n", example, re.S)
    assert handler and len(handler.group(0).strip().splitlines()) <= 10, "the handler is ten lines at most"
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/web.md", "exec"), namespace)  # noqa: S102 - the docs' own example
    note_app = create_app([Mount("/eoi", routes=namespace["note_routes"](bank.app.pages))])
    with TestClient(note_app, base_url=str(bank.client.base_url)) as client:
        refused = client.get("/eoi/note")
        assert refused.status_code == 401 and 'data-code="NOT_LOGGED_IN"' in refused.text
        eoi = customer("eoi")
        bank.log_in(eoi)
        client.cookies = bank.client.cookies
        page = client.get("/eoi/note")
        assert page.status_code == 200 and eoi.users[0].user_code in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        assert client.post("/eoi/note", data={"csrf_token": "forged"}).status_code == 403
        assert client.post("/eoi/note", data={"csrf_token": token.group(1), "note": "記下"}).status_code == 200
