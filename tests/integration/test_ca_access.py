"""Who may call the CA service (docs/ca.md, "Who may call the CA"): a real process
on 127.0.0.1 refuses a foreign Host (DNS rebinding), a web page's Origin, a request
the browser marks as from another site or port, a POST that is not JSON, and the
registration authority's operations without the admin token; each refusal changes
nothing in the registry. OCSP, the CRL and the CA certificates stay open to anyone.
A real chromium page on another loopback port tries the attacks a hostile test
found (a no-cors POST that suspended a live certificate, a text/plain POST that
registered a holder, a form post) and changes nothing."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from fxml.ca.client import CaClient, CaError
from fxml.clock import FixedClock
from simulator.ca.registry import Registry
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, KeyCache, ServiceProcess, make_csr, open_test_ca
from tests.support.browser import StaticSite, chromium
from tests.support.ca import FIRST_ISSUE

JSON = "application/json"


class Ca:
    """The service, a live certificate of the fixture holder, and raw HTTP to it."""

    def __init__(self, process: ServiceProcess, keys: KeyCache):
        self.process = process
        self.port = int(process.url.rsplit(":", 1)[1])
        self.admin = process.admin_client(actor="test", retries=0)
        with open_test_ca(process.state_dir, keys, FixedClock(FIRST_ISSUE)) as local:
            subject = local.subject_for(HOLDER_ID, CN_SUFFIX)
        self.csr = make_csr(keys.rsa("holder-1"), subject)
        self.live = self.admin.apply("access-live", HOLDER_ID, self.csr)

    @property
    def url(self) -> str:
        return self.process.url

    def dump(self) -> dict[str, list[Any]]:
        registry = Registry(self.process.state_dir / "ca.sqlite3")
        try:
            return registry.dump()
        finally:
            registry.close()

    def call(self, method: str, path: str, body: bytes | None = None, /, **headers: str) -> tuple[int, dict[str, Any]]:
        """One request with exactly these headers (``Host`` defaults to the service's own)."""
        sent = {"Host": f"127.0.0.1:{self.port}", **{k.replace("_", "-"): v for k, v in headers.items()}}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in sent.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            answer = conn.getresponse()
            content = answer.read()
            kind = answer.getheader("Content-Type") or ""
            return answer.status, json.loads(content) if kind.startswith(JSON) else {"raw": content}
        finally:
            conn.close()

    def admin_header(self) -> str:
        return f"Bearer {self.process.token}"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory, keys: KeyCache) -> Iterator[Ca]:
    root = tmp_path_factory.mktemp("ca-access")
    with open_test_ca(root / "state", keys, FixedClock(FIRST_ISSUE)):
        pass  # the state folder on the pinned keys, with the fixture holder
    process = ServiceProcess(root / "state", env={"FXMLSIM_CLOCK": "system"}).start()
    try:
        yield Ca(process, keys)
    finally:
        assert process.stop() == 0


def refused(answer: tuple[int, dict[str, Any]], status: int, code: str) -> str:
    got_status, body = answer
    assert (got_status, body.get("error", {}).get("code")) == (status, code), answer
    message: str = body["error"]["message"]
    return message


# -- the token file ----------------------------------------------------------------------------
def test_the_admin_token_is_made_private_in_the_state_folder(ca: Ca) -> None:
    path = ca.process.state_dir / "admin.token"
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid()
    assert len(ca.process.token) >= 40  # 32 random bytes, URL-safe base64


def test_a_token_file_others_may_read_is_refused_at_start(tmp_path: Path, keys: KeyCache) -> None:
    state = tmp_path / "state"
    with open_test_ca(state, keys, FixedClock(FIRST_ISSUE)):
        pass
    (state / "admin.token").write_text("x" * 43 + "\n")
    (state / "admin.token").chmod(0o644)
    before = (state / "admin.token").read_bytes()
    done = subprocess.run([sys.executable, "-m", "simulator.ca", "serve", "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (f"simulator.ca: [CA_STATE_ERROR] 管理權杖檔 {state / 'admin.token'} "
                                   "須僅限擁有者讀寫（0600）。")
    assert (state / "admin.token").read_bytes() == before  # not rewritten behind the owner's back


# -- Host ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1:1", "", "127.0.0.1.nip.io:{port}"])
def test_a_foreign_host_is_refused_reads_and_writes(ca: Ca, host: str) -> None:
    before = ca.dump()
    host = host.format(port=ca.port)
    message = refused(ca.call("GET", f"/certificates?holder_id={HOLDER_ID}", Host=host), 421, "HOST_NOT_ALLOWED")
    assert message == "拒絕連線：主機名稱不符，憑證中心僅接受本機位址。"
    body = json.dumps({"holder_id": "66000001", "name": "攻擊者", "cn_suffix": "2015"}).encode()
    refused(ca.call("POST", "/holders", body, Host=host, Content_Type=JSON, Authorization=ca.admin_header()),
            421, "HOST_NOT_ALLOWED")
    refused(ca.call("POST", f"/certificates/{ca.live.serial}/suspend", b"{}", Host=host, Content_Type=JSON,
                    Authorization=ca.admin_header()), 421, "HOST_NOT_ALLOWED")
    assert ca.dump() == before


def test_a_request_without_host_is_refused(ca: Ca) -> None:
    with socket.create_connection(("127.0.0.1", ca.port), timeout=10) as sock:
        sock.sendall(b"GET /certificates HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 421 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "HOST_NOT_ALLOWED"


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_the_services_own_names_are_served(ca: Ca, name: str) -> None:
    status, body = ca.call("GET", f"/certificates?serial={ca.live.serial}", Host=f"{name}:{ca.port}")
    assert status == 200 and [c["serial"] for c in body["certificates"]] == [ca.live.serial]


# -- web pages ------------------------------------------------------------------------------------
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "http://localhost:{port}"])
def test_any_origin_is_refused(ca: Ca, origin: str) -> None:
    before = ca.dump()
    origin = origin.format(port=ca.port)
    message = refused(ca.call("GET", f"/certificates?holder_id={HOLDER_ID}", Origin=origin), 403,
                      "ORIGIN_NOT_ALLOWED")
    assert message == "拒絕連線：網頁不得直接呼叫憑證中心。"
    refused(ca.call("POST", f"/certificates/{ca.live.serial}/suspend", b"{}", Origin=origin, Content_Type=JSON,
                    Authorization=ca.admin_header()), 403, "ORIGIN_NOT_ALLOWED")
    assert ca.dump() == before


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_request_the_browser_marks_as_from_another_site_is_refused(ca: Ca, site: str) -> None:
    message = refused(ca.call("GET", f"/certificates?holder_id={HOLDER_ID}", Sec_Fetch_Site=site), 403,
                      "CROSS_SITE_REFUSED")
    assert message == "拒絕連線：其他網站的請求不得呼叫憑證中心。"


@pytest.mark.parametrize("limit", ["\uff11\uff12", "\u00b2", "-5", "1_0"])
def test_a_number_in_the_query_is_ascii_digits(ca: Ca, limit: str) -> None:
    message = refused(ca.call("GET", f"/certificates?holder_id={HOLDER_ID}&limit={quote(limit)}"), 400,
                      "BAD_REQUEST")
    assert message == "limit 須為整數。"


@pytest.mark.parametrize("site", ["none", "same-origin"])
def test_the_users_own_navigation_is_served(ca: Ca, site: str) -> None:
    assert ca.call("GET", f"/certificates/{ca.live.serial}", Sec_Fetch_Site=site)[0] == 200


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x", ""])
def test_a_post_that_is_not_json_is_refused(ca: Ca, kind: str) -> None:
    before = ca.dump()
    body = json.dumps({"holder_id": "66000002", "name": "攻擊者", "cn_suffix": "2015"}).encode()
    headers = {"Authorization": ca.admin_header(), **({"Content_Type": kind} if kind else {})}
    message = refused(ca.call("POST", "/holders", body, **headers), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert message == "請以 JSON 格式（Content-Type: application/json）送出請求。"
    assert ca.dump() == before


# -- the admin token --------------------------------------------------------------------------------
def _admin_calls(ca: Ca) -> list[tuple[str, dict[str, Any]]]:
    serial = ca.live.serial
    csr = base64.b64encode(ca.csr).decode()
    return [
        ("/holders", {"holder_id": "66000003", "name": "攻擊者", "cn_suffix": "2015"}),
        ("/certificates", {"request_id": "attacker-1", "holder_id": HOLDER_ID, "csr": csr}),
        (f"/certificates/{serial}/suspend", {}),
        (f"/certificates/{serial}/resume", {}),
        (f"/certificates/{serial}/revoke", {"reason": "keyCompromise"}),
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer wrong-token", "Basic {token}", "{token}"])
def test_the_ras_operations_need_the_admin_token(ca: Ca, authorization: str | None) -> None:
    before = ca.dump()
    headers = {"Content_Type": JSON}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=ca.process.token)
    for path, body in _admin_calls(ca):
        message = refused(ca.call("POST", path, json.dumps(body).encode(), **headers), 401, "ADMIN_TOKEN_REQUIRED")
        assert message == "此作業限憑證中心管理者執行，請附上管理權杖。"
    assert ca.dump() == before  # not even an audit entry: nothing reached the CA


def test_the_client_without_a_token_is_refused_and_with_it_served(ca: Ca) -> None:
    anyone = CaClient(ca.url, retries=0)
    with pytest.raises(CaError) as caught:
        anyone.suspend(ca.live.serial)
    assert (caught.value.status, caught.value.code) == (401, "ADMIN_TOKEN_REQUIRED")
    assert anyone.download(ca.live.serial).status == "正常"  # reads stay open to local programs
    assert ca.admin.suspend(ca.live.serial).status == "暫禁"
    assert ca.admin.resume(ca.live.serial).status == "正常"


def test_from_env_reads_the_token_file(ca: Ca, tmp_path: Path) -> None:
    client = CaClient.from_env({"FXMLSIM_CA_URL": ca.url,
                                "FXMLSIM_CA_TOKEN_FILE": str(ca.process.state_dir / "admin.token")})
    assert client.token == ca.process.token
    with pytest.raises(CaError) as caught:
        CaClient.from_env({"FXMLSIM_CA_URL": ca.url, "FXMLSIM_CA_TOKEN_FILE": str(tmp_path / "missing")})
    assert caught.value.code == "ADMIN_TOKEN_REQUIRED" and "無法讀取憑證中心管理權杖檔" in caught.value.message


# -- what relying parties fetch ------------------------------------------------------------------
def test_ocsp_crl_and_ca_certificates_stay_open(ca: Ca) -> None:
    foreign = {"Host": "evil.example", "Origin": "http://evil.example", "Sec_Fetch_Site": "cross-site"}
    status, body = ca.call("GET", "/ca/TWCA-Financial-User-CA.cer", **foreign)
    issuer = x509.load_der_x509_certificate(body["raw"])
    assert status == 200 and issuer.subject == ca.live.certificate.issuer
    status, body = ca.call("GET", "/crl/TWCA-Financial-User-CA.crl", **foreign)
    assert status == 200 and x509.load_der_x509_crl(body["raw"]).issuer == issuer.subject
    # SHA-1 is what OCSP's CertID uses (RFC 6960); it identifies, it does not protect.
    request = ocsp.OCSPRequestBuilder().add_certificate(
        ca.live.certificate, issuer, hashes.SHA1()).build()  # noqa: S303
    der = request.public_bytes(serialization.Encoding.DER)
    status, body = ca.call("POST", "/ocsp", der, Content_Type="application/ocsp-request", **foreign)
    answer = ocsp.load_der_ocsp_response(body["raw"])
    assert status == 200 and answer.certificate_status == ocsp.OCSPCertStatus.GOOD


# -- a real browser -------------------------------------------------------------------------------------
ATTACK = """<!doctype html><html><head><meta charset="utf-8"><title>攻擊頁</title>
<script src="attack.js"></script></head><body>
<form id="form" method="post" action="{ca}/holders" enctype="text/plain">
<input name='{{"holder_id":"66000005","name":"攻擊者","cn_suffix":"2015","x":"' value='"}}'></form>
</body></html>"""

ATTACK_JS = """
window.results = (async () => {{
  const tries = [
    ["{ca}/certificates/{serial}/suspend", {{method: "POST", mode: "no-cors"}}],
    ["{ca}/holders", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
      body: JSON.stringify({{holder_id: "66000004", name: "攻擊者", cn_suffix: "2015"}})}}],
    ["{ca}/certificates?holder_id={holder}", {{method: "GET"}}],
  ];
  const out = [];
  for (const [url, init] of tries) {{
    try {{ const r = await fetch(url, init); out.push(r.type + ":" + r.status); }}
    catch (e) {{ out.push("blocked"); }}
  }}
  return out;
}})();
"""


def test_a_page_on_another_port_cannot_change_the_ca(ca: Ca, tmp_path: Path) -> None:
    before = ca.dump()
    (tmp_path / "index.html").write_text(ATTACK.format(ca=ca.url), encoding="utf-8")
    (tmp_path / "attack.js").write_text(ATTACK_JS.format(ca=ca.url, serial=ca.live.serial, holder=HOLDER_ID),
                                        encoding="utf-8")
    with chromium() as browser, StaticSite(tmp_path, csp="default-src * 'unsafe-inline'") as site:
        page = browser.new_page()
        requests: list[tuple[str, str]] = []
        page.on("response", lambda r: requests.append((r.url, str(r.status))) if r.url.startswith(ca.url) else None)
        page.goto(f"{site.origin}/index.html")
        results = page.evaluate("window.results")
        # no-cors answers are opaque (status 0) to the page; a CORS GET gets nothing at all.
        assert results[:2] == ["opaque:0", "opaque:0"] and results[2] == "blocked", results
        with page.expect_navigation():
            page.evaluate("document.getElementById('form').submit()")
        assert "ORIGIN_NOT_ALLOWED" in page.content()
        page.close()
    # What the CA answered the browser, seen on the wire: each a refusal of a web page.
    assert requests and all(status == "403" for _, status in requests), requests
    assert ca.dump() == before
    assert ca.admin.download(ca.live.serial).status == "正常"
