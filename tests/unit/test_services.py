"""The registry of services ``fxmlsim up`` starts (simulator/services.py): the card agent is told
which pages may use it — the platform's and the bank's — and no other."""

from __future__ import annotations

from pathlib import Path

from fxml import env
from simulator.services import AGENT, BANK, CA, PLATFORM, SERVICES


def test_the_agent_answers_the_platform_and_the_bank_only() -> None:
    urls = {env.PLATFORM_URL: "http://127.0.0.1:8001", env.BANK_URL: "http://127.0.0.1:8002",
            env.CA_URL: "http://127.0.0.1:8003"}
    command = AGENT.command(Path("/home"), 61081, urls)
    origins = [command[i + 1] for i, arg in enumerate(command) if arg == "--allow-origin"]
    assert origins == ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
    assert "http://127.0.0.1:8003" not in command


def test_the_other_services_get_no_origins() -> None:
    urls = {env.PLATFORM_URL: "http://127.0.0.1:8001", env.BANK_URL: "http://127.0.0.1:8002"}
    for spec in (CA, PLATFORM, BANK):
        assert "--allow-origin" not in spec.command(Path("/home"), 1, urls)
    assert AGENT in SERVICES and BANK in SERVICES
    assert AGENT.command(Path("/home"), 1) == AGENT.command(Path("/home"), 1, {})  # no URLs: no origins
