"""The CA service as a real process on 127.0.0.1: the reference's renewal through
the HTTP API, every refusal (answer and unchanged registry), HTTP edge cases, a
crash between commit and answer, and the process's own lifecycle."""

from __future__ import annotations

import argparse
import base64
import http.client
import http.server
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from fxml.ca.api import renewal_proof_message
from fxml.ca.client import CaClient, CaError, CertificateRecord
from fxml.clock import TAIWAN, FileClock, FixedClock
from simulator.ca.cli import register
from simulator.ca.registry import Registry
from simulator.ca.testing import (
    KeyCache,
    ServiceProcess,
    assert_only_refusal_recorded,
    break_signature,
    make_csr,
    open_test_ca,
)

FIRST_ISSUE = datetime(2021, 5, 14, 10, 0, 0, tzinfo=TAIWAN)
RENEWED_AT = datetime(2023, 4, 17, 11, 28, 33, tzinfo=TAIWAN)
OLD_NOT_AFTER = datetime(2023, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
NAME = "虛構測試貿易股份有限公司"


class Service:
    def __init__(self, process: ServiceProcess, clock: FileClock, keys: KeyCache):
        self.process = process
        self.clock = clock
        self.keys = keys
        self.client = process.admin_client(actor="test", retries=0)

    @property
    def url(self) -> str:
        return self.process.url

    def dump(self) -> dict[str, list]:
        registry = Registry(self.process.state_dir / "ca.sqlite3")
        try:
            return registry.dump()
        finally:
            registry.close()

    def renew(self, request_id: str, serial: str, csr_der: bytes, old_key: str = "holder-1") -> CertificateRecord:
        """更新 as the holder of the old key does it: that key signs the request."""
        return self.client.renew(request_id, serial, csr_der, proof(self.keys, old_key, request_id, serial, csr_der))

    def holder(self, suffix: str = "2015") -> tuple[str, Callable[[str], bytes]]:
        """A new holder (so tests do not share one) and a CSR maker for its subject."""
        holder_id = f"9{uuid.uuid4().int % 10**7:07d}"
        self.client.register_holder(holder_id, NAME, suffix)
        subject = (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"),
                   ("OU", "0060000-Taiwan Cooperative Bank"), ("OU", "FXML"), ("CN", f"{holder_id}-00-{suffix}"))
        return holder_id, lambda key: make_csr(self.keys.rsa(key), subject)


def proof(keys: KeyCache, key: str, request_id: str, serial: str, csr_der: bytes) -> bytes:
    return keys.rsa(key).sign(renewal_proof_message(request_id, serial, csr_der), padding.PKCS1v15(),
                              hashes.SHA256())


def start_service(state: Path, keys: KeyCache, clock: FileClock, **env: str) -> ServiceProcess:
    return ServiceProcess(state, env={"FXMLSIM_CLOCK": f"file:{clock.path}", **env}).start()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, keys: KeyCache) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("ca-http")
    with open_test_ca(root / "state", keys, FixedClock(FIRST_ISSUE)):
        pass  # the state folder, on the pinned keys
    clock = FileClock(root / "clock.json")
    clock.write(fixed=FIRST_ISSUE)
    process = start_service(root / "state", keys, clock)
    try:
        yield Service(process, clock, keys)
    finally:
        assert process.stop() == 0


@pytest.fixture
def svc(service: Service) -> Iterator[Service]:
    service.clock.write(fixed=FIRST_ISSUE)
    yield service
    service.clock.write(fixed=FIRST_ISSUE)


# -- the reference ---------------------------------------------------------------------------------
def test_ready_line_and_service_description(svc: Service) -> None:
    assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+\n", svc.process.ready_line)
    info = svc.client.info()
    assert info["simulation"] is True and info["base_url"] == svc.url
    assert info["issuer"] == "C=TW O=TWCA OU=User CA CN=TWCA Financial User CA"
    assert info["now"] == "2021-05-14T10:00:00+08:00"


def test_golden_renewal_through_the_http_api(svc: Service) -> None:
    holder_id, csr = svc.holder()
    old = svc.client.apply("golden-apply", holder_id, csr("holder-1"))
    assert old.not_after == OLD_NOT_AFTER and old.status == "正常"
    svc.clock.write(fixed=RENEWED_AT)
    new = svc.renew("golden-renew", old.serial, csr("holder-2"))
    assert new.renewed_from == old.serial and not new.replayed
    assert list(new.chain) == svc.client.chain()  # issuer, then root
    assert svc.client.proof_sheet(new.serial) == {
        "證明單申請日期": "112/04/17",
        "簽章憑證序號": new.serial,
        "主旨(使用者識別名稱)": "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank "
                               f"OU=FXML CN={holder_id}-00-2015",
        "憑證發行者": "C=TW O=TWCA OU=User CA CN=TWCA Financial User CA",
        "憑證生效日": "2023-04-17 11:28:33",
        "憑證到期日": "2025-05-14 23:59:59",
        "憑證狀態": "正常",
    }
    assert new.certificate.not_valid_before_utc == RENEWED_AT
    assert svc.client.download(old.serial).status == "正常"
    svc.clock.write(fixed=OLD_NOT_AFTER + timedelta(seconds=1))
    assert svc.client.download(old.serial).status == "已過期"
    assert [c.status for c in svc.client.query(holder_id=holder_id)] == ["已過期", "正常"]


def test_certificates_point_at_this_service(svc: Service) -> None:
    holder_id, csr = svc.holder()
    cert = svc.client.apply("points", holder_id, csr("holder-1")).certificate
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    assert dp == f"{svc.url}/crl/TWCA-Financial-User-CA.crl"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(dp, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/pkix-crl"
        x509.load_der_x509_crl(answer.read())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    issuer_url = next(
        d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    )
    with opener.open(issuer_url, timeout=10) as answer:
        assert x509.load_der_x509_certificate(answer.read()).subject == cert.issuer


def test_query_download_formats_and_holder(svc: Service) -> None:
    holder_id, csr = svc.holder()
    issued = svc.client.apply("formats", holder_id, csr("holder-1"))
    conn = http.client.HTTPConnection("127.0.0.1", int(svc.url.rsplit(":", 1)[1]), timeout=10)
    conn.request("GET", f"/certificates/{issued.serial}.cer")
    answer = conn.getresponse()
    assert answer.status == 200 and answer.getheader("Content-Type") == "application/pkix-cert"
    assert x509.load_der_x509_certificate(answer.read()) == issued.certificate
    conn.request("GET", f"/certificates/{issued.serial.lower()}.pem")
    assert x509.load_pem_x509_certificate(conn.getresponse().read()) == issued.certificate
    conn.close()
    assert [c.serial for c in svc.client.query(cn=f"{holder_id}-00-2015")] == [issued.serial]
    assert [c.serial for c in svc.client.query(serial=issued.serial)] == [issued.serial]
    assert svc.client.holder(holder_id)["cn_suffixes"] == ["2015"]
    entries = svc.client.audit(5)
    assert any(e["action"] == "申請" and e["target"] == "formats" and e["actor"] == "test" for e in entries)


def test_client_sends_serials_as_typed(svc: Service) -> None:
    # The CA accepts '1A 2B' and '1a:2b'; the client must get them there intact
    # (a raw space broke the URL and came back as CA_UNREACHABLE).
    holder_id, csr = svc.holder()
    issued = svc.client.apply("typed", holder_id, csr("holder-1"))
    pairs = [issued.serial[i:i + 2] for i in range(0, len(issued.serial), 2)]
    assert svc.client.download(" ".join(pairs)).serial == issued.serial
    assert svc.client.proof_sheet(":".join(pairs).lower())["簽章憑證序號"] == issued.serial
    for typed in ("AB CD EF 01", "AB?CD", "AB#CD"):
        with pytest.raises(CaError) as caught:
            svc.client.download(typed)
        assert (caught.value.status, caught.value.code) == (404, "UNKNOWN_SERIAL"), typed


# -- refusals --------------------------------------------------------------------------------------------
def refused_http(svc: Service, call: Callable[[], object], code: str, status: int, message: str) -> CaError:
    before = svc.dump()
    with pytest.raises(CaError) as caught:
        call()
    err = caught.value
    assert (err.status, err.code) == (status, code)
    assert message in err.message, err.message
    assert_only_refusal_recorded(before, svc.dump(), code)
    return err


def test_bad_requests_are_refused_and_change_nothing(svc: Service) -> None:
    holder_id, csr = svc.holder()
    c = svc.client
    refused_http(svc, lambda: c.apply("x1", holder_id, b"\x30\x03\x02\x01\x00"), "BAD_CSR", 400,
                 "憑證申請檔(PKCS#10)格式錯誤，無法解析。")
    refused_http(svc, lambda: c.apply("x2", holder_id, break_signature(csr("holder-1"))), "BAD_CSR_SIGNATURE",
                 400, "憑證申請檔的簽章驗證失敗，無法證明持有私密金鑰。")
    refused_http(svc, lambda: c.apply("x3", holder_id, csr_for(svc, holder_id, bits=1024)), "KEY_NOT_RSA2048",
                 400, "憑證申請檔的金鑰不符規定：須為 RSA 2048 位元金鑰。")
    _, other_csr = svc.holder()
    refused_http(svc, lambda: c.apply("x4", holder_id, other_csr("holder-1")), "SUBJECT_MISMATCH", 422,
                 "憑證申請檔的主旨(使用者識別名稱)與登記的用戶資料不符。")
    refused_http(svc, lambda: c.download("ABCDEF0123"), "UNKNOWN_SERIAL", 404, "查無此憑證序號。")
    refused_http(svc, lambda: svc.renew("x5", "ABCDEF0123", csr("holder-1")), "UNKNOWN_SERIAL", 404,
                 "查無此憑證序號。")
    refused_http(svc, lambda: c.apply("x6", "98765432", csr("holder-1")), "UNKNOWN_HOLDER", 404, "查無此用戶")


def csr_for(svc: Service, holder_id: str, bits: int) -> bytes:
    subject = (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"),
               ("OU", "0060000-Taiwan Cooperative Bank"), ("OU", "FXML"), ("CN", f"{holder_id}-00-2015"))
    return make_csr(svc.keys.rsa("odd", bits), subject)


def test_only_the_old_keys_holder_may_renew(svc: Service) -> None:
    """Anyone on the machine can reach the CA's port: a renewal without the old key's
    signature over it, or signed by another key, or for another request, is refused
    and changes nothing (it once issued to whoever asked, and blocked the holder's
    own renewal as ALREADY_RENEWED)."""
    holder_id, csr = svc.holder()
    old = svc.client.apply("proof-apply", holder_id, csr("holder-1"))
    svc.clock.write(fixed=RENEWED_AT)
    request = csr("holder-2")
    message = "憑證更新須以原憑證之私密金鑰簽章確認，簽章不符或缺少，無法受理。"
    refused_http(svc, lambda: svc.client.renew("p1", old.serial, request, b""), "RENEWAL_NOT_AUTHORIZED", 403, message)
    refused_http(svc, lambda: svc.client.renew("p2", old.serial, request, proof(svc.keys, "holder-3", "p2", old.serial,
                                                                                request)),
                 "RENEWAL_NOT_AUTHORIZED", 403, message)
    other = proof(svc.keys, "holder-1", "another-request", old.serial, request)
    refused_http(svc, lambda: svc.client.renew("p3", old.serial, request, other), "RENEWAL_NOT_AUTHORIZED", 403,
                 message)
    body = json.dumps({"request_id": "p4", "csr": base64.b64encode(request).decode()}).encode()
    # Without the admin token: a renewal is authorized by the old key's signature alone.
    status, answer = status_and_json(raw(svc, owned(svc, b"POST /certificates/%s/renew HTTP/1.1\r\nHost: x\r\n"
                                                    b"Connection: close\r\nContent-Length: %d\r\n\r\n"
                                                    % (old.serial.encode(), len(body)) + body, token=False)))
    assert (status, answer["error"]["code"]) == (403, "RENEWAL_NOT_AUTHORIZED")
    assert svc.renew("p5", old.serial, request).renewed_from == old.serial  # the holder still can


def test_a_branchs_code_lets_the_customer_have_one_certificate_without_the_admin_token(svc: Service) -> None:
    """核發授權碼 is the RA's (the admin token); the customer's card asks with the code alone, once."""
    holder_id, csr = svc.holder()
    anyone = CaClient(svc.url, actor="card-agent", retries=0)  # no admin token
    with pytest.raises(CaError) as refused:
        anyone.authorize(holder_id, "2015")
    assert (refused.value.status, refused.value.code) == (401, "ADMIN_TOKEN_REQUIRED")
    code, grant = svc.client.authorize(holder_id, "2015")
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code), code
    checked = anyone.check_authorization(code.lower(), holder_id)
    assert checked.cn == grant.cn == f"{holder_id}-00-2015" and checked.subject_text.endswith(f"CN={grant.cn}")
    request = make_csr(svc.keys.rsa("enrolled"), checked.subject)
    issued = anyone.enroll("enroll-1", holder_id, code, request)
    assert issued.cn == grant.cn and issued.renewed_from is None and issued.chain
    assert anyone.enroll("enroll-1", holder_id, code, request).serial == issued.serial  # a retry: the same
    refused_http(svc, lambda: anyone.enroll("enroll-2", holder_id, code, csr("enrolled-2")), "AUTHORIZATION_USED",
                 409, "此授權碼已使用過")
    with pytest.raises(CaError) as anyone_refused:
        anyone.check_authorization(code, holder_id)
    assert anyone_refused.value.code == "AUTHORIZATION_USED"
    refused_http(svc, lambda: anyone.enroll("enroll-3", holder_id, "AAAA-BBBB-CCCC-DDDD", csr("enrolled-3")),
                 "AUTHORIZATION_UNKNOWN", 404, "授權碼錯誤")
    other_id, other_csr = svc.holder()
    fresh, _ = svc.client.authorize(holder_id, "2015")
    refused_http(svc, lambda: anyone.enroll("enroll-4", other_id, fresh, other_csr("enrolled-4")),
                 "AUTHORIZATION_MISMATCH", 403, "此授權碼不是核發給您的")
    svc.clock.write(fixed=FIRST_ISSUE + timedelta(days=8))
    refused_http(svc, lambda: anyone.enroll("enroll-5", holder_id, fresh, csr("enrolled-5")),
                 "AUTHORIZATION_EXPIRED", 409, "授權碼已於")


def test_renewal_refusals_over_http(svc: Service) -> None:
    holder_id, csr = svc.holder()
    c = svc.client
    old = c.apply("w-apply", holder_id, csr("holder-1"))
    refused_http(svc, lambda: svc.renew("w1", old.serial, csr("holder-2")), "RENEWAL_WINDOW_NOT_OPEN", 409,
                 "憑證尚未進入可更新期間，請於憑證到期日前 30 天內（2023-04-14 23:59:59 起）辦理憑證更新。")
    svc.clock.write(fixed=OLD_NOT_AFTER + timedelta(seconds=1))
    refused_http(svc, lambda: svc.renew("w2", old.serial, csr("holder-2")), "CERT_EXPIRED_APPLY_AT_BRANCH", 409,
                 "憑證已過期，無法線上更新，請攜帶相關證件至申辦分行重新申請憑證。")
    svc.clock.write(fixed=RENEWED_AT)
    c.suspend(old.serial)
    refused_http(svc, lambda: svc.renew("w3", old.serial, csr("holder-2")), "CERT_SUSPENDED", 409, "憑證已暫禁")
    c.resume(old.serial)
    svc.renew("w4", old.serial, csr("holder-2"))
    refused_http(svc, lambda: svc.renew("w5", old.serial, csr("holder-3")), "ALREADY_RENEWED", 409,
                 "此憑證已完成更新，不得重複更新。")
    refused_http(svc, lambda: c.apply("w4", holder_id, csr("holder-3")), "REQUEST_ID_REUSED", 409,
                 "此申請編號已用於另一筆不同的申請")
    refused_http(svc, lambda: c.revoke(old.serial, "certificateHold"), "BAD_REVOCATION_REASON", 400, "廢止原因不正確")
    c.revoke(old.serial, "keyCompromise")
    refused_http(svc, lambda: c.suspend(old.serial), "CERT_REVOKED", 409, "憑證已廢止")


# -- HTTP itself ----------------------------------------------------------------------------------------------
def raw(svc: Service, data: bytes, *, read_until_close: bool = True) -> bytes:
    port = int(svc.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def owned(svc: Service, data: bytes, *, token: bool = True) -> bytes:
    """``data`` (requests written with ``Host: x``, or HTTP/1.0 without Host) as a local
    program sends them: the CA's own Host, and on a POST (OCSP's aside) a JSON type and,
    with ``token``, the admin token (docs/ca.md, "Who may call the CA";
    tests/integration/test_ca_access.py tests the refusals)."""
    own = b"Host: 127.0.0.1:%d\r\n" % int(svc.url.rsplit(":", 1)[1])
    out = []
    for request in data.split(b"Host: x\r\n"):
        out.append(request)
    joined = own.join(out)
    if b"Host: " not in joined:
        line, _, rest = joined.partition(b"\r\n")
        joined = line + b"\r\n" + own + rest
    if joined.startswith(b"POST ") and not joined.startswith(b"POST /ocsp"):
        head, sep, body = joined.partition(b"\r\n\r\n")
        if b"Content-Type:" not in head:
            head += b"\r\nContent-Type: application/json"
        if token:
            head += b"\r\nAuthorization: Bearer " + svc.process.token.encode()
        joined = head + sep + body
    return joined


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "NOT_FOUND"),
    (b"DELETE /certificates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    (b"POST /certificates HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{nope", 400,
     "BAD_REQUEST"),
    (b"POST /certificates HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 400,
     "BAD_REQUEST"),
    # chunked bodies are read (and refused for what they say, like any other)
    ((b"POST /holders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      b"2\r\n{}\r\n0\r\n\r\n"), 400, "BAD_REQUEST"),
    ((b"POST /holders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      b"5\r\n{nope\r\n0\r\n\r\n"), 400, "BAD_REQUEST"),
    (b"POST /holders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"100000\r\n" + b"x" * 0x100000 + b"\r\n1\r\nx\r\n0\r\n\r\n", 413, "PAYLOAD_TOO_LARGE"),
    (b"POST /holders HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, "PAYLOAD_TOO_LARGE"),
    (b"garbage\r\n\r\n", 400, "BAD_REQUEST"),
    (b"GET /certificates?owner=1 HTTP/1.0\r\n\r\n", 400, "BAD_REQUEST"),
    # a serial that is not hexadecimal: the service's own refusal, not "no such path"
    (b"POST /certificates/NOPE/revoke HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
     404, "UNKNOWN_SERIAL"),
    (b"GET /certificates/NOPE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "UNKNOWN_SERIAL"),
    # inputs that used to make the parser raise and drop the connection without an answer
    (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\nxx", 400, "BAD_REQUEST"),  # '\u00b2'.isdigit()
    (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 400, "BAD_REQUEST"),
    (b"GET //[x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "NOT_FOUND"),  # urlsplit: bad IPv6
    (b"GET / HTTP/1.1\r\n" + b"X-Pad: y\r\n" * 7000 + b"\r\n", 400, "BAD_REQUEST"),  # head over 64 KiB at once
])
def test_http_errors_are_json_with_a_code(svc: Service, request_bytes: bytes, status: int, code: str) -> None:
    got_status, body = status_and_json(raw(svc, owned(svc, request_bytes)))
    assert (got_status, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]


def test_json_of_the_wrong_shape_is_a_400_never_a_500(svc: Service) -> None:
    holder_id, csr = svc.holder()
    good = base64.b64encode(csr("holder-1")).decode()
    bodies = [
        (b"[" * 100_000, "/certificates"),  # nested beyond the parser's recursion limit
        (b'{"request_id": "n", "holder_id": ' + b"1" * 5000 + b"}", "/certificates"),  # int over 4300 digits
        (json.dumps({"request_id": 7, "holder_id": holder_id, "csr": good}).encode(), "/certificates"),
        (json.dumps({"request_id": ["r"], "holder_id": holder_id, "csr": good}).encode(), "/certificates"),
        (json.dumps({"request_id": "shape-1", "holder_id": [holder_id], "csr": good}).encode(), "/certificates"),
        (json.dumps({"request_id": "shape-2", "holder_id": {"id": holder_id}, "csr": good}).encode(), "/certificates"),
        (json.dumps({"request_id": {"a": 1}, "csr": good}).encode(), "/certificates/ABCDEF/renew"),
    ]
    before = svc.dump()
    for body, path in bodies:
        status, answer = status_and_json(raw(svc, owned(svc, b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                             b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body)))
        assert (status, answer["error"]["code"]) == (400, "BAD_REQUEST"), (body[:60], answer)
    after = svc.dump()
    assert all(after[t] == before[t] for t in before if t != "audit")


def test_a_client_that_half_closes_still_gets_its_answers(svc: Service) -> None:
    # HTTP/1.0 tools and 'nc -N' shut their sending side after the request.
    port = int(svc.url.rsplit(":", 1)[1])
    for data, answers in ((b"GET / HTTP/1.0\r\n\r\n", 1),
                          (b"GET /crl HTTP/1.1\r\nHost: x\r\n\r\nGET /ca/root.cer HTTP/1.1\r\nHost: x\r\n\r\n", 2),
                          (b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc", 0)):  # body cut short
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(owned(svc, data))
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received.count(b"HTTP/1.1 200 OK\r\n") == answers, received[:200]


def test_keep_alive_and_expect_100_continue(svc: Service) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", int(svc.url.rsplit(":", 1)[1]), timeout=10)
    sockets = set()
    for _ in range(3):  # one connection, three answers
        conn.request("GET", "/")
        answer = conn.getresponse()
        assert answer.status == 200 and answer.getheader("Connection") != "close"
        answer.read()
        sockets.add(conn.sock)
    assert len(sockets) == 1
    conn.close()
    body = json.dumps({"holder_id": "91234567", "name": NAME, "cn_suffix": "77"}).encode()
    port = int(svc.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(owned(svc, b"POST /holders HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status, data = status_and_json(received)
    assert status == 201 and data["result"] == "用戶登錄成功"


def test_ocsp_over_get(svc: Service) -> None:
    holder_id, csr = svc.holder()
    cert = svc.client.apply("ocsp-get", holder_id, csr("holder-1")).certificate
    issuer = svc.client.chain()[0]
    # SHA-1 is what OCSP's CertID uses (RFC 6960); it identifies, it does not protect.
    der = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(  # noqa: S303
        serialization.Encoding.DER)
    url = f"{svc.url}/ocsp/{urllib.parse.quote(base64.b64encode(der).decode())}"
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10) as answer:
        response = ocsp.load_der_ocsp_response(answer.read())
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert ocsp.load_der_ocsp_response(svc.client.ocsp(der)).serial_number == cert.serial_number


def test_cli_talks_to_the_running_service(svc: Service, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    holder_id, csr = svc.holder()
    (tmp_path / "r.der").write_bytes(csr("holder-1"))
    parser = argparse.ArgumentParser(prog="fxmlsim")
    register(parser.add_subparsers(dest="command", required=True))

    def fxmlsim(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return args.func(args)

    # Without the admin token the service refuses to issue, in one line, and nothing is issued.
    monkeypatch.delenv("FXMLSIM_CA_TOKEN_FILE", raising=False)
    before = svc.dump()["certificates"]
    assert fxmlsim("ca", "--url", svc.url, "issue", "--holder", holder_id, "--csr", str(tmp_path / "r.der")) == 1
    refused = "fxmlsim ca: [ADMIN_TOKEN_REQUIRED] 此作業限憑證中心管理者執行，請附上管理權杖。"
    assert capsys.readouterr().err.strip() == refused
    assert svc.dump()["certificates"] == before
    monkeypatch.setenv("FXMLSIM_CA_TOKEN_FILE", str(svc.process.state_dir / "admin.token"))

    assert fxmlsim("ca", "--url", svc.url, "issue", "--holder", holder_id, "--csr", str(tmp_path / "r.der"),
                   "--out", str(tmp_path / "c.pem")) == 0
    serial = f"{x509.load_pem_x509_certificate((tmp_path / 'c.pem').read_bytes()).serial_number:X}"
    capsys.readouterr()
    assert fxmlsim("ca", "list", "--url", svc.url, "--holder", holder_id) == 0
    assert f"{serial}\t{holder_id}-00-2015\t正常\t2021-05-14 10:00:00\t2023-05-14 23:59:59" in capsys.readouterr().out
    assert fxmlsim("ca", "suspend", serial, "--url", svc.url) == 0
    assert fxmlsim("ca", "suspend", serial, "--url", svc.url) == 1
    assert capsys.readouterr().err.strip().endswith("fxmlsim ca: [CERT_SUSPENDED] 憑證已暫禁，無須重複暫禁。")
    assert svc.client.audit(1)[0]["actor"].startswith("cli:")


# -- crashes and the process -------------------------------------------------------------------------------
def test_crash_between_commit_and_answer_then_retry(tmp_path: Path, keys: KeyCache) -> None:
    state = tmp_path / "state"
    with open_test_ca(state, keys, FixedClock(FIRST_ISSUE)) as ca:
        csr = make_csr(keys.rsa("holder-1"), ca.subject_for("99000001", "2015"))
    clock = FileClock(tmp_path / "clock.json")
    clock.write(fixed=FIRST_ISSUE)
    faulty = start_service(state, keys, clock, FXMLSIM_CA_FAULT="exit-after-commit")
    try:
        with pytest.raises(CaError) as caught:
            faulty.admin_client(retries=0).apply("crash-1", "99000001", csr)
        assert caught.value.code == "CA_UNREACHABLE" and caught.value.status == 0
        assert faulty.proc is not None and faulty.proc.wait(timeout=10) == 70
    finally:
        faulty.stop()
    registry = Registry(state / "ca.sqlite3")
    committed = registry.dump()
    registry.close()
    assert len(committed["certificates"]) == 1 and len(committed["requests"]) == 1
    again = start_service(state, keys, clock)
    try:
        retried = again.admin_client().apply("crash-1", "99000001", csr)
        assert retried.replayed and retried.serial == committed["certificates"][0][0]
    finally:
        assert again.stop() == 0
    registry = Registry(state / "ca.sqlite3")
    assert len(registry.dump()["certificates"]) == 1
    registry.close()


def test_client_reports_an_unreachable_ca() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CaClient(f"http://127.0.0.1:{port}", retries=1, retry_delay=0.01)
    with pytest.raises(CaError) as caught:
        client.info()
    assert (caught.value.status, caught.value.code) == (0, "CA_UNREACHABLE")
    assert caught.value.message == "無法連線至憑證中心，請稍後再試。"


@pytest.mark.parametrize(
    "body", [b"[]", b'{"certificate": {"serial": 1}}', b'{"certificate": []}', b"\x30\x00 not DER"]
)
def test_client_reports_a_server_that_is_not_the_ca(body: bytes) -> None:
    # Another program on the CA's port: every answer is CA_BAD_RESPONSE, never a KeyError or ValueError.
    class Other(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's method names

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Other)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = CaClient(f"http://127.0.0.1:{server.server_address[1]}", retries=0)
        calls: list[Callable[[], object]] = [
            client.info, lambda: client.register_holder("1", "n", "1"), lambda: client.holder("1"),
            lambda: client.apply("r", "1", b"\x30\x00"), lambda: client.renew("r", "AB", b"\x30\x00", b"proof"),
            lambda: client.download("AB"), lambda: client.query(holder_id="1"), lambda: client.proof_sheet("AB"),
            lambda: client.suspend("AB"), lambda: client.resume("AB"), lambda: client.revoke("AB"),
            lambda: client.audit(1), client.crl, client.chain,
        ]
        refusals = []
        for call in calls:
            # An answer the client can use anyway (a dict for info) may pass; anything else
            # must be CA_BAD_RESPONSE, never a KeyError, TypeError or ValueError escaping.
            try:
                call()
            except CaError as exc:
                refusals.append(exc)
        assert len(refusals) >= len(calls) - 2, refusals
        assert all(r.code == "CA_BAD_RESPONSE" and r.message == "憑證中心回應格式錯誤。" for r in refusals)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def serve_once(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.ca", "serve", "--state-dir", str(state), *args],
                          capture_output=True, text=True, timeout=30)


def test_busy_port_and_non_loopback_host_exit_2(svc: Service, tmp_path: Path) -> None:
    port = svc.url.rsplit(":", 1)[1]
    busy = serve_once(svc.process.state_dir, "--port", port)
    assert busy.returncode == 2 and busy.stdout == ""
    assert f"port {port} on 127.0.0.1 is already in use" in busy.stderr
    wide = serve_once(tmp_path / "s", "--host", "0.0.0.0")  # noqa: S104 - the refusal under test
    assert wide.returncode == 2 and "loopback" in wide.stderr and wide.stdout == ""
    named = serve_once(tmp_path / "s", "--host", "example.com")
    assert named.returncode == 2 and "loopback" in named.stderr
    for args, said in ((("--port", "99999"), "not a TCP port"), (("--port", "-1"), "not a TCP port"),
                       (("--workers", "0"), "at least one worker")):
        bad = serve_once(tmp_path / "s", *args)
        assert bad.returncode == 2 and said in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_sigterm_stops_the_service_cleanly(tmp_path: Path, keys: KeyCache) -> None:
    process = ServiceProcess(tmp_path / "state", extra_args=("--keys-dir", str(keys.hierarchy()))).start()
    CaClient(process.url).info()
    started = time.monotonic()
    assert process.stop() == 0
    assert time.monotonic() - started < 5
