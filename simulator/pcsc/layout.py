"""Where a private PC/SC stack keeps its files, and how its readers are laid out.

A stack lives in one run directory::

    <run>/pcscd/            bound over /run/pcscd inside the stack's namespace
    <run>/pcscd/pcscd.comm  the socket clients reach with PCSCLITE_CSOCK_NAME
    <run>/reader.conf.d/vpcd   the reader configuration pcscd is started with
    <run>/control.sock      JSON-lines control socket of the stack daemon
    <run>/state.json        process ids and readers, written by the daemon
    <run>/pcscd.log         pcscd's own log
    <run>/daemon.log        the stack daemon's log
    <run>/apdu.log          APDU trace (when tracing is on; secrets redacted)

vpcd gives every reader.conf entry two slots on consecutive TCP ports, so
reader ``i`` of the stack is slot ``i % 2`` of entry ``i // 2`` and listens on
``BASE_PORT + i`` inside the stack's own network namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD = Path("/usr/sbin/pcscd")
BASE_PORT = 35963
SLOTS_PER_ENTRY = 2
READER_PREFIX = "fxmlsim TWCA Reader"
MAX_READERS = 32


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
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

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


def reader_conf(readers: int) -> str:
    """The reader.conf text for ``readers`` vpcd slots (rounded up to pairs)."""
    parts = []
    for k in range(entry_count(readers)):
        port = BASE_PORT + SLOTS_PER_ENTRY * k
        parts.append(
            f'FRIENDLYNAME "{READER_PREFIX} {k}"\n'
            f"DEVICENAME   /dev/null:{port}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    {port}\n"
        )
    return "\n".join(parts)


def reader_port(index: int) -> int:
    return BASE_PORT + index


def reader_index(name: str) -> int | None:
    """Map a pcscd reader name ("fxmlsim TWCA Reader 3 00 01") to the stack index."""
    if not name.startswith(READER_PREFIX + " "):
        return None
    fields = name[len(READER_PREFIX) + 1 :].split()
    if len(fields) != 3 or not fields[0].isdigit():
        return None
    try:
        slot = int(fields[2], 16)
    except ValueError:
        return None
    return int(fields[0]) * SLOTS_PER_ENTRY + slot
