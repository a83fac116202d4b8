"""The bank in process for step 9 and the transfers: a CA in process behind the bank's
:class:`~simulator.bank.certificates.CaLookup`, software keys standing in for cards, and the
bank's pages driven with Starlette's TestClient."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.testclient import TestClient

from fxml.ca.api import grouped_code, renewal_proof_message
from fxml.ca.client import AuthorizationGrant, CaError, CertificateRecord
from fxml.clock import TAIWAN, FixedClock
from fxml.platform import bankapi
from simulator.bank.app import BankApp, BankSettings
from simulator.bank.certificates import CertificateChecks
from simulator.bank.customers import Customer, persona
from simulator.bank.officers import Officer
from simulator.bank.service import open_bank
from simulator.bank.store import BankStore
from simulator.bank.systems import BY_SYSTEM
from simulator.ca.errors import CaServiceError
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import KeyCache, make_csr

KEY = b"k" * 32
PLATFORM = "http://127.0.0.1:8602"
BANK = "http://127.0.0.1:8603"


class LocalCa:
    """A :class:`CertificateAuthority` in process as the bank asks a CA (query, OCSP, chain), and as its
    registration authority uses it (用戶登錄, 核發授權碼): the client's answers and refusals."""

    def __init__(self, ca: CertificateAuthority):
        self.ca = ca
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise CaError(0, "CA_UNREACHABLE", "無法連線至憑證中心，請稍後再試。")

    def query(self, holder_id: str | None = None, cn: str | None = None, serial: str | None = None
              ) -> list[CertificateRecord]:
        self._check()
        try:
            found = self.ca.query(holder_id=holder_id, cn=cn, serial=serial)
        except CaServiceError:
            return []
        return [CertificateRecord.from_json(c.to_json()) for c in found]

    def ocsp(self, request_der: bytes) -> bytes:
        self._check()
        return self.ca.ocsp_response(request_der)

    def chain(self) -> list[x509.Certificate]:
        self._check()
        return x509.load_pem_x509_certificates(self.ca.chain_pem())

    def register_holder(self, holder_id: str, name: str, cn_suffix: str, branch_code: str | None = None,
                        bank_name: str | None = None) -> dict[str, Any]:
        self._check()
        try:
            holder = self.ca.register_holder(holder_id, name, cn_suffix, actor="bank-ra")
        except CaServiceError as exc:
            raise CaError(exc.status, exc.code, exc.message, exc.details) from exc
        return {"holder_id": holder.holder_id, "cn_suffixes": list(holder.cn_suffixes)}

    def authorize(self, holder_id: str, cn_suffix: str, *, expires_at: datetime | None = None
                  ) -> tuple[str, AuthorizationGrant]:
        self._check()
        try:
            code, grant = self.ca.authorize(holder_id, cn_suffix, actor="bank-ra", expires_at=expires_at)
        except CaServiceError as exc:
            raise CaError(exc.status, exc.code, exc.message, exc.details) from exc
        return grouped_code(code), AuthorizationGrant.from_json(grant.to_json())


@dataclass
class Card:
    """A customer's key and certificate, as a card would hold them."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def serial(self) -> str:
        return f"{self.certificate.serial_number:X}"

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf(?:_token|-token)" (?:value|content)="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def code_of(html: str) -> str:
    found = re.search(r'data-code="([A-Z0-9_]+)"', html)
    return found.group(1) if found else ""


def without_audit(dump: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: rows for table, rows in dump.items() if table != "audit"}


@dataclass
class Bank:
    client: TestClient
    store: BankStore
    clock: FixedClock
    ca: CertificateAuthority
    lookup: LocalCa
    keys: KeyCache
    app: BankApp
    counter: list[int] = field(default_factory=lambda: [0])

    # -- cards ---------------------------------------------------------------------------------
    def apply(self, customer: Customer, suffix: str | None = None, key_name: str | None = None,
              days_left: int = 27) -> Card:
        """A certificate by application (申請) for the customer's CN (the first, or ``suffix``),
        ending ``days_left`` days from now: inside the renewal window by default."""
        self.counter[0] += 1
        for registration in customer.ca_registrations():
            self.ca.ensure_holder(**registration.__dict__)
        suffix = suffix or customer.certificates[0].cn_suffix
        key = self.keys.rsa(key_name or f"bank-{customer.id_number}-{suffix}")
        issued = self.ca.apply(f"apply-{self.counter[0]}", customer.holder_id,
                               make_csr(key, self.ca.subject_for(customer.holder_id, suffix)),
                               not_after=self.clock.now() + timedelta(days=days_left))
        return Card(key, issued.certificate)

    def renew(self, card: Card, key_name: str, *, later: bool = True) -> Card:
        """The renewal engine's work at the CA, some minutes after the application, or (``later=False``)
        at the same instant, as on a frozen clock."""
        if later:
            self.clock.advance(timedelta(minutes=5))
        self.counter[0] += 1
        key = self.keys.rsa(key_name)
        request_id, csr = f"renew-{self.counter[0]}", make_csr(key, card.certificate.subject)
        proof = card.key.sign(renewal_proof_message(request_id, card.serial, csr), padding.PKCS1v15(), hashes.SHA256())
        issued = self.ca.renew(request_id, card.serial, csr, old_key_signature=proof, require_proof=True)
        return Card(key, issued.certificate)

    # -- the platform's side ------------------------------------------------------------------------
    def api(self, path: str, body: dict[str, Any], *, key: bytes = KEY, nonce: str | None = None,
            headers: dict[str, str] | None = None) -> Any:
        raw = json.dumps(body, ensure_ascii=False).encode()
        signed = bankapi.sign(bankapi.api_key(key), "POST", path, raw, self.clock, nonce=nonce)
        return self.client.post(path, content=raw, headers={**signed, **(headers or {}),
                                                             "content-type": "application/json"})

    def notify(self, customer: Customer, old: Card, new: Card, renewal_id: str = "renewal-0001") -> Any:
        notice = bankapi.RenewalNotice(renewal_id, customer.holder_id, old.serial, new.serial,
                                       self.clock.now().isoformat())
        return self.api(bankapi.Paths.RENEWALS, notice.to_json())

    def application(self, customer: Customer, cn_suffix: str = "2023", application_id: str = "A0000000000001",
                    carrier: str = "小卡") -> Any:
        """The platform's 憑證申請 for ``customer`` (its first user), sent to the bank's API."""
        application = bankapi.Application(
            application_id=application_id, submitted_at=self.clock.now().isoformat(),
            customer=bankapi.FaxCustomer(customer.system.value, customer.id_number, customer.name,
                                         customer.users[0].user_code, customer.holder_id),
            cn_suffix=cn_suffix, carrier=carrier)
        return self.api(bankapi.Paths.APPLICATIONS, application.to_json())

    def fax(self, customer: Customer, card: Card, fax_id: str = "F0000000000001", user_code: str | None = None,
            sheet: dict[str, str] | None = None) -> Any:
        fax = bankapi.Fax(
            fax_id=fax_id, sent_at=self.clock.now().isoformat(),
            customer=bankapi.FaxCustomer(customer.system.value, customer.id_number, customer.name,
                                         user_code or customer.users[0].user_code, customer.holder_id),
            serial=card.serial, sheet=sheet if sheet is not None else self.ca.proof_sheet(card.serial),
            pdf=b"%PDF-1.7\n% a proof sheet\n",
        )
        return self.api(bankapi.Paths.FAXES, fax.to_json())

    # -- people -------------------------------------------------------------------------------------------
    def log_in(self, customer: Customer, user_index: int = 0) -> str:
        """Log a customer in; the system's prefix."""
        page = BY_SYSTEM[customer.system]
        token = csrf(self.client.get(f"{page.prefix}/login").text)
        user = customer.users[user_index]
        answer = self.client.post(f"{page.prefix}/login", data={
            "csrf_token": token, "id_number": customer.id_number, "user_code": user.user_code,
            "password": user.password}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].endswith("/menu"), answer.text
        return page.prefix

    def officer_login(self, officer: Officer, password: str | None = None) -> Any:
        token = csrf(self.client.get("/branch/login").text)
        return self.client.post("/branch/login", data={
            "csrf_token": token, "branch_code": officer.branch.code, "officer_code": officer.officer_code,
            "password": officer.password if password is None else password}, follow_redirects=False)

    # -- transfers ---------------------------------------------------------------------------------------
    def fill(self, prefix: str, customer: Customer, **fields: str) -> tuple[str, bytes, str]:
        """Fill in a transfer; (transfer id, bytes to sign, CSRF token) of the sign page."""
        form = self.client.get(f"{prefix}/transfer")
        assert form.status_code == 200, form.text
        data = {"csrf_token": csrf(form.text), "from_account": customer.accounts[0].number, "to_bank": "006",
                "to_account": "00170000000099", "amount": "1,000", "memo": "貨款", **fields}
        answer = self.client.post(f"{prefix}/transfer", data=data, follow_redirects=True)
        assert answer.status_code == 200 and 'id="transfer"' in answer.text, answer.text
        transfer_id = re.search(r'data-transfer="([^"]+)"', answer.text)
        to_sign = re.search(r'data-to-sign="([^"]+)"', answer.text)
        assert transfer_id and to_sign
        return transfer_id.group(1), base64.b64decode(to_sign.group(1)), csrf(answer.text)

    def submit(self, prefix: str, token: str, body: Mapping[str, Any]) -> Any:
        return self.client.post(f"{prefix}/transfer/sign", json=body, headers={"x-csrf-token": token})

    def transfer(self, prefix: str, customer: Customer, card: Card, **fields: str) -> Any:
        transfer_id, data, token = self.fill(prefix, customer, **fields)
        return self.submit(prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data),
                                           "certificate": card.pem})


#: The bank tests' time: their clock (each module's ``clock`` fixture) and when the seed bank was made.
NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=TAIWAN)


def seeded_bank(folder: Path, now: datetime) -> None:
    store, _ = open_bank(folder, FixedClock(now), hash_profile="cheapest")
    store.close()


def open_test_bank(seed: Path, state: Path, ca: CertificateAuthority, keys: KeyCache, clock: FixedClock,
                   agent_url: str | None = "http://127.0.0.1:8604") -> Iterator[Bank]:
    state.mkdir(parents=True, exist_ok=True)
    for f in seed.iterdir():
        (state / f.name).write_bytes(f.read_bytes())
    store, logins = open_bank(state, clock, hash_profile="cheapest")
    lookup = LocalCa(ca)
    app = BankApp(BankSettings(state_dir=state, ticket_key=KEY, clock=clock, platform_url=PLATFORM,
                               agent_url=agent_url), store, logins, checks=CertificateChecks(lookup),
                  registrar=lookup)
    with TestClient(app.app(), base_url=BANK) as client:
        yield Bank(client, store, clock, ca, lookup, keys, app)


def customer(name: str) -> Customer:
    return persona(name).customer


def assert_only_refusal_recorded(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]],
                                 code: str) -> None:
    """Between two :meth:`BankStore.dump` s a refusal changed nothing but the audit log, which gained
    exactly one line recording ``code``."""
    assert without_audit(after) == without_audit(before), "a refusal changed the bank's records"
    assert after["audit"][:len(before["audit"])] == before["audit"], "the audit log was rewritten"
    new = after["audit"][len(before["audit"]):]
    assert len(new) == 1 and new[0][5] == code, f"expected one audit line for {code}, got {new}"
