"""``fxmlsim renew`` through the real stack, the 憑證載具密碼 given the safe ways (a file of
its owner's, standard input), never on the command line; the unsafe ways refused with
the card, the CA and the platform unchanged."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.demo import card_profile
from simulator.home import Home
from simulator.pin_input import PIN_OPTION_REFUSED
from tests.support.paths import repo_path

pytestmark = [pytest.mark.pcsc]

PROFILE = repo_path("fixtures", "cards", "personal-small.json")
PIN = json.loads(PROFILE.read_text(encoding="utf-8"))["pin"]


def fxmlsim(home: Home, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "FXMLSIM_PIN_FILE"}
    return subprocess.run([sys.executable, "-m", "simulator.cli", "--home", str(home.root), *args],
                          input=stdin, capture_output=True, text=True, timeout=300,
                          env={**environ, **(extra_env or {})})


def due_card(home: Home, name: str) -> Path:
    """The persona's card, due for renewal (27 days left), in reader 0."""
    image = home.create_card(card_profile(PROFILE, home.root / f"{name}.json"), name=name, replace=True)
    home.stack.insert(image, 0)
    return image


def state(home: Home) -> tuple[str, list[tuple[object, ...]]]:
    """What a renewal would change: the CA's certificates, the platform's renewal records."""
    certificates = fxmlsim(home, "ca", "list", "--json")
    assert certificates.returncode == 0, certificates.stderr
    with sqlite3.connect(home.root / "platform" / "platform.sqlite3") as db:
        renewals = db.execute("SELECT * FROM renewals ORDER BY 1").fetchall()
    return certificates.stdout, renewals


def renewed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert "步驟7、憑證下載頁：憑證下載成功" in done.stdout, done.stdout


def test_the_pin_from_a_private_file(empty_readers: Home, tmp_path: Path) -> None:
    due_card(empty_readers, "cli-renew-file")
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    renewed(fxmlsim(empty_readers, "renew", "--persona", "person", "--pin-file", str(pin_file)))


def test_the_pin_on_standard_input(empty_readers: Home) -> None:
    due_card(empty_readers, "cli-renew-stdin")
    renewed(fxmlsim(empty_readers, "renew", "--persona", "person", stdin=PIN + "\n"))


def test_unsafe_pins_are_refused_and_nothing_changes(empty_readers: Home, tmp_path: Path) -> None:
    image = due_card(empty_readers, "cli-renew-refused")
    card = image.read_bytes()
    before = state(empty_readers)
    refused = fxmlsim(empty_readers, "renew", "--persona", "person", "--pin", PIN)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(PIN_OPTION_REFUSED)
    loose = tmp_path / "pin"
    loose.write_text(PIN + "\n", encoding="utf-8")
    loose.chmod(0o644)
    refused = fxmlsim(empty_readers, "renew", "--persona", "person", extra_env={"FXMLSIM_PIN_FILE": str(loose)})
    assert refused.returncode == 1
    said = f"fxmlsim: {loose}: others may read the 憑證載具密碼 in this file (chmod 600 {loose})"
    assert refused.stderr.strip() == said
    refused = fxmlsim(empty_readers, "renew", "--persona", "person", stdin="")
    said = "fxmlsim: no 憑證載具密碼 given (standard input is empty)"
    assert refused.returncode == 1 and refused.stderr.strip() == said
    assert image.read_bytes() == card
    assert state(empty_readers) == before
