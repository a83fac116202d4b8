"""The CA, the platform and the bank as real processes on the loopback, started as ``fxmlsim up`` starts
them (``python -m ... serve``, READY on stdout), for the integration tests that talk to them over HTTP."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from simulator.ca.testing import KeyCache
from simulator.procs import spawn_ready, stop_pid

#: What is started, in this order: the CA first (it makes its admin token), the bank last (it asks the others).
ORDER = ("ca", "platform", "bank")


def start_services(root: Path, keys: KeyCache, ports: Mapping[str, int], environ: Mapping[str, str]
                   ) -> list[tuple[int, str]]:
    """Start the three services (state under ``root``, the CA's keys from ``keys``, the bank's argon2
    at its cheapest); their (pid, module), to stop with :func:`stop_services`. A failed start stops
    what had started."""
    commands = {
        "ca": ["simulator.ca", "--state-dir", str(root / "ca"), "--keys-dir", str(keys.hierarchy())],
        "platform": ["fxml.platform", "--state-dir", str(root / "platform")],
        "bank": ["simulator.bank", "--state-dir", str(root / "bank"), "--hash-profile", "cheapest"],
    }
    pids: list[tuple[int, str]] = []
    try:
        for name in ORDER:
            module, *args = commands[name]
            pid, _url = spawn_ready([sys.executable, "-m", module, "serve", "--host", "127.0.0.1",
                                     "--port", str(ports[name]), *args], root / f"{name}.log", what=name,
                                    env=dict(environ))
            pids.append((pid, module))
    except BaseException:
        stop_services(pids)
        raise
    return pids


def stop_services(pids: list[tuple[int, str]]) -> None:
    for pid, module in reversed(pids):
        stop_pid(pid, module)
