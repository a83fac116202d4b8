"""Relying parties nobody here wrote: openssl verifies the chain, the CRL and the
OCSP answers of the CA service, running as a real process on 127.0.0.1.

The service runs on the system clock here: openssl checks validity and OCSP
freshness against the machine's own time."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from fxml.ca.client import CertificateRecord
from fxml.clock import Clock
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, KeyCache, ServiceProcess, make_csr, open_test_ca

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")

class Setup:
    def __init__(self, folder: Path, process: ServiceProcess, keys: KeyCache):
        self.folder = folder
        self.process = process
        self.client = process.admin_client()
        self.keys = keys
        issuer, root = self.client.chain()
        self.issuer = self._write("issuer.pem", issuer.public_bytes(serialization.Encoding.PEM))
        self.root = self._write("root.pem", root.public_bytes(serialization.Encoding.PEM))
        self.count = 0

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def issue(self) -> tuple[CertificateRecord, Path]:
        self.count += 1
        subject = (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"),
                   ("OU", "0060000-Taiwan Cooperative Bank"), ("OU", "FXML"), ("CN", f"{HOLDER_ID}-00-{CN_SUFFIX}"))
        record = self.client.apply(f"openssl-{self.count}", HOLDER_ID, make_csr(self.keys.rsa("holder-1"), subject))
        return record, self._write(f"cert-{self.count}.pem",
                                   record.certificate.public_bytes(serialization.Encoding.PEM))

    def crl_pem(self) -> Path:
        crl = self.client.crl()
        return self._write("crl.pem", crl.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, keys: KeyCache) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("ca-openssl")
    with open_test_ca(folder / "state", keys, Clock()):
        pass
    process = ServiceProcess(folder / "state", env={"FXMLSIM_CLOCK": "system"}).start()
    try:
        yield Setup(folder, process, keys)
    finally:
        process.stop()


def openssl(*args: str | Path) -> tuple[int, str]:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_openssl_verifies_the_chain(setup: Setup) -> None:
    _, cert = setup.issue()
    code, out = openssl("verify", "-CAfile", setup.root, "-untrusted", setup.issuer, cert)
    assert code == 0 and f"{cert}: OK" in out, out
    code, out = openssl("verify", "-CAfile", setup.root, setup.issuer)
    assert code == 0, out
    code, out = openssl("verify", "-CAfile", setup.issuer, "-partial_chain", cert)
    assert code == 0, out


def test_openssl_shows_the_profile(setup: Setup) -> None:
    _, cert = setup.issue()
    code, out = openssl("x509", "-in", cert, "-noout", "-text", "-nameopt", "RFC2253")
    assert code == 0
    assert "Signature Algorithm: sha256WithRSAEncryption" in out
    assert "Public-Key: (2048 bit)" in out
    assert "X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation" in out
    assert f"OCSP - URI:{setup.process.url}/ocsp" in out
    assert f"CA Issuers - URI:{setup.process.url}/ca/TWCA-Financial-User-CA.cer" in out
    assert f"URI:{setup.process.url}/crl/TWCA-Financial-User-CA.crl" in out
    assert "Issuer: CN=TWCA Financial User CA,OU=User CA,O=TWCA,C=TW" in out
    code, uri = openssl("x509", "-in", cert, "-noout", "-ocsp_uri")
    assert uri.strip() == f"{setup.process.url}/ocsp"


def test_openssl_verifies_the_crl_and_finds_revoked_and_held_certificates(setup: Setup) -> None:
    good, good_pem = setup.issue()
    revoked, revoked_pem = setup.issue()
    held, held_pem = setup.issue()
    setup.client.revoke(revoked.serial, "keyCompromise")
    setup.client.suspend(held.serial)
    crl = setup.crl_pem()
    code, out = openssl("crl", "-in", crl, "-CAfile", setup.issuer, "-noout", "-verify")
    assert code == 0 and "verify OK" in out, out
    code, text = openssl("crl", "-in", crl, "-noout", "-text")
    assert f"Serial Number: {revoked.serial}" in text and f"Serial Number: {held.serial}" in text
    assert f"Serial Number: {good.serial}" not in text
    assert "Key Compromise" in text and "Certificate Hold" in text

    def check(cert: Path) -> tuple[int, str]:
        return openssl("verify", "-crl_check", "-CRLfile", crl, "-CAfile", setup.root, "-untrusted", setup.issuer,
                       cert)

    assert check(good_pem)[0] == 0
    for pem in (revoked_pem, held_pem):
        code, out = check(pem)
        assert code != 0 and "certificate revoked" in out, out


@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no_nonce"])
def test_openssl_ocsp_reports_good_revoked_and_on_hold(setup: Setup, nonce: bool) -> None:
    def ask(cert: Path) -> str:
        args: list[str | Path] = ["ocsp", "-issuer", setup.issuer, "-cert", cert, "-url", f"{setup.process.url}/ocsp",
                "-CAfile", setup.root, "-resp_text"]
        code, out = openssl(*args, *([] if nonce else ["-no_nonce"]))
        assert code == 0, out
        assert "Response verify OK" in out, out
        return out

    _, good_pem = setup.issue()
    revoked, revoked_pem = setup.issue()
    held, held_pem = setup.issue()
    for pem in (good_pem, revoked_pem, held_pem):
        assert f"{pem}: good" in ask(pem)  # and now cached, for the no_nonce run
    setup.client.revoke(revoked.serial, "keyCompromise")
    setup.client.suspend(held.serial)
    assert f"{good_pem}: good" in ask(good_pem)
    out = ask(revoked_pem)
    assert f"{revoked_pem}: revoked" in out and "Reason: keyCompromise" in out
    out = ask(held_pem)
    assert f"{held_pem}: revoked" in out and "Reason: certificateHold" in out
    if nonce:
        assert "OCSP Nonce" in out
    setup.client.resume(held.serial)
    assert f"{held_pem}: good" in ask(held_pem)


def test_openssl_ocsp_unknown_serial(setup: Setup) -> None:
    # Asked about a serial the FXML issuer never issued: the responder says unknown.
    code, out = openssl("ocsp", "-issuer", setup.issuer, "-serial", "0x1234", "-url", f"{setup.process.url}/ocsp",
                        "-CAfile", setup.root)
    assert code == 0 and "0x1234: unknown" in out and "Response verify OK" in out, out
