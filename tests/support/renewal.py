"""What the renewal tests share: the golden card, its clock, cards in process, a
record store that breaks on cue, and checks of the card image and the CA."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml import env
from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.piv import KeyRef
from fxml.clock import TAIWAN, FileClock
from fxml.renewal.model import RecordError, RecordErrorCode, RecordStore, RenewalRecord, State
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import ServiceProcess, key_cache
from simulator.card.image import load_image
from simulator.card.os import InProcessConnection, TwcaCardOS
from simulator.personalize import personalize

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "cards" / "eoi-golden.json"
GOLDEN_PROFILE: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
PIN = GOLDEN_PROFILE["pin"]
MANAGEMENT_KEY = bytes.fromhex(GOLDEN_PROFILE["management_key"]["key"])

#: The manual's golden run: step 3 at 11:13:42, the certificate issued at 11:28:33.
STEP3_AT = datetime(2023, 4, 17, 11, 13, 42, tzinfo=TAIWAN)
ISSUED_AT = datetime(2023, 4, 17, 11, 28, 33, tzinfo=TAIWAN)
OLD_NOT_AFTER = datetime(2023, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
NEW_NOT_AFTER = datetime(2025, 5, 14, 23, 59, 59, tzinfo=TAIWAN)


@contextmanager
def served_ca(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str
              ) -> Iterator[tuple[Path, Path, FileClock, CaClient]]:
    """A folder, the CA's state in it on the pinned keys, a clock file at :data:`ISSUED_AT`, and the CA
    service running on that clock: (folder, the CA's folder, the clock, a client with the admin token)."""
    root = tmp_path_factory.mktemp(name)
    clock = FileClock(root / "clock.json")
    clock.write(fixed=ISSUED_AT)
    ca_dir = root / "ca"
    keys = key_cache(request.config, root / "keys")
    CertificateAuthority.open(ca_dir, keys_dir=keys.hierarchy()).close()
    with ServiceProcess(ca_dir, env={env.CLOCK: clock.describe()}) as service:
        yield root, ca_dir, clock, service.admin_client(retries=0)


def make_card(target: Path, ca_dir: Path, profile: dict[str, Any] | None = None) -> Path:
    """A card image personalized from the golden profile (or ``profile``) with the CA in ``ca_dir``."""
    source = target.with_suffix(".profile.json")
    source.write_text(json.dumps(profile or GOLDEN_PROFILE, ensure_ascii=False), encoding="utf-8")
    return personalize(source, target, ca_dir=ca_dir)


def open_card(image: Path, *, pin: str | None = PIN) -> PivCardClient:
    """A session with the card in ``image``, in process: selected, the PIN verified (unless None)."""
    client = PivCardClient(InProcessConnection(TwcaCardOS.open(image)))
    client.select()
    if pin is not None:
        client.verify_pin(pin)
    return client


def old_certificate(image: Path, serial: str | None = None) -> tuple[KeyRef, x509.Certificate]:
    """The container and certificate of ``serial`` in the card image (read from the file,
    not through a card session); without ``serial``, the card's only certificate."""
    found = [
        (KeyRef(ref), x509.load_der_x509_certificate(container.certificate_der))
        for ref, container in sorted(load_image(image).containers.items())
        if container.certificate_der is not None
    ]
    if serial is None:
        [only] = found
        return only
    [match] = [(ref, cert) for ref, cert in found if serial_of(cert) == serial.upper()]
    return match


def serial_of(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:X}"


def old_key_signs(client: PivCardClient, container: KeyRef, cert: x509.Certificate) -> None:
    """The key of ``container`` signs and ``cert`` verifies the signature (the client has the PIN)."""
    signature = client.sign(container, b"fxmlsim: still usable")
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"fxmlsim: still usable", padding.PKCS1v15(), hashes.SHA256())


def keys_on_card(image: Path) -> dict[str, bool]:
    """For each container with a private key: whether it also holds a certificate."""
    loaded = load_image(image)
    return {
        f"{int(ref):02X}": container.certificate_der is not None
        for ref, container in loaded.containers.items()
        if container.private_key_pem is not None
    }


def assert_no_unrecorded_key(image: Path, record: RenewalRecord) -> None:
    """Every key on the card has a certificate, or is the one the record names a container for."""
    for name, certified in keys_on_card(image).items():
        if certified:
            continue
        assert record.container == name, f"a key in {name} without certificate and without a record: {record}"
        assert record.state.rank >= State.KEY_PENDING.rank and record.state.rank < State.WRITTEN.rank, record.state


@dataclass
class Breaks:
    """A RecordStore that stops the engine at one move: before the store records it
    (``when="before"``: the work is done, the record does not say so) or after
    (``when="after"``: recorded, the answer lost). Like a process killed there."""

    inner: RecordStore
    at: State
    when: str = "after"
    tripped: bool = False

    def get(self) -> RenewalRecord:
        return self.inner.get()

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        if to == self.at and not self.tripped and self.when == "before":
            self.tripped = True
            raise RecordError(RecordErrorCode.UNREACHABLE, f"broken before {to}")
        moved = self.inner.advance(expected, to, **fields)
        if to == self.at and not self.tripped:
            self.tripped = True
            raise RecordError(RecordErrorCode.UNREACHABLE, f"broken after {to}")
        return moved

    def fail(self, code: str, message: str) -> RenewalRecord:
        return self.inner.fail(code, message)
