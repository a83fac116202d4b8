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
from dataclasses import field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, Strict, StrictInt, StrictStr

from fxml.card.piv import SIGNATURE_CONTAINERS, Algorithm, Obj
from fxml.card.tlv import tlv
from fxml.clock import ClockError, parse_instant
from simulator.card.image import MAX_TRIES, CardImage, CarrierField, ManagementKey, PinValue, Secret
from simulator.errors import SimulatorError
from simulator.schema import Model, Refusal, field_path, json_keys, model, passes, rule


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


class ProfileModel(Model):
    """A card profile or a part of it: refused with a ValueError naming the key (``certificates[0].'container'``)."""

    @classmethod
    def refused(cls, refusals: list[Refusal]) -> Exception:
        return ValueError("; ".join(_said(r) for r in refusals))


_TYPES = {"string_type": "a string", "int_type": "an integer", "list_type": "a list", "tuple_type": "a list",
          "dataclass_type": "an object", "dict_type": "an object", "date_type": "a date (YYYY-MM-DD)"}


def _said(refusal: Refusal) -> str:
    *where, key = refusal.loc or ("",)
    prefix = field_path(tuple(where))
    name = f"{prefix}." if prefix and isinstance(key, str) else prefix
    name += f"[{key}]" if isinstance(key, int) else repr(key)
    if refusal.type in ("unexpected_keyword_argument", "extra_forbidden"):
        inside = CertificateSpec if where[:1] == ["certificates"] else ManagementKey if where else CardProfile
        return f"unknown key {name} (allowed: {', '.join(sorted(json_keys(inside)))})"
    if refusal.type in ("missing", "missing_argument"):
        return f"{name} is missing"
    if refusal.type in _TYPES:
        return f"{name} must be {_TYPES[refusal.type]}"
    return f"{name}: {refusal.message}"


def _matching(pattern: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise rule(f"value {value!r} does not match {pattern.pattern}")
        return value

    return AfterValidator(check)


def _container(value: str) -> str:
    if value.upper() not in _CONTAINER_NAMES:
        raise rule(f"must be one of {sorted(_CONTAINER_NAMES)}, not {value.upper()!r}")
    return value.upper()


def _tries(value: int) -> int:
    if not 1 <= value <= MAX_TRIES:
        raise rule(f"must be an integer from 1 to {MAX_TRIES}")
    return value


def _iso_date(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise rule(f"must be YYYY-MM-DD: {exc}") from None


Instant = Annotated[str, Strict(), passes(parse_instant, ClockError)]
Tries = Annotated[StrictInt, AfterValidator(_tries)]


@model
class CertificateSpec(ProfileModel):
    """One certificate the card bureau issues onto the card."""

    container: Annotated[str, Strict(), AfterValidator(_container)]  # "9A" or "9C"
    cn_suffix: Annotated[str, Strict(), _matching(_SUFFIX_RE)]
    not_after: Instant | None = None
    issued_at: Instant | None = None

    @property
    def key_ref(self) -> int:
        return _CONTAINER_NAMES[self.container]


def _one_per_container(certificates: tuple[CertificateSpec, ...]) -> tuple[CertificateSpec, ...]:
    containers = [c.container for c in certificates]
    if len(set(containers)) != len(containers):
        raise rule("two certificates name the same container")
    return certificates


@model
class CardProfile(ProfileModel):
    """Who holds the card and how it is personalized (the file's ``management_key`` is
    ``{algorithm, key}``, here :attr:`management`); the certificates it gets."""

    holder_id: Annotated[str, Strict(), _matching(_HOLDER_RE)]
    holder_name: StrictStr
    card_serial: Annotated[str, Strict(), _matching(_SERIAL_RE)]
    carrier: CarrierField
    pin: PinValue = field(repr=False)
    puk: PinValue = field(repr=False)
    pin_tries: Tries = 3
    puk_tries: Tries = 3
    management: ManagementKey = Field(
        default_factory=ManagementKey, repr=False, validation_alias=AliasChoices("management_key", "management")
    )
    card_expires: Annotated[date, Strict(), BeforeValidator(_iso_date)] = date(2035, 12, 31)
    certificates: Annotated[tuple[CertificateSpec, ...], AfterValidator(_one_per_container)] = ()

    @property
    def management_algorithm(self) -> Algorithm:
        return self.management.algorithm

    @property
    def management_key(self) -> bytes:
        return self.management.key


def profile_from_json(data: Any) -> CardProfile:
    """Build a profile from its JSON document; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a card profile must be a JSON object")
    return CardProfile.from_json(data)


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
        management_key=profile.management,
        objects={Obj.CHUID: chuid(profile.card_serial, profile.card_expires)},
    )
