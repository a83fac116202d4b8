"""The real renewal engine through the card agent, as ``fxmlsim up`` starts them: the
registry's agent (its default engine), the platform keeping the record, the CA
issuing, the golden card in a reader of the private pcscd, the stack on a clock
file at the manual's instant. What a page does: a card session with the PIN, then
the renewal with the platform's token, followed on the event stream.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from fxml import env
from fxml.agent.api import ErrorCode, Paths
from fxml.agent.client import AgentClient
from fxml.agent.renewal import DEFAULT_ENGINE
from fxml.ca.client import CaClient
from fxml.clock import TAIWAN, FileClock
from fxml.platform.renewals import RenewalBook
from fxml.renewal.model import RenewalRecord, State
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import key_cache
from simulator.home import Home
from tests.support.agent import AgentProcess, follow_renewal
from tests.support.renewal import (
    GOLDEN,
    GOLDEN_PROFILE,
    ISSUED_AT,
    NEW_NOT_AFTER,
    PIN,
    keys_on_card,
    old_certificate,
    serial_of,
)

pytestmark = pytest.mark.pcsc


@dataclass
class World:
    home: Home
    book: RenewalBook
    agent_url: str
    platform_url: str
    ca_url: str
    bank_url: str
    cards: int = 0

    def client(self) -> AgentClient:
        return AgentClient(self.agent_url, origin=self.platform_url)

    def card(self) -> tuple[Path, str]:
        self.cards += 1
        image = self.home.create_card(GOLDEN, name=f"agent-golden-{self.cards}")
        return image, str(self.home.stack.insert(image, 0)["name"])

    def renewal(self, image: Path) -> RenewalRecord:
        """What the platform's wizard does before the engine: 選擇更新清單, 確認更新資訊, 更新約定條款."""
        _, cert = old_certificate(image)
        holder = GOLDEN_PROFILE["holder_id"]
        record = self.book.create(holder, serial_of(cert), f"{holder}-00-2015")
        self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED)
        return self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)

    def issuances(self, renewal: RenewalRecord) -> list[dict[str, object]]:
        return [e for e in CaClient(self.ca_url).audit(10_000)
                if e["action"] == "更新" and e["target"] == renewal.request_id and e["result"] == "OK"]


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("agent-engine")
    clock = FileClock(root / "clock.json")
    clock.write(fixed=ISSUED_AT)
    home = Home(root / "home")
    keys = key_cache(request.config, root / "keys")
    CertificateAuthority.open(home.ca_dir, keys_dir=keys.hierarchy()).close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(env.CLOCK, clock.describe())  # 'up' hands the stack's clock to every process it starts
        client_env = home.up(readers=2)
    book = RenewalBook.open(home.root / "platform", clock)
    try:
        yield World(home, book, client_env[env.AGENT_URL], client_env[env.PLATFORM_URL], client_env[env.CA_URL],
                    client_env[env.BANK_URL])
    finally:
        book.close()
        home.down()


@pytest.fixture(autouse=True)
def empty(world: World) -> Iterator[None]:
    yield
    for reader in world.home.stack.readers():
        if reader["card"]:
            world.home.stack.remove(reader["index"])


def test_the_golden_renewal_runs_through_the_agent(world: World) -> None:
    image, reader = world.card()
    renewal = world.renewal(image)
    client = world.client()
    assert client.status()["engine"] == DEFAULT_ENGINE
    # fxmlsim up lets the platform's pages (the renewal) and the bank's (transfers) use the agent, no other.
    assert client.status()["allowed_origins"] == [world.platform_url, world.bank_url]
    other = AgentClient(world.agent_url, origin="http://127.0.0.1:1").request("GET", Paths.STATUS)
    assert other.status == 403 and other.json()["error"]["code"] == ErrorCode.ORIGIN_NOT_ALLOWED
    session = client.open_session(PIN, reader)["session"]
    with client.events(timeout=60) as stream:
        stream.next()
        job = client.renew(session, renewal.renewal_id, world.book.token(renewal.renewal_id))
        states, final = follow_renewal(stream, job["job"])
    assert final["status"] == "done", final["error"]
    assert states == [s.value for s in (State.KEY_PENDING, State.KEY_GENERATED, State.CSR_SIGNED, State.ISSUED,
                                        State.WRITTEN, State.DONE)]
    # The platform's record is the one the agent reports, at DONE.
    record = world.book.get(renewal.renewal_id)
    assert record.state == State.DONE and final["record"] == record.to_json()
    new = x509.load_pem_x509_certificate((record.certificate or "").encode())
    assert new.not_valid_before_utc.astimezone(TAIWAN) == ISSUED_AT
    assert new.not_valid_after_utc.astimezone(TAIWAN) == NEW_NOT_AFTER
    [issued] = world.issuances(renewal)
    assert issued["detail"]["serial"] == record.new_serial  # type: ignore[index]
    assert keys_on_card(image) == {"9A": True, "9C": True}
    # The session now shows both certificates, and the new key signs.
    card = client.session(session)["card"]
    assert {c["serial"] for c in card["certificates"]} == {renewal.old_serial, record.new_serial}
    signed = client.sign(session, b"after the renewal", record.container)
    assert signed["serial"] == record.new_serial
    # Asked again, the renewal is done already: the same record, no second issuance.
    again = client.wait_renewal(client.renew(session, renewal.renewal_id, world.book.token(renewal.renewal_id))["job"])
    assert again["status"] == "done" and again["record"] == record.to_json()
    assert len(world.issuances(renewal)) == 1


def test_a_forged_token_moves_nothing(world: World) -> None:
    image, reader = world.card()
    renewal = world.renewal(image)
    client = world.client()
    session = client.open_session(PIN, reader)["session"]
    before = image.read_bytes()
    token = world.book.token(renewal.renewal_id)
    failed = client.wait_renewal(client.renew(session, renewal.renewal_id, token[:-3] + "abc")["job"])
    assert failed["status"] == "failed" and failed["error"] is not None
    assert failed["error"]["code"] == "RENEWAL_BAD_TOKEN"
    assert failed["error"]["message"] == "憑證更新作業已逾時，請重新進入憑證更新。"
    assert world.book.get(renewal.renewal_id).state == State.TERMS_ACCEPTED
    assert image.read_bytes() == before
    assert world.issuances(renewal) == []


def test_the_card_of_another_renewal_is_refused(world: World) -> None:
    first, _ = world.card()
    renewal = world.renewal(first)
    world.home.stack.remove(0)
    other, reader = world.card()  # another golden card: another key, another certificate
    client = world.client()
    session = client.open_session(PIN, reader)["session"]
    before = other.read_bytes()
    failed = client.wait_renewal(client.renew(session, renewal.renewal_id, world.book.token(renewal.renewal_id))["job"])
    assert failed["status"] == "failed" and failed["error"] is not None
    assert failed["error"]["code"] == "CERT_NOT_ON_CARD"
    assert other.read_bytes() == before
    assert world.issuances(renewal) == []


def test_no_ca_url_means_no_engine(world: World, tmp_path: Path) -> None:
    image, reader = world.card()
    renewal = world.renewal(image)
    environ = {k: v for k, v in os.environ.items() if k != env.CA_URL}
    with AgentProcess(tmp_path / "no-ca.log", str(world.home.stack.socket_path),
                      "--allow-origin", world.platform_url, env=environ) as agent:
        client = agent.client(world.platform_url)
        session = client.open_session(PIN, reader)["session"]
        failed = client.wait_renewal(client.renew(session, renewal.renewal_id, world.book.token(renewal.renewal_id))
                                     ["job"])
    assert failed["error"] is not None and failed["error"]["code"] == ErrorCode.ENGINE_UNAVAILABLE
    assert world.book.get(renewal.renewal_id).state == State.TERMS_ACCEPTED
