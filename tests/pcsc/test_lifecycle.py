"""The stack's life through the real fxmlsim command (issue 7, defects 2 and
3): up and down; every process of the stack killed with SIGKILL in turn,
then up again; concurrent ups in one home; concurrent inserts and removes.
After each, nothing of the home's stack runs that its records do not name,
and every exit status tells the truth."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.home import Home
from simulator.services import SERVICES
from tests.support.paths import ROOT

pytestmark = pytest.mark.pcsc

PROFILE = ROOT / "fixtures" / "cards" / "personal-small.json"


def fxmlsim(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=timeout)


def start_fxmlsim(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", "--home", str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat; None for no process or a zombie (the test's own reading)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def record_running(record: dict[str, Any]) -> bool:
    """Whether the recorded process (same pid, same start time) still runs."""
    return bool(record.get("pid")) and start_time(record["pid"]) == record.get("start_time") is not None


def recorded(home: Path) -> dict[str, dict[str, Any]]:
    """Every process the home's records name: {"daemon"|"pcscd"|service: {"pid", "start_time"}}."""
    found: dict[str, dict[str, Any]] = {}
    state_file, services_file = home / "run" / "state.json", home / "run" / "services.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        for key in ("daemon", "pcscd"):
            found[key] = {"pid": state.get(f"{key}_pid"), "start_time": state.get(f"{key}_start_time")}
    if services_file.exists():
        for name, info in json.loads(services_file.read_text()).items():
            if isinstance(info, dict):
                found[name] = {"pid": info.get("pid"), "start_time": info.get("start_time")}
    return found


def processes_of(home: Path) -> dict[int, str]:
    """Every live process whose command line or environment names the home (the
    daemon its run folder, pcscd its configuration, the services their state
    folders, the card agent the private pcscd's socket in its environment). For
    checking only: nothing is ever stopped by what its command line says."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
            zombie = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            continue
        line = b" ".join(args).decode(errors="replace")
        names_home = str(home) in line or any(
            v.startswith(b"PCSCLITE_CSOCK_NAME=") and str(home).encode() in v for v in environ)
        if not zombie and names_home and "simulator.cli" not in line:
            found[int(proc.name)] = line
    return found


def kill_and_wait(record: dict[str, Any]) -> None:
    """SIGKILL the recorded process and wait until it is gone (its pidfd turns readable)."""
    pidfd = os.pidfd_open(record["pid"])
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        assert select.select([pidfd], [], [], 10)[0], f"{record} did not die"
    finally:
        os.close(pidfd)


@pytest.fixture
def home(tmp_path: Path) -> Any:
    path = tmp_path / "home"
    yield path
    # Whatever a failed test left: stop it, by the records only (pid and start time).
    for record in recorded(path).values():
        if record_running(record):
            kill_and_wait(record)


def test_up_and_down_leave_nothing_running(home: Path) -> None:
    up = fxmlsim(home, "up", "--readers", "2")
    assert up.returncode == 0, up.stderr
    procs = recorded(home)
    assert set(procs) == {"daemon", "pcscd", *(spec.name for spec in SERVICES)}
    assert all(record_running(r) for r in procs.values()), procs
    assert set(processes_of(home)) == {r["pid"] for r in procs.values()}  # nothing unrecorded
    down = fxmlsim(home, "down")
    assert down.returncode == 0 and "stopped" in down.stderr
    assert not any(record_running(r) for r in procs.values())
    assert processes_of(home) == {}
    assert "nothing was running" in fxmlsim(home, "down").stderr


def test_every_stack_process_killed_in_turn_then_up_again(home: Path) -> None:
    assert fxmlsim(home, "up", "--readers", "2").returncode == 0
    try:
        for victim in ["daemon", "pcscd", *(spec.name for spec in SERVICES)]:
            before = recorded(home)
            kill_and_wait(before[victim])
            status = json.loads(fxmlsim(home, "status").stdout)
            assert not (status["stack"] if victim in ("daemon", "pcscd") else status[victim])["running"], status
            up = fxmlsim(home, "up", "--readers", "2")
            assert up.returncode == 0, f"after SIGKILL of {victim}: {up.stderr}"
            after = recorded(home)
            # What was left of the old stack is gone; the new one is whole and alone.
            assert not any(record_running(r) for r in before.values()), f"{victim}: old processes left"
            assert all(record_running(r) for r in after.values()), after
            assert set(processes_of(home)) == {r["pid"] for r in after.values()}, f"{victim}: {processes_of(home)}"
            status = json.loads(fxmlsim(home, "status").stdout)
            assert status["stack"]["running"] and all(status[spec.name]["running"] for spec in SERVICES)
            ins = fxmlsim(home, "card", "insert", "null")
            assert ins.returncode == 0, f"after SIGKILL of {victim}: {ins.stderr}"
        # Killed daemon, then down: down still stops everything of the home.
        kill_and_wait(recorded(home)["daemon"])
        assert fxmlsim(home, "down").returncode == 0
        assert processes_of(home) == {}
    finally:
        fxmlsim(home, "down")


def test_concurrent_ups_in_one_home_one_wins(home: Path) -> None:
    for _ in range(2):
        ups = [start_fxmlsim(home, "up", "--readers", "2") for _ in range(3)]
        results = [(p.wait(timeout=180), *p.communicate()) for p in ups]
        won = [r for r in results if r[0] == 0]
        lost = [r for r in results if r[0] != 0]
        assert len(won) == 1, results
        assert all(r[0] == 1 and "a stack is already running in" in r[2] and "Traceback" not in r[2]
                   for r in lost), lost
        procs = recorded(home)
        assert all(record_running(r) for r in procs.values())
        assert set(processes_of(home)) == {r["pid"] for r in procs.values()}  # no orphan
        assert json.loads(fxmlsim(home, "status").stdout)["stack"]["running"]
        assert fxmlsim(home, "down").returncode == 0
        assert processes_of(home) == {}


def test_concurrent_inserts_and_removes_tell_the_truth(empty_readers: Home) -> None:
    home = empty_readers
    image = home.create_card(PROFILE, name="concurrent-0", replace=True)
    for i in range(1, 5):
        shutil.copyfile(image, home.cards_dir / f"concurrent-{i}.json")
    for _ in range(2):
        inserts = [start_fxmlsim(home.root, "card", "insert", f"concurrent-{i}") for i in range(5)]
        results = [(p.wait(timeout=120), *p.communicate()) for p in inserts]
        assert [r[0] for r in results] == [0] * 5, results
        readers = home.stack.readers()
        assert sorted(Path(r["card"]).stem for r in readers if r["card"]) == [f"concurrent-{i}" for i in range(5)]
        assert sorted(r[1].split("\t")[0] for r in results) == sorted(r["name"] for r in readers if r["card"])
        removes = [start_fxmlsim(home.root, "card", "remove") for _ in range(5)]
        results = [(p.wait(timeout=120), *p.communicate()) for p in removes]
        assert [r[0] for r in results] == [0] * 5, results
        assert all(r["card"] is None for r in home.stack.readers())
