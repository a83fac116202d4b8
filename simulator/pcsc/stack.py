"""Starting, driving and stopping a private PC/SC stack from outside it.

``PcscStack(run_dir).up()`` starts the stack daemon in new mount and network
namespaces (see :mod:`simulator.pcsc.daemon`) and returns once pcscd is ready;
``insert``/``remove`` return once pcscd reports the new state; ``down()``
stops what ``up()`` started, by process id and start time. Several stacks
coexist as long as their run directories differ; in one run directory, ``up``
and ``down`` take turns (a lock), and ``up`` first stops what is left of a
stack that is no longer whole (a daemon or pcscd killed, say).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simulator.errors import SimulatorError
from simulator.procs import LockError, StartError, exclusive, record_running, spawn_ready, stop_record

from . import layout

#: Debian packages the stack needs, with a file each one installs.
REQUIRED = {
    "pcscd": layout.PCSCD,
    "vsmartcard-vpcd": layout.VPCD_DRIVER,
    "libpcsclite-dev": layout.IFD_HEADER,  # the reader driver guard is built against it
}


#: Seconds the daemon gets to stop by itself before it is signalled.
EVENT_SECONDS = 10.0


class StackError(SimulatorError, RuntimeError):
    """The stack cannot do what was asked; the message says why. The stack
    daemon raises it too, and its control socket carries the message here."""


def _answers(path: Path) -> bool:
    """Whether something accepts connections on the unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def check_requirements() -> None:
    missing = [pkg for pkg, path in REQUIRED.items() if not path.exists()]
    if shutil.which("unshare") is None:
        missing.append("util-linux (unshare)")
    if shutil.which("ip") is None:
        missing.append("iproute2")
    if shutil.which("gcc") is None:
        missing.append("gcc")
    if missing:
        raise StackError(
            "missing Debian packages: " + ", ".join(missing) + " (run: bash scripts/setup.sh)"
        )


class PcscStack:
    def __init__(self, run_dir: Path):
        self.layout = layout.RunLayout(Path(run_dir).resolve())

    # -- environment for clients ---------------------------------------
    @property
    def socket_path(self) -> Path:
        return self.layout.pcscd_socket

    def client_env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    # -- lifecycle -------------------------------------------------------
    def state(self) -> dict[str, Any] | None:
        """What the daemon wrote in ``state.json`` (None: nothing, or not JSON)."""
        try:
            data = json.loads(self.layout.state_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def processes(state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The processes a state names: (what, {"pid", "start_time"}), daemon first."""
        return [
            (marker, {"pid": state.get(f"{key}_pid"), "start_time": state.get(f"{key}_start_time")})
            for key, marker in (("daemon", "simulator.pcsc.daemon"), ("pcscd", "pcscd"))
        ]

    def running(self) -> bool:
        """Whether the stack is whole: ready, its daemon and its pcscd alive
        (each the very process recorded: same pid, same start time)."""
        st = self.state()
        if not st or not st.get("ready", True):
            return False
        return all(record_running(record) for _, record in self.processes(st))

    def up(self, readers: int = 4, trace: bool = False, reader_prefix: str | None = None) -> None:
        """Start the stack. ``reader_prefix`` names its readers instead of
        ``layout.READER_PREFIX`` (for clients that pick readers by name)."""
        check_requirements()
        if not 1 <= readers <= layout.MAX_READERS:
            raise StackError(f"readers must be between 1 and {layout.MAX_READERS}, not {readers}")
        if reader_prefix is not None and not layout.valid_reader_prefix(reader_prefix):
            raise StackError(
                f"invalid reader name prefix {reader_prefix!r}: 1 to 64 ASCII letters, digits, spaces and ._()-, "
                "starting with a letter or digit and not ending with a space"
            )
        run = self.layout.run_dir
        run.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock("starting the PC/SC stack"):
            if self.running():
                raise StackError(f"a stack is already running in {run} (fxmlsim down first)")
            self._clear_leftovers()
            unshare = ["unshare", "--mount", "--net", "--propagation", "private"]
            if os.geteuid() != 0:
                unshare.insert(1, "--map-root-user")
            cmd = [*unshare, sys.executable, "-m", "simulator.pcsc.daemon", str(run), "--readers", str(readers)]
            if trace:
                cmd.append("--trace")
            if reader_prefix is not None:
                cmd += ["--reader-prefix", reader_prefix]
            try:
                spawn_ready(cmd, self.layout.daemon_log, what="the PC/SC stack")
            except StartError as exc:
                self._clear_leftovers()  # a daemon that failed stops its pcscd; this makes sure
                raise StackError(str(exc)) from exc

    def down(self) -> bool:
        """Stop the stack, whole or not; True if there was one."""
        if not self.layout.run_dir.is_dir():
            return False
        with self._lock("stopping the PC/SC stack"):
            st = self.state()
            if st and record_running(self.processes(st)[0][1]):
                with contextlib.suppress(StackError):
                    self.request({"op": "shutdown"}, wait_close=True, timeout=EVENT_SECONDS)
            self._clear_leftovers()
            return st is not None

    @contextlib.contextmanager
    def _lock(self, what: str) -> Iterator[None]:
        try:
            with exclusive(self.layout.lock_file, what=what):
                yield
        except LockError as exc:
            raise StackError(str(exc)) from exc

    def _clear_leftovers(self) -> None:
        """Stop every process the state names (by pid and start time; a pid
        now given to another process is left alone), then remove the stack's
        files, pcscd's stale socket and pid file included."""
        st = self.state()
        for marker, record in self.processes(st) if st else []:
            stop_record(record, marker)
        lay = self.layout
        if lay.pcscd_socket.exists():
            if _answers(lay.pcscd_socket):
                # A pcscd serves this stack's socket but no record names it.
                pid = _read_text(lay.pcscd_pid_file) or "unknown"
                raise StackError(
                    f"a pcscd this home has no record of (pid {pid}) still serves {lay.pcscd_socket}: "
                    "stop it, then run fxmlsim up again"
                )
            lay.pcscd_socket.unlink(missing_ok=True)
        for stale in (lay.pcscd_pid_file, lay.state_file, lay.control_socket):
            stale.unlink(missing_ok=True)

    # -- control ---------------------------------------------------------
    def request(self, req: dict[str, Any], *, wait_close: bool = False, timeout: float = 60) -> dict[str, Any]:
        path = self.layout.control_socket
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            try:
                sock.connect(str(path))
            except OSError as exc:
                raise StackError(f"no PC/SC stack is running in {self.layout.run_dir} (fxmlsim up first)") from exc
            sock.sendall(json.dumps(req, ensure_ascii=False).encode() + b"\n")
            f = sock.makefile("rb")
            line = f.readline()
            if wait_close:
                f.read()  # the daemon closes the connection as it stops
        finally:
            sock.close()
        if not line:
            raise StackError("the stack daemon closed the connection without answering")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise StackError(answer.get("error", "unknown error"))
        return answer

    def insert(self, image: Path | str, reader: int | str | None = None) -> dict[str, Any]:
        target = image if image == "null" else str(Path(image).resolve())
        found: dict[str, Any] = self.request({"op": "insert", "image": target, "reader": reader})["reader"]
        return found

    def remove(self, reader: int | str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.request({"op": "remove", "reader": reader})["reader"]
        return found

    def readers(self) -> list[dict[str, Any]]:
        readers: list[dict[str, Any]] = self.request({"op": "list"})["readers"]
        return readers
