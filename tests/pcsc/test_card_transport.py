"""The engine's PC/SC connection through the real pcscd and vpcd when the
card is shared, reset by another application, or pulled out and put back."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from fxml.card.client import PivCardClient
from fxml.card.pcsc import CardResetError, NoCardError, PcscConnection
from simulator.home import Home
from tests.support.paths import repo_path

pytestmark = pytest.mark.pcsc

PROFILE = repo_path("fixtures", "cards", "personal-small.json")
PIN = json.loads(PROFILE.read_text())["pin"]
SELECT_PIV = bytes.fromhex("00a4040009a0000003080000100000")


def insert_card(home: Home, name: str) -> tuple[Path, str]:
    image = home.create_card(PROFILE, name=name, replace=True)
    return image, home.stack.insert(image, 0)["name"]


def test_a_reset_by_another_application_is_reported_and_the_connection_goes_on(empty_readers: Home) -> None:
    _, reader = insert_card(empty_readers, "transport-reset")
    with PcscConnection(reader) as conn:
        client = PivCardClient(conn)
        client.select()
        client.verify_pin(PIN)
        other = PcscConnection(reader).connect()
        other.close(reset=True)  # another application resets the card
        with pytest.raises(CardResetError, match="another application reset the card"):
            client.pin_status()
        # The same connection works again; the card forgot the PIN.
        client.select()
        assert not client.pin_status().verified
        client.verify_pin(PIN)
        assert client.pin_status().verified


def test_a_card_pulled_out_and_put_back_is_reached_by_connecting_again(empty_readers: Home) -> None:
    image, reader = insert_card(empty_readers, "transport-removal")
    with PcscConnection(reader) as conn:
        client = PivCardClient(conn)
        serial = (client.select(), client.card_info().card_serial)[1]
        empty_readers.stack.remove(0)
        with pytest.raises(NoCardError):
            client.card_info()
        assert not conn.connected
        empty_readers.stack.insert(image, 0)
        conn.connect()
        client.select()
        assert client.card_info().card_serial == serial


def test_another_application_waits_while_the_client_holds_the_card(empty_readers: Home) -> None:
    _, reader = insert_card(empty_readers, "transport-shared")
    order: list[str] = []
    with PcscConnection(reader) as conn, PcscConnection(reader) as other:
        client = PivCardClient(conn)
        started = threading.Event()

        def other_application() -> None:
            started.set()
            other.transmit(SELECT_PIV)
            order.append("other")

        with client.transaction():
            client.select()
            thread = threading.Thread(target=other_application, daemon=True)
            thread.start()
            started.wait(10)
            thread.join(0.3)  # it would have finished by now if it were not held off
            assert thread.is_alive()
            client.card_info()
            order.append("client")
        thread.join(10)
    assert order == ["client", "other"]
