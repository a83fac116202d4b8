"""The PC/SC connection without a daemon: reader matching, and clear errors
when no pcscd answers. (Through a real pcscd: tests/pcsc.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fxml.card.pcsc import PcscConnection, PcscError, ReaderNotFoundError, _match

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
