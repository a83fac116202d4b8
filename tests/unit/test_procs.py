"""Processes named by pid and start time, and the lock 'up' and 'down' share
(simulator.procs; issue 7, defect 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.procs import (
    LockError,
    StartError,
    exclusive,
    identify,
    is_running,
    record_running,
    spawn_ready,
    start_time,
    stop_pid,
    stop_record,
)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_process_is_its_pid_and_its_start_time(sleeper: subprocess.Popen[bytes]) -> None:
    record = identify(sleeper.pid)
    started = start_time(sleeper.pid)
    assert started is not None and record["start_time"] == started > 0
    assert record_running(record) and is_running(sleeper.pid, record["start_time"])
    assert not is_running(sleeper.pid, record["start_time"] + 1)  # same pid, another process
    assert not record_running({"pid": sleeper.pid, "start_time": "soon"})
    assert not record_running(None) and not record_running({"pid": None})


def test_a_pid_now_given_to_another_process_is_never_signalled(sleeper: subprocess.Popen[bytes]) -> None:
    started = start_time(sleeper.pid)
    assert started is not None
    assert not stop_pid(sleeper.pid, start_time=started - 1)
    assert not stop_record({"pid": sleeper.pid, "start_time": started + 1})
    assert sleeper.poll() is None  # still running
    assert stop_record({"pid": sleeper.pid, "start_time": started})
    assert sleeper.wait(5) == -15  # SIGTERM
    assert not record_running({"pid": sleeper.pid, "start_time": started})


def test_a_zombie_is_not_running(sleeper: subprocess.Popen[bytes]) -> None:
    record = identify(sleeper.pid)
    sleeper.kill()
    # Not reaped yet: a zombie, which start_time does not count as running.
    deadline = time.monotonic() + 5
    while start_time(sleeper.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not record_running(record)


def test_spawn_ready_records_the_process_before_it_is_ready_and_gives_up_in_time(tmp_path: Path) -> None:
    seen: list[int] = []
    with pytest.raises(StartError, match=r"did not start within 0\.5 s"):
        spawn_ready([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "log",
                    what="a mute process", on_start=seen.append, timeout=0.5)
    [pid] = seen
    assert not is_running(pid)  # stopped when it gave up


def test_spawn_ready_files_are_private(tmp_path: Path) -> None:
    target = tmp_path / "made"
    pid, payload = spawn_ready(
        [sys.executable, "-c", f"open({str(target)!r}, 'w').close(); print('READY x', flush=True)"],
        tmp_path / "log", what="a writer",
    )
    assert payload == "x"
    deadline = time.monotonic() + 5
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert target.stat().st_mode & 0o777 == 0o600


def test_one_holder_of_the_lock_at_a_time(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    order: list[str] = []
    with exclusive(lock, what="first"):
        waiter = threading.Thread(target=lambda: _take(lock, order))
        waiter.start()
        time.sleep(0.2)
        order.append("first done")
    waiter.join(10)
    assert order == ["first done", "second"]
    assert lock.stat().st_mode & 0o777 == 0o600


def _take(lock: Path, order: list[str]) -> None:
    with exclusive(lock, what="second"):
        order.append("second")


def test_a_lock_held_too_long_names_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'%d' % os.getpid()); print('held', flush=True); "
        "time.sleep(30)"), str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockError, match=rf"still locked after 0\.3 s \(pid {holder.pid}\)"), \
                exclusive(lock, what="up", timeout=0.3):
            pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive(lock, what="up", timeout=5):  # the kernel released it with its holder
        pass


def test_down_stops_what_the_stack_state_names_by_pid_and_start_time_only(tmp_path: Path) -> None:
    """A stack whose daemon is gone but whose pcscd lives (as once after a
    kill -9): down stops the recorded pcscd, and leaves alone a process that
    now has a recorded pid with another start time."""
    from simulator.pcsc.stack import PcscStack

    survivor = subprocess.Popen(["sleep", "60"])  # plays the orphaned pcscd
    stranger = subprocess.Popen(["sleep", "60"])  # got a recorded pid after its owner died
    try:
        stack = PcscStack(tmp_path / "run")
        stack.layout.run_dir.mkdir()
        stranger_started = start_time(stranger.pid)
        assert stranger_started is not None
        stack.layout.state_file.write_text(json.dumps({
            "daemon_pid": stranger.pid, "daemon_start_time": stranger_started - 1,
            "pcscd_pid": survivor.pid, "pcscd_start_time": start_time(survivor.pid), "ready": True,
        }))
        assert not stack.running()
        assert stack.down()
        assert survivor.wait(5) == -15
        assert stranger.poll() is None
        assert not stack.layout.state_file.exists()
    finally:
        for proc in (survivor, stranger):
            proc.kill()
            proc.wait()
