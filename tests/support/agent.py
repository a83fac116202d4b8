"""The card agent as a real process, for the tests: ``python -m fxml.agent serve`` on
127.0.0.1 and a free port, against a stack's private pcscd, stopped by pid."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from fxml import env
from fxml.agent.api import EventType
from fxml.agent.client import AgentClient, EventStream
from fxml.ca.api import TOKEN_FILE_NAME
from simulator.home import Home
from simulator.procs import ReadyChild

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "fixtures" / "cards"
#: The tests' stand-in renewal engine (tests/support/agent_engine.py), for ``--engine``.
STAND_IN_ENGINE = "tests.support.agent_engine:factory"


def stand_in_env(home: Home) -> dict[str, str]:
    """The environment of an agent running the stand-in engine, which issues with the RA's
    申請 and so needs the CA's admin token (the file ``fxmlsim up`` exports)."""
    return {**os.environ, env.CA_TOKEN_FILE: str(home.ca_dir / TOKEN_FILE_NAME)}

#: The platform's origin, as the tests' pages claim it (nothing needs to listen there).
PLATFORM = "http://127.0.0.1:18443"
OTHER_SITE = "http://evil.example:8080"


class AgentProcess(ReadyChild):
    what = "the agent"

    def __init__(self, log: Path, pcsc_socket: str, *args: str, env: dict[str, str] | None = None):
        # Run from the repository's root, so that ``--engine tests.support...`` imports.
        # ``env``, when given, is the whole environment (so a test can leave a variable out).
        super().__init__(log, {**(os.environ if env is None else env), "PCSCLITE_CSOCK_NAME": pcsc_socket}, cwd=REPO)
        self.args = args

    def command(self) -> list[str]:
        return [sys.executable, "-m", "fxml.agent", "serve", "--host", "127.0.0.1", "--port", "0", *self.args]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, origin: str | None = None, timeout: float = 30.0) -> AgentClient:
        return AgentClient(self.url, origin=origin, timeout=timeout)


def follow_renewal(stream: EventStream, job: str) -> tuple[list[str], dict[str, Any]]:
    """The renewal ``job``'s events on ``stream`` until it stops running: the states it went
    through, in order, and the data of its last event."""
    states: list[str] = []
    while True:
        event = stream.wait_for(EventType.RENEWAL, job=job)
        if event.data["state"] and event.data["state"] not in states:
            states.append(event.data["state"])
        if event.data["status"] != "running":
            return states, event.data
