"""Starting background processes that announce readiness, and stopping them by pid."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from simulator.errors import SimulatorError


class StartError(SimulatorError, RuntimeError):
    """A background process did not come up; the message says why."""


def spawn_ready(
    cmd: Sequence[str], log_file: Path, *, what: str, env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Start ``cmd`` in its own session and wait for its first stdout line.

    The process must print ``READY <payload>`` once it serves, or
    ``ERROR <message>`` (or anything else) and exit. Its stderr goes to
    ``log_file``. Returns (pid, payload).
    """
    with open(log_file, "ab") as errors:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode(errors="replace").strip()
    proc.stdout.close()
    if line.startswith("READY"):
        return proc.pid, line.removeprefix("READY").strip()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        stop_pid(proc.pid, "")
    detail = line.removeprefix("ERROR").strip()
    if not detail:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] if log_file.exists() else []
        detail = tail[0] if tail else f"exit code {proc.returncode}"
    raise StartError(f"{what} did not start: {detail} (log: {log_file})")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the kernel's choice); a service started
    right after binds it (another process taking it first makes that start fail)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid: int, marker: str, timeout: float = 5.0) -> None:
    """SIGTERM ``pid`` (then SIGKILL) if it still runs a command containing ``marker``.

    The marker guards against signalling a pid the system has since reused.
    """
    if not pid_alive(pid) or marker not in cmdline(pid):
        return
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        # A pidfd becomes readable when the process exits: an event, not a poll loop.
        if not select.select([pidfd], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            select.select([pidfd], [], [], timeout)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
