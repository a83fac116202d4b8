"""The private pcscd + vpcd stack the ``pcsc`` tests share (root, and the
Debian packages scripts/setup.sh installs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.home import Home


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """One running stack (8 readers + CA service) shared by the pcsc tests;
    PC/SC clients of this process reach its pcscd while it runs."""
    home = Home(tmp_path_factory.mktemp("h"))
    env = home.up(readers=8)
    try:
        with pytest.MonkeyPatch.context() as patch:  # session scope: pytest's monkeypatch fixture is per test
            patch.setenv("PCSCLITE_CSOCK_NAME", env["PCSCLITE_CSOCK_NAME"])
            yield home
    finally:
        home.down()


@pytest.fixture
def empty_readers(stack_home: Home) -> Iterator[Home]:
    """The shared stack, with every reader emptied after the test."""
    yield stack_home
    for reader in stack_home.stack.readers():
        if reader["card"]:
            stack_home.stack.remove(reader["index"])
