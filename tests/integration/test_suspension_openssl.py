"""憑證暫禁 and 解除暫禁 against real processes, proved by a relying party nobody here wrote: the CA, the
platform and the bank started as ``fxmlsim up`` starts them (``python -m ... serve``, the CA's admin
token's file in ``FXMLSIM_CA_TOKEN_FILE``), on the system clock (openssl checks an OCSP answer's
times against the machine's), talked to over HTTP as the customer's and the officer's browsers do.

- The customer suspends a certificate on the platform (``POST /suspend``, its form and CSRF token):
  ``openssl ocsp`` then gets ``revoked`` with ``Reason: certificateHold`` from the CA's responder (the
  answer's signature verified against the CA's chain), ``openssl crl`` finds it with ``Certificate
  Hold``; the platform's and the CA's audit logs name the customer.
- Another customer's serial is refused (CERT_NOT_CUSTOMERS) and changes nothing at the CA.
- An officer of another branch is refused 解除暫禁 (RESUME_OTHER_BRANCH, one audit line, the CA as it
  was); the officer of the customer's 申辦分行 lifts it: ``openssl ocsp`` answers ``good``, the CRL no
  longer lists it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.testclient import TestClient

from fxml import env
from fxml.ca.api import TOKEN_FILE_NAME
from fxml.ca.client import CaClient, CaError, read_token
from fxml.clock import Clock
from fxml.platform import tickets
from fxml.platform.app import Platform, PlatformSettings
from simulator.bank.customers import Customer, persona
from simulator.bank.officers import officer_of
from simulator.ca.profile import FXML
from simulator.ca.testing import KeyCache, make_csr
from tests.support.services import port_of, reserve, start_services, stop_services

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


class Stack:
    """The CA, the platform and the bank on the system clock, the CA's admin token shared as ``up`` shares it."""

    def __init__(self, root: Path, keys: KeyCache):
        self.root = root
        self.clock = Clock()
        self.key_file = root / "ticket.key"
        self.ticket_key = tickets.make_key(self.key_file)
        sockets = reserve()
        self.urls = {name: f"http://127.0.0.1:{port_of(sock)}" for name, sock in sockets.items()}
        token_file = root / "ca" / TOKEN_FILE_NAME
        environ = {**os.environ, env.CLOCK: "system", env.CA_URL: self.urls["ca"],
                   env.PLATFORM_URL: self.urls["platform"], env.BANK_URL: self.urls["bank"],
                   env.TICKET_KEY_FILE: str(self.key_file), env.CA_TOKEN_FILE: str(token_file)}
        self.pids = start_services(root, keys, sockets, environ)
        self.ca = CaClient(self.urls["ca"], actor="tests", token=read_token(token_file))
        self.keys = keys

    def close(self) -> None:
        stop_services(self.pids)

    def apply(self, customer: Customer, key_name: str) -> str:
        """A certificate of ``customer`` (a software key stands in for the card); its serial."""
        registration = customer.ca_registrations()[-1]
        try:
            self.ca.register_holder(registration.holder_id, registration.name, registration.cn_suffix,
                                    registration.branch_code, registration.bank_name)
        except CaError as exc:
            if exc.code != "HOLDER_EXISTS":
                raise
        subject = FXML.subject(customer.holder_id, registration.cn_suffix, registration.branch_code,
                               registration.bank_name)
        issued = self.ca.apply(f"it-suspend-{key_name}", customer.holder_id, make_csr(self.keys.rsa(key_name), subject),
                               not_after=self.clock.now() + timedelta(days=27))
        return issued.serial

    def openssl_ocsp(self, serial: str) -> str:
        """What ``openssl ocsp`` says of ``serial`` (asked with a nonce; the answer verified against the chain)."""
        issuer, root = self.ca.chain()
        [record] = self.ca.query(serial=serial)
        files = {}
        for name, cert in (("issuer", issuer), ("root", root), ("cert", record.certificate)):
            files[name] = self.root / f"{name}-{serial}.pem"
            files[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        said = openssl("ocsp", "-issuer", files["issuer"], "-cert", files["cert"], "-CAfile", files["root"],
                       "-url", f"{self.urls['ca']}/ocsp")
        assert "Response verify OK" in said, said
        return said

    def openssl_crl(self) -> str:
        path = self.root / "ca.crl"
        path.write_bytes(self.ca.crl().public_bytes(serialization.Encoding.DER))
        return openssl("crl", "-inform", "DER", "-in", path, "-noout", "-text")

    def db(self, name: str) -> sqlite3.Connection:
        return sqlite3.connect(self.root / name / f"{name}.sqlite3")


def openssl(*args: str | Path) -> str:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    return said


def token_in(html: str) -> str:
    found = re.search(r'name="csrf(?:_token|-token)" (?:value|content)="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def crl_entry(text: str, serial: str) -> str | None:
    if f"Serial Number: {serial}" not in text:
        return None
    return text.split(f"Serial Number: {serial}", 1)[1].split("Serial Number:", 1)[0]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, keys: KeyCache) -> Iterator[Stack]:
    started = Stack(tmp_path_factory.mktemp("suspension"), keys)
    yield started
    started.close()


@contextmanager
def platform_session(stack: Stack, customer: Customer) -> Iterator[httpx2.Client]:
    ticket = tickets.Ticket(system=tickets.System(customer.system.value), customer_id=customer.id_number,
                            customer_name=customer.name, user_code=customer.users[0].user_code,
                            customer_type=getattr(customer, "customer_type", None), holder_id=customer.holder_id,
                            return_url=f"{stack.urls['bank']}/corporate/menu")
    with httpx2.Client(base_url=stack.urls["platform"]) as client:
        entered = client.get(f"/entry?ticket={tickets.issue(ticket, stack.ticket_key, stack.clock)}")
        assert entered.status_code == 303, entered.text
        yield client


@contextmanager
def officer_session(stack: Stack, branch: str) -> Iterator[httpx2.Client]:
    officer = officer_of(branch)
    with httpx2.Client(base_url=stack.urls["bank"]) as client:
        login = client.get("/branch/login")
        assert client.post("/branch/login", data={
            "csrf_token": token_in(login.text), "branch_code": officer.branch.code,
            "officer_code": officer.officer_code, "password": officer.password}).status_code == 303
        yield client


def statuses(stack: Stack, *holders: str) -> dict[str, tuple[str, str | None]]:
    return {r.serial: (r.status, str(r.suspended_at)) for h in holders for r in stack.ca.query(holder_id=h)}


def test_suspended_on_the_platform_openssl_ocsp_says_certificate_hold_and_good_again_after_the_branch(
    stack: Stack,
) -> None:
    who, other = persona("corporate-2").customer, persona("corporate-4").customer
    serial, others = stack.apply(who, "it-hold"), stack.apply(other, "it-hold-other")
    assert ": good" in stack.openssl_ocsp(serial)

    with platform_session(stack, who) as platform:
        page = platform.get("/suspend")
        assert page.status_code == 200 and f'value="{serial}"' in page.text and "查詢日期" in page.text
        token = token_in(page.text)
        # Another customer's serial is none of this customer's: refused, nothing changes at the CA.
        before = statuses(stack, who.holder_id, other.holder_id)
        refused = platform.post("/suspend", data={"csrf_token": token, "serial": others})
        assert refused.status_code == 404 and 'data-code="CERT_NOT_CUSTOMERS"' in refused.text
        assert "查無此憑證，請由「憑證暫禁」重新選擇。" in refused.text
        assert statuses(stack, who.holder_id, other.holder_id) == before
        done = platform.post("/suspend", data={"csrf_token": token, "serial": serial})
        assert done.status_code == 303 and done.headers["location"] == f"/suspend/{serial}"
        result = platform.get(f"/suspend/{serial}")
        assert "憑證暫禁成功" in result.text and "請洽申辦分行辦理" in result.text
        assert "暫禁" in platform.get("/query").text

    said = stack.openssl_ocsp(serial)
    assert ": revoked" in said and "Reason: certificateHold" in said, said
    entry = crl_entry(stack.openssl_crl(), serial)
    assert entry is not None and "Certificate Hold" in entry, entry
    with stack.db("platform") as db:
        audited = db.execute("SELECT actor, result, detail FROM audit WHERE action = '憑證暫禁' ORDER BY id").fetchall()
    assert [(a.split(":")[1], r) for a, r, _ in audited] == [(who.id_number, "CERT_NOT_CUSTOMERS"),
                                                             (who.id_number, "OK")]
    held = [e for e in stack.ca.audit(50) if e["action"] == "暫禁" and e["target"] == serial]
    assert held and who.id_number in held[-1]["actor"] and held[-1]["result"] == "OK"

    # An officer of another branch may not lift it: refused, audited, the CA as it was.
    with officer_session(stack, "月湖分行") as moon:
        looked = moon.get("/branch/resume", params={"customer": who.id_number})
        assert looked.status_code == 403 and 'data-code="RESUME_OTHER_BRANCH"' in looked.text
        form = moon.get("/branch/resume").text
        posted = moon.post("/branch/resume", data={"csrf_token": token_in(form), "customer": who.id_number,
                                                   "serial": serial})
        assert posted.status_code == 403 and "解除暫禁須由申辦分行的經辦辦理" in posted.text
    assert stack.ca.query(serial=serial)[0].status == "暫禁"

    # The officer of the customer's 申辦分行 lifts it.
    with officer_session(stack, "晴川分行") as branch:
        listed = branch.get("/branch/resume", params={"customer": who.id_number})
        assert listed.status_code == 200 and serial in listed.text and "解除暫禁" in listed.text
        lifted = branch.post("/branch/resume", data={"csrf_token": token_in(listed.text), "customer": who.id_number,
                                                      "serial": serial})
        assert lifted.status_code == 200 and "解除暫禁完成" in lifted.text
        again = branch.post("/branch/resume", data={"csrf_token": token_in(listed.text), "customer": who.id_number,
                                                     "serial": serial})
        assert again.status_code == 409 and 'data-code="CERT_NOT_SUSPENDED"' in again.text

    assert ": good" in stack.openssl_ocsp(serial)
    assert crl_entry(stack.openssl_crl(), serial) is None
    with stack.db("bank") as db:
        rows = db.execute("SELECT actor, result, detail FROM audit WHERE action = '解除暫禁' ORDER BY id").fetchall()
    assert [r[1] for r in rows] == ["RESUME_OTHER_BRANCH", "RESUME_OTHER_BRANCH", "OK", "CERT_NOT_SUSPENDED"]
    assert rows[2][0] == f"{officer_of('晴川分行').branch.code}:{officer_of('晴川分行').officer_code}"
    assert json.loads(rows[2][2])["serial"] == serial
    resumed = [e for e in stack.ca.audit(50) if e["action"] == "解除暫禁" and e["target"] == serial]
    assert [e["result"] for e in resumed] == ["OK", "CERT_NOT_SUSPENDED"]
    assert officer_of("晴川分行").officer_code in resumed[0]["actor"]


def test_without_the_ca_s_admin_token_the_platform_lists_but_refuses_to_suspend(stack: Stack, tmp_path: Path) -> None:
    """A platform started without the CA's admin token (no FXMLSIM_CA_TOKEN_FILE) still lists the customer's
    certificates, the newest first (憑證查詢, 憑證暫禁), and refuses 暫禁 in its words, audited, the CA as
    it was; one whose token file cannot be read does not start."""
    who = persona("corporate-3").customer
    first, newest = stack.apply(who, "it-no-token-1"), stack.apply(who, "it-no-token-2")
    platform = Platform(PlatformSettings(state_dir=tmp_path / "platform", ticket_key=stack.ticket_key,
                                         clock=stack.clock, ca_url=stack.urls["ca"]))
    ticket = tickets.Ticket(system=tickets.System.CORPORATE, customer_id=who.id_number, customer_name=who.name,
                            user_code="ADMIN003", customer_type=3, holder_id=who.holder_id,
                            return_url=f"{stack.urls['bank']}/corporate/menu")
    with TestClient(platform.app(), base_url="http://127.0.0.1:8601") as client:
        assert client.get(f"/entry?ticket={tickets.issue(ticket, stack.ticket_key, stack.clock)}",
                          follow_redirects=False).status_code == 303
        listed = client.get("/query").text
        assert listed.index(newest) < listed.index(first)
        page = client.get("/suspend").text
        radios = re.findall(r'<input type="radio" name="serial" value="([0-9A-F]+)"[^>]*?( checked)?>', page)
        assert radios[:2] == [(newest, " checked"), (first, "")], radios  # the newest first, chosen
        before = statuses(stack, who.holder_id)
        refused = client.post("/suspend", data={"csrf_token": token_in(page), "serial": newest})
        assert refused.status_code == 503 and 'data-code="RA_NOT_CONFIGURED"' in refused.text
        assert "憑證管理平台目前無法向憑證中心辦理憑證暫禁，請洽申辦分行辦理。" in refused.text
        nothing = client.post("/suspend", data={"csrf_token": token_in(page)})
        assert nothing.status_code == 400 and "請選擇欲暫禁的憑證。" in nothing.text
    assert statuses(stack, who.holder_id) == before
    with sqlite3.connect(tmp_path / "platform" / "platform.sqlite3") as db:
        audited = [r[0] for r in db.execute("SELECT result FROM audit WHERE action = '憑證暫禁' ORDER BY id")]
    assert audited == ["RA_NOT_CONFIGURED", "CERT_NOT_SELECTED"]
    with pytest.raises(CaError) as unreadable:
        Platform(PlatformSettings(state_dir=tmp_path / "other", ticket_key=stack.ticket_key, clock=stack.clock,
                                  ca_url=stack.urls["ca"], ca_token_file=tmp_path / "no-such-token"))
    assert unreadable.value.code == "ADMIN_TOKEN_REQUIRED"
