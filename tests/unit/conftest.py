"""Fixtures of the bank's unit tests (step 9, transfers, the platform's API): a bank
seeded once with the personas, and a copy of it per test behind Starlette's TestClient.

A module that uses :func:`bank` sets its ``clock`` fixture to
:data:`tests.support.bank.NOW` (the root conftest's clock starts years before)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fxml.clock import FixedClock
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import KeyCache
from tests.support.bank import NOW, Bank, open_test_bank, seeded_bank


@pytest.fixture(scope="session")
def bank_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank folder with the personas, made once (tests get copies)."""
    folder = tmp_path_factory.mktemp("bank-seed")
    seeded_bank(folder, NOW)
    return folder


@pytest.fixture
def bank(bank_seed: Path, tmp_path: Path, ca: CertificateAuthority, keys: KeyCache, clock: FixedClock
         ) -> Iterator[Bank]:
    """A copy of the seed bank in ``tmp_path / "bank"``, on the test's CA and clock."""
    yield from open_test_bank(bank_seed, tmp_path / "bank", ca, keys, clock)
