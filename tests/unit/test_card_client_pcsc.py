"""The PC/SC connection without a daemon: reader matching, and clear errors
when no pcscd answers. (Through a real pcscd: tests/pcsc.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from smartcard import scard

from fxml.card.connection import TransportError
from fxml.card.pcsc import CardResetError, NoCardError, PcscConnection, PcscError, ReaderNotFoundError, _match

READERS = ["fxmlsim TWCA Reader 0 00 00", "fxmlsim TWCA Reader 0 00 01", "ACS ACR39U ICC Reader 01 00"]


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("fxmlsim TWCA Reader 0 00 01", "fxmlsim TWCA Reader 0 00 01"),
        ("00 01", "fxmlsim TWCA Reader 0 00 01"),
        ("acr39", "ACS ACR39U ICC Reader 01 00"),
        ("Gemalto", None),
    ],
)
def test_reader_is_found_by_name_or_unique_part(asked: str, found: str | None) -> None:
    assert _match(asked, READERS) == found


def test_an_exact_name_wins_over_longer_names_containing_it() -> None:
    readers = ["Reader 0", "Reader 0 extra"]
    assert _match("Reader 0", readers) == "Reader 0"


def test_an_ambiguous_part_names_every_candidate() -> None:
    with pytest.raises(ReaderNotFoundError, match="matches 2 readers") as ambiguous:
        _match("TWCA", READERS)
    assert READERS[0] in str(ambiguous.value) and READERS[1] in str(ambiguous.value)
    assert isinstance(ambiguous.value, LookupError)


def test_an_unconnected_connection_says_so() -> None:
    conn = PcscConnection("some reader")
    assert not conn.connected
    with pytest.raises(PcscError, match="not connected to the card in 'some reader'"):
        conn.transmit(b"\x00\xa4\x04\x00")
    conn.close()  # closing twice, or before connecting, is harmless


# pcsc-lite reads PCSCLITE_CSOCK_NAME once per process, so each case runs in
# a fresh interpreter pointed at a socket nobody listens on.
PROBE = """
import json
from fxml.card import pcsc
out = {}
for name, call in [
    ("list", lambda: pcsc.list_readers()),
    ("wait", lambda: pcsc.wait_for_card("any", True, timeout=0.1)),
    ("connect", lambda: pcsc.PcscConnection("any").connect()),
]:
    try:
        call()
        out[name] = None
    except Exception as exc:
        out[name] = [type(exc).__name__, str(exc), isinstance(exc, pcsc.PcscUnavailableError)]
print(json.dumps(out))
"""


def test_without_a_daemon_every_entry_point_names_the_socket(tmp_path: Path) -> None:
    socket = tmp_path / "nobody-listens.comm"
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(socket)}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for name, (kind, message, unavailable) in results.items():
        assert kind == "PcscUnavailableError" and unavailable, name
        assert f"PCSCLITE_CSOCK_NAME={socket}" in message, message
        assert "is pcscd running?" in message


# -- a card handle's life, with pcscd's answers scripted ----------------------------
class FakePcsc:
    """Stands in for the scard calls a PcscConnection makes, and records them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *transmit_codes: int, protocol: int = scard.SCARD_PROTOCOL_T1):
        self.calls: list[tuple[object, ...]] = []
        self.codes = list(transmit_codes)
        self.handles = 0
        self.protocol = protocol
        self.sent: list[bytes] = []
        fakes = {
            "SCardEstablishContext": lambda scope: (scard.SCARD_S_SUCCESS, 1),
            "SCardReleaseContext": lambda context: self._record("release"),
            "SCardListReaders": lambda context, groups: (scard.SCARD_S_SUCCESS, ["Fake Reader 00 00"]),
            "SCardConnect": self._connect,
            "SCardStatus": lambda card: (
                scard.SCARD_S_SUCCESS, "Fake Reader 00 00", 0, scard.SCARD_PROTOCOL_T1, [0x3B, 0x00]
            ),
            "SCardReconnect": lambda card, share, protocols, init: self._record(
                "reconnect", init == scard.SCARD_LEAVE_CARD, (scard.SCARD_S_SUCCESS, scard.SCARD_PROTOCOL_T1)
            ),
            "SCardDisconnect": lambda card, disposition: self._record("disconnect"),
            "SCardBeginTransaction": lambda card: self._record("begin", card, scard.SCARD_S_SUCCESS),
            "SCardEndTransaction": lambda card, disposition: self._record("end", card, scard.SCARD_S_SUCCESS),
            "SCardTransmit": self._transmit,
        }
        for name, fake in fakes.items():
            monkeypatch.setattr(scard, name, fake)

    def _record(self, what: str, detail: object = None, result: object = scard.SCARD_S_SUCCESS) -> object:
        self.calls.append((what,) if detail is None else (what, detail))
        return result

    def _connect(self, context: int, reader: str, share: int, protocols: int) -> tuple[int, int, int]:
        self.handles += 1
        self.calls.append(("connect", self.handles))
        return scard.SCARD_S_SUCCESS, self.handles, self.protocol

    def _transmit(self, card: int, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        assert protocol == self.protocol
        code = self.codes.pop(0) if self.codes else scard.SCARD_S_SUCCESS
        self.calls.append(("transmit", card))
        self.sent.append(bytes(apdu))
        return code, ([0x90, 0x00] if code == scard.SCARD_S_SUCCESS else [])


SELECT = bytes.fromhex("00a4040009a0000003080000100000")


def test_a_card_reset_by_another_application_is_a_typed_error_and_the_handle_recovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pcsc = FakePcsc(monkeypatch, scard.SCARD_W_RESET_CARD)
    conn = PcscConnection("Fake").connect()
    with pytest.raises(CardResetError, match="another application reset the card") as reset:
        conn.transmit(SELECT)
    assert reset.value.code == scard.SCARD_W_RESET_CARD & 0xFFFFFFFF
    assert isinstance(reset.value, TransportError)
    # pcscd keeps answering "reset" on the handle until it is reconnected,
    # and the reconnection must not reset the card once more.
    assert ("reconnect", True) in pcsc.calls
    assert conn.transmit(SELECT) == b"\x90\x00"
    assert conn.connected


@pytest.mark.parametrize("code", [scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD])
def test_a_removed_card_closes_the_connection_and_connect_reaches_the_next_card(
    monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    pcsc = FakePcsc(monkeypatch, code)
    conn = PcscConnection("Fake").connect()
    with pytest.raises(NoCardError):
        conn.transmit(SELECT)
    assert not conn.connected
    assert ("disconnect",) in pcsc.calls and ("release",) in pcsc.calls
    conn.connect()  # a new handle, not the dead one
    assert pcsc.handles == 2
    assert conn.transmit(SELECT) == b"\x90\x00"


def test_transactions_nest_and_end_once(monkeypatch: pytest.MonkeyPatch) -> None:
    pcsc = FakePcsc(monkeypatch)
    conn = PcscConnection("Fake").connect()
    with conn.transaction():
        conn.transmit(SELECT)
        with conn.transaction():
            conn.transmit(SELECT)
        conn.transmit(SELECT)
    assert pcsc.calls[1:] == [("begin", 1), ("transmit", 1), ("transmit", 1), ("transmit", 1), ("end", 1)]


def test_a_reset_inside_a_transaction_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pcsc = FakePcsc(monkeypatch, scard.SCARD_W_RESET_CARD)
    conn = PcscConnection("Fake").connect()
    with pytest.raises(CardResetError), conn.transaction():
        conn.transmit(SELECT)
    assert ("end", 1) not in pcsc.calls  # the reset ended it; nothing to end
    with conn.transaction():
        conn.transmit(SELECT)
    assert pcsc.calls[-3:] == [("begin", 1), ("transmit", 1), ("end", 1)]


@pytest.mark.parametrize(
    ("command", "over_t0"),
    [
        ("00a404000ba00000030800001000010000", "00a404000ba000000308000010000100"),  # case 4: Le dropped
        ("00cb3fff055c035fc10200", "00cb3fff055c035fc102"),  # case 4
        ("002000800831323334353637ff", "002000800831323334353637ff"),  # case 3
        ("00c0000010", "00c0000010"),  # case 2
        ("00200080", "00200080"),  # case 1
    ],
)
def test_over_t0_a_command_with_data_carries_no_le(monkeypatch: pytest.MonkeyPatch, command: str, over_t0: str) -> None:
    t0 = FakePcsc(monkeypatch, protocol=scard.SCARD_PROTOCOL_T0)
    conn = PcscConnection("Fake").connect()
    assert conn.protocol == "T=0"
    conn.transmit(bytes.fromhex(command))
    assert t0.sent == [bytes.fromhex(over_t0)]


def test_over_t1_commands_go_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    t1 = FakePcsc(monkeypatch)
    conn = PcscConnection("Fake").connect()
    conn.transmit(bytes.fromhex("00cb3fff055c035fc10200"))
    conn.transmit(bytes.fromhex("00cb3fff0000055c035fc1020000"))
    assert t1.sent == [bytes.fromhex("00cb3fff055c035fc10200"), bytes.fromhex("00cb3fff0000055c035fc1020000")]


def test_over_t0_an_extended_apdu_is_refused_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = FakePcsc(monkeypatch, protocol=scard.SCARD_PROTOCOL_T0)
    conn = PcscConnection("Fake").connect()
    with pytest.raises(PcscError, match="T=0, which has no extended APDUs"):
        conn.transmit(bytes.fromhex("00cb3fff0000055c035fc1020000"))
    assert t0.sent == []
