"""Where a private PC/SC stack keeps its files, and how its readers are laid out.

A stack lives in one run directory::

    <run>/pcscd/            bound over /run/pcscd inside the stack's namespace
    <run>/pcscd/pcscd.comm  the socket clients reach with PCSCLITE_CSOCK_NAME
    <run>/reader.conf.d/vpcd   the reader configuration pcscd is started with
    <run>/drivers/          one copy of vpcd's driver per reader.conf entry
    <run>/control.sock      JSON-lines control socket of the stack daemon
    <run>/state.json        process ids and start times, readers, written by the daemon
    <run>/stack.lock        held while the stack is started or stopped
    <run>/pcscd.log         pcscd's own log
    <run>/daemon.log        the stack daemon's log
    <run>/apdu.log          APDU trace (when tracing is on; secrets redacted)

vpcd gives every reader.conf entry two slots on consecutive TCP ports, so
reader ``i`` of the stack is slot ``i % 2`` of entry ``i // 2`` and listens on
``BASE_PORT + i`` inside the stack's own network namespace.

vpcd 3.3 keeps its slot connections in one static array indexed by slot
number only, and pcscd loads a driver once per LIBPATH. Two entries naming
the same ``libifdvpcd.so`` therefore share that array: the last entry wins and
the cards of every earlier entry are never seen. Each entry gets its own copy
of the driver (``<run>/drivers/libifdvpcd-<k>.so``); the dynamic loader
treats distinct files as distinct libraries, each with its own static state.

pcscd does not load vpcd's driver directly but a guard in front of it
(``ifd_guard.c``, built with gcc into ``<run>/drivers/ifd-guard-<k>.so``, one
copy per entry too), which answers what vpcd's protocol cannot carry: commands
shorter than 4 bytes (a 1-byte command is indistinguishable from vpcd's
control messages) and longer than 65,535 bytes, and reports a card whose link
dropped mid-command as removed. See docs/stack.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import SimulatorError

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD = Path("/usr/sbin/pcscd")
#: The guard in front of vpcd's driver, compiled at the stack's start.
GUARD_SOURCE = Path(__file__).with_name("ifd_guard.c")
#: pcsc-lite's driver interface (Debian package libpcsclite-dev).
IFD_HEADER = Path("/usr/include/PCSC/ifdhandler.h")
BASE_PORT = 35963
SLOTS_PER_ENTRY = 2
READER_PREFIX = "fxmlsim TWCA Reader"
#: A reader-name prefix a stack may be started with instead (``fxmlsim up
#: --reader-prefix``): what reader.conf's quoted FRIENDLYNAME takes safely, and
#: short enough that pcscd's name (prefix, entry, "00", slot) stays well under
#: its 128-byte limit.
READER_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._()-]{0,62}[A-Za-z0-9._()-])?")
MAX_READERS = 16  # PCSCLITE_MAX_READERS_CONTEXTS in pcsc-lite 1.9


@dataclass(frozen=True)
class RunLayout:
    run_dir: Path

    @property
    def pcscd_dir(self) -> Path:
        return self.run_dir / "pcscd"

    @property
    def pcscd_socket(self) -> Path:
        return self.pcscd_dir / "pcscd.comm"

    @property
    def conf_dir(self) -> Path:
        return self.run_dir / "reader.conf.d"

    @property
    def driver_dir(self) -> Path:
        return self.run_dir / "drivers"

    def driver_copy(self, entry: int) -> Path:
        return self.driver_dir / f"libifdvpcd-{entry}.so"

    def guard_copy(self, entry: int) -> Path:
        """The driver pcscd loads for entry ``entry``: the guard, which loads
        ``driver_copy(entry)`` (same folder, the name's prefix swapped)."""
        return self.driver_dir / f"ifd-guard-{entry}.so"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.run_dir / "stack.lock"

    @property
    def pcscd_pid_file(self) -> Path:
        """Where pcscd writes its pid (its compiled-in /run/pcscd/pcscd.pid)."""
        return self.pcscd_dir / "pcscd.pid"

    @property
    def pcscd_log(self) -> Path:
        return self.run_dir / "pcscd.log"

    @property
    def daemon_log(self) -> Path:
        return self.run_dir / "daemon.log"

    @property
    def apdu_log(self) -> Path:
        return self.run_dir / "apdu.log"


def entry_count(readers: int) -> int:
    return (readers + SLOTS_PER_ENTRY - 1) // SLOTS_PER_ENTRY


def valid_reader_prefix(prefix: str) -> bool:
    """Whether ``prefix`` may name a stack's readers (see READER_PREFIX_PATTERN)."""
    return READER_PREFIX_PATTERN.fullmatch(prefix) is not None


def reader_conf(readers: int, lay: RunLayout, prefix: str = READER_PREFIX) -> str:
    """The reader.conf text for ``readers`` vpcd slots (rounded up to pairs),
    named ``<prefix> <entry>``.

    Entry ``k`` loads its own guard copy, ``lay.guard_copy(k)``, which loads
    its own driver copy, ``lay.driver_copy(k)``; see the module docstring for why.
    """
    if not valid_reader_prefix(prefix):
        raise ValueError(f"invalid reader name prefix {prefix!r}")
    parts = []
    for k in range(entry_count(readers)):
        port = BASE_PORT + SLOTS_PER_ENTRY * k
        parts.append(
            f'FRIENDLYNAME "{prefix} {k}"\n'
            f"DEVICENAME   /dev/null:{port}\n"
            f"LIBPATH      {lay.guard_copy(k)}\n"
            f"CHANNELID    {port}\n"
        )
    return "\n".join(parts)


class DriverBuildError(SimulatorError, RuntimeError):
    """The guard driver could not be built; the message says why."""


def install_drivers(readers: int, lay: RunLayout) -> None:
    """Copy vpcd's driver and the guard once per reader.conf entry (see the
    module docstring), building the guard first if needed."""
    lay.driver_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    guard = build_guard(lay.driver_dir)
    for blob, target_of in ((VPCD_DRIVER.read_bytes(), lay.driver_copy), (guard.read_bytes(), lay.guard_copy)):
        for k in range(entry_count(readers)):
            target = target_of(k)
            if not target.exists() or target.read_bytes() != blob:
                tmp = target.with_suffix(".tmp")
                tmp.write_bytes(blob)
                tmp.replace(target)


def build_guard(folder: Path) -> Path:
    """``ifd_guard.c`` compiled into ``folder`` (named by the source's hash, so
    a changed source is rebuilt and an unchanged one is not).

    The result is loaded into pcscd, which runs as the stack's user (root,
    usually): it is built in the stack's own private folder, or copied there from
    the user's own build cache (:func:`guard_cache`: a folder of the user's that
    nobody else may write to, else it is not used), never a shared one. A new
    stack's home then needs no gcc run (~0.3 s of the start).
    """
    source = GUARD_SOURCE.read_bytes()
    name = f"ifd-guard.{hashlib.sha256(source).hexdigest()[:16]}.so"
    built = folder / name
    if built.exists():
        return built
    cache = guard_cache()
    cached = cache / name if cache is not None else None
    if cached is not None and _private_file(cached):
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        shutil.copyfile(cached, tmp)
        tmp.replace(built)
        return built
    gcc = shutil.which("gcc")
    if gcc is None or not IFD_HEADER.exists():
        raise DriverBuildError("building the reader driver guard needs gcc and libpcsclite-dev (bash scripts/setup.sh)")
    tmp = folder / f".{built.name}.{os.getpid()}.tmp"
    done = subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{IFD_HEADER.parent}",
         "-o", str(tmp), str(GUARD_SOURCE), "-ldl"],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DriverBuildError(f"gcc could not build {GUARD_SOURCE}: {done.stderr.strip()}")
    if cached is not None:
        with contextlib.suppress(OSError):
            keep = cached.with_name(f".{name}.{os.getpid()}.tmp")
            shutil.copyfile(tmp, keep)
            os.chmod(keep, 0o600)
            keep.replace(cached)
    tmp.replace(built)
    return built


def guard_cache() -> Path | None:
    """The user's build cache of the guard (``$XDG_CACHE_HOME/fxmlsim``, else ``~/.cache/fxmlsim``),
    made 0700; None if it cannot be made or is not the user's alone (owned by another user, or
    writable by others)."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fxmlsim"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to expand
        return None
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        return None
    return folder


def _private_file(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def reader_port(index: int) -> int:
    return BASE_PORT + index


def reader_index(name: str, prefix: str = READER_PREFIX) -> int | None:
    """Map a pcscd reader name ("fxmlsim TWCA Reader 3 00 01") to the stack index."""
    if not name.startswith(prefix + " "):
        return None
    fields = name[len(prefix) + 1 :].split()
    if len(fields) != 3 or not fields[0].isdigit():
        return None
    try:
        slot = int(fields[2], 16)
    except ValueError:
        return None
    return int(fields[0]) * SLOTS_PER_ENTRY + slot
