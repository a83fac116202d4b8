"""A card pulled out, or its stack killed, in the middle of a command that
writes the card image: the image is as it was before that command or after
it, never half-written, and it still loads. Through the real pcscd and vpcd.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fxml.card.piv import KeyRef
from simulator.card.image import load_image
from simulator.home import Home
from simulator.procs import pid_alive
from tests.support.paths import ROOT, repo_path

pytestmark = pytest.mark.pcsc

PROFILE = repo_path("fixtures", "cards", "personal-small.json")


def start_generate(reader: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """GENERATE ASYMMETRIC KEY PAIR for 9C in a client process of its own
    (pcsc-lite binds a process to one pcscd); returns once it has
    authenticated and is about to send the command."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.generate_client", reader],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **env}, cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def outcome_of(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    out = proc.stdout.read().strip()
    assert proc.wait(30) == 0
    return out


def assert_before_or_after(image_path: Path, before: bytes, outcome: str) -> None:
    image = load_image(image_path)  # loads: not half-written
    key_in_9c = image.containers[KeyRef.SIGNATURE].private_key_pem is not None
    if not key_in_9c:
        assert image_path.read_bytes() == before  # before the command: byte for byte
        assert outcome.startswith("error ")
    else:
        # after it; when the answer was lost with the card, the next renewal
        # finds a key without a certificate and clears it (client.remove_key).
        assert outcome == "key" or outcome.startswith("error "), outcome
    assert not list(image_path.parent.glob(f".{image_path.name}*"))  # no temporary file left


def test_card_pulled_during_key_generation(empty_readers: Home) -> None:
    home = empty_readers
    for attempt in range(3):
        image_path = home.create_card(PROFILE, name=f"tearing-{attempt}", replace=True)
        before = image_path.read_bytes()
        reader = home.stack.insert(image_path, 0)
        proc = start_generate(reader["name"], home.stack.client_env())
        home.stack.remove(0)
        outcome = outcome_of(proc)
        assert_before_or_after(image_path, before, outcome)


def test_stack_killed_during_key_generation(tmp_path: Path) -> None:
    home = Home(tmp_path)
    image_path = home.create_card(PROFILE)
    before = image_path.read_bytes()
    env = home.up(readers=2)
    try:
        reader = home.stack.insert(image_path, 0)
        state = json.loads(home.stack.layout.state_file.read_text())
        proc = start_generate(reader["name"], env)
        os.kill(state["daemon_pid"], signal.SIGKILL)  # the card's process dies mid-command
        outcome = outcome_of(proc)
    finally:
        home.down()
    assert not pid_alive(state["daemon_pid"]) and not pid_alive(state["pcscd_pid"])
    assert_before_or_after(image_path, before, outcome)
