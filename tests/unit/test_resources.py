"""The package's data files are found next to its code (package data), never through the
checkout's root; ``fxmlsim card create`` takes a packaged profile by name."""

from __future__ import annotations

from pathlib import Path

import pytest

import simulator
from simulator.bank.customers.personas import DEFAULT_PERSONAS
from simulator.bank.officers import DEFAULT_OFFICERS
from simulator.cli import card_profile_path
from simulator.resources import CARD_PROFILES, FIXTURES
from tests.support.paths import ROOT


def test_the_fixtures_are_in_the_package_and_the_checkout_links_to_them() -> None:
    package = Path(simulator.__file__).parent
    assert package / "fixtures" == FIXTURES
    assert DEFAULT_PERSONAS.parent == DEFAULT_OFFICERS.parent == FIXTURES / "bank"
    assert (ROOT / "fixtures").is_symlink() and (ROOT / "fixtures").resolve() == FIXTURES
    assert sorted(p.stem for p in CARD_PROFILES.glob("*.json")) == [
        "eoi-golden", "eoi-large", "personal-blank", "personal-small",
    ]


def test_a_profile_by_name_is_the_package_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert card_profile_path("eoi-golden") == CARD_PROFILES / "eoi-golden.json"
    assert card_profile_path("no-such-profile") == Path("no-such-profile")  # refused later, as a missing file
    assert card_profile_path("../eoi-golden") == Path("../eoi-golden")  # a path stays a path
    (tmp_path / "eoi-golden").write_text("{}", encoding="utf-8")
    assert card_profile_path("eoi-golden") == Path("eoi-golden")  # a file of the user's comes first
