"""The card agent as a real process, for the tests: ``python -m fxml.agent serve`` on
127.0.0.1 and a free port, against a stack's private pcscd, stopped by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fxml.agent.client import AgentClient

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "fixtures" / "cards"
#: The tests' stand-in renewal engine (tests/support/agent_engine.py), for ``--engine``.
STAND_IN_ENGINE = "tests.support.agent_engine:factory"

#: The platform's origin, as the tests' pages claim it (nothing needs to listen there).
PLATFORM = "http://127.0.0.1:18443"
OTHER_SITE = "http://evil.example:8080"


class AgentProcess:
    def __init__(self, log: Path, pcsc_socket: str, *args: str, env: dict[str, str] | None = None):
        self.log = log
        self.args = args
        # Run from the repository's root, so that ``--engine tests.support...`` imports.
        # ``env``, when given, is the whole environment (so a test can leave a variable out).
        self.env = {**(os.environ if env is None else env), "PCSCLITE_CSOCK_NAME": pcsc_socket}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> AgentProcess:
        cmd = [sys.executable, "-m", "fxml.agent", "serve", "--host", "127.0.0.1", "--port", "0", *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            self.proc.wait(timeout=10)
            raise RuntimeError(f"the agent did not start (exit {self.proc.returncode}): {self.log.read_text()}")
        self.url = line.split()[1]
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, origin: str | None = None, timeout: float = 30.0) -> AgentClient:
        return AgentClient(self.url, origin=origin, timeout=timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by pid, then wait; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> AgentProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
