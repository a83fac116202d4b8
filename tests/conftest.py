"""Shared fixtures. Test groups by what they need (markers in pyproject):
unit tests need nothing; ``pcsc`` tests start a private pcscd + vpcd stack
(root, Debian packages from scripts/setup.sh); ``opensc`` tests also run
OpenSC's tools against it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.home import Home


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """One running stack (8 readers + CA service) shared by the pcsc tests."""
    home = Home(tmp_path_factory.mktemp("h"))
    env = home.up(readers=8)
    saved = os.environ.get("PCSCLITE_CSOCK_NAME")
    os.environ["PCSCLITE_CSOCK_NAME"] = env["PCSCLITE_CSOCK_NAME"]
    try:
        yield home
    finally:
        home.down()
        if saved is None:
            os.environ.pop("PCSCLITE_CSOCK_NAME", None)
        else:
            os.environ["PCSCLITE_CSOCK_NAME"] = saved


@pytest.fixture
def empty_readers(stack_home: Home) -> Iterator[Home]:
    """The shared stack, with every reader emptied after the test."""
    yield stack_home
    for reader in stack_home.stack.readers():
        if reader["card"]:
            stack_home.stack.remove(reader["index"])


def repo_path(*parts: str) -> Path:
    return Path(__file__).resolve().parent.parent.joinpath(*parts)
