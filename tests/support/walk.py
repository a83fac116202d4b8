"""Every route of every web app, walked: each app in process (Starlette's TestClient), signed in the
way its real client is, and what a request needs to be read past the app's front door (the session
cookie and the CSRF header of the pages, the platform's HMAC signature on the bank's API, a renewal
token on the record API, the Host and Origin the card agent checks).

The routes are not listed by hand: :func:`routes_of` enumerates the Starlette routes of the app
(through its mounts), so a route added later is walked too. Each app's entry (:class:`Walked`)
says what its routes do with a body (:attr:`Walked.unreadable`: the JSON routes and the code of a
body they cannot read; :attr:`Walked.forms`: the routes that read a form) and with an id in the
URL that names nothing (:attr:`Walked.missing`); the walks fail on a route the entry does not
classify, so whoever adds one says what it must answer.

Adding an app to the walks is one function that yields its :class:`Walked` and one entry in the
test module's ``APPS``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from fxml.agent.api import ErrorCode as AgentCode
from fxml.agent.app import agent_app
from fxml.agent.core import AgentSettings, CardAgent
from fxml.ca import api as ca_api
from fxml.ca.api import ErrorCode as CaCode
from fxml.clock import FixedClock
from fxml.platform import bankapi, tickets
from fxml.platform.app import Platform, PlatformSettings
from fxml.renewal import api as record_api
from fxml.renewal.model import RecordErrorCode
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.customers import persona
from simulator.bank.officers import officer_of
from simulator.ca.app import Access, CaApp
from simulator.ca.registry import Registry
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, KeyCache, make_csr, open_test_ca
from tests.support.bank import KEY, csrf, open_test_bank

#: The methods whose requests carry a body.
BODY_METHODS = ("POST", "PUT", "PATCH")
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")

Route_ = tuple[str, str]
"""A route as (method, path template), the path with its mounts' prefixes: ``("GET", "/branch/fax/{fax:str}")``."""


def routes_of(app: Any) -> list[Route_]:
    """Every (method, path) the app serves, through its mounts (static files left out, HEAD too:
    Starlette adds it to every GET). A middleware in front of the app (the agent's guard) is looked
    through."""
    while not hasattr(app, "routes"):
        app = app.app
    found: list[Route_] = []

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Route):
                found.extend((m, prefix + route.path) for m in sorted(route.methods or ()) if m != "HEAD")
            elif isinstance(route, Mount) and route.routes:
                walk(route.routes, prefix + route.path)

    walk(app.routes, "")
    return found


def params_of(path: str) -> list[str]:
    return _PARAM.findall(path)


def fill(path: str, values: dict[str, str], **hostile: str) -> str:
    """The route's path with each parameter's value (``hostile`` first, percent-encoded)."""
    def one(found: re.Match[str]) -> str:
        name = found.group(1)
        if name in hostile:
            return quote(hostile[name], safe="")
        assert name in values, f"no value for {{{name}}} of {path}: give one in the app's Walked.params"
        return quote(values[name], safe="")
    return _PARAM.sub(one, path)


def code_of(answer: Any) -> str:
    """The refusal's code: ``error.code`` of a JSON answer, ``data-code`` of a page."""
    if answer.headers.get("content-type", "").startswith("application/json"):
        try:
            error = answer.json().get("error")
        except ValueError:
            return ""
        return str(error.get("code", "")) if isinstance(error, dict) else ""
    found = re.search(r'data-code="([A-Za-z0-9_]+)"', answer.text)
    return found.group(1) if found else ""


def sqlite_rows(path: Path, skip: tuple[str, ...] = ("sessions",)) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of an SQLite file but ``skip`` (read without the app's own code)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()  # noqa: S608 - names read above
                for t in names if t not in skip}
    finally:
        conn.close()


@dataclass
class Walked:
    """One app under the walks."""

    name: str
    client: TestClient
    #: The ASGI app (its routes are walked).
    app: Any
    #: The largest body the app reads (a deep JSON that fits it).
    max_body: int
    #: A real value for each path parameter the app's routes name.
    params: dict[str, str]
    #: (method, path, body) -> the headers that get a request past the app's front door.
    headers: Callable[[str, str, bytes], dict[str, str]]
    #: JSON routes: the code of a body they cannot read.
    unreadable: dict[Route_, str]
    #: Routes whose body is a form (a JSON body is refused before it is read, as a form without its token).
    forms: frozenset[Route_]
    #: Routes with an id in their path: the code of an id that names nothing (by parameter where
    #: the route's parameters differ: a certificate's serial and its file format).
    missing: dict[Route_, str | dict[str, str]]
    #: The app's records, which a refusal must leave as they were.
    state: Callable[[], Any]
    #: The app's audit log as (action, result) lines, where it keeps one of refusals.
    audit: Callable[[], list[tuple[str, str]]] | None = None
    #: The form fields a form route needs to be read (its CSRF token), by path.
    form_fields: Callable[[str], dict[str, str]] = field(default=lambda path: {})
    #: Routes that answer in their own protocol whatever the body or id (OCSP: a DER answer saying
    #: malformedRequest, status 200, as RFC 6960 has it): the walks check them for no 5xx and no change.
    opaque: frozenset[Route_] = frozenset()

    def routes(self) -> list[Route_]:
        return routes_of(self.app)

    def missing_code(self, route: Route_, param: str) -> str:
        """What an id that names nothing in ``param`` of ``route`` gets."""
        code = self.missing[route]
        return code if isinstance(code, str) else code[param]


# -- the bank -----------------------------------------------------------------------------------------------
#: The bank's records a refusal leaves as they were: all but the audit log, and the nonces a well-signed
#: request of the platform spends even when refused (docs/bank.md).
_BANK_VOLATILE = ("audit", "api_nonces")


@contextmanager
def walked_bank(seed: Path, state: Path, ca: CertificateAuthority, keys: KeyCache, clock: FixedClock
                ) -> Iterator[Walked]:
    """The bank's three systems and its branch, each signed in: 王小明 in 個人網路銀行, 客戶別 2 in
    企業網路銀行, the EOI company (a transfer done, another pending, twelve faxes in its branch's inbox)
    in the EOI 系統, and the officer of that branch in the back office."""
    with contextmanager(open_test_bank)(seed, state, ca, keys, clock) as bank:
        eoi = persona("eoi").customer
        card = bank.apply(eoi)
        faxes = [bank.fax(eoi, card, fax_id=f"F{n:013d}") for n in range(1, 13)]
        assert all(f.status_code == 201 for f in faxes), [f.text for f in faxes]
        applied = bank.application(eoi, "2023")
        assert applied.status_code == 201, applied.text
        bank.log_in(persona("person").customer)
        bank.log_in(persona("corporate-2").customer)
        prefix = bank.log_in(eoi)
        done = bank.transfer(prefix, eoi, card)
        assert done.status_code == 201, done.text
        for system in ("/personal", "/corporate", "/eoi"):
            bank.fill(system, persona({"/personal": "person", "/corporate": "corporate-2", "/eoi": "eoi"}[system])
                      .customer)
        officer = officer_of("雲杉分行")
        assert bank.officer_login(officer).status_code == 303
        tokens = {p: csrf(bank.client.get(f"{p}/menu").text) for p in ("/personal", "/corporate", "/eoi")}
        tokens["/branch"] = csrf(bank.client.get("/branch/inbox").text)

        def headers(method: str, path: str, body: bytes) -> dict[str, str]:
            if path.startswith("/api/platform/"):
                return {**bankapi.sign(bankapi.api_key(KEY), method, path, body, clock),
                        "content-type": "application/json"}
            token = next((t for p, t in tokens.items() if path.startswith(f"{p}/")), "")
            return {"x-csrf-token": token, "content-type": "application/json"}

        def form_fields(path: str) -> dict[str, str]:
            return {"csrf_token": next((t for p, t in tokens.items() if path.startswith(f"{p}/")), "")}

        systems = ("/personal", "/corporate", "/eoi")
        yield Walked(
            name="bank", client=bank.client, app=bank.client.app, max_body=bankapi.MAX_BODY,
            params={"fax": "1", "transfer_id": done.json()["transfer"]["transfer_id"], "application": "1"},
            headers=headers, form_fields=form_fields,
            unreadable={
                **{("POST", f"{s}/transfer/sign"): Code.SIGNATURE_MISSING for s in systems},
                ("POST", bankapi.Paths.FAXES): bankapi.ErrorCode.BANK_API_BAD_REQUEST,
                ("POST", bankapi.Paths.RENEWALS): bankapi.ErrorCode.BANK_API_BAD_REQUEST,
                ("POST", bankapi.Paths.APPLICATIONS): bankapi.ErrorCode.BANK_API_BAD_REQUEST,
            },
            forms=frozenset({
                *(("POST", f"{s}/{p}") for s in systems for p in ("login", "fxml", "logout", "transfer")),
                ("POST", "/branch/login"), ("POST", "/branch/logout"), ("POST", "/branch/fax/{fax:str}/file"),
                ("POST", "/branch/resume"),
                ("POST", "/branch/applications/{application:str}/approve"),
                ("POST", "/branch/applications/{application:str}/refuse"),
            }),
            missing={
                **{(m, f"/branch/fax/{{fax:str}}{p}"): Code.FAX_NOT_FOUND
                   for m, p in (("GET", ""), ("GET", ".pdf"), ("POST", "/file"))},
                **{("GET", f"{s}/transfer/{{transfer_id:str}}"): Code.TRANSFER_UNKNOWN for s in systems},
                **{(m, f"/branch/applications/{{application:str}}{p}"): Code.APPLICATION_NOT_FOUND
                   for m, p in (("GET", ""), ("POST", "/approve"), ("POST", "/refuse"))},
            },
            state=lambda: {t: r for t, r in bank.store.dump().items() if t not in _BANK_VOLATILE},
            audit=lambda: [(a.action, a.result) for a in bank.store.audit_log(limit=10_000)],
        )


# -- the platform -------------------------------------------------------------------------------------------
PLATFORM_URL = "http://127.0.0.1:8601"
AGENT_PORT = 61082
AGENT_URL = f"http://127.0.0.1:{AGENT_PORT}"


@contextmanager
def walked_platform(state: Path, clock: FixedClock) -> Iterator[Walked]:
    """The platform, entered with a ticket of the EOI company, one renewal of its open (the record
    API's token for it in hand)."""
    eoi = persona("eoi").customer
    platform = Platform(PlatformSettings(state_dir=state, ticket_key=KEY, clock=clock, agent_origin=AGENT_URL))
    record = platform.book.create(eoi.holder_id, "5A17C0DE", f"{eoi.holder_id}-00-2015")
    token = platform.book.token(record.renewal_id)
    with TestClient(platform.app(), base_url=PLATFORM_URL) as client:
        ticket = tickets.Ticket(system=tickets.System.EOI, customer_id=eoi.id_number, customer_name=eoi.name,
                                user_code=eoi.users[0].user_code, customer_type=None, holder_id=eoi.holder_id,
                                return_url="http://127.0.0.1:8603/eoi/menu")
        entered = client.get("/entry", params={"ticket": tickets.issue(ticket, KEY, clock)}, follow_redirects=False)
        assert entered.status_code == 303, entered.text
        session_token = csrf(client.get("/").text)

        def headers(method: str, path: str, body: bytes) -> dict[str, str]:
            if path.startswith("/api/renewals/"):
                return {record_api.HEADER: f"{record_api.SCHEME} {token}", "content-type": "application/json"}
            return {"x-csrf-token": session_token, "content-type": "application/json"}

        renew, download = "/renew/{renewal_id:str}", "/download/{renewal_id:str}"
        yield Walked(
            name="platform", client=client, app=client.app, max_body=64 * 1024,
            params={"renewal_id": record.renewal_id, "serial": record.old_serial,
                    "application_id": "A" + "0" * 32},
            headers=headers, form_fields=lambda path: {"csrf_token": session_token},
            unreadable={
                ("POST", f"{renew}/confirm"): "BAD_REQUEST", ("POST", f"{renew}/accept"): "BAD_REQUEST",
                ("POST", "/proof/{serial:str}/fax"): "BAD_REQUEST",
                ("POST", f"{download}/confirm"): "BAD_REQUEST", ("POST", f"{download}/accept"): "BAD_REQUEST",
                ("POST", record_api.Paths.ADVANCE): RecordErrorCode.BAD_RECORD,
                ("POST", record_api.Paths.FAIL): RecordErrorCode.BAD_RECORD,
            },
            forms=frozenset({("POST", "/home"), ("POST", "/renew"), ("POST", "/proof"), ("POST", f"{renew}/cancel"),
                             ("POST", "/suspend"), ("POST", "/apply"), ("POST", "/apply/confirm"),
                             ("POST", "/download"), ("POST", f"{download}/cancel")}),
            missing={
                **{(m, f"{renew}{p}"): "RENEWAL_UNKNOWN" for m, p in (
                    ("GET", ""), ("POST", "/confirm"), ("POST", "/accept"), ("GET", "/status"), ("POST", "/cancel"),
                    ("GET", "/done"))},
                # A renewal's id names no download (nor a download's a renewal): the same answer as none.
                **{(m, f"{download}{p}"): "DOWNLOAD_UNKNOWN" for m, p in (
                    ("GET", ""), ("POST", "/confirm"), ("POST", "/accept"), ("GET", "/status"), ("POST", "/cancel"),
                    ("GET", "/done"))},
                ("GET", "/apply/{application_id:str}"): "APPLY_UNKNOWN",
                **{(m, f"/proof/{{serial:str}}{p}"): "PROOF_UNKNOWN_CERTIFICATE"
                   for m, p in (("GET", ""), ("GET", ".pdf"), ("POST", "/fax"))},
                ("GET", "/suspend/{serial:str}"): "CERT_NOT_CUSTOMERS",
                # The record API: a token is for one renewal; any other id is refused by the token first.
                **dict.fromkeys((("GET", record_api.Paths.RENEWAL), ("POST", record_api.Paths.ADVANCE),
                                 ("POST", record_api.Paths.FAIL)), RecordErrorCode.BAD_TOKEN),
            },
            state=lambda: sqlite_rows(state / "platform.sqlite3"),
        )


# -- the card agent -----------------------------------------------------------------------------------------
@contextmanager
def walked_agent() -> Iterator[Walked]:
    """The card agent without PC/SC (no reader: nothing reaches a card), as the platform's pages call it."""
    agent = CardAgent(AgentSettings(origins=(PLATFORM_URL,), port=AGENT_PORT))
    with TestClient(agent_app(agent, monitor=False), base_url=AGENT_URL) as client:
        yield Walked(
            name="agent", client=client, app=client.app, max_body=1024 * 1024,
            params={"session": "0" * 43, "job": "0" * 32},
            headers=lambda method, path, body: {"origin": PLATFORM_URL, "content-type": "application/json"},
            unreadable={("POST", "/v1/sessions"): AgentCode.BAD_JSON, ("POST", "/v1/renewals"): AgentCode.BAD_JSON,
                        ("POST", "/v1/signatures"): AgentCode.BAD_JSON,
                        ("POST", "/v1/pin-changes"): AgentCode.BAD_JSON},
            forms=frozenset(),
            missing={("GET", "/v1/sessions/{session}"): AgentCode.SESSION_NOT_FOUND,
                     ("DELETE", "/v1/sessions/{session}"): AgentCode.SESSION_NOT_FOUND,
                     ("GET", "/v1/renewals/{job}"): AgentCode.RENEWAL_NOT_FOUND},
            state=lambda: (sorted(agent.sessions), sorted(agent.jobs)),
        )


# -- the CA ---------------------------------------------------------------------------------------------
CA_PORT = 8470
CA_TOKEN = "walk-admin-token-" + "0" * 32


@contextmanager
def walked_ca(state: Path, keys: KeyCache, clock: FixedClock) -> Iterator[Walked]:
    """The simulated CA with one certificate of the fixture holder, called as its admin is (its
    Host, a JSON body, the admin token), so that every route reads what it is sent."""
    with open_test_ca(state, keys, clock) as ca:
        subject = ca.subject_for(HOLDER_ID, CN_SUFFIX)
        issued = ca.apply("walk-1", HOLDER_ID, make_csr(keys.rsa("holder-1"), subject))
        app = CaApp(ca, Access.for_url(f"http://127.0.0.1:{CA_PORT}", CA_TOKEN))
        with TestClient(app, base_url=f"http://127.0.0.1:{CA_PORT}") as client:
            def headers(method: str, path: str, body: bytes) -> dict[str, str]:
                kind = "application/ocsp-request" if path.startswith("/ocsp") else "application/json"
                return {"content-type": kind, "authorization": f"Bearer {CA_TOKEN}"}

            certificate = "/certificates/{serial:ca_serial}"
            unknown_serial = str(CaCode.UNKNOWN_SERIAL)
            yield Walked(
                name="ca", client=client, app=app.starlette, max_body=ca_api.MAX_BODY,
                params={"serial": issued.serial, "holder_id": HOLDER_ID, "fmt": "cer",
                        "name": "TWCA-Financial-User-CA.crl", "encoded": "MAA="},
                headers=headers,
                unreadable={("POST", p): str(CaCode.BAD_REQUEST) for p in (
                    "/holders", "/certificates", f"{certificate}/renew", f"{certificate}/suspend",
                    f"{certificate}/resume", f"{certificate}/revoke", ca_api.Paths.AUTHORIZATIONS,
                    ca_api.Paths.AUTHORIZATION_CHECK, ca_api.Paths.ENROLLMENTS)},
                forms=frozenset(),
                opaque=frozenset({("POST", "/ocsp"), ("GET", "/ocsp/{encoded:path}")}),
                missing={
                    ("GET", "/holders/{holder_id}"): str(CaCode.UNKNOWN_HOLDER),
                    **{(m, f"{certificate}{p}"): unknown_serial for m, p in (
                        ("GET", ""), ("GET", "/proof"), ("GET", "/renewal-check"),
                        ("POST", "/suspend"), ("POST", "/resume"), ("POST", "/revoke"))},
                    # A renewal reads its request first: the walk's {} lacks its request id.
                    ("POST", f"{certificate}/renew"): str(CaCode.BAD_REQUEST),
                    # A format that is none of cer, der, pem matches no route.
                    ("GET", f"{certificate}.{{fmt:ca_format}}"): {"serial": unknown_serial,
                                                                  "fmt": str(CaCode.NOT_FOUND)},
                    ("GET", "/crl/{name:str}"): str(CaCode.NOT_FOUND),
                    ("GET", "/ca/{name:str}"): str(CaCode.NOT_FOUND),
                    ("GET", "/ocsp/{encoded:path}"): "",
                },
                state=lambda: {t: r for t, r in Registry(state / "ca.sqlite3").dump().items() if t != "audit"},
            )


def deep_json(max_body: int, depth: int = 100_000) -> bytes:
    """``[`` × depth then ``]`` × depth (the hostile test's body), as deep as fits ``max_body``:
    always far deeper than Python's recursion limit."""
    depth = min(depth, max_body // 2)
    return b"[" * depth + b"]" * depth


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()
