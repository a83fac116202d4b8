"""Issue 9's "atomic and resumable", on the real stack: the renewal runs in a process
of its own (``python -m fxml.renewal.run``) against the card in a reader of a
private pcscd + vpcd, the CA service and a platform service, and is killed
(SIGKILL) before and after every move of its record, or meets a card pulled
out, a CA or a platform that went down, or a CA that died between committing
the certificate and answering.

After each: the old certificate still signs (through PC/SC), no key is on the
card without a certificate or a record naming its container, the CA issued at
most once for the renewal's request id; then a retry completes the renewal
with exactly one issuance and the record at DONE.

The stack runs on a clock file at the manual's golden instant (2023-04-17
11:28:33), so the golden card (fixtures/cards/eoi-golden.json) is 27 days
before its expiry and the renewed certificate runs to 2025-05-14 23:59:59.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from cryptography import x509

from fxml import env
from fxml.ca.client import CaClient
from fxml.clock import TAIWAN, FileClock
from fxml.platform.renewals import RenewalBook
from fxml.platform.tickets import make_key
from fxml.renewal.model import ENGINE_STATES, RenewalRecord, State
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import key_cache
from simulator.home import Home
from simulator.procs import identify, spawn_ready, stop_pid
from simulator.services import CA
from tests.support.renewal import (
    GOLDEN,
    GOLDEN_PROFILE,
    ISSUED_AT,
    NEW_NOT_AFTER,
    PIN,
    assert_no_unrecorded_key,
    keys_on_card,
    old_certificate,
    serial_of,
)

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("renewal_probe.py")
READER = 0


@dataclass
class Service:
    """A service of this module's stack that a test may stop and start again on its port."""

    name: str
    command: list[str]
    log: Path
    environ: dict[str, str]
    marker: str
    pid: int = 0
    url: str = ""

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.pid, self.url = spawn_ready(self.command, self.log, what=self.name,
                                         env={**self.environ, **(extra_env or {})})
        port = str(urlparse(self.url).port)
        if "--port" in self.command:
            self.command[self.command.index("--port") + 1] = port  # restarts come back on the same URL

    def stop(self) -> None:
        stop_pid(self.pid, self.marker)


@dataclass
class Stack:
    home: Home
    clock: FileClock
    client_env: dict[str, str]
    ca: Service
    platform: Service
    book: RenewalBook
    cards: int = 0
    running: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def ca_client(self) -> CaClient:
        return CaClient(self.ca.url, retries=0)

    def runner_env(self, fault: str | None) -> dict[str, str]:
        environ = {**os.environ, **self.client_env, env.CLOCK: self.clock.describe()}
        environ.pop(env.RENEWAL_FAULT, None)
        if fault:
            environ[env.RENEWAL_FAULT] = fault
        return environ

    def new_card(self) -> tuple[Path, str]:
        """A golden card in the reader: its image and the reader's name."""
        self.cards += 1
        image = self.home.create_card(GOLDEN, name=f"crash-{self.cards}")
        reader = self.home.stack.insert(image, READER)
        return image, str(reader["name"])

    def new_renewal(self, image: Path) -> RenewalRecord:
        """What the platform's wizard does: 選擇更新清單, 確認更新資訊, 更新約定條款."""
        _, cert = old_certificate(image)
        holder = GOLDEN_PROFILE["holder_id"]
        record = self.book.create(holder, serial_of(cert), f"{holder}-00-2015")
        self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED)
        return self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)

    def start_runner(self, renewal: RenewalRecord, reader: str, fault: str | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fxml.renewal.run", "--reader", reader,
             "--platform-url", self.platform.url, "--ca-url", self.ca.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=self.runner_env(fault),
        )
        self.running.append(proc)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"pin": PIN, "token": self.book.token(renewal.renewal_id)}) + "\n")
        proc.stdin.flush()
        return proc

    def run(self, renewal: RenewalRecord, reader: str, fault: str | None = None) -> tuple[int, list[str]]:
        proc = self.start_runner(renewal, reader, fault)
        out, _ = proc.communicate(timeout=120)
        return proc.returncode, out.splitlines()

    def old_key_signs(self, reader: str, image: Path, renewal: RenewalRecord) -> None:
        container, cert = old_certificate(image, renewal.old_serial)
        probe = subprocess.run(
            [sys.executable, str(PROBE), reader, f"{int(container):02X}"], input=PIN + "\n",
            capture_output=True, text=True, cwd=ROOT, env=self.runner_env(None), timeout=60, check=True,
        )
        assert probe.stdout.strip() == f"signs {serial_of(cert)}", probe.stdout + probe.stderr

    def issuances(self, renewal: RenewalRecord) -> list[dict[str, Any]]:
        """The CA's audit entries of 更新 under the renewal's request id that issued a certificate."""
        return [e for e in self.ca_client.audit(10_000)
                if e["action"] == "更新" and e["target"] == renewal.request_id and e["result"] == "OK"]


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("crash")
    clock = FileClock(root / "clock.json")
    clock.write(fixed=ISSUED_AT)
    home = Home(root / "home")
    keys = key_cache(request.config, root / "keys")
    CertificateAuthority.open(home.ca_dir, keys_dir=keys.hierarchy()).close()
    saved = os.environ.get(env.CLOCK)
    os.environ[env.CLOCK] = clock.describe()  # 'up' hands the stack's clock to every process it starts
    try:
        client_env = home.up(readers=2)
    finally:
        if saved is None:
            os.environ.pop(env.CLOCK, None)
        else:
            os.environ[env.CLOCK] = saved
    platform_dir = root / "platform"
    platform_dir.mkdir()
    ticket_key = root / "ticket.key"
    make_key(ticket_key)
    service_env = {k: v for k, v in os.environ.items() if k != env.PCSC_SOCKET}
    service_env[env.CLOCK] = clock.describe()
    info = home.services()["ca"]
    ca = Service("CA", [*CA.command(home.root, int(urlparse(info["url"]).port or 0))], home.run_dir / "ca.log",
                 service_env, CA.module, pid=int(info["pid"]), url=info["url"])
    # The platform checks a reported certificate with the CA before it records it.
    platform = Service("platform", [sys.executable, "-m", "fxml.platform", "serve", "--state-dir", str(platform_dir),
                                    "--ticket-key", str(ticket_key), "--host", "127.0.0.1", "--port", "0"],
                       root / "platform.log", {**service_env, env.CA_URL: info["url"]}, "fxml.platform")
    platform.start()
    book = RenewalBook.open(platform_dir, clock)
    built = Stack(home, clock, client_env, ca, platform, book)
    try:
        yield built
    finally:
        for proc in built.running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        book.close()
        platform.stop()
        # 'down' stops the CA by the pid and start time in services.json: point it at the one running now.
        services = home.services()
        services["ca"].update(identify(ca.pid))
        home.services_file.write_text(json.dumps(services))
        home.down()


@pytest.fixture
def card(stack: Stack) -> Iterator[tuple[Path, str]]:
    yield stack.new_card()
    stack.home.stack.remove(READER)


def check_after_stop(stack: Stack, renewal: RenewalRecord, image: Path, reader: str) -> RenewalRecord:
    """What must hold after any stop; the record as the platform keeps it."""
    record = stack.book.get(renewal.renewal_id)
    stack.old_key_signs(reader, image, renewal)
    assert_no_unrecorded_key(image, record)
    assert len(stack.issuances(renewal)) <= 1
    return record


def check_completed(stack: Stack, renewal: RenewalRecord, image: Path, reader: str) -> RenewalRecord:
    """A retry (a new process: a new card session, the PIN verified again) completes it, one issuance."""
    code, lines = stack.run(renewal, reader)
    assert code == 0, lines
    record = stack.book.get(renewal.renewal_id)
    assert record.state == State.DONE and json.loads(lines[-1])["renewal"] == record.to_json()
    [issued] = stack.issuances(renewal)
    assert issued["detail"]["serial"] == record.new_serial
    assert keys_on_card(image) == {"9A": True, "9C": True}
    new = x509.load_pem_x509_certificate((record.certificate or "").encode())
    assert new.not_valid_before_utc.astimezone(TAIWAN) == ISSUED_AT
    assert new.not_valid_after_utc.astimezone(TAIWAN) == NEW_NOT_AFTER
    stack.old_key_signs(reader, image, renewal)
    return record


def test_one_run_goes_through_every_state(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    code, lines = stack.run(renewal, reader)
    assert code == 0, lines
    assert lines[:-1] == [f"STATE {s}" for s in ENGINE_STATES]
    assert json.loads(lines[-1])["renewal"]["state"] == "done"
    check_completed(stack, renewal, image, reader)  # and running it again changes nothing


@pytest.mark.parametrize("state", ENGINE_STATES)
@pytest.mark.parametrize("when", ["before", "after"])
def test_killed_at_every_move(stack: Stack, card: tuple[Path, str], when: str, state: State) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    code, lines = stack.run(renewal, reader, fault=f"kill-{when}:{state}")
    assert code == -9, lines  # SIGKILL
    record = check_after_stop(stack, renewal, image, reader)
    states = (State.TERMS_ACCEPTED, *ENGINE_STATES)
    assert record.state == (state if when == "after" else states[states.index(state) - 1])
    check_completed(stack, renewal, image, reader)


@pytest.mark.parametrize("moment", [
    "pause-after:key_pending",    # the container is named; the card has not generated yet
    "pause-before:key_generated",  # the key is on the card; the record does not say so yet
    "pause-after:key_generated",   # the CSR is not signed yet
    "pause-after:issued",          # the certificate is not written yet
    "pause-before:written",        # written, not recorded
])
def test_card_pulled_out_mid_renewal(stack: Stack, card: tuple[Path, str], moment: str) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = stack.start_runner(renewal, reader, fault=moment)
    assert proc.stdout is not None and proc.stdin is not None
    for line in proc.stdout:
        if line.startswith("PAUSED"):
            break
    stack.home.stack.remove(READER)
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=60)
    answer = json.loads(out.splitlines()[-1])
    assert (proc.returncode, answer["error"]["code"]) == (1, "CARD_REMOVED")
    assert answer["error"]["retryable"] and "重新插入憑證載具" in answer["error"]["message"]
    stack.home.stack.insert(image, READER)
    record = check_after_stop(stack, renewal, image, reader)
    assert record.error_code == "CARD_REMOVED"
    check_completed(stack, renewal, image, reader)


def _paused(stack: Stack, renewal: RenewalRecord, reader: str, moment: str) -> subprocess.Popen[str]:
    proc = stack.start_runner(renewal, reader, fault=moment)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("PAUSED"):
            return proc
    raise AssertionError(f"the runner did not pause: {proc.communicate()}")


def _go_on(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    answer: dict[str, Any] = json.loads(out.splitlines()[-1])
    return answer


def test_ca_down_when_the_request_is_sent(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = _paused(stack, renewal, reader, "pause-after:csr_signed")
    stack.ca.stop()
    try:
        answer = _go_on(proc)
        assert answer["error"]["code"] == "CA_UNREACHABLE" and answer["error"]["retryable"]
        assert answer["error"]["message"] == "無法連線至憑證中心，請稍後再試。"
    finally:
        stack.ca.start()
    record = check_after_stop(stack, renewal, image, reader)
    assert (record.state, record.error_code) == (State.CSR_SIGNED, "CA_UNREACHABLE")
    assert stack.issuances(renewal) == []
    check_completed(stack, renewal, image, reader)


def test_ca_dies_between_committing_the_certificate_and_answering(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = _paused(stack, renewal, reader, "pause-after:csr_signed")
    stack.ca.stop()
    stack.ca.start({env.CA_FAULT: "exit-after-commit"})
    try:
        answer = _go_on(proc)
        assert answer["error"]["code"] == "CA_UNREACHABLE"
    finally:
        stack.ca.stop()
        stack.ca.start()
    record = check_after_stop(stack, renewal, image, reader)
    assert record.state == State.CSR_SIGNED and len(stack.issuances(renewal)) == 1  # issued, answer lost
    done = check_completed(stack, renewal, image, reader)  # the CA answers the same certificate again
    replays = [e for e in stack.ca_client.audit(10_000) if e["target"] == renewal.request_id
               and e["result"] == "REPLAYED"]
    assert len(replays) == 1 and replays[0]["detail"]["serial"] == done.new_serial


@pytest.mark.parametrize("moment", [
    "pause-before:key_generated",  # the key is made, the platform cannot record it
    "pause-before:csr_signed",     # the card signed, the platform cannot record it
    "pause-before:issued",         # the CA issued, the platform cannot record it
])
def test_platform_down(stack: Stack, card: tuple[Path, str], moment: str) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = _paused(stack, renewal, reader, moment)
    stack.platform.stop()
    try:
        answer = _go_on(proc)
        assert answer["error"]["code"] == "PLATFORM_UNREACHABLE" and answer["error"]["retryable"]
        assert "無法連線至憑證管理平台" in answer["error"]["message"]
    finally:
        stack.platform.start()
    check_after_stop(stack, renewal, image, reader)
    check_completed(stack, renewal, image, reader)


def test_a_forged_token_moves_nothing(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fxml.renewal.run", "--reader", reader,
         "--platform-url", stack.platform.url, "--ca-url", stack.ca.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=stack.runner_env(None),
    )
    token = stack.book.token(renewal.renewal_id)
    out, _ = proc.communicate(json.dumps({"pin": PIN, "token": token[:-3] + "abc"}) + "\n", timeout=60)
    answer = json.loads(out.splitlines()[-1])
    assert (proc.returncode, answer["error"]["code"]) == (1, "RENEWAL_BAD_TOKEN")
    assert answer["error"]["message"] == "憑證更新作業已逾時，請重新進入憑證更新。"
    assert keys_on_card(image) == {"9A": True} and stack.book.get(renewal.renewal_id) == renewal
