"""What the openssl command says of our output: a reference nobody here wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def openssl_verifies(csr: x509.CertificateSigningRequest, tmp_path: Path) -> bool:
    """What ``openssl req -verify`` says of the request. OpenSSL 3.0 exits 0
    even when the signature is bad, so its message decides."""
    path = tmp_path / "request.der"
    path.write_bytes(csr.public_bytes(serialization.Encoding.DER))
    done = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(path), "-noout", "-verify"],
        capture_output=True, text=True, timeout=60,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0 and ("verify OK" in said or "verify failure" in said), said
    return "verify OK" in said
