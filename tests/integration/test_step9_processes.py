"""Step 9 and the transfers against real processes on the loopback: the CA, the platform and the
bank as ``fxmlsim up`` starts them (``python -m ... serve``, one clock file, one ticket key), talked
to over HTTP:

- [列印] on the platform's proof sheet faxes it to the bank, signed with the shared key; the
  officer of the customer's 申辦分行 finds it in the inbox and files it (憑證展期建檔);
- a renewal at DONE in the platform's book reaches the bank as a notice (the platform's worker
  sends what is owed) and binds the new certificate of a 個人網路銀行 customer;
- a transfer signed with the customer's key is checked by OCSP at the CA over HTTP, and refused
  once the CA has revoked the certificate;
- the bank refuses what the platform did not sign.

Software keys stand in for the cards; the features do the same with the virtual card in chromium.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml import env
from fxml.ca.api import TOKEN_FILE_NAME, renewal_proof_message
from fxml.ca.client import CaClient, CaError, read_token
from fxml.clock import TAIWAN, FileClock
from fxml.platform import bankapi, tickets
from fxml.platform.renewals import RenewalBook
from fxml.renewal.model import State
from simulator.bank.customers import Customer, persona
from simulator.bank.officers import officer_of
from simulator.ca.profile import FXML
from simulator.ca.testing import KeyCache, make_csr
from simulator.procs import free_port, spawn_ready, stop_pid
from tests.support.services import port_of, reserve, start_services, stop_services

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=TAIWAN)


class Stack:
    """The CA, the platform and the bank, started like ``fxmlsim up`` starts them."""

    def __init__(self, root: Path, keys: KeyCache):
        self.root = root
        self.clock = FileClock(root / "clock.json")
        self.clock.write(fixed=NOW)
        self.key_file = root / "ticket.key"
        self.ticket_key = tickets.make_key(self.key_file)
        sockets = reserve()
        self.urls = {name: f"http://127.0.0.1:{port_of(sock)}" for name, sock in sockets.items()}
        environ = {**os.environ, env.CLOCK: self.clock.describe(), env.CA_URL: self.urls["ca"],
                   env.PLATFORM_URL: self.urls["platform"], env.BANK_URL: self.urls["bank"],
                   env.TICKET_KEY_FILE: str(self.key_file)}
        self.pids = start_services(root, keys, sockets, environ)
        self.ca = CaClient(self.urls["ca"], actor="tests", token=read_token(root / "ca" / TOKEN_FILE_NAME))
        self.keys = keys
        self.count = 0

    def close(self) -> None:
        stop_services(self.pids)

    def bank_db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "bank" / "bank.sqlite3")

    # -- certificates, as the branch and the renewal engine get them from the CA ----------------
    def apply(self, customer: Customer, key_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        certificate = customer.certificates[0]
        registration = customer.ca_registrations()[0]
        try:
            self.ca.register_holder(registration.holder_id, registration.name, registration.cn_suffix,
                                    registration.branch_code, registration.bank_name)
        except CaError as exc:
            if exc.code != "HOLDER_EXISTS":  # registered by an earlier test of the module
                raise
        key = self.keys.rsa(key_name)
        subject = FXML.subject(customer.holder_id, certificate.cn_suffix, registration.branch_code,
                               registration.bank_name)
        self.count += 1
        issued = self.ca.apply(f"it-apply-{self.count}", customer.holder_id, make_csr(key, subject),
                               not_after=NOW + timedelta(days=27))
        return key, issued.certificate

    def renew(self, old_key: rsa.RSAPrivateKey, old: x509.Certificate, key_name: str
              ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        """The renewal engine's work at the CA: a new key's request, signed for by the old key."""
        self.clock.write(fixed=self.clock.now() + timedelta(minutes=5))
        key = self.keys.rsa(key_name)
        self.count += 1
        request_id, csr = f"it-renew-{self.count}", make_csr(key, old.subject)
        proof = old_key.sign(renewal_proof_message(request_id, serial(old), csr), padding.PKCS1v15(), hashes.SHA256())
        issued = self.ca.renew(request_id, serial(old), csr, proof)
        return key, issued.certificate


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, keys: KeyCache) -> Iterator[Stack]:
    started = Stack(tmp_path_factory.mktemp("step9"), keys)
    yield started
    started.close()


def serial(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:X}"


def token_in(html: str) -> str:
    found = re.search(r'name="csrf(?:_token|-token)" (?:value|content)="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def bank_login(client: httpx2.Client, customer: Customer) -> str:
    prefix = {"personal": "/personal", "corporate": "/corporate", "eoi": "/eoi"}[customer.system.value]
    user = customer.users[0]
    page = client.get(f"{prefix}/login")
    answer = client.post(f"{prefix}/login", data={"csrf_token": token_in(page.text), "id_number": customer.id_number,
                                                   "user_code": user.user_code, "password": user.password})
    assert answer.status_code == 303, answer.text
    return prefix


def transfer(client: httpx2.Client, prefix: str, customer: Customer, key: rsa.RSAPrivateKey,
             cert: x509.Certificate) -> Any:
    form = client.get(f"{prefix}/transfer")
    answer = client.post(f"{prefix}/transfer", data={
        "csrf_token": token_in(form.text), "from_account": customer.accounts[0].number, "to_bank": "006",
        "to_account": "00170000000099", "amount": "500"}, follow_redirects=True)
    found = re.search(r'data-transfer="([^"]+)" data-to-sign="([^"]+)"', answer.text)
    assert found, answer.text[:500]
    data = base64.b64decode(found.group(2))
    signature = base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
    return client.post(f"{prefix}/transfer/sign", headers={"x-csrf-token": token_in(answer.text)}, json={
        "transfer_id": found.group(1), "signature": signature,
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode()})


def test_print_faxes_the_sheet_to_the_branch_which_files_it(stack: Stack) -> None:
    who = persona("eoi").customer
    old_key, old = stack.apply(who, "it-eoi")
    new_key, new = stack.renew(old_key, old, "it-eoi-renewed")
    ticket = tickets.Ticket(system=tickets.System.EOI, customer_id=who.id_number, customer_name=who.name,
                            user_code="EOIADMIN05", customer_type=None, holder_id=who.holder_id,
                            return_url=f"{stack.urls['bank']}/eoi/menu")
    with httpx2.Client(base_url=stack.urls["platform"]) as platform:
        entered = platform.get(f"/entry?ticket={tickets.issue(ticket, stack.ticket_key, stack.clock)}")
        assert entered.status_code == 303
        sheet = platform.get(f"/proof/{serial(new)}")
        assert 'data-fax-url="/proof/' in sheet.text and "點選[列印]後，憑證資料傳真至申辦分行" in sheet.text
        faxed = platform.post(f"/proof/{serial(new)}/fax", headers={"x-csrf-token": token_in(sheet.text)}, json={})
    assert faxed.status_code == 200, faxed.text
    fax = faxed.json()["fax"]
    assert (fax["branch_code"], fax["branch_name"]) == ("0060040", "雲杉分行")
    assert fax["received_at"] == NOW.replace(minute=5).isoformat()
    assert fax["message"] == "憑證資料已傳真至申辦分行 0060040 雲杉分行（收件時間 115/03/02 10:05:00）。"
    with stack.bank_db() as db:
        row = db.execute("SELECT branch_code, serial, sheet, pdf FROM faxes WHERE fax_id = ?",
                         (fax["fax_id"],)).fetchone()
    assert row[:2] == ("0060040", serial(new)) and json.loads(row[2])["簽章憑證序號"] == serial(new)
    assert bytes(row[3]).startswith(b"%PDF-")  # the sheet's PDF, rendered by the platform (WeasyPrint)
    officer = officer_of("雲杉分行")
    with httpx2.Client(base_url=stack.urls["bank"]) as bank:
        login = bank.get("/branch/login")
        assert bank.post("/branch/login", data={
            "csrf_token": token_in(login.text), "branch_code": officer.branch.code,
            "officer_code": officer.officer_code, "password": officer.password}).status_code == 303
        inbox = bank.get("/branch/inbox").text
        opened = re.search(r'href="/branch/fax/(\d+)" data-testid="inbox-open"', inbox)
        assert opened and serial(new) in inbox
        page = bank.get(f"/branch/fax/{opened.group(1)}")
        assert page.text.count(">相符<") == 6
        filed = bank.post(f"/branch/fax/{opened.group(1)}/file", data={"csrf_token": token_in(page.text)})
        assert filed.status_code == 200 and "憑證展期建檔完成" in filed.text
    with httpx2.Client(base_url=stack.urls["bank"]) as client:
        prefix = bank_login(client, who)
        answer = transfer(client, prefix, who, new_key, new)
        assert answer.status_code == 201 and answer.json()["transfer"]["binding"] == "憑證展期建檔"


def test_a_renewal_at_done_reaches_the_bank_and_binds_the_new_certificate(stack: Stack) -> None:
    who = persona("person").customer
    old_key, old = stack.apply(who, "it-person")
    new_key, new = stack.renew(old_key, old, "it-person-renewed")
    with httpx2.Client(base_url=stack.urls["bank"]) as client:
        prefix = bank_login(client, who)
        refused = transfer(client, prefix, who, new_key, new)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "CERT_NOT_BOUND"
        # The renewal engine's moves, recorded in the platform's book (its file, in this process):
        book = RenewalBook.open(stack.root / "platform", stack.clock)
        try:
            record = book.create(who.holder_id, serial(old), who.cns[0])
            for expected, to, fields in (
                (State.SELECTED, State.CONFIRMED, {}), (State.CONFIRMED, State.TERMS_ACCEPTED, {}),
                (State.TERMS_ACCEPTED, State.KEY_PENDING, {"card_serial": "TWCA-IT-1", "container": "9C"}),
                (State.KEY_PENDING, State.KEY_GENERATED, {"public_key": "MIIB"}),
                (State.KEY_GENERATED, State.CSR_SIGNED, {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
                (State.CSR_SIGNED, State.ISSUED, {"new_serial": serial(new), "certificate": "-----BEGIN",
                                                  "chain": "-----BEGIN"}),
                (State.ISSUED, State.WRITTEN, {}), (State.WRITTEN, State.DONE, {}),
            ):
                record = book.advance(record.renewal_id, expected, to, **fields)
        finally:
            book.close()
        # The platform process sends what it owes (its worker looks every 2 s).
        deadline = time.monotonic() + 15
        with stack.bank_db() as db:
            while time.monotonic() < deadline:
                found = db.execute("SELECT binding FROM renewal_notices WHERE renewal_id = ?",
                                   (record.renewal_id,)).fetchone()
                if found:
                    break
                time.sleep(0.2)
        assert found == ("bound",), "the bank never got the renewal notice"
        with sqlite3.connect(stack.root / "platform" / "platform.sqlite3") as db:
            assert db.execute("SELECT outcome FROM bank_notices WHERE renewal_id = ?",
                              (record.renewal_id,)).fetchone() == ("bound",)
        assert transfer(client, prefix, who, new_key, new).status_code == 201
        old_refused = transfer(client, prefix, who, old_key, old).json()["error"]
        assert old_refused["code"] == "CERT_SUPERSEDED"
        # OCSP over HTTP at the CA: revoked now, refused now.
        stack.ca.revoke(serial(new), "keyCompromise")
        revoked = transfer(client, prefix, who, new_key, new)
        assert revoked.status_code == 422 and revoked.json()["error"]["code"] == "CERT_REVOKED"


def test_the_bank_refuses_what_the_platform_did_not_sign(stack: Stack) -> None:
    body = json.dumps({"renewal_id": "renewal-forged1", "holder_id": "A123456789", "old_serial": "AA",
                       "new_serial": "BB", "done_at": NOW.isoformat()}).encode()
    with httpx2.Client(base_url=stack.urls["bank"]) as client:
        unsigned = client.post(bankapi.Paths.RENEWALS, content=body)
        assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "BANK_API_UNAUTHENTICATED"
        forged = client.post(bankapi.Paths.RENEWALS, content=body, headers=bankapi.sign(
            bankapi.api_key(b"x" * 32), "POST", bankapi.Paths.RENEWALS, body, stack.clock))
        assert forged.status_code == 401
        headers = bankapi.sign(bankapi.api_key(stack.ticket_key), "POST", bankapi.Paths.FAXES, b"{}", stack.clock)
        signed_elsewhere = client.post(bankapi.Paths.RENEWALS, content=body, headers=headers)  # another path
        assert signed_elsewhere.status_code == 401
    with stack.bank_db() as db:
        count = db.execute("SELECT count(*) FROM renewal_notices WHERE renewal_id = 'renewal-forged1'").fetchone()
    assert count == (0,)


def platform_session(client: httpx2.Client, stack: Stack, customer: Customer, system: tickets.System) -> None:
    ticket = tickets.Ticket(system=system, customer_id=customer.id_number, customer_name=customer.name,
                            user_code=customer.users[0].user_code, customer_type=None, holder_id=customer.holder_id,
                            return_url=f"{stack.urls['bank']}/menu")
    assert client.get(f"/entry?ticket={tickets.issue(ticket, stack.ticket_key, stack.clock)}").status_code == 303


def test_only_an_eoi_customers_print_faxes(stack: Stack) -> None:
    who = persona("person").customer
    _key, cert = stack.apply(who, "it-person-print")
    with httpx2.Client(base_url=stack.urls["platform"]) as platform:
        platform_session(platform, stack, who, tickets.System.PERSONAL)
        sheet = platform.get(f"/proof/{serial(cert)}")
        assert sheet.status_code == 200 and "data-fax-url" not in sheet.text  # [列印] only prints
        asked = platform.post(f"/proof/{serial(cert)}/fax", headers={"x-csrf-token": token_in(sheet.text)}, json={})
    assert asked.status_code == 409 and asked.json()["error"]["code"] == "FAX_NOT_NEEDED"
    with stack.bank_db() as db:
        assert db.execute("SELECT count(*) FROM faxes WHERE serial = ?", (serial(cert),)).fetchone() == (0,)


def test_the_sheet_of_a_certificate_other_than_the_newest_warns_and_is_not_faxed(stack: Stack) -> None:
    """The manual's 此部份請勿更改: the list offers each Common Name's newest certificate only; the sheet
    of another (here the one the renewal replaced, asked for by its address) says so, and an EOI
    customer gets no [列印] for it, nor a fax."""
    who = persona("eoi").customer
    old_key, old = stack.apply(who, "it-eoi-not-newest")
    _key, new = stack.renew(old_key, old, "it-eoi-not-newest-renewed")
    with httpx2.Client(base_url=stack.urls["platform"]) as platform:
        platform_session(platform, stack, who, tickets.System.EOI)
        listing = platform.get("/proof").text
        assert f'value="{serial(new)}" id="p1" aria-label="{new_cn(new)}" checked' in listing
        assert serial(old) not in listing
        sheet = platform.get(f"/proof/{serial(old)}")
        assert sheet.status_code == 200 and 'data-testid="proof-not-newest"' in sheet.text
        assert "不是最新憑證，其憑證證明單不能用於憑證展期建檔" in sheet.text
        assert 'data-testid="proof-print"' not in sheet.text
        asked = platform.post(f"/proof/{serial(old)}/fax", headers={"x-csrf-token": token_in(sheet.text)}, json={})
        newest = platform.get(f"/proof/{serial(new)}")
        assert 'data-testid="proof-print"' in newest.text and "proof-not-newest" not in newest.text
    assert asked.status_code == 409 and asked.json()["error"]["code"] == "PROOF_NOT_NEWEST"
    with stack.bank_db() as db:
        assert db.execute("SELECT count(*) FROM faxes WHERE serial = ?", (serial(old),)).fetchone() == (0,)


def new_cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_a_fax_the_bank_does_not_receive_is_said_and_nothing_printed(stack: Stack, tmp_path: Path) -> None:
    """A platform whose bank does not answer (nothing listens on its port)."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    environ = {**os.environ, env.CLOCK: stack.clock.describe(), env.CA_URL: stack.urls["ca"], env.BANK_URL: nowhere,
               env.TICKET_KEY_FILE: str(stack.key_file)}
    pid, url = spawn_ready([sys.executable, "-m", "fxml.platform", "serve", "--host", "127.0.0.1", "--port", "0",
                            "--state-dir", str(tmp_path / "platform")], tmp_path / "platform.log", what="platform",
                           env=environ)
    try:
        who = persona("eoi").customer
        _key, cert = stack.apply(who, "it-eoi-lonely")
        with httpx2.Client(base_url=url) as platform:
            platform_session(platform, stack, who, tickets.System.EOI)
            sheet = platform.get(f"/proof/{serial(cert)}")
            faxed = platform.post(f"/proof/{serial(cert)}/fax", headers={"x-csrf-token": token_in(sheet.text)},
                                  json={})
    finally:
        stop_pid(pid, "fxml.platform")
    assert faxed.status_code == 502
    error = faxed.json()["error"]
    assert error["code"] == "FAX_FAILED"
    assert error["message"] == "憑證證明單未能傳真至申辦分行（無法連線至銀行系統，請稍後再試。），請稍後再點選[列印]。"
