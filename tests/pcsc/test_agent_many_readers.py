"""The card agent on a stack with as many readers as pcsc-lite serves (16): pcsc-lite
takes at most 16 reader states per SCardGetStatusChange, so the PnP pseudo-reader
cannot be watched beside them; the agent must still see every reader and card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fxml import env
from fxml.agent.client import AgentClient
from simulator.home import Home
from tests.support.paths import repo_path

pytestmark = pytest.mark.pcsc


@pytest.fixture
def sixteen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Home, dict[str, str]]]:
    home = Home(tmp_path / "h")
    started = home.up(readers=16)
    monkeypatch.setenv(env.PCSC_SOCKET, started[env.PCSC_SOCKET])
    try:
        yield home, started
    finally:
        home.down()


def test_the_agent_watches_sixteen_readers(sixteen: tuple[Home, dict[str, str]]) -> None:
    home, started = sixteen
    agent = AgentClient(started[env.AGENT_URL])
    status = agent.status()
    assert status["pcsc"]["available"] and status["readers"] == 16, status
    image = home.create_card(repo_path("fixtures", "cards", "personal-small.json"), name="last")
    with agent.events(timeout=30) as stream:
        stream.wait_for("hello", timeout=30)
        reader = home.stack.insert(image, 15)
        event = stream.wait_for("card_inserted", timeout=30, reader=reader["name"])
    assert event.data["reader"] == reader["name"]
    listed = {r["name"]: r for r in agent.readers()}
    assert listed[reader["name"]]["present"] and listed[reader["name"]]["card"] is not None
