"""Starting background processes that announce readiness, and stopping them by pid.

A process is named by its pid **and its start time** (field 22 of
``/proc/<pid>/stat``, clock ticks since boot): a pid alone may have been
reused by an unrelated process since it was recorded, a pid with the same
start time cannot. Every process the stack starts is recorded so
(:func:`identify`), and only a process whose pid and start time both match
its record is signalled (:func:`stop_pid`). Nothing here finds processes by
name. A child kept as a ``Popen`` (:class:`ReadyChild`, for tests and
benchmarks) is signalled by its pid alone: until its parent waits for it, no
other process can take that pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from simulator.errors import SimulatorError

log = logging.getLogger(__name__)

#: Seconds a process may take to print its READY line.
START_TIMEOUT = 60.0


class StartError(SimulatorError, RuntimeError):
    """A background process did not come up; the message says why."""


class LockError(SimulatorError, RuntimeError):
    """A lock could not be taken in time; the message says who holds it."""


def spawn_ready(
    cmd: Sequence[str],
    log_file: Path,
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    timeout: float = START_TIMEOUT,
    umask: int = 0o077,
    pass_fds: Sequence[int] = (),
) -> tuple[int, str]:
    """Start ``cmd`` in its own session and wait for its first stdout line.

    The process must print ``READY <payload>`` once it serves, or
    ``ERROR <message>`` (or anything else) and exit. Its stderr goes to
    ``log_file``. ``on_start`` gets the pid as soon as the process exists
    (before it is ready), so that a caller killed meanwhile leaves a record
    of it. Files the process creates get ``umask`` (private by default); it
    inherits the descriptors ``pass_fds`` (a listening socket). Returns (pid, payload).
    """
    with open(log_file, "ab") as errors:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            umask=umask,
            pass_fds=tuple(pass_fds),
        )
    assert proc.stdout is not None
    try:
        if on_start is not None:
            on_start(proc.pid)
        line = _first_line(proc.stdout.fileno(), timeout)
    except BaseException:
        stop_pid(proc.pid, start_time=start_time(proc.pid))
        proc.stdout.close()
        raise
    proc.stdout.close()
    if line is None:
        stop_pid(proc.pid, start_time=start_time(proc.pid))
        raise StartError(f"{what} did not start within {timeout:g} s (log: {log_file})")
    if line.startswith("READY"):
        return proc.pid, line.removeprefix("READY").strip()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        stop_pid(proc.pid, start_time=start_time(proc.pid))
    detail = line.removeprefix("ERROR").strip()
    if not detail:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] if log_file.exists() else []
        detail = tail[0] if tail else f"exit code {proc.returncode}"
    raise StartError(f"{what} did not start: {detail} (log: {log_file})")


class ReadyChild:
    """A child process that prints ``READY <url>`` once it serves, kept as a ``Popen`` for
    tests and benchmarks that want its exit status (the stack uses :func:`spawn_ready`).
    Its stderr goes to ``log``; :meth:`stop` sends SIGTERM to its pid, SIGKILL after a
    timeout. Subclasses give :attr:`what` (for errors) and :meth:`command`."""

    what = "the process"

    def __init__(self, log: Path, env: Mapping[str, str], cwd: Path | None = None):
        self.log = log
        self.env = dict(env)
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.ready_line = ""

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd)
        assert self.proc.stdout is not None
        self.ready_line = self.proc.stdout.readline().decode()
        if not self.ready_line.startswith("READY "):
            self.proc.wait(timeout=10)
            raise RuntimeError(f"{self.what} did not start (exit {self.proc.returncode}): {self.log.read_text()}")
        self.url = self.ready_line.split()[1]
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by pid, then wait; the exit code (None if it was never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _first_line(fd: int, timeout: float) -> str | None:
    """The first line written to ``fd`` ('' at end of file), None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


def listen(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on loopback (``port`` 0: the kernel's choice) for a child to serve on,
    handed over with :func:`spawn_ready`'s ``pass_fds``: the port is the child's from the moment it
    is chosen, so no other process can take it before the child starts (a port only chosen,
    :func:`free_port`, can be taken in between).
    The child adopts it with :func:`fxml.web.server.adopt`; this twin of :func:`fxml.web.server.bind`
    keeps the web stack out of the ``fxmlsim`` command."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} on {host} is already in use (埠號已被使用)") from exc
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the kernel's choice); a service started
    right after binds it (another process taking it first makes that start fail)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat``
    field 22); None if there is no such process or it has exited (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold ") ".
    fields = stat.rsplit(b")", 1)[-1].split()
    if len(fields) < 20 or fields[0] == b"Z":
        return None
    return int(fields[19])


_start_time_of = start_time  # for stop_pid, whose keyword argument shares the name


def identify(pid: int) -> dict[str, Any]:
    """The record of a running process: its pid and start time."""
    return {"pid": pid, "start_time": start_time(pid)}


def pid_alive(pid: int) -> bool:
    """Whether some process (not a zombie) has this pid; see :func:`is_running`
    for whether it is still the one recorded."""
    return start_time(pid) is not None


def is_running(pid: int | None, started: int | None = None) -> bool:
    """Whether the process recorded as (``pid``, ``started``) still runs. A
    record without a start time (written by an older fxmlsim) matches any
    process with that pid."""
    if not pid:
        return False
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def record_running(record: Any) -> bool:
    """:func:`is_running` for a ``{"pid": …, "start_time": …}`` record (None or junk: False)."""
    if not isinstance(record, dict):
        return False
    pid, started = record.get("pid"), record.get("start_time")
    if not isinstance(pid, int) or isinstance(pid, bool) or not (started is None or isinstance(started, int)):
        return False
    return is_running(pid, started)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pid(pid: int, marker: str = "", timeout: float = 5.0, *, start_time: int | None = None) -> bool:
    """SIGTERM the process (then SIGKILL after ``timeout`` s) and wait for its end.

    The process is the one with this pid and ``start_time``; a record without
    a start time (older fxmlsim) falls back to ``marker`` being part of its
    command line. Either guards against signalling a pid the system has
    since given to another process. Returns whether a process was stopped.
    """
    if not pid or pid <= 0:
        return False
    try:
        pidfd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return False
    try:
        # The pidfd pins the process: checked after opening it, the identity
        # cannot change before the signal below reaches it.
        if start_time is not None:
            if _start_time_of(pid) != start_time:
                return False
        elif not pid_alive(pid) or marker not in cmdline(pid):
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        # A pidfd becomes readable when the process exits: an event, not a poll loop.
        if not select.select([pidfd], [], [], timeout)[0]:
            log.warning("pid %d did not stop within %g s of SIGTERM; sending SIGKILL", pid, timeout)
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            select.select([pidfd], [], [], timeout)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)


def stop_record(record: Any, marker: str = "", timeout: float = 5.0) -> bool:
    """:func:`stop_pid` for a ``{"pid": …, "start_time": …}`` record (None or junk: nothing)."""
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return False
    started = record.get("start_time")
    return stop_pid(record["pid"], marker, timeout, start_time=started if isinstance(started, int) else None)


@contextlib.contextmanager
def exclusive(path: Path, *, what: str, timeout: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600) while the block runs.

    The lock is the kernel's (flock): it goes away with the process holding
    it, whatever kills it, so a lock is never stale. Waits up to ``timeout``
    seconds for another holder, then raises :class:`LockError` naming it.
    The descriptor is close-on-exec: processes started meanwhile do not
    inherit the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise LockError(f"{what}: {path} is still locked after {timeout:g} s (pid {holder})") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
