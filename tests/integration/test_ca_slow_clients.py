"""Slow clients against the real CA service (issue 7, defect 6): thousands of
connections that trickle a request head byte by byte must neither exhaust the
process's file descriptors nor keep a normal client from being answered, and
the log must not grow with each of them."""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.ca.testing import KeyCache

#: File descriptors the CA gets (soft, hard): far fewer than the slow clients.
CA_FILES = 256
SLOW_CLIENTS = 2000


class Ca:
    def __init__(self, state: Path, keys: KeyCache, nofile: tuple[int, int]):
        self.log = state.parent / "ca.log"
        cmd = [
            "prlimit", f"--nofile={nofile[0]}:{nofile[1]}", "--",
            sys.executable, "-m", "simulator.ca", "serve", "--state-dir", str(state),
            "--keys-dir", str(keys.hierarchy()), "--host", "127.0.0.1", "--port", "0",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        assert line.startswith("READY "), self.log.read_text()
        self.port = int(line.rsplit(":", 1)[1])

    def connect(self, timeout: float = 5) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def get_info(self) -> tuple[int, dict[str, object]]:
        """GET / as a normal client: the whole request at once, a 5 s budget."""
        with self.connect() as sock:
            # The CA answers its own Host only (docs/ca.md, "Who may call the CA").
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % self.port)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body)

    def soft_limit(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise AssertionError("no 'Max open files' line")

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=20) == 0, self.log.read_text()[-2000:]
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def ca_service(tmp_path: Path, keys: KeyCache, nofile: tuple[int, int]) -> Iterator[Ca]:
    ca = Ca(tmp_path / "state", keys, nofile)
    try:
        yield ca
    finally:
        ca.stop()


@pytest.fixture
def enough_files() -> Iterator[None]:
    """This test process needs a descriptor per slow client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SLOW_CLIENTS + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"the test needs {need} file descriptors; RLIMIT_NOFILE's hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_slow_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each sent the first byte of a request head, and no more."""
    clients = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(("127.0.0.1", port))
        clients.append(sock)
    for sock in clients:
        with contextlib.suppress(OSError):
            sock.send(b"G")
    return clients


def trickle(clients: list[socket.socket], data: bytes) -> None:
    """One more byte on every connection still open (a byte a second, as the attack did)."""
    for sock in clients:
        with contextlib.suppress(OSError):
            sock.send(data)


def test_the_ca_raises_its_descriptor_limit_to_the_hard_limit(tmp_path: Path, keys: KeyCache) -> None:
    with ca_service(tmp_path, keys, (CA_FILES, 4 * CA_FILES)) as ca:
        assert ca.soft_limit() == 4 * CA_FILES
        assert ca.get_info()[0] == 200


@pytest.mark.usefixtures("enough_files")
def test_thousands_of_slow_clients_leave_the_ca_answering(tmp_path: Path, keys: KeyCache) -> None:
    with ca_service(tmp_path, keys, (CA_FILES, CA_FILES)) as ca:
        assert ca.get_info()[0] == 200
        log_before = ca.log.stat().st_size
        clients = open_slow_clients(ca.port, SLOW_CLIENTS)
        try:
            for byte in b"ET / ":  # a byte a second, for a few seconds
                started = time.monotonic()
                # A normal client meanwhile is answered within its socket's budget (get_info), while every
                # slow client still holds its connection: they do not queue it (no wall-clock goal here:
                # how fast is the benchmarks' business, and the cores are shared).
                status, body = ca.get_info()
                assert status == 200, body
                trickle(clients, bytes([byte]))
                time.sleep(max(0.0, 1 - (time.monotonic() - started)))
            assert ca.proc.poll() is None
            # Descriptors in use stay under the limit, with room to spare.
            assert len(list(Path(f"/proc/{ca.proc.pid}/fd").iterdir())) < CA_FILES
        finally:
            for sock in clients:
                sock.close()
        assert ca.get_info()[0] == 200
        # A few rate-limited lines, not one (or a traceback) per slow client.
        grown = ca.log.stat().st_size - log_before
        assert grown < 4096, ca.log.read_text()[-4096:]
