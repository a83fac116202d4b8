"""OpenSC's own PKCS#11 token self-test (``pkcs11-tool --test``) against the
card: random numbers, digests, signatures, verification and decryption, with
no error. OpenSC's PIV driver gets random numbers from the card by asking the
9B key for a challenge (card-piv.c, piv_get_challenge)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.card.profile import load_profile
from simulator.home import Home
from tests.support.paths import repo_path

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]

PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
PROFILE = repo_path("fixtures", "cards", "eoi-large.json")


@pytest.fixture(scope="module")
def inserted(stack_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    image = stack_home.create_card(PROFILE, name="opensc-selftest", replace=True)
    # OpenSC's PKCS#11 module shows readers 0-3 only (4 slots per reader, 16 slots).
    reader = stack_home.stack.insert(image, 2)
    env = dict(os.environ, HOME=str(tmp_path_factory.mktemp("opensc-selftest-home")))
    try:
        yield reader["name"], image, env
    finally:
        stack_home.stack.remove(reader["index"])


def test_pkcs11_tool_self_test_ends_with_no_errors(inserted: tuple[str, Path, dict[str, str]]) -> None:
    reader, image, env = inserted
    before = image.read_bytes()
    done = subprocess.run(
        ["pkcs11-tool", "--module", PKCS11_MODULE, "--slot-description", reader,
         "--login", "--pin", load_profile(PROFILE).pin, "--test"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    lines = [line.strip() for line in out.splitlines()]
    # pkcs11-tool ends with "No errors", or with "<n> errors" (tools/pkcs11-tool.c, p11_test).
    assert "No errors" in lines, out
    assert not any(re.fullmatch(r"\d+ errors", line) for line in lines), out
    random_part = out[out.index("C_GenerateRandom():") :].splitlines()[1:3]
    assert "seems to be OK" in [line.strip() for line in random_part], out
    assert "CKR_FUNCTION_NOT_SUPPORTED" not in out
    assert "RSA-PKCS: OK" in lines and "SHA256-RSA-PKCS: OK" in lines, out
    assert image.read_bytes() == before  # the self-test writes nothing to the card
