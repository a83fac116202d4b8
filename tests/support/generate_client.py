"""Run as a script by test_tearing: GENERATE ASYMMETRIC KEY PAIR for 9C in
the reader named on the command line, through the engine's PC/SC client.

A process of its own because pcsc-lite's client library reads
PCSCLITE_CSOCK_NAME once per process. Prints ``ready`` once authenticated,
then ``key`` or ``error <class>``."""

from __future__ import annotations

import sys

from fxml.card.client import PivCardClient
from fxml.card.connection import TransportError
from fxml.card.errors import CardError
from fxml.card.pcsc import PcscConnection
from fxml.card.piv import Algorithm, KeyRef

MANAGEMENT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")  # the PIV default


def main() -> int:
    try:
        with PcscConnection(sys.argv[1]) as conn:
            client = PivCardClient(conn)
            client.select()
            client.authenticate(MANAGEMENT_KEY, Algorithm.TDEA_3KEY)
            print("ready", flush=True)
            client.generate_key(KeyRef.SIGNATURE)
            print("key", flush=True)
    except (TransportError, CardError) as exc:
        print(f"error {type(exc).__name__}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
