"""Operating settings of the simulated CA (what the certificate profile does not fix).

Read from ``<state_dir>/config.json`` when it exists, or given to
:meth:`CertificateAuthority.open`; unknown keys are refused, naming the key.
The settings are a model (:mod:`simulator.schema`): the same rules whether they
are built in Python or read from the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import PlainValidator

from simulator.errors import SimulatorError
from simulator.schema import Model, Refusal, field_path, json_keys, model, passes, refused_as, rule

CONFIG_FILE = "config.json"


class ConfigError(SimulatorError, ValueError):
    """A CA setting that cannot be used; the message names it."""


#: Where certificates point when no service of this state folder has run yet.
DEFAULT_BASE_URL = "http://127.0.0.1:8470"


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"base URL must be http(s)://host[:port][/path], not {url!r}")
    return url.rstrip("/")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise rule(f"must be a non-negative integer, not {value!r}")
    return value


#: A number of days, hours or seconds.
Count = Annotated[int, PlainValidator(_count)]


@model
class CaConfig(Model):
    #: Renewal (更新) opens this many days before the current certificate's not-after.
    renewal_window_days: Count = 30
    #: A 授權碼 (one-time authorization code of a branch's approval) may be used this many days.
    authorization_days: Count = 7
    #: Base URL that CRL distribution point and AIA point at. None: the URL the
    #: last ``serve`` of this state folder listened on (kept in the registry),
    #: else :data:`DEFAULT_BASE_URL`.
    base_url: Annotated[str, passes(check_base_url, ConfigError)] | None = None
    #: nextUpdate of a CRL, after its thisUpdate.
    crl_validity_hours: Count = 24
    #: A CRL is signed anew when revocations change or it is this old.
    crl_refresh_seconds: Count = 300
    #: nextUpdate of an OCSP response, after its thisUpdate.
    ocsp_validity_seconds: Count = 3600
    #: A signed OCSP answer without nonce is reused for this long (unless a status changes).
    ocsp_cache_seconds: Count = 60
    #: SQLite synchronous mode: "full" (each commit reaches the disk) or "normal"
    #: (safe against a crash of the process, not of the machine).
    durability: Annotated[
        Literal["full", "normal"], refused_as(lambda value: f"must be 'full' or 'normal', not {value!r}")
    ] = "full"

    @classmethod
    def refused(cls, refusals: list[Refusal]) -> Exception:
        return ConfigError("; ".join(_said(r) for r in refusals))

    @classmethod
    def from_mapping(cls, data: Any, origin: str = "CA config") -> CaConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: must be a JSON object")
        try:
            return cls.from_json(data)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None

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


def _said(refusal: Refusal) -> str:
    name = field_path(refusal.loc)
    if refusal.type in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"unknown key {name!r} (allowed: {', '.join(sorted(json_keys(CaConfig)))})"
    if refusal.type == "string_type":
        return f"CA setting {name!r} must be a string"
    return f"CA setting {name!r}: {refusal.message}"
