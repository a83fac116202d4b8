"""Interop with tools nobody here wrote: pcsc-tools, OpenSC and openssl.

The card is personalized from a fixture profile (key generated on the card,
certificate issued by the simulated CA), inserted through the real pcscd +
vpcd, and then only third-party tools talk to it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fxml.agent.client import AgentClient
from simulator.card.image import load_image
from simulator.card.profile import load_profile
from simulator.home import Home
from tests.support.paths import repo_path

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]

PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
PROFILE = repo_path("fixtures", "cards", "eoi-large.json")
PERSONAL_PROFILE = repo_path("fixtures", "cards", "personal-small.json")


def run(*cmd: str, env: dict[str, str], timeout: float = 60, check: bool = True) -> str:
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd[0]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def inserted(stack_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    image_path = stack_home.create_card(PROFILE, name="opensc-interop", replace=True)
    # OpenSC's PKCS#11 module shows the first 4 readers by default
    # (max-virtual-slots 16 / slots-per-card 4), so use one of those.
    reader = stack_home.stack.insert(image_path, 3)
    env = dict(os.environ)
    env["HOME"] = str(tmp_path_factory.mktemp("opensc-home"))  # no OpenSC cache from elsewhere
    try:
        yield {"reader": reader["name"], "env": env, "image": image_path}
    finally:
        stack_home.stack.remove(reader["index"])


def test_pcsc_scan_shows_the_card_and_its_atr(inserted: dict) -> None:
    out = run("pcsc_scan", "-c", "-n", env=inserted["env"], timeout=30)
    image = load_image(inserted["image"])
    from simulator.card.os import TwcaCardOS

    atr = TwcaCardOS.open(inserted["image"]).getATR()
    assert inserted["reader"] in out
    assert " ".join(f"{b:02X}" for b in atr) in out, out
    assert image is not None


def test_opensc_tool_lists_the_reader_and_names_the_card(inserted: dict) -> None:
    readers = run("opensc-tool", "--list-readers", env=inserted["env"])
    assert inserted["reader"] in readers
    name = run("opensc-tool", "--reader", inserted["reader"], "--name", env=inserted["env"])
    assert name.strip() == "Personal Identity Verification Card", name  # OpenSC's PIV driver took it


def test_pkcs15_tool_lists_the_ca_issued_certificate(inserted: dict, tmp_path: Path) -> None:
    out = run("pkcs15-tool", "--reader", inserted["reader"], "--list-certificates", env=inserted["env"])
    assert "X.509 Certificate" in out, out
    cert_id = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("ID"))
    pem = run("pkcs15-tool", "--reader", inserted["reader"], "--read-certificate", cert_id, env=inserted["env"])
    cert = x509.load_pem_x509_certificate(pem[pem.index("-----BEGIN"):].encode())
    assert cert.issuer.rfc4514_string() == "CN=TWCA Financial User CA,OU=User CA,O=TWCA,C=TW"
    profile = load_profile(PROFILE)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str) and cn.startswith(f"{profile.holder_id}-00-")


def test_pkcs11_tool_signs_and_openssl_verifies(inserted: dict, tmp_path: Path) -> None:
    env = inserted["env"]
    profile = load_profile(PROFILE)
    slots = run("pkcs11-tool", "--module", PKCS11_MODULE, "--list-slots", env=env)
    assert inserted["reader"] in slots
    objects = run("pkcs11-tool", "--module", PKCS11_MODULE, "--slot-description", inserted["reader"],
                  "--login", "--pin", profile.pin, "--list-objects", "--type", "privkey", env=env)
    key_id = next(line.split(":", 1)[1].strip() for line in objects.splitlines() if line.strip().startswith("ID:"))

    data = tmp_path / "data.bin"
    data.write_bytes("FXML 憑證更新 interop".encode())
    sig = tmp_path / "data.sig"
    run("pkcs11-tool", "--module", PKCS11_MODULE, "--slot-description", inserted["reader"],
        "--login", "--pin", profile.pin, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", key_id,
        "--input-file", str(data), "--output-file", str(sig), env=env)

    cert = next(c for c in load_image(inserted["image"]).certificates())
    pub = tmp_path / "pub.pem"
    pub.write_bytes(cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    out = run("openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(data), env=env)
    assert "Verified OK" in out

    # and a wrong PIN is refused by the card, through OpenSC
    wrong = subprocess.run(
        ["pkcs11-tool", "--module", PKCS11_MODULE, "--slot-description", inserted["reader"],
         "--login", "--pin", "000000", "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", key_id,
         "--input-file", str(data), "--output-file", str(tmp_path / "x.sig")],
        capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode != 0 and "CKR_PIN_INCORRECT" in (wrong.stdout + wrong.stderr)


def test_pkcs11_tool_logs_in_with_the_pin_the_agent_changed_and_not_with_the_old_one(
    stack_home: Home, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """憑證載具密碼變更 through the card agent (the platform's page sends the PINs there, and only
    there), then OpenSC's PKCS#11 module, which nobody here wrote, logs in to the card: the new PIN
    is accepted, the old one refused by the card (CKR_PIN_INCORRECT, one counted try)."""
    profile = load_profile(PERSONAL_PROFILE)
    new_pin = "Opensc26"
    image = stack_home.create_card(PERSONAL_PROFILE, name="opensc-pin-change", replace=True)
    reader = stack_home.stack.insert(image, 2)  # one of the first four readers OpenSC shows
    env = dict(os.environ)
    env["HOME"] = str(tmp_path_factory.mktemp("opensc-pin-home"))
    try:
        agent = AgentClient(stack_home.services()["agent"]["url"])
        changed = agent.change_pin(profile.pin, new_pin, reader["name"])
        assert changed["reader"] == reader["name"] and changed["card"]["pin_tries_left"] == 3

        def login(pin: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["pkcs11-tool", "--module", PKCS11_MODULE, "--slot-description", reader["name"],
                 "--login", "--pin", pin, "--list-objects", "--type", "privkey"],
                capture_output=True, text=True, env=env, timeout=60)

        accepted = login(new_pin)
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
        assert "Private Key Object" in accepted.stdout, accepted.stdout
        assert load_image(image).pin.tries_left == 3
        refused = login(profile.pin)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "CKR_PIN_INCORRECT" in said, said
        after = load_image(image)
        assert after.pin.value == new_pin and after.pin.tries_left == 2  # the card counted OpenSC's wrong try
    finally:
        stack_home.stack.remove(reader["index"])
