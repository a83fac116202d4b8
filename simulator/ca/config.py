"""Operating settings of the simulated CA (what the certificate profile does not fix).

Read from ``<state_dir>/config.json`` when it exists, or given to
:meth:`CertificateAuthority.open`; unknown keys are refused, naming the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simulator.errors import SimulatorError

CONFIG_FILE = "config.json"


class ConfigError(SimulatorError, ValueError):
    """A CA setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class CaConfig:
    #: Renewal (更新) opens this many days before the current certificate's not-after.
    renewal_window_days: int = 30
    #: Base URL that CRL distribution point and AIA point at. None: the URL the
    #: last ``serve`` of this state folder listened on (kept in the registry),
    #: else :data:`DEFAULT_BASE_URL`.
    base_url: str | None = None
    #: nextUpdate of a CRL, after its thisUpdate.
    crl_validity_hours: int = 24
    #: A CRL is signed anew when revocations change or it is this old.
    crl_refresh_seconds: int = 300
    #: nextUpdate of an OCSP response, after its thisUpdate.
    ocsp_validity_seconds: int = 3600
    #: A signed OCSP answer without nonce is reused for this long (unless a status changes).
    ocsp_cache_seconds: int = 60
    #: SQLite synchronous mode: "full" (each commit reaches the disk) or "normal"
    #: (safe against a crash of the process, not of the machine).
    durability: str = "full"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ConfigError(f"CA setting {f.name!r} must be a non-negative integer, not {value!r}")
        if self.durability not in ("full", "normal"):
            raise ConfigError(f"CA setting 'durability' must be 'full' or 'normal', not {self.durability!r}")
        if self.base_url is not None:
            check_base_url(self.base_url)

    @classmethod
    def from_mapping(cls, data: Any, origin: str = "CA config") -> CaConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: must be a JSON object")
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"{origin}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        return cls(**data)

    @classmethod
    def load(cls, state_dir: Path) -> CaConfig:
        """``<state_dir>/config.json``, or the defaults when there is none."""
        path = Path(state_dir) / CONFIG_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_mapping(data, str(path))


#: Where certificates point when no service of this state folder has run yet.
DEFAULT_BASE_URL = "http://127.0.0.1:8470"


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"base URL must be http(s)://host[:port][/path], not {url!r}")
    return url.rstrip("/")
