"""Fixtures every test group may use: the CA's keys and a CA on them.

Test groups by what they need (markers in pyproject.toml): unit tests need
nothing; ``pcsc`` tests start a private pcscd + vpcd stack (their fixtures are
in tests/pcsc/conftest.py); ``opensc`` tests also run OpenSC's tools against it.
Helpers live in tests/support/.

A test that needs root says so with ``@pytest.mark.root("why")``, never with a
``skipif`` on the effective uid (tests/unit/test_root_marker.py checks): without
root it is skipped, its reason starting with :data:`NEEDS_ROOT`; as root, a skip
of such a test (for any reason) is an error, so a run as root, which is what CI
does, cannot lose a root-only test without failing.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from fxml import env
from fxml.clock import FixedClock
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import KeyCache, key_cache, open_test_ca
from tests.support.ca import FIRST_ISSUE

# Hypothesis's per-example deadline (200 ms) and its too-slow health check are timings: with the
# suite's workers and shards sharing the machine's cores, they fail for the load, not the code.
settings.register_profile("fxmlsim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fxmlsim")

#: How the reason of a skip for want of root begins (scripts/test_all.py looks for it).
NEEDS_ROOT = "needs root (euid 0)"


def pytest_configure(config: pytest.Config) -> None:
    """The argon2 hashes of the fixtures' passwords (simulator/bank/hashcache.py) are kept in
    pytest's cache folder, not the user's: every bank a test starts reuses them."""
    cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
    if cache is not None and not os.environ.get(env.HASH_CACHE):
        os.environ[env.HASH_CACHE] = str(cache.mkdir("fxmlsim-argon2") / "argon2-fixtures.json")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    for item in items:
        marker = item.get_closest_marker("root")
        if marker is not None:
            why = marker.args[0] if marker.args else ""
            item.add_marker(pytest.mark.skip(reason=f"{NEEDS_ROOT}: {why}" if why else NEEDS_ROOT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                           pytest.TestReport]:
    report = yield
    if report.skipped and os.geteuid() == 0 and item.get_closest_marker("root") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} needs root and was skipped while running as root ({reason}): "
                           "a run as root must run every root test")
    return report


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
