"""Run as a script by test_renewal_crash: sign with the key of one container of
the card in a reader, through the engine's PC/SC client, and check the signature
against that container's certificate.

A process of its own because pcsc-lite's client library reads
PCSCLITE_CSOCK_NAME once per process. Reads the PIN on stdin; prints
``signs <certificate serial>`` or ``error <class> <message>``."""

from __future__ import annotations

import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml.card.client import PivCardClient
from fxml.card.connection import TransportError
from fxml.card.errors import CardError
from fxml.card.pcsc import PcscConnection


def main() -> int:
    reader, container = sys.argv[1], int(sys.argv[2], 16)
    data = b"fxmlsim: the old certificate still signs"
    try:
        with PcscConnection(reader) as conn:
            client = PivCardClient(conn)
            client.select()
            client.verify_pin(sys.stdin.readline().strip())
            cert = client.certificate(container)
            signature = client.sign(container, data)
            key = cert.public_key()
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())  # raises if it does not verify
            print(f"signs {cert.serial_number:X}", flush=True)
    except (TransportError, CardError) as exc:
        print(f"error {type(exc).__name__} {exc}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
