"""Interop with Yubico's PIV stack, which nobody here wrote: Debian's
yubico-piv-tool 2.2 and its PKCS#11 module ykcs11 (libykcs11.so), driven by
OpenSC's pkcs11-tool, with openssl checking the signatures.

The card is personalized from a fixture profile, inserted through the real
pcscd + vpcd, and from then on only those tools talk to it. None of them is
told anything about the card: they find it as they would find any PIV card
(docs/card.md, "Other PIV stacks").
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fxml.card.piv import Obj
from simulator.card.image import load_image
from simulator.card.profile import load_profile
from simulator.home import Home
from simulator.pcsc.stack import PcscStack
from tests.support.paths import repo_path

pytestmark = [pytest.mark.pcsc, pytest.mark.yubico]

PROFILE = repo_path("fixtures", "cards", "eoi-large.json")
YKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/libykcs11.so"
#: ykcs11 2.2 only looks at readers whose name starts with "Yubico" (ykcs11/utils.c,
#: is_yubico_reader; Yubico dropped the check in 2.3). Its tests run on a stack of
#: their own whose readers are named so; the card in them is the same card.
YKCS11_READER_PREFIX = "Yubico-prefixed fxmlsim TWCA Reader"

@dataclass
class Done:
    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(*cmd: str, env: dict[str, str], check: bool = True, timeout: float = 60) -> Done:
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout)
    result = Done(done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return result


@dataclass
class Inserted:
    reader: str
    image: Path
    env: dict[str, str]

    def image_bytes(self) -> bytes:
        return self.image.read_bytes()


def _certificate(image: Path) -> x509.Certificate:
    return next(iter(load_image(image).certificates()))


def _common_name(cert: x509.Certificate) -> str:
    value = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


# -- yubico-piv-tool ----------------------------------------------------------------
@pytest.fixture(scope="module")
def card(stack_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inserted]:
    image = stack_home.create_card(PROFILE, name="yubico-interop", replace=True)
    reader = stack_home.stack.insert(image, 4)
    env = dict(os.environ, HOME=str(tmp_path_factory.mktemp("yubico-home")))
    try:
        yield Inserted(reader["name"], image, env)
    finally:
        stack_home.stack.remove(reader["index"])


def piv_tool(card: Inserted, *args: str, check: bool = True) -> Done:
    return run("yubico-piv-tool", "-r", card.reader, *args, env=card.env, check=check)


def test_status_shows_the_chuid_the_certificate_and_the_pin_tries(card: Inserted) -> None:
    before = card.image_bytes()
    out = piv_tool(card, "-a", "status").out
    image = load_image(card.image)
    cert = _certificate(card.image)
    lines = out.splitlines()
    assert f"CHUID:\t{image.objects[Obj.CHUID].hex()}" in lines, out
    assert "Slot 9a:\t" in lines, out
    assert "\tAlgorithm:\tRSA2048" in lines, out
    assert any(line.startswith("\tSubject DN:\t") and line.endswith(f"CN={_common_name(cert)}") for line in lines), out
    assert "\tIssuer DN:\tC=TW, O=TWCA, OU=User CA, CN=TWCA Financial User CA" in lines, out
    assert f"PIN tries left:\t{image.pin.max_tries}" in lines, out
    # The card does not pretend to be a YubiKey: no firmware version, no serial.
    assert "Version:\tNo data available" in lines and "Serial Number:\tNo data available" in lines, out
    assert card.image_bytes() == before


def test_read_certificate_9a_is_the_card_certificate(card: Inserted) -> None:
    before = card.image_bytes()
    pem = piv_tool(card, "-a", "read-certificate", "-s", "9a").out
    assert x509.load_pem_x509_certificate(pem.encode()) == _certificate(card.image)
    assert card.image_bytes() == before


def test_read_certificate_of_an_empty_slot_fails(card: Inserted) -> None:
    done = piv_tool(card, "-a", "read-certificate", "-s", "9c", check=False)
    assert done.rc != 0 and "Failed fetching certificate" in done.err


def test_verify_pin(card: Inserted) -> None:
    before = card.image_bytes()
    pin = load_profile(PROFILE).pin
    done = piv_tool(card, "-a", "verify-pin", "-P", pin)
    assert "Successfully verified PIN." in done.err
    assert card.image_bytes() == before  # a right PIN with a full counter writes nothing


def test_verify_wrong_pin_counts_down_and_the_right_one_resets(card: Inserted) -> None:
    pin, tries = load_profile(PROFILE).pin, load_image(card.image).pin.max_tries
    done = piv_tool(card, "-a", "verify-pin", "-P", "Wrong123", check=False)
    assert done.rc != 0
    assert f"Pin verification failed, {tries - 1} tries left before pin is blocked." in done.err
    assert load_image(card.image).pin.tries_left == tries - 1  # written by the card, as the spec says
    piv_tool(card, "-a", "verify-pin", "-P", pin)
    assert load_image(card.image).pin.tries_left == tries


def test_test_signature_9a_against_the_card_certificate(card: Inserted, tmp_path: Path) -> None:
    cert = tmp_path / "9a.pem"
    cert.write_bytes(_certificate(card.image).public_bytes(serialization.Encoding.PEM))
    before = card.image_bytes()
    pin = load_profile(PROFILE).pin
    done = piv_tool(card, "-a", "verify-pin", "-P", pin, "-a", "test-signature", "-s", "9a", "-i", str(cert))
    assert "Successful RSA verification." in done.err, done.text
    assert card.image_bytes() == before


def test_test_signature_without_the_pin_is_refused(card: Inserted, tmp_path: Path) -> None:
    cert = tmp_path / "9a.pem"
    cert.write_bytes(_certificate(card.image).public_bytes(serialization.Encoding.PEM))
    done = piv_tool(card, "-a", "test-signature", "-s", "9a", "-i", str(cert), check=False)
    assert done.rc != 0 and "Failed signing test data." in done.err


# -- ykcs11 through pkcs11-tool -----------------------------------------------------
@pytest.fixture(scope="module")
def ykcs11_card(stack_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inserted]:
    stack = PcscStack(tmp_path_factory.mktemp("ykcs11-stack") / "run")
    stack.up(readers=2, reader_prefix=YKCS11_READER_PREFIX)
    try:
        image = stack_home.create_card(PROFILE, name="ykcs11-interop", replace=True)
        reader = stack.insert(image, 0)
        env = dict(os.environ, HOME=str(tmp_path_factory.mktemp("ykcs11-home")), **stack.client_env())
        yield Inserted(reader["name"], image, env)
    finally:
        stack.down()


def p11(card: Inserted, *args: str, check: bool = True) -> Done:
    return run("pkcs11-tool", "--module", YKCS11_MODULE, *args, env=card.env, check=check)


def test_ykcs11_ignores_readers_not_named_yubico(card: Inserted) -> None:
    # Debian's ykcs11 2.2 filters readers by name; the card itself would do.
    # Should this fail, Debian ships a ykcs11 without the filter: see docs/card.md.
    done = run("pkcs11-tool", "--module", YKCS11_MODULE, "--list-slots", env=card.env, check=False)
    assert card.reader not in done.text


def test_ykcs11_lists_the_slot_and_the_certificate(ykcs11_card: Inserted, tmp_path: Path) -> None:
    before = ykcs11_card.image_bytes()
    slots = p11(ykcs11_card, "--list-slots").out
    assert f"): {ykcs11_card.reader}" in slots and "token flags        : login required, rng" in slots, slots
    objects = p11(ykcs11_card, "--list-objects", "--type", "cert").out
    cert = _certificate(ykcs11_card.image)
    assert "Certificate Object; type = X.509 cert" in objects and f"CN={_common_name(cert)}" in objects, objects
    der = tmp_path / "cert.der"
    p11(ykcs11_card, "--read-object", "--type", "cert", "--id", "01", "--output-file", str(der))
    assert x509.load_der_x509_certificate(der.read_bytes()) == cert
    assert ykcs11_card.image_bytes() == before


def test_ykcs11_signs_and_openssl_verifies(ykcs11_card: Inserted, tmp_path: Path) -> None:
    before = ykcs11_card.image_bytes()
    pin = load_profile(PROFILE).pin
    keys = p11(ykcs11_card, "--login", "--pin", pin, "--list-objects", "--type", "privkey").out
    assert "Private Key Object; RSA" in keys and "ID:         01" in keys, keys

    data = tmp_path / "data.bin"
    data.write_bytes("FXML 憑證更新 ykcs11".encode())
    sig = tmp_path / "data.sig"
    p11(ykcs11_card, "--login", "--pin", pin, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "01",
        "--input-file", str(data), "--output-file", str(sig))

    # openssl checks the signature against the certificate as ykcs11 read it.
    der = tmp_path / "cert.der"
    p11(ykcs11_card, "--read-object", "--type", "cert", "--id", "01", "--output-file", str(der))
    pub = tmp_path / "pub.pem"
    run("openssl", "x509", "-inform", "DER", "-in", str(der), "-pubkey", "-noout", "-out", str(pub),
        env=ykcs11_card.env)
    out = run("openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(data),
              env=ykcs11_card.env).out
    assert "Verified OK" in out
    assert ykcs11_card.image_bytes() == before


def test_ykcs11_wrong_pin_is_pin_incorrect(ykcs11_card: Inserted, tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"x")
    done = p11(ykcs11_card, "--login", "--pin", "Wrong123", "--sign", "--mechanism", "SHA256-RSA-PKCS",
               "--id", "01", "--input-file", str(data), "--output-file", str(tmp_path / "x.sig"), check=False)
    assert done.rc != 0 and "CKR_PIN_INCORRECT" in done.text, done.text
    # the right PIN puts the counter back
    p11(ykcs11_card, "--login", "--pin", load_profile(PROFILE).pin, "--list-objects", "--type", "privkey")
    image = load_image(ykcs11_card.image)
    assert image.pin.tries_left == image.pin.max_tries
