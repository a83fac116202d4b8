"""The CA hierarchy: a simulated root and the TWCA Financial User CA under it.

Made on first start and kept in the state folder as PEM files (private keys
0600). A fixture pins them by handing a folder of the same four files
(``keys_dir``), which is copied on first start instead of generating keys,
so every run of a test sees the same issuer key and certificates.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.ca.errors import StateError
from simulator.ca.profile import CA_KEY_BITS, CA_NOT_AFTER, CA_NOT_BEFORE, FXML, ISSUER_NAME, ROOT_NAME, build_name

ROOT_KEY, ROOT_CERT = "root.key.pem", "root.cert.pem"
ISSUER_KEY, ISSUER_CERT = "issuer.key.pem", "issuer.cert.pem"
FILES = (ROOT_KEY, ROOT_CERT, ISSUER_KEY, ISSUER_CERT)


@dataclass(frozen=True)
class Hierarchy:
    root_key: rsa.RSAPrivateKey
    root_cert: x509.Certificate
    issuer_key: rsa.RSAPrivateKey
    issuer_cert: x509.Certificate

    @classmethod
    def generate(cls) -> Hierarchy:
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
        issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
        root_name = build_name(ROOT_NAME)
        root_cert = _ca_certificate(root_name, root_key.public_key(), root_name, root_key, None, path_length=None)
        issuer_cert = _ca_certificate(
            build_name(ISSUER_NAME), issuer_key.public_key(), root_name, root_key, root_cert, path_length=0
        )
        return cls(root_key, root_cert, issuer_key, issuer_cert)

    @classmethod
    def load(cls, directory: Path) -> Hierarchy:
        try:
            root_key = _load_key(directory / ROOT_KEY)
            issuer_key = _load_key(directory / ISSUER_KEY)
            root_cert = x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes())
            issuer_cert = x509.load_pem_x509_certificate((directory / ISSUER_CERT).read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(f"憑證中心金鑰檔無法讀取：{directory}（{exc}）") from exc
        hierarchy = cls(root_key, root_cert, issuer_key, issuer_cert)
        hierarchy.check(directory)
        return hierarchy

    def check(self, origin: Path) -> None:
        """Keys match certificates, the issuer is the FXML issuer and the root signed it."""
        def spki(key: rsa.RSAPublicKey) -> bytes:
            return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

        problems = []
        if spki(self.root_key.public_key()) != spki(self.root_cert.public_key()):  # type: ignore[arg-type]
            problems.append("root key does not match root certificate")
        if spki(self.issuer_key.public_key()) != spki(self.issuer_cert.public_key()):  # type: ignore[arg-type]
            problems.append("issuer key does not match issuer certificate")
        if self.issuer_cert.subject != build_name(ISSUER_NAME):
            problems.append(f"issuer is {self.issuer_cert.subject.rfc4514_string()}, not the FXML issuer")
        try:
            self.issuer_cert.verify_directly_issued_by(self.root_cert)
        except (InvalidSignature, ValueError, TypeError) as exc:
            problems.append(f"root did not issue the issuer certificate ({exc.__class__.__name__})")
        if problems:
            raise StateError(f"憑證中心金鑰檔不一致：{origin}（{'; '.join(problems)}）")

    def save(self, directory: Path) -> None:
        """Write the four PEM files; private keys readable by the owner only."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, key in ((ROOT_KEY, self.root_key), (ISSUER_KEY, self.issuer_key)):
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write_atomic(directory / name, pem, 0o600)
        for name, cert in ((ROOT_CERT, self.root_cert), (ISSUER_CERT, self.issuer_cert)):
            _write_atomic(directory / name, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def chain_pem(self) -> bytes:
        """Issuer then root, PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.issuer_cert, self.root_cert))


def ensure_hierarchy(state_dir: Path, keys_dir: Path | None = None) -> Hierarchy:
    """The hierarchy of ``state_dir``: loaded, or copied from ``keys_dir``, or
    generated, on first start. Two processes starting together make one."""
    with _locked(state_dir / ".hierarchy.lock"):
        present = [name for name in FILES if (state_dir / name).exists()]
        if len(present) == len(FILES):
            return Hierarchy.load(state_dir)
        if present:
            raise StateError(f"憑證中心金鑰檔不完整：{state_dir} 只有 {', '.join(present)}")
        if keys_dir is not None:
            hierarchy = Hierarchy.load(Path(keys_dir))
        else:
            hierarchy = Hierarchy.generate()
        hierarchy.save(state_dir)
        return hierarchy


def _ca_certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Name,
    signing_key: rsa.RSAPrivateKey,
    issuer_cert: x509.Certificate | None,
    *,
    path_length: int | None,
) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    aki_source = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value if issuer_cert else ski
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(FXML.new_serial())
        .not_valid_before(CA_NOT_BEFORE)
        .not_valid_after(CA_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=issuer_cert is not None,  # the issuing CA also signs OCSP answers
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(aki_source), critical=False)
    )
    return builder.sign(signing_key, hashes.SHA256())


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path.name} is not an RSA key")
    return key


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    # os.open applied the umask to mode: a private umask (fxmlsim's is 077)
    # keeps even the certificates to their owner; never widened beyond mode.
    os.replace(tmp, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

