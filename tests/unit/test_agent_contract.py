"""The card agent's contract (fxml/agent/api.py) is the one the server, the Python
client, the browser module (agent.js) and docs/agent.md use: the same paths, event
types, codes, messages and default port."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from starlette.routing import Route

from fxml.agent import api
from fxml.agent.api import MESSAGES, STATUS, AgentError, ErrorCode, EventType
from fxml.agent.app import AgentApi
from fxml.agent.cards import translate
from fxml.agent.core import AgentSettings, CardAgent
from fxml.card.errors import PinBlockedError, WrongPinError
from fxml.card.pcsc import NoCardError
from fxml.renewal.errors import MESSAGES as ENGINE_MESSAGES
from fxml.renewal.errors import RenewalErrorCode, WrongCardError
from fxml.renewal.model import RecordError, RecordErrorCode

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "agent.md").read_text(encoding="utf-8")
JS = (ROOT / "fxml" / "web" / "static" / "agent.js").read_text(encoding="utf-8")


def _js_object(name: str) -> dict[str, str]:
    body = re.search(rf"export const {name} = Object\.freeze\(\{{(.*?)\}}\);", JS, re.S)
    assert body, f"agent.js has no {name}"
    return dict(re.findall(r'(\w+): "([^"]*)"', body.group(1)))


def test_agent_js_names_the_paths_of_api_py() -> None:
    assert _js_object("PATHS") == api.all_paths()


def test_agent_js_knows_every_event_type_and_the_default_port() -> None:
    body = re.search(r"export const EVENT_TYPES = Object\.freeze\(\[(.*?)\]\);", JS, re.S)
    assert body
    assert re.findall(r'"(\w+)"', body.group(1)) == [e.value for e in EventType]
    assert f"export const DEFAULT_PORT = {api.DEFAULT_PORT};" in JS
    assert f'export const API_VERSION = "{api.API_VERSION}";' in JS


def test_agent_js_raises_the_client_codes_with_the_contract_s_messages() -> None:
    client = _js_object("CLIENT_ERRORS")
    assert client == {c: MESSAGES[ErrorCode(c)] for c in ("AGENT_UNREACHABLE", "AGENT_BAD_RESPONSE")}


def test_agent_js_has_no_inline_eval_and_no_credentials() -> None:
    assert "eval(" not in JS and "new Function" not in JS
    assert 'credentials: "omit"' in JS


def test_every_code_has_a_status_and_a_zh_tw_message_and_is_documented() -> None:
    for code in ErrorCode:
        assert code in STATUS and code in MESSAGES, code
        assert re.search(r"[\u4e00-\u9fff]", MESSAGES[code]), code
        assert f"| `{code.value}` | {STATUS[code] or '—'} | {MESSAGES[code]} |" in DOC, code


def test_every_path_is_documented_and_served() -> None:
    routes = {(r.path, m) for r in AgentApi(CardAgent(AgentSettings())).routes() if isinstance(r, Route)
              for m in (r.methods or ()) if m != "HEAD"}
    served = {path for path, _ in routes}
    for path in api.all_paths().values():
        assert path in served, path
        assert f"{path}`" in DOC, path
    methods = {m for _, m in routes}
    assert methods <= {"GET", *api.ALLOWED_METHODS}
    assert f"**Default port: {api.DEFAULT_PORT}**" in DOC


def test_messages_fill_their_fields_from_the_details() -> None:
    assert AgentError(ErrorCode.PIN_INCORRECT, details={"tries_left": 2}).message == "憑證載具密碼錯誤，尚可嘗試 2 次。"
    assert AgentError(ErrorCode.FIELD_INVALID, details={"field": "pin"}).message == "欄位 pin 的內容不正確。"
    # A foreign code (the CA's) keeps its own message; without one it says the renewal did not finish.
    assert AgentError("RENEWAL_WINDOW_NOT_OPEN", "尚未到可更新期間。").status == 502
    assert AgentError("SOMETHING").message == MESSAGES[ErrorCode.RENEWAL_FAILED]
    again = AgentError.from_json({"error": AgentError(ErrorCode.NO_CARD).to_json()})
    assert (again.code, again.status, again.message) == ("NO_CARD", 409, MESSAGES[ErrorCode.NO_CARD])
    assert AgentError.from_json("<html>").code == ErrorCode.AGENT_BAD_RESPONSE


def test_card_and_record_errors_become_the_agent_s_codes() -> None:
    assert translate(WrongPinError(0x63C2)).details == {"tries_left": 2}
    assert translate(WrongPinError(0x63C2)).code == ErrorCode.PIN_INCORRECT
    assert translate(WrongPinError(0x63C0)).code == ErrorCode.PIN_BLOCKED
    assert translate(PinBlockedError(0x6983)).code == ErrorCode.PIN_BLOCKED
    assert translate(NoCardError(0x80100069, "removed")).code == ErrorCode.CARD_REMOVED
    stale = translate(RecordError(RecordErrorCode.STALE, "the record moved"))
    assert (stale.code, stale.message, stale.status) == ("RENEWAL_STALE", "the record moved", 502)


def test_the_engine_s_new_key_refusal_reaches_the_page_with_the_agent_s_status_and_the_same_message() -> None:
    code = RenewalErrorCode.NEW_KEY_NOT_ON_CARD
    assert ErrorCode(code.value) == ErrorCode.NEW_KEY_NOT_ON_CARD
    assert MESSAGES[ErrorCode.NEW_KEY_NOT_ON_CARD] == ENGINE_MESSAGES[code]
    refused = translate(WrongCardError(code, details={"container": "9C"}))
    assert (refused.code, refused.status, refused.message) == ("NEW_KEY_NOT_ON_CARD", 409, ENGINE_MESSAGES[code])
    assert refused.details["retryable"] is True and refused.details["container"] == "9C"


def test_the_agent_leaves_uvicorn_as_released() -> None:
    """sse-starlette wraps uvicorn's Server.handle_exit when imported; the agent puts it back
    (its streams end through the hub), so no process-wide flag outlives a server."""
    import uvicorn
    from sse_starlette.sse import AppStatus  # imported with fxml.agent.app, above

    assert uvicorn.Server.handle_exit is AppStatus.original_handler
    assert list(inspect.signature(uvicorn.Server.handle_exit).parameters) == ["self", "sig", "frame"]
