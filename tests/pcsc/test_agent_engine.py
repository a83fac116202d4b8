"""The real renewal engine through the card agent, as ``fxmlsim up`` starts them: the
registry's agent (its default engine), the platform keeping the record, the CA
issuing, the golden card in a reader of the private pcscd, the stack on a clock
file at the manual's instant. What a page does: a card session with the PIN, then
the renewal with the platform's token, followed on the event stream.

A renewal reports DONE only to a card that holds its new certificate and key:
another golden card, or a copy of the card's image, in the second reader, is
refused with NEW_KEY_NOT_ON_CARD and left byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from fxml import env
from fxml.agent.api import MESSAGES, ErrorCode, Paths, RenewalJson
from fxml.agent.client import AgentClient
from fxml.agent.renewal import DEFAULT_ENGINE
from fxml.ca.client import CaClient
from fxml.card.piv import KeyRef
from fxml.clock import TAIWAN, FileClock
from fxml.platform.renewals import RenewalBook
from fxml.renewal.model import RenewalRecord, State
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import key_cache
from simulator.home import Home
from tests.support.agent import REPO, AgentProcess, follow_renewal
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
    #: The stack's client environment ('up' exports it) with its clock, for the runner.
    runner_env: dict[str, str]
    cards: int = 0

    def client(self) -> AgentClient:
        return AgentClient(self.agent_url, origin=self.platform_url)

    def card(self, reader: int = 0) -> tuple[Path, str]:
        self.cards += 1
        image = self.home.create_card(GOLDEN, name=f"agent-golden-{self.cards}")
        return image, str(self.home.stack.insert(image, reader)["name"])

    def copy(self, image: Path, reader: int) -> tuple[Path, str]:
        """A second card that is a copy of ``image`` as it is now (same serial, same keys), in ``reader``."""
        self.cards += 1
        copy = image.with_name(f"agent-golden-{self.cards}.json")
        shutil.copyfile(image, copy)
        return copy, str(self.home.stack.insert(copy, reader)["name"])

    def run_until(self, renewal: RenewalRecord, reader: str, state: State) -> None:
        """The renewal in a runner process (``python -m fxml.renewal.run``, what the crash
        tests kill) on the card in ``reader``, which kills itself once the record is at ``state``."""
        done = subprocess.run(
            [sys.executable, "-m", "fxml.renewal.run", "--reader", reader, "--platform-url", self.platform_url,
             "--ca-url", self.ca_url],
            input=json.dumps({"pin": PIN, "token": self.book.token(renewal.renewal_id)}) + "\n",
            env={**self.runner_env, env.RENEWAL_FAULT: f"kill-after:{state.value}"},
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
        assert self.book.get(renewal.renewal_id).state == state

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
    runner_env = {**os.environ, **client_env, env.CLOCK: clock.describe()}
    runner_env.pop(env.RENEWAL_FAULT, None)
    try:
        yield World(home, book, client_env[env.AGENT_URL], client_env[env.PLATFORM_URL], client_env[env.CA_URL],
                    client_env[env.BANK_URL], runner_env)
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


# -- DONE only for the card that holds the new certificate (issue 16, defect 4) ------------------------
def _refused_for_the_new_key(job: RenewalJson) -> None:
    """The job failed with NEW_KEY_NOT_ON_CARD and its zh-TW message, and never said 憑證下載成功."""
    assert job["status"] == "failed" and job["error"] is not None, job
    assert job["error"]["code"] == ErrorCode.NEW_KEY_NOT_ON_CARD
    assert job["error"]["message"] == MESSAGES[ErrorCode.NEW_KEY_NOT_ON_CARD] == (
        "此憑證載具中沒有此筆憑證更新產生的新金鑰，新憑證僅能存放於產生該金鑰的憑證載具，請插入原憑證載具。")
    assert job["error"]["status"] == 409 and job["error"]["details"]["retryable"] is True
    assert job["record"] is None and job["state"] != State.DONE and job["label"] != State.DONE.label


def _only_its_old_certificate(image: Path, serial: str) -> None:
    """The card image holds its one old certificate in 9A and no other key."""
    container, cert = old_certificate(image)
    assert (container, serial_of(cert)) == (KeyRef.AUTHENTICATION, serial)
    assert keys_on_card(image) == {"9A": True}


def _still_renewed(world: World, client: AgentClient, session: str, image: Path, record: RenewalRecord) -> None:
    """The renewed card: the platform's record DONE with no refusal, both certificates on the
    card, the new key signs, and the renewal asked again answers DONE on it; one issuance."""
    assert world.book.get(record.renewal_id) == record and record.error_code is None
    assert keys_on_card(image) == {"9A": True, "9C": True}
    card = client.session(session)["card"]
    assert {c["serial"] for c in card["certificates"]} == {record.old_serial, record.new_serial}
    assert client.sign(session, b"still renewed", record.container)["serial"] == record.new_serial
    again = client.wait_renewal(client.renew(session, record.renewal_id, world.book.token(record.renewal_id))["job"])
    assert again["status"] == "done" and again["record"] == record.to_json()
    assert len(world.issuances(record)) == 1


def test_a_done_renewal_posted_from_another_card_is_refused(world: World) -> None:
    """The hostile test's reproduction: a renewal done on the first card, then its id and
    token posted from a session on another golden card (same serial and holder, its own key
    and certificate) in the second reader. It used to end 'done', 憑證下載成功."""
    first, first_reader = world.card(0)
    renewal = world.renewal(first)
    client = world.client()
    first_session = client.open_session(PIN, first_reader)["session"]
    done = client.wait_renewal(client.renew(first_session, renewal.renewal_id,
                                            world.book.token(renewal.renewal_id))["job"])
    assert done["status"] == "done", done["error"]
    record = world.book.get(renewal.renewal_id)
    assert record.state == State.DONE

    other, other_reader = world.card(1)
    _, other_cert = old_certificate(other)
    before = other.read_bytes()
    session = client.open_session(PIN, other_reader)
    assert session["card"]["card_serial"] == record.card_serial  # the same serial: only the key tells them apart
    with client.events(timeout=60) as stream:
        stream.next()
        job = client.renew(session["session"], renewal.renewal_id, world.book.token(renewal.renewal_id))
        states, final = follow_renewal(stream, job["job"])
    assert states == []
    _refused_for_the_new_key(final)  # type: ignore[arg-type]
    assert client.renewal(job["job"]) == final
    # The second card: its image byte for byte, its one certificate and key; the session shows the same.
    assert other.read_bytes() == before
    _only_its_old_certificate(other, serial_of(other_cert))
    assert [c["serial"] for c in client.session(session["session"])["card"]["certificates"]] == [
        serial_of(other_cert)]
    # The first card and the platform's record are as the renewal left them.
    _still_renewed(world, client, first_session, first, record)


def test_two_copies_of_one_card_image_the_copy_never_gets_the_certificate(world: World) -> None:
    """Two readers, two copies of one image (same serial, same old certificate and key), the
    second made before the renewal. Stopped at ISSUED on the first, the renewal shown to the
    copy writes nothing there (it would have written the certificate for a key the copy does
    not have); the first card then finishes; shown to the copy again, DONE is refused."""
    image, reader = world.card(0)
    copy, copy_reader = world.copy(image, 1)
    _, old_cert = old_certificate(image)
    renewal = world.renewal(image)
    world.run_until(renewal, reader, State.ISSUED)
    issued = world.book.get(renewal.renewal_id)
    before = copy.read_bytes()
    client = world.client()
    copy_session = client.open_session(PIN, copy_reader)["session"]

    failed = client.wait_renewal(client.renew(copy_session, renewal.renewal_id,
                                              world.book.token(renewal.renewal_id))["job"])
    _refused_for_the_new_key(failed)
    assert copy.read_bytes() == before
    _only_its_old_certificate(copy, serial_of(old_cert))
    at = world.book.get(renewal.renewal_id)
    assert (at.state, at.certificate, at.error_code) == (State.ISSUED, issued.certificate, "NEW_KEY_NOT_ON_CARD")

    session = client.open_session(PIN, reader)["session"]
    done = client.wait_renewal(client.renew(session, renewal.renewal_id, world.book.token(renewal.renewal_id))["job"])
    assert done["status"] == "done", done["error"]
    record = world.book.get(renewal.renewal_id)
    assert record.state == State.DONE and record.new_serial == issued.new_serial and record.error_code is None

    failed = client.wait_renewal(client.renew(copy_session, renewal.renewal_id,
                                              world.book.token(renewal.renewal_id))["job"])
    _refused_for_the_new_key(failed)
    assert copy.read_bytes() == before
    _still_renewed(world, client, session, image, record)
