"""Personalization: a fixture profile becomes a card whose key was made on the
card and whose certificate and chain come from the simulated TWCA CA."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from fxml.card.client import PivCardClient
from fxml.card.piv import KeyRef
from fxml.clock import TAIWAN, FixedClock
from simulator.ca.service import CertificateAuthority
from simulator.card.os import InProcessConnection, TwcaCardOS
from simulator.card.profile import ProfileError
from simulator.cli import main
from simulator.home import Home, HomeError
from tests.support.keys import rsa_public
from tests.support.paths import repo_path

EOI = repo_path("fixtures", "cards", "eoi-large.json")
NOW = FixedClock(datetime(2026, 11, 26, 9, 0, tzinfo=TAIWAN))


def client_for(path: Path) -> PivCardClient:
    client = PivCardClient(InProcessConnection(TwcaCardOS.open(path)))
    client.select()
    return client


def verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    assert cert.signature_hash_algorithm is not None
    rsa_public(issuer.public_key()).verify(
        cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
    )
    assert cert.issuer == issuer.subject


def test_eoi_card_carries_the_reference_validity_and_the_real_chain(tmp_path: Path) -> None:
    home = Home(tmp_path)
    path = home.create_card(EOI)
    client = client_for(path)
    [entry] = client.list_certificates()
    cert = entry.certificate
    assert entry.container == KeyRef.AUTHENTICATION
    # The reference's proof sheet: 2023-04-17 11:28:33 to 2025-05-14 23:59:59 (+08:00).
    assert cert.not_valid_before_utc.astimezone(TAIWAN) == datetime(2023, 4, 17, 11, 28, 33, tzinfo=TAIWAN)
    assert cert.not_valid_after_utc.astimezone(TAIWAN) == datetime(2025, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
    issuing, root = client.ca_chain()
    assert issuing.subject.rfc4514_string() == "CN=TWCA Financial User CA,OU=User CA,O=TWCA,C=TW"
    verify_signed_by(cert, issuing)
    verify_signed_by(issuing, root)
    verify_signed_by(root, root)
    # The key is the card's own: it signs, and the certificate's key verifies.
    client.verify_pin(json.loads(EOI.read_text())["pin"])
    signature = client.sign(entry.container, b"fxmlsim")
    rsa_public(cert.public_key()).verify(signature, b"fxmlsim", padding.PKCS1v15(), hashes.SHA256())
    # ... and the CA's registry knows the certificate.
    with CertificateAuthority.open(home.ca_dir, clock=NOW) as ca:
        [known] = ca.query(holder_id="99000001")
    assert int(known.serial, 16) == cert.serial_number


def test_replacing_a_card_is_a_new_application_with_a_new_key(tmp_path: Path) -> None:
    home = Home(tmp_path)
    first = client_for(home.create_card(EOI)).list_certificates()[0].certificate
    second = client_for(home.create_card(EOI, replace=True)).list_certificates()[0].certificate
    assert first.serial_number != second.serial_number
    assert rsa_public(first.public_key()).public_numbers() != rsa_public(second.public_key()).public_numbers()
    with CertificateAuthority.open(home.ca_dir, clock=NOW) as ca:
        assert len(ca.query(holder_id="99000001")) == 2


def test_an_existing_card_is_not_replaced_without_asking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = Home(tmp_path)
    path = home.create_card(EOI)
    before = path.read_bytes()
    with pytest.raises(HomeError, match="already exists"):
        home.create_card(EOI)
    assert main(["--home", str(tmp_path), "card", "create", str(EOI)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_a_bad_profile_creates_nothing(tmp_path: Path) -> None:
    profile = json.loads(EOI.read_text())
    profile["colour"] = "blue"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(profile))
    home = Home(tmp_path / "home")
    with pytest.raises(ProfileError, match="colour"):
        home.create_card(bad)
    assert not list((tmp_path / "home").rglob("*.json"))  # no image, no partial image


def test_card_show_prints_taiwan_times_and_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Home(tmp_path).create_card(EOI)
    assert main(["--home", str(tmp_path), "card", "show", "eoi-large"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["carrier"] == "憑證晶片卡(大卡)"
    assert shown["certificates"][0]["not_after"] == "2025-05-14T23:59:59+08:00"
    assert shown["ca_chain"][0] == "CN=TWCA Financial User CA,OU=User CA,O=TWCA,C=TW"
