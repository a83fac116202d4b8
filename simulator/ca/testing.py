"""Fast, reproducible CAs for tests, fixtures and benchmarks.

- :class:`KeyCache`: RSA keys and a pinned CA hierarchy generated once and
  kept as PEM files in a folder (pytest's cache, say), so a test run pays
  for key generation only the first time.
- :func:`make_csr`: a PKCS#10 request for a key and subject.
- :class:`ServiceProcess`: ``python -m simulator.ca serve`` as a subprocess
  on 127.0.0.1, port 0; its URL from the READY line, its admin token from
  its state folder; stopped by pid.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.ca.client import CaClient, read_token
from simulator.ca.hierarchy import FILES, Hierarchy
from simulator.ca.profile import NameSpec, build_name
from simulator.ca.service import CertificateAuthority
from simulator.ca.token import token_path
from simulator.procs import ReadyChild


class KeyCache:
    """PEM files in ``directory``: made on first use, reused afterwards."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def rsa(self, name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
        path = self.directory / f"{name}-rsa{bits}.pem"
        with self._lock:
            if not path.exists():
                key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
                _replace(path, key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ))
        loaded = serialization.load_pem_private_key(path.read_bytes(), None, unsafe_skip_rsa_key_validation=True)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        return loaded

    def hierarchy(self, name: str = "pinned") -> Path:
        """A folder with a root and issuing CA (the four PEM files), for ``keys_dir``."""
        directory = self.directory / f"hierarchy-{name}"
        with self._lock:
            if not all((directory / f).exists() for f in FILES):
                staging = self.directory / f".hierarchy-{name}-{os.getpid()}"
                Hierarchy.generate().save(staging)
                try:
                    os.rename(staging, directory)
                except OSError:  # another process made it first
                    for f in FILES:
                        (staging / f).unlink()
                    staging.rmdir()
        return directory


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def make_csr(
    key: rsa.RSAPrivateKey, subject: x509.Name | NameSpec,
    algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
) -> bytes:
    """DER of a PKCS#10 request for ``key`` in the name of ``subject``."""
    name = subject if isinstance(subject, x509.Name) else build_name(subject)
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm or hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def break_signature(csr_der: bytes) -> bytes:
    """The same request with the last byte of its signature flipped."""
    return csr_der[:-1] + bytes([csr_der[-1] ^ 0x01])


class ServiceProcess(ReadyChild):
    """``python -m simulator.ca serve`` on 127.0.0.1 and an ephemeral port."""

    what = "CA service"

    def __init__(self, state_dir: Path, *, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()):
        self.state_dir = Path(state_dir)
        super().__init__(self.state_dir.parent / f"{self.state_dir.name}-serve.log", {**os.environ, **(env or {})})
        self.extra_args = extra_args

    def command(self) -> list[str]:
        return [sys.executable, "-m", "simulator.ca", "serve", "--state-dir", str(self.state_dir),
                "--host", "127.0.0.1", "--port", "0", *self.extra_args]

    @property
    def token(self) -> str:
        """The service's admin token (the file it made in its state folder)."""
        return read_token(token_path(self.state_dir))

    def admin_client(self, **kwargs: object) -> CaClient:
        """A client with the admin token: it may register, issue, suspend, resume and revoke."""
        return CaClient(self.url, token=self.token, **kwargs)  # type: ignore[arg-type]


#: The fixture holder of fixtures/cards/eoi-large.json.
HOLDER_ID, HOLDER_NAME, CN_SUFFIX = "99000001", "虛構測試貿易股份有限公司", "2015"


def key_cache(pytest_config: object, fallback: Path) -> KeyCache:
    """A key cache in pytest's cache folder (kept between runs), else in ``fallback``."""
    cache = getattr(pytest_config, "cache", None)
    return KeyCache(Path(cache.mkdir("fxmlsim-ca-keys")) if cache is not None else fallback)


def open_test_ca(state_dir: Path, keys: KeyCache, clock: object, **kwargs: object) -> CertificateAuthority:
    """A CA on the pinned hierarchy with the fixture holder registered."""
    ca = CertificateAuthority.open(state_dir, clock=clock, keys_dir=keys.hierarchy(), **kwargs)  # type: ignore[arg-type]
    ca.ensure_holder(HOLDER_ID, HOLDER_NAME, CN_SUFFIX, actor="fixture")
    return ca


def assert_only_refusal_recorded(before: dict[str, list[Any]], after: dict[str, list[Any]], code: str) -> None:
    """Between two :meth:`Registry.dump`\\ s a refusal changed no table but the
    audit log, which gained exactly one entry recording ``code``."""
    for table in before:
        if table != "audit":
            assert after[table] == before[table], f"a refusal changed table {table}"
    assert after["audit"][:len(before["audit"])] == before["audit"], "the audit log was rewritten"
    new = after["audit"][len(before["audit"]):]
    assert len(new) == 1 and new[0][5] == code, f"expected one audit entry for {code}, got {new}"
