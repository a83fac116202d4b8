"""The cache of the fixtures' argon2 hashes (simulator/bank/hashcache.py): a second bank hashes
nothing, a hash with other parameters is not used, a cache others may write to is not read, and
every cached hash still checks its password."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from fxml import env
from simulator.bank import hashcache
from simulator.bank.auth import password_hasher


def counting(hasher: PasswordHasher, made: list[str]) -> Callable[[str], str]:
    def make(password: str) -> str:
        made.append(password)
        return hasher.hash(password)
    return make


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "argon2-fixtures.json"
    monkeypatch.setenv(env.HASH_CACHE, str(path))
    return path


def test_a_second_bank_hashes_nothing_and_every_hash_checks_its_password(cache: Path) -> None:
    hasher, made = password_hasher("cheapest"), list[str]()
    first = hashcache.hashes(hasher, ["Eoi2015a", "Pw1", "Pw1"], counting(hasher, made))
    assert sorted(made) == ["Eoi2015a", "Pw1"]
    again: list[str] = []
    assert hashcache.hashes(hasher, ["Pw1", "Eoi2015a"], counting(hasher, again)) == first
    assert again == []
    assert all(hasher.verify(h, p) for p, h in first.items())
    assert oct(cache.stat().st_mode & 0o777) == "0o600" and oct(cache.parent.stat().st_mode & 0o777) == "0o700"
    assert "Eoi2015a" not in cache.read_text()  # keyed by a digest, never the password


def test_a_hash_with_other_parameters_is_made_again(cache: Path) -> None:
    hashcache.hashes(password_hasher("cheapest"), ["Pw1"])
    production, made = password_hasher("default"), list[str]()
    made_now = hashcache.hashes(production, ["Pw1"], counting(production, made))
    assert made == ["Pw1"] and made_now["Pw1"].startswith("$argon2id$v=19$m=65536")


def test_a_cache_others_may_write_to_is_not_read(cache: Path) -> None:
    hasher = password_hasher("cheapest")
    hashcache.hashes(hasher, ["Pw1"])
    os.chmod(cache, 0o666)  # noqa: S103 - the point of the test
    made: list[str] = []
    hashcache.hashes(hasher, ["Pw1"], counting(hasher, made))
    assert made == ["Pw1"]


def test_off_hashes_every_password_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.HASH_CACHE, "off")
    hasher, made = password_hasher("cheapest"), list[str]()
    hashcache.hashes(hasher, ["a", "a", "b"], counting(hasher, made))
    assert made == ["a", "a", "b"]
