"""The crash tests' stack (tests/pcsc/test_renewal_crash.py, tests/pcsc/test_download_crash.py): a
private pcscd + vpcd with two readers, the CA service and a platform service on a clock file at the
manual's golden instant, the platform's book opened beside it; the runner
(``python -m fxml.renewal.run``) started against a record, with a fault, and the services stopped
and started again on their ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from fxml import env
from fxml.ca.client import CaClient, CaError, read_token
from fxml.clock import FileClock
from fxml.platform.renewals import RenewalBook
from fxml.platform.tickets import make_key
from fxml.renewal.model import Kind, RenewalRecord, State
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import key_cache
from simulator.ca.token import token_path
from simulator.home import Home
from simulator.procs import identify, spawn_ready, stop_pid
from simulator.services import CA
from tests.support.renewal import GOLDEN, GOLDEN_PROFILE, ISSUED_AT, PIN, old_certificate, serial_of

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "pcsc" / "renewal_probe.py"
READER = 0
#: The blank card a download fills (fixtures/cards/personal-blank.json).
BLANK = ROOT / "fixtures" / "cards" / "personal-blank.json"
BLANK_PROFILE: dict[str, Any] = json.loads(BLANK.read_text(encoding="utf-8"))


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

    def new_card(self, profile: Path = GOLDEN) -> tuple[Path, str]:
        """A golden card (or the ``profile``'s) in the reader: its image and the reader's name."""
        self.cards += 1
        image = self.home.create_card(profile, name=f"crash-{self.cards}")
        reader = self.home.stack.insert(image, READER)
        return image, str(reader["name"])

    def new_renewal(self, image: Path) -> RenewalRecord:
        """What the platform's wizard does: 選擇更新清單, 確認更新資訊, 更新約定條款."""
        _, cert = old_certificate(image)
        holder = GOLDEN_PROFILE["holder_id"]
        record = self.book.create(holder, serial_of(cert), f"{holder}-00-2015")
        self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED)
        return self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)

    def new_download(self, image: Path) -> RenewalRecord:
        """What the branch and the platform's 憑證下載 do: the branch's approval (the RA registers a new
        Common Name of the holder and has the CA issue a 授權碼), then the code checked at the CA, the
        download opened, the card and container confirmed, the terms accepted."""
        holder, name = BLANK_PROFILE["holder_id"], BLANK_PROFILE["holder_name"]
        suffix = f"D{self.cards:03d}"
        admin = CaClient(self.ca.url, retries=0, token=read_token(token_path(self.home.ca_dir)))
        try:
            admin.register_holder(holder, name, suffix)
        except CaError as exc:
            if exc.code != "HOLDER_EXISTS":
                raise
        code, _ = admin.authorize(holder, suffix)
        grant = self.ca_client.check_authorization(code, holder)
        record = self.book.create_download(holder, grant.cn, grant.subject.rfc4514_string(), code)
        self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED,
                          card_serial=BLANK_PROFILE["card_serial"], container="9A")
        assert image.exists()
        return self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)

    def start_runner(self, renewal: RenewalRecord, reader: str, fault: str | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fxml.renewal.run", "--reader", reader,
             "--platform-url", self.platform.url, "--ca-url", self.ca.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=self.runner_env(fault),
        )
        self.running.append(proc)
        assert proc.stdin is not None
        pin = BLANK_PROFILE["pin"] if renewal.kind is Kind.DOWNLOAD else PIN  # the blank card's, the golden's
        proc.stdin.write(json.dumps({"pin": pin, "token": self.book.token(renewal.renewal_id)}) + "\n")
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

    def issuances(self, renewal: RenewalRecord, result: str = "OK") -> list[dict[str, Any]]:
        """The CA's audit entries of 更新 (a download's: 授權碼申請) under the record's request id that
        issued a certificate (or, ``result``, answered one again: REPLAYED)."""
        action = "授權碼申請" if renewal.kind is Kind.DOWNLOAD else "更新"
        return [e for e in self.ca_client.audit(10_000)
                if e["action"] == action and e["target"] == renewal.request_id and e["result"] == result]


@contextmanager
def crash_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str
                ) -> Iterator[Stack]:
    """The stack of a crash test module (started once, stopped at the end whatever happened)."""
    root = tmp_path_factory.mktemp(name)
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


def paused(stack: Stack, download: RenewalRecord, reader: str, moment: str) -> subprocess.Popen[str]:
    proc = stack.start_runner(download, reader, fault=moment)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("PAUSED"):
            return proc
    raise AssertionError(f"the runner did not pause: {proc.communicate()}")


def go_on(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Let a paused runner go on; its answer, which must be a stop (exit 1)."""
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    answer: dict[str, Any] = json.loads(out.splitlines()[-1])
    return answer
