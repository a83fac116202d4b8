"""Card profiles: the JSON files in fixtures/cards/ that describe cards to create.

A profile says who holds the card and how it is personalized (PIN, PUK,
management key, carrier) and which certificates the card bureau should put on
it. :func:`blank_image` turns a profile into a personalized card without
keys; the certificates are issued afterwards through the card itself (see
``simulator.personalize``). Unknown keys are refused, naming the key and the
file. The schema is in docs/card.md.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from fxml.card.piv import PIN_MAX, PIN_MIN, SIGNATURE_CONTAINERS, Algorithm, Obj
from fxml.card.tlv import tlv
from fxml.clock import ClockError, parse_instant
from simulator.card.image import (
    DEFAULT_MANAGEMENT_KEY,
    MANAGEMENT_ALGORITHM_NAMES,
    MAX_TRIES,
    CardImage,
    Carrier,
    ManagementKey,
    Secret,
    pin_policy_ok,
)
from simulator.errors import SimulatorError


class ProfileError(SimulatorError, ValueError):
    """A card profile that cannot be used; the message names the file."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"card profile {self.path}: {reason}")


_CONTAINER_NAMES = {f"{int(r):02X}": int(r) for r in SIGNATURE_CONTAINERS}
_SERIAL_RE = re.compile(r"[A-Za-z0-9-]{1,32}")
_HOLDER_RE = re.compile(r"[A-Za-z0-9]{1,20}")
_SUFFIX_RE = re.compile(r"[A-Za-z0-9]{1,16}")
#: Namespace of the CHUID GUIDs this simulator derives from card serial numbers.
GUID_NAMESPACE = uuid.UUID("6f0d6a52-3c43-5b0e-9a57-5457434146ff")


@dataclass(frozen=True)
class CertificateSpec:
    """One certificate the card bureau issues onto the card."""

    container: str  # "9A" or "9C"
    cn_suffix: str
    not_after: str | None = None
    issued_at: str | None = None

    @property
    def key_ref(self) -> int:
        return _CONTAINER_NAMES[self.container]


@dataclass(frozen=True)
class CardProfile:
    holder_id: str
    holder_name: str
    card_serial: str
    carrier: Carrier
    pin: str = field(repr=False)
    puk: str = field(repr=False)
    pin_tries: int = 3
    puk_tries: int = 3
    management_algorithm: Algorithm = Algorithm.TDEA_3KEY
    management_key: bytes = field(default=DEFAULT_MANAGEMENT_KEY, repr=False)
    card_expires: date = date(2035, 12, 31)
    certificates: tuple[CertificateSpec, ...] = field(default=())


_FIELDS = {
    "holder_id", "holder_name", "card_serial", "carrier", "pin", "puk", "pin_tries", "puk_tries",
    "management_key", "card_expires", "certificates",
}
_CERT_FIELDS = {"container", "cn_suffix", "not_after", "issued_at"}
_MK_FIELDS = {"algorithm", "key"}


def _str(data: dict[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{where}{key!r} must be a string")
    if pattern is not None and not pattern.fullmatch(value):
        raise ValueError(f"{where}{key!r} value {value!r} does not match {pattern.pattern}")
    return value


def _tries(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 3)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TRIES:
        raise ValueError(f"{key!r} must be an integer from 1 to {MAX_TRIES}")
    return value


def _unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ValueError(f"unknown key {where}{extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _certificate(data: Any, index: int) -> CertificateSpec:
    where = f"certificates[{index}]."
    if not isinstance(data, dict):
        raise ValueError(f"certificates[{index}] must be an object")
    _unknown(data, _CERT_FIELDS, where)
    container = _str(data, "container", where).upper()
    if container not in _CONTAINER_NAMES:
        raise ValueError(f"{where}'container' must be one of {sorted(_CONTAINER_NAMES)}, not {container!r}")
    spec = CertificateSpec(container, _str(data, "cn_suffix", where, _SUFFIX_RE))
    for key in ("not_after", "issued_at"):
        if key in data:
            text = _str(data, key, where)
            try:
                parse_instant(text)
            except ClockError as exc:
                raise ValueError(f"{where}{key!r}: {exc}") from exc
            spec = replace(spec, **{key: text})
    return spec


def profile_from_json(data: Any) -> CardProfile:
    """Build a profile from its JSON document; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a card profile must be a JSON object")
    _unknown(data, _FIELDS, "")
    carrier_text = _str(data, "carrier", "")
    try:
        carrier = Carrier(carrier_text)
    except ValueError:
        raise ValueError(f"'carrier' must be one of {[c.value for c in Carrier]}, not {carrier_text!r}") from None
    pin, puk = _str(data, "pin", ""), _str(data, "puk", "")
    for name, value in (("pin", pin), ("puk", puk)):
        if not pin_policy_ok(value):
            raise ValueError(f"{name!r} must be {PIN_MIN} to {PIN_MAX} ASCII letters or digits")
    algorithm, key = Algorithm.TDEA_3KEY, DEFAULT_MANAGEMENT_KEY
    if "management_key" in data:
        mk = data["management_key"]
        if not isinstance(mk, dict):
            raise ValueError("'management_key' must be an object {algorithm, key}")
        _unknown(mk, _MK_FIELDS, "management_key.")
        name = _str(mk, "algorithm", "management_key.")
        if name not in MANAGEMENT_ALGORITHM_NAMES:
            raise ValueError(f"management_key.'algorithm' must be one of {sorted(MANAGEMENT_ALGORITHM_NAMES)}")
        algorithm = MANAGEMENT_ALGORITHM_NAMES[name]
        try:
            key = bytes.fromhex(_str(mk, "key", "management_key."))
            ManagementKey(algorithm, key)
        except ValueError as exc:
            raise ValueError(f"management_key.'key': {exc}") from exc
    expires = date(2035, 12, 31)
    if "card_expires" in data:
        try:
            expires = date.fromisoformat(_str(data, "card_expires", ""))
        except ValueError as exc:
            raise ValueError(f"'card_expires' must be YYYY-MM-DD: {exc}") from exc
    certs_data = data.get("certificates", [])
    if not isinstance(certs_data, list):
        raise ValueError("'certificates' must be a list")
    certs = tuple(_certificate(c, i) for i, c in enumerate(certs_data))
    containers = [c.container for c in certs]
    if len(set(containers)) != len(containers):
        raise ValueError("two certificates name the same container")
    return CardProfile(
        holder_id=_str(data, "holder_id", "", _HOLDER_RE),
        holder_name=_str(data, "holder_name", ""),
        card_serial=_str(data, "card_serial", "", _SERIAL_RE),
        carrier=carrier,
        pin=pin,
        puk=puk,
        pin_tries=_tries(data, "pin_tries"),
        puk_tries=_tries(data, "puk_tries"),
        management_algorithm=algorithm,
        management_key=key,
        card_expires=expires,
        certificates=certs,
    )


def load_profile(path: Path | str) -> CardProfile:
    """Read a card profile; ProfileError (naming the file) if it is unusable."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(path, f"cannot be read: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors, and so is the
        # refusal of an integer of more than 4300 digits; nesting deeper than
        # the interpreter's stack is a RecursionError.
        raise ProfileError(path, f"is not valid JSON: {exc}") from exc
    try:
        return profile_from_json(data)
    except ValueError as exc:
        raise ProfileError(path, str(exc)) from exc


# -- personalization data --------------------------------------------------------
# FASC-N characters are 4-bit BCD, least significant bit first, plus odd parity.
_FASCN_SS, _FASCN_FS, _FASCN_ES = 0xB, 0xD, 0xF


def fasc_n(credential_digits: str) -> bytes:
    """A 25-byte FASC-N for a non-federal issuer (agency, system and credential
    codes 9999/9999/999999 as PIV-I uses them), person identifier from
    ``credential_digits`` (10 digits)."""
    if not re.fullmatch(r"\d{10}", credential_digits):
        raise ValueError("the person identifier must be 10 digits")
    fields = ["9999", "9999", "999999", "9", "9"]
    chars = [_FASCN_SS]
    for i, digits in enumerate(fields):
        if i:
            chars.append(_FASCN_FS)
        chars += [int(d) for d in digits]
    chars.append(_FASCN_FS)
    chars += [int(d) for d in credential_digits]
    chars += [1, 0, 0, 0, 0, 1]  # organizational category 1, organization 0000, association 1
    chars.append(_FASCN_ES)
    lrc = 0
    for c in chars:
        lrc ^= c
    chars.append(lrc)
    bits = ""
    for c in chars:
        data = "".join("1" if c >> i & 1 else "0" for i in range(4))
        bits += data + ("0" if data.count("1") % 2 else "1")
    return int(bits, 2).to_bytes(25, "big")


def card_guid(card_serial: str) -> bytes:
    """The 16-byte CHUID GUID of a card, derived from its serial number."""
    return uuid.uuid5(GUID_NAMESPACE, card_serial).bytes


def chuid(card_serial: str, expires: date) -> bytes:
    """Content of the CHUID object (inside its 53 wrapper)."""
    digits = "".join(ch for ch in card_serial if ch.isdigit())[-10:].rjust(10, "0")
    return (
        tlv(0x30, fasc_n(digits))
        + tlv(0x34, card_guid(card_serial))
        + tlv(0x35, expires.strftime("%Y%m%d").encode("ascii"))
        + tlv(0x3E, b"")
        + tlv(0xFE, b"")
    )


def blank_image(profile: CardProfile) -> CardImage:
    """A personalized card without keys or certificates."""
    return CardImage(
        card_serial=profile.card_serial,
        carrier=profile.carrier,
        holder_id=profile.holder_id,
        holder_name=profile.holder_name,
        pin=Secret(profile.pin, profile.pin_tries, profile.pin_tries),
        puk=Secret(profile.puk, profile.puk_tries, profile.puk_tries),
        management_key=ManagementKey(profile.management_algorithm, profile.management_key),
        objects={Obj.CHUID: chuid(profile.card_serial, profile.card_expires)},
    )
