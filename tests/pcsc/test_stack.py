"""The private PC/SC stack through the real pcscd and vpcd."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from smartcard import scard

from simulator.home import Home
from simulator.pcsc import layout
from simulator.pcsc.stack import PcscStack, StackError
from simulator.procs import pid_alive
from tests.support.paths import repo_path

pytestmark = pytest.mark.pcsc

PROFILE = repo_path("fixtures", "cards", "personal-small.json")


def pcsc_states(names: list[str]) -> dict[str, int]:
    """What pcscd says right now about each reader (no waiting)."""
    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
    try:
        rc, states = scard.SCardGetStatusChange(ctx, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names])
        assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
        return {name: event for name, event, _atr in states}
    finally:
        scard.SCardReleaseContext(ctx)


def transmit(reader: str, apdu: bytes) -> bytes:
    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert rc == scard.SCARD_S_SUCCESS
    try:
        rc, card, proto = scard.SCardConnect(
            ctx, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
        rc, resp = scard.SCardTransmit(card, proto, list(apdu))
        assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        return bytes(resp)
    finally:
        scard.SCardReleaseContext(ctx)


def test_eight_readers_are_visible_to_pcsc_clients(stack_home: Home) -> None:
    readers = stack_home.stack.readers()
    assert len(readers) == 8
    _, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _, names = scard.SCardListReaders(ctx, [])
    scard.SCardReleaseContext(ctx)
    assert sorted(names) == sorted(r["name"] for r in readers)


def test_insert_and_remove_report_pcscd_state_without_waiting(empty_readers: Home) -> None:
    stack = empty_readers.stack
    names = [r["name"] for r in stack.readers()]
    for i in range(8):
        stack.insert("null", i)
    # insert returned only after pcscd saw each card: no wait needed here.
    states = pcsc_states(names)
    assert all(states[n] & scard.SCARD_STATE_PRESENT for n in names), states
    for name in names:
        assert transmit(name, bytes.fromhex("00A4040000")) == b"\x90\x00"
    for i in range(8):
        stack.remove(i)
    states = pcsc_states(names)
    assert all(states[n] & scard.SCARD_STATE_EMPTY for n in names), states


def test_eight_different_cards_answer_each_in_its_own_reader(empty_readers: Home, tmp_path: Path) -> None:
    """Each reader reaches its own card (vpcd's slots are not mixed up)."""
    from fxml.card.client import PivCardClient
    from fxml.card.pcsc import PcscConnection

    home = empty_readers
    profile = json.loads(PROFILE.read_text())
    profile["certificates"] = []
    serials = {}
    for i in range(8):
        profile["card_serial"] = f"TWCA-TEST-READER-{i}"
        path = tmp_path / f"reader-{i}.json"
        path.write_text(json.dumps(profile))
        reader = home.stack.insert(home.create_card(path, replace=True), i)
        serials[reader["name"]] = profile["card_serial"]
    for name, serial in serials.items():
        with PcscConnection(name) as conn:
            client = PivCardClient(conn)
            client.select()
            assert client.card_info().card_serial == serial


def test_insert_refusals_leave_the_readers_as_they_were(empty_readers: Home, tmp_path: Path) -> None:
    stack = empty_readers.stack
    stack.insert("null", 0)
    before = stack.readers()
    with pytest.raises(StackError, match="already holds"):
        stack.insert("null", 0)
    with pytest.raises(StackError, match="no reader 99"):
        stack.insert("null", 99)
    image = empty_readers.create_card(PROFILE, name="refusals", replace=True)
    stack.insert(image, 2)
    before = stack.readers()
    image_bytes = image.read_bytes()
    with pytest.raises(StackError, match=r"already in reader 2"):
        stack.insert(image, 3)  # one card cannot be in two readers
    assert image.read_bytes() == image_bytes
    missing = tmp_path / "missing.json"
    with pytest.raises(StackError, match=r"missing\.json"):
        stack.insert(missing, 1)
    assert stack.readers() == before
    stack.remove(2)
    stack.remove(0)
    with pytest.raises(StackError, match="no reader holds a card"):
        stack.remove()


def tcp_listeners(proc_net_tcp: str) -> dict[int, set[int]]:
    """Listening TCP sockets of one network namespace (its /proc/<pid>/net/tcp): socket inodes by port."""
    found: dict[int, set[int]] = {}
    for line in Path(proc_net_tcp).read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":  # TCP_LISTEN
            found.setdefault(int(fields[1].rsplit(":", 1)[1], 16), set()).add(int(fields[9]))
    return found


def test_vpcd_ports_are_invisible_outside_the_stack(stack_home: Home) -> None:
    # vpcd listens on the readers' ports inside pcscd's own network namespace, and
    # none of its sockets is in ours. (A connection attempt would prove nothing: on a
    # busy machine another program may hold one of those ports as an ephemeral port.)
    state = stack_home.stack.state()
    assert state is not None
    pcscd = state["pcscd_pid"]
    assert os.readlink(f"/proc/{pcscd}/ns/net") != os.readlink("/proc/self/ns/net")
    inside = tcp_listeners(f"/proc/{pcscd}/net/tcp")
    vpcd = set().union(*(inside.get(layout.reader_port(i), set()) for i in range(8)))
    assert all(layout.reader_port(i) in inside for i in range(8)), inside
    outside = set().union(*tcp_listeners("/proc/self/net/tcp").values())
    assert not vpcd & outside


def test_second_up_in_same_home_is_refused(stack_home: Home) -> None:
    with pytest.raises(StackError, match="already running"):
        stack_home.stack.up(readers=2)


def test_two_stacks_coexist_and_down_stops_their_processes(tmp_path_factory: pytest.TempPathFactory) -> None:
    a = PcscStack(tmp_path_factory.mktemp("a") / "run")
    b = PcscStack(tmp_path_factory.mktemp("b") / "run")
    a.up(readers=2)
    try:
        b.up(readers=2)
        try:
            a.insert("null", 0)
            b.insert("null", 1)
            assert [r["card"] for r in a.readers()] == ["null", None]
            assert [r["card"] for r in b.readers()] == [None, "null"]
        finally:
            state = b.state()
            assert state is not None
            b.down()
            assert not pid_alive(state["daemon_pid"]) and not pid_alive(state["pcscd_pid"])
    finally:
        a.down()
    assert not a.running() and not b.running()


def test_cli_up_insert_list_remove_down(tmp_path: Path) -> None:
    home = tmp_path / "h"

    def fxmlsim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "simulator.cli", "--home", str(home), *args],
            capture_output=True, text=True, timeout=60,
        )

    up = fxmlsim("up", "--readers", "2")
    assert up.returncode == 0, up.stderr
    try:
        assert f"export PCSCLITE_CSOCK_NAME={home / 'run' / 'pcscd' / 'pcscd.comm'}" in up.stdout
        assert "export FXMLSIM_CA_URL=http://127.0.0.1:" in up.stdout
        ins = fxmlsim("card", "insert", "null", "--reader", "1")
        assert ins.returncode == 0, ins.stderr
        assert ins.stdout.startswith("fxmlsim TWCA Reader 0 00 01")
        status = json.loads(fxmlsim("status").stdout)
        assert status["stack"]["running"] and status["ca"]["running"]
        assert [r["card"] for r in status["stack"]["readers"]] == [None, "null"]
        bad = fxmlsim("card", "insert", "no-such-card")
        assert bad.returncode == 1 and "no card 'no-such-card'" in bad.stderr
        rem = fxmlsim("card", "remove", "null")  # by the card's name, as insert takes it
        assert rem.returncode == 0 and rem.stdout.strip() == "fxmlsim TWCA Reader 0 00 01", rem.stderr
        again = fxmlsim("card", "remove", "null")
        assert again.returncode == 1 and "card 'null' is in no reader" in again.stderr
    finally:
        down = fxmlsim("down")
    assert down.returncode == 0
    assert not json.loads(fxmlsim("status").stdout)["stack"]["running"]


def test_busy_ca_port_is_refused_and_nothing_is_left_running(tmp_path: Path) -> None:
    home = tmp_path / "h"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "--home", str(home),
             "up", "--readers", "2", "--ca-port", str(port)],
            capture_output=True, text=True, timeout=120,
        )
    assert up.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in up.stderr
    assert "export" not in up.stdout
    status = json.loads(
        subprocess.run(
            [sys.executable, "-m", "simulator.cli", "--home", str(home), "status"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    )
    assert not status["stack"]["running"] and not status["ca"]["running"]
    assert not (home / "run" / "control.sock").exists()


def test_trace_logs_apdus_through_the_stack_with_the_pin_redacted(tmp_path: Path) -> None:
    home = Home(tmp_path)
    pin = json.loads(PROFILE.read_text())["pin"]
    image = home.create_card(PROFILE)
    env = home.up(readers=2, trace=True)
    try:
        reader = home.stack.insert(image, 0)
        pin_hex = pin.encode().hex().upper() + "FF" * (8 - len(pin))
        done = subprocess.run(
            ["opensc-tool", "--reader", reader["name"],
             "-s", "00A4040009A00000030800001000", "-s", f"0020008008{pin_hex}"],
            capture_output=True, text=True, timeout=60, env={**os.environ, **env},
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        home.down()
    trace = (tmp_path / "run" / "apdu.log").read_text()
    assert "SEND 00 A4 04 00 09 A0 00 00 03 08 00 00 10 00" in trace, trace
    verify = [line for line in trace.splitlines() if "SEND 00 20 00 80" in line]
    assert verify and all("**" in line for line in verify), trace
    spaced = " ".join(pin_hex[i : i + 2] for i in range(0, len(pin_hex), 2))
    assert pin_hex not in trace.replace(" ", "") and spaced not in trace


def test_one_clock_for_the_stack_the_ca_service_and_card_creation(tmp_path: Path) -> None:
    """`fxmlsim up --clock` reaches every process: the card made afterwards and
    the CA service's own view of it both stand on 2023-04-17 11:28:33."""
    home = tmp_path / "h"

    def fxmlsim(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "FXMLSIM_CLOCK"}
        return subprocess.run(
            [sys.executable, "-m", "simulator.cli", "--home", str(home), *args],
            capture_output=True, text=True, timeout=120, env=env,
        )

    up = fxmlsim("up", "--readers", "2", "--clock", "fixed:2023-04-17T11:28:33+08:00")
    assert up.returncode == 0, up.stderr
    try:
        url = next(line.split("=", 1)[1] for line in up.stdout.splitlines() if "FXMLSIM_CA_URL=" in line)
        assert json.loads(fxmlsim("status").stdout)["clock"] == "fixed:2023-04-17T11:28:33+08:00"
        created = fxmlsim("card", "create", str(PROFILE))
        assert created.returncode == 0, created.stderr
        shown = json.loads(fxmlsim("card", "show", "personal-small").stdout)
        [cert] = shown["certificates"]
        assert cert["not_before"] == "2023-04-17T11:28:33+08:00"
        assert cert["not_after"] == "2025-04-17T23:59:59+08:00"
        listed = fxmlsim("ca", "--url", url, "list")
        assert listed.returncode == 0, listed.stderr
        row = next(line for line in listed.stdout.splitlines() if cert["serial"] in line)
        assert "正常" in row and "2023-04-17 11:28:33" in row
    finally:
        assert fxmlsim("down").returncode == 0
