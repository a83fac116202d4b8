"""Starting, driving and stopping a private PC/SC stack from outside it.

``PcscStack(run_dir).up()`` starts the stack daemon in new mount and network
namespaces (see :mod:`simulator.pcsc.daemon`) and returns once pcscd is ready;
``insert``/``remove`` return once pcscd reports the new state; ``down()``
stops what ``up()`` started, by process id. Several stacks coexist as long as
their run directories differ.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from simulator.errors import SimulatorError
from simulator.procs import StartError, pid_alive, spawn_ready, stop_pid

from . import layout

#: Debian packages the stack needs, with a file each one installs.
REQUIRED = {
    "pcscd": layout.PCSCD,
    "vsmartcard-vpcd": layout.VPCD_DRIVER,
}


class StackError(SimulatorError, RuntimeError):
    """The stack cannot do what was asked; the message says why. The stack
    daemon raises it too, and its control socket carries the message here."""


def check_requirements() -> None:
    missing = [pkg for pkg, path in REQUIRED.items() if not path.exists()]
    if shutil.which("unshare") is None:
        missing.append("util-linux (unshare)")
    if shutil.which("ip") is None:
        missing.append("iproute2")
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
        try:
            return json.loads(self.layout.state_file.read_text())
        except FileNotFoundError:
            return None

    def running(self) -> bool:
        st = self.state()
        return bool(st and pid_alive(int(st["daemon_pid"])))

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
        if self.running():
            raise StackError(f"a stack is already running in {self.layout.run_dir} (fxmlsim down first)")
        run = self.layout.run_dir
        run.mkdir(parents=True, exist_ok=True)
        for stale in (self.layout.state_file, self.layout.control_socket):
            stale.unlink(missing_ok=True)
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
            raise StackError(str(exc)) from exc

    def down(self) -> bool:
        """Stop the stack; True if one was running."""
        st = self.state()
        if not st:
            return False
        daemon_pid, pcscd_pid = int(st["daemon_pid"]), int(st["pcscd_pid"])
        with contextlib.suppress(StackError):  # a daemon that does not answer is stopped by pid below
            self.request({"op": "shutdown"}, wait_close=True)
        for pid, marker in ((daemon_pid, "simulator.pcsc.daemon"), (pcscd_pid, "pcscd")):
            stop_pid(pid, marker)
        self.layout.state_file.unlink(missing_ok=True)
        self.layout.control_socket.unlink(missing_ok=True)
        return True

    # -- control ---------------------------------------------------------
    def request(self, req: dict[str, Any], *, wait_close: bool = False) -> dict[str, Any]:
        path = self.layout.control_socket
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(60)
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
        answer = json.loads(line)
        if not answer.get("ok"):
            raise StackError(answer.get("error", "unknown error"))
        return answer

    def insert(self, image: Path | str, reader: int | str | None = None) -> dict[str, Any]:
        target = image if image == "null" else str(Path(image).resolve())
        return self.request({"op": "insert", "image": target, "reader": reader})["reader"]

    def remove(self, reader: int | str | None = None) -> dict[str, Any]:
        return self.request({"op": "remove", "reader": reader})["reader"]

    def readers(self) -> list[dict[str, Any]]:
        return self.request({"op": "list"})["readers"]
