"""agent.js in a real browser: chromium loads a page from the platform's origin (with the
platform's CSP) and calls the card agent with the module's functions, over real CORS
and EventSource, against the private pcscd + vpcd stack; a page of another origin
gets nothing, and an agent that is not running is reported in zh-TW."""

from __future__ import annotations

import base64
import json
import shutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml.agent.api import MESSAGES, ErrorCode
from simulator.home import Home
from tests.support.agent import PROFILES, REPO, AgentProcess
from tests.support.browser import StaticSite, chromium

pytestmark = pytest.mark.pcsc

PERSONAL = PROFILES / "personal-small.json"
PIN = json.loads(PERSONAL.read_text())["pin"]

PAGE = """<!doctype html>
<html lang="zh-TW"><head><meta charset="utf-8"><meta name="fxml-agent" content="{agent}">
<title>platform</title><script type="module" src="/agent.js"></script></head><body>平台</body></html>
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def world(stack_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("site")
    with StaticSite(root) as site:
        origin = f"http://127.0.0.1:{site.port}"
        with AgentProcess(root.parent / "agent-browser.log", str(stack_home.stack.socket_path),
                          "--allow-origin", origin) as agent:
            site.csp = (f"default-src 'self'; script-src 'self'; connect-src 'self' {agent.url}; "
                        "frame-ancestors 'none'; base-uri 'none'")
            shutil.copy(REPO / "fxml" / "web" / "static" / "agent.js", root / "agent.js")
            (root / "index.html").write_text(PAGE.format(agent=agent.url), encoding="utf-8")
            yield {"agent": agent, "origin": origin, "other": f"http://localhost:{site.port}"}


@pytest.fixture
def page(browser: Any, world: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(locale="zh-TW")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def run(page: Any, script: str, arg: Any = None) -> Any:
    """Run ``script`` (the body of an async function of ``agent``, the module, and ``arg``) in
    the page; a rejected AgentError comes back as {"error": {code, message, status, details, name}}.
    (Playwright's evaluation is not the page's eval, which its CSP forbids.)"""
    return page.evaluate(
        f"""async (arg) => {{
             const agent = await import("/agent.js");
             try {{
               {script}
             }} catch (error) {{
               return {{error: {{code: error.code, message: error.message, status: error.status,
                                 details: error.details, name: error.name}}}};
             }}
           }}""",
        arg,
    )


LISTEN = """
    window.seen = [];
    window.waiters = [];
    const matches = (event, want) => event.type === want.type
        && Object.entries(want.data || {}).every(([k, v]) => event.data[k] === v);
    window.stop = agent.events((event) => {
      window.seen.push(event);
      window.waiters = window.waiters.filter((w) => !(matches(event, w.want) && (w.resolve(event), true)));
    });
    // The event wanted, seen already or when it comes (no polling); rejects after 10 s.
    window.waitEvent = (want) => {
      const found = window.seen.find((event) => matches(event, want));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        window.waiters.push({want, resolve});
        setTimeout(() => reject(new Error("no " + JSON.stringify(want) + " within 10 s")), 10000);
      });
    };
    return true;
"""


def wait_event(page: Any, kind: str, **data: Any) -> dict[str, Any]:
    event: dict[str, Any] = run(page, "return await window.waitEvent(arg);", {"type": kind, "data": data})
    assert "error" not in event, event
    return event


def test_the_platform_s_page_reads_opens_signs_and_hears_the_card(
    page: Any, world: dict[str, Any], empty_readers: Home
) -> None:
    page.goto(world["origin"] + "/")
    run(page, LISTEN)
    assert wait_event(page, "hello")["data"]["api"] == "v1"
    image = empty_readers.create_card(PERSONAL, name="agent-browser", replace=True)
    reader = empty_readers.stack.insert(image, 1)["name"]
    wait_event(page, "card_inserted", reader=reader)
    readers = run(page, "return await agent.readers();")
    [listed] = [r for r in readers if r["name"] == reader]
    assert listed["card"]["carrier"] == "憑證晶片卡(小卡)"
    assert listed["card"]["certificates"][0]["common_name"] == "A123456789-00-2015"
    wrong = run(page, "return await agent.openSession(arg, 'zzzzzz9');", reader)
    assert wrong["error"]["code"] == ErrorCode.PIN_INCORRECT and wrong["error"]["status"] == 401
    assert wrong["error"]["message"] == "憑證載具密碼錯誤，尚可嘗試 2 次。"
    signed = run(page, """
        const session = await agent.openSession(arg.reader, arg.pin);
        const signature = await agent.sign(session.session, "轉帳 1,000 元");
        await agent.closeSession(session.session);
        return {session: session.session, signature};""", {"reader": reader, "pin": PIN})
    answer = signed["signature"]
    assert answer["common_name"] == "A123456789-00-2015"
    key = x509.load_pem_x509_certificate(answer["certificate"].encode()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(answer["signature"]), "轉帳 1,000 元".encode(), padding.PKCS1v15(), hashes.SHA256())
    wait_event(page, "session_closed", session=signed["session"], reason="closed")
    empty_readers.stack.remove(1)
    wait_event(page, "card_removed", reader=reader)
    run(page, "window.stop(); return true;")


def test_a_page_of_another_origin_gets_nothing(page: Any, world: dict[str, Any], empty_readers: Home) -> None:
    image = empty_readers.create_card(PERSONAL, name="agent-browser-other", replace=True)
    reader = empty_readers.stack.insert(image, 1)["name"]
    before = image.read_bytes()
    page.goto(world["other"] + "/")  # localhost, not 127.0.0.1: another origin
    for script in ("return await agent.readers();", "return await agent.openSession(arg, '" + PIN + "');"):
        answer = run(page, script, reader)
        assert answer["error"]["code"] == ErrorCode.AGENT_UNREACHABLE  # the browser gives the page nothing
    answer = run(page, """
        return await new Promise((resolve) => {
          const stop = agent.events(() => {}, (error) => { stop(); resolve({error: {code: error.code}}); });
        });""")
    assert answer["error"]["code"] == ErrorCode.AGENT_UNREACHABLE
    assert image.read_bytes() == before  # the preflight was refused: the PIN never reached the card
    log = world["agent"].log.read_text()
    assert f"from origin '{world['other']}'" in log


def test_an_agent_that_is_not_running_is_reported_in_zh_tw(page: Any, world: dict[str, Any]) -> None:
    page.goto(world["origin"] + "/")
    answer = run(page, "return await agent.createAgent(arg).status();", f"http://127.0.0.1:{free_port()}")
    assert answer["error"] == {"code": "AGENT_UNREACHABLE", "message": MESSAGES[ErrorCode.AGENT_UNREACHABLE],
                               "status": 0, "details": answer["error"]["details"], "name": "AgentError"}
