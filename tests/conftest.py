"""Fixtures every test group may use: the CA's keys and a CA on them.

Test groups by what they need (markers in pyproject.toml): unit tests need
nothing; ``pcsc`` tests start a private pcscd + vpcd stack (their fixtures are
in tests/pcsc/conftest.py); ``opensc`` tests also run OpenSC's tools against it.
Helpers live in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fxml.clock import FixedClock
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import KeyCache, key_cache, open_test_ca
from tests.support.ca import FIRST_ISSUE


@pytest.fixture(scope="session")
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> KeyCache:
    """RSA keys and a pinned CA hierarchy, generated once and kept in pytest's cache."""
    return key_cache(request.config, tmp_path_factory.mktemp("keys"))


@pytest.fixture
def clock() -> FixedClock:
    """The clock of :func:`ca`: frozen at :data:`~tests.support.ca.FIRST_ISSUE`.
    A test module that starts elsewhere overrides this fixture."""
    return FixedClock(FIRST_ISSUE)


@pytest.fixture
def ca(tmp_path: Path, keys: KeyCache, clock: FixedClock) -> Iterator[CertificateAuthority]:
    """A CA in ``tmp_path / "ca"`` on the pinned hierarchy and ``clock``, with
    the fixture holder registered."""
    with open_test_ca(tmp_path / "ca", keys, clock) as authority:
        yield authority
