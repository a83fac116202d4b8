"""The CA, the platform and the bank as real processes on the loopback, started as ``fxmlsim up`` starts
them (``python -m ... serve``, READY on stdout), for the integration tests that talk to them over HTTP."""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from simulator.ca.testing import KeyCache
from simulator.procs import listen, spawn_ready, stop_pid

#: What is started, in this order: the CA first (it makes its admin token), the bank last (it asks the others).
ORDER = ("ca", "platform", "bank")


def reserve() -> dict[str, socket.socket]:
    """A listening socket on loopback for each service, bound now and handed to it as ``fxmlsim up``
    does (``--listen-fd``): its port is known before any starts and nobody else can take it."""
    return {name: listen() for name in ORDER}


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def start_services(root: Path, keys: KeyCache, sockets: Mapping[str, socket.socket], environ: Mapping[str, str]
                   ) -> list[tuple[int, str]]:
    """Start the three services (state under ``root``, the CA's keys from ``keys``, the bank's argon2
    at its cheapest), each on its socket of :func:`reserve` (closed here once handed over); their
    (pid, module), to stop with :func:`stop_services`. A failed start stops what had started."""
    commands = {
        "ca": ["simulator.ca", "--state-dir", str(root / "ca"), "--keys-dir", str(keys.hierarchy())],
        "platform": ["fxml.platform", "--state-dir", str(root / "platform")],
        "bank": ["simulator.bank", "--state-dir", str(root / "bank"), "--hash-profile", "cheapest"],
    }
    pids: list[tuple[int, str]] = []
    try:
        for name in ORDER:
            module, *args = commands[name]
            fd = sockets[name].fileno()
            pid, _url = spawn_ready([sys.executable, "-m", module, "serve", "--host", "127.0.0.1",
                                     "--port", str(port_of(sockets[name])), "--listen-fd", str(fd), *args],
                                    root / f"{name}.log", what=name, env=dict(environ), pass_fds=(fd,))
            pids.append((pid, module))
    except BaseException:
        stop_services(pids)
        raise
    finally:
        for sock in sockets.values():
            sock.close()
    return pids


def stop_services(pids: list[tuple[int, str]]) -> None:
    for pid, module in reversed(pids):
        stop_pid(pid, module)
