"""The pytest plugin as pytest loads it here: through the package's entry point, its markers registered,
each xdist worker's ports its own (the stack itself: tests/pcsc/test_pytest_plugin.py)."""

from __future__ import annotations

import pytest

from simulator import pytest_plugin
from simulator.services import SERVICES


def test_pytest_loads_the_plugin_from_its_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.get_plugin("fxmlsim") is pytest_plugin


def test_the_plugin_registers_its_markers(pytestconfig: pytest.Config) -> None:
    names = {line.split(":")[0].split("(")[0] for line in pytestconfig.getini("markers")}
    assert {"fxmlsim", "fxmlsim_clock"} <= names


def test_a_test_without_its_fixtures_is_not_marked(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("fxmlsim") is None
    assert not set(pytest_plugin.STACK_FIXTURES) & set(request.fixturenames)


def test_the_worker_comes_from_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert pytest_plugin.worker_id() == "gw3"
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert pytest_plugin.worker_id() == "main"


def test_each_worker_has_ports_of_its_own() -> None:
    names = [spec.name for spec in SERVICES]
    ports = {worker: pytest_plugin.worker_ports(40000, worker, names) for worker in ("main", "gw0", "gw1", "gw2")}
    assert ports["main"] == ports["gw0"] == dict(zip(names, range(40000, 40000 + len(names)), strict=True))
    every = [port for found in list(ports.values())[1:] for port in found.values()]
    assert len(every) == len(set(every)) == 3 * len(names)
