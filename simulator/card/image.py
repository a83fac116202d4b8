"""The card image: everything a virtual TWCA chip card remembers, in one JSON file.

A card image is what the chip's EEPROM would hold: the 憑證載具密碼 (PIN) and
its retry counter, the PUK, the management key, the TWCA card data, the
private keys made on the card and the certificate objects. One card, one
file, human-readable (keys and certificates as PEM), written atomically so a
card pulled out mid-command is found as it was before or after that command.
The schema is in docs/card.md.

Images are immutable values: the card OS builds the next image and saves it
before it answers, and only then keeps it.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field, replace
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    StrictInt,
    StrictStr,
    model_validator,
)

from fxml.card.piv import PIN_MAX, PIN_MIN, SIGNATURE_CONTAINERS, Algorithm
from simulator.card.keys import MANAGEMENT_ALGORITHMS, load_private_key
from simulator.errors import SimulatorError
from simulator.schema import Model, Refusal, field_path, model, passes, refuse, refused_as, rule

FORMAT = "fxmlsim.card-image"
VERSION = 1
FILE_MODE = 0o600
#: 63Cx can only count to 15.
MAX_TRIES = 15
_V = TypeVar("_V")

_PIN_RE = re.compile(r"[A-Za-z0-9]{%d,%d}" % (PIN_MIN, PIN_MAX))  # noqa: UP031 - a regex's braces read better than {{ }}

#: The management-key algorithm names used in images and profiles.
MANAGEMENT_ALGORITHM_NAMES: dict[str, Algorithm] = {
    "3DES": Algorithm.TDEA_3KEY,
    "AES128": Algorithm.AES_128,
    "AES256": Algorithm.AES_256,
}

#: The PIV default management key (SP 800-78-4 test key, 3-key TDEA).
DEFAULT_MANAGEMENT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")


class CardImageError(SimulatorError):
    """A card image file that cannot be used; the message names the file."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"card image {self.path}: {reason}")


class ImageSyncError(SimulatorError, OSError):
    """The new image replaced the old one, but its folder could not be synced:
    the file holds the new image, which a power loss might still undo."""


class Carrier(enum.Enum):
    """The card form factor, as the bank's screens name the storage medium."""

    LARGE = "大卡"
    SMALL = "小卡"

    @property
    def display(self) -> str:
        """The carrier as the card reports it: 憑證晶片卡(大卡) or 憑證晶片卡(小卡)."""
        return f"憑證晶片卡({self.value})"


def pin_policy_ok(value: str) -> bool:
    """The 憑證載具密碼 policy: 6 to 8 ASCII letters and digits (also used for the PUK)."""
    return bool(_PIN_RE.fullmatch(value))


class ImageModel(Model):
    """A part of a card image: refused with a ValueError that names each field."""

    @classmethod
    def refused(cls, refusals: list[Refusal]) -> Exception:
        return ValueError("; ".join(_said(r) for r in refusals))


_TYPES = {"string_type": "a string", "int_type": "an integer", "dict_type": "an object",
          "dataclass_type": "an object", "bytes_type": "bytes"}


def _said(refusal: Refusal) -> str:
    path = field_path(refusal.loc)
    if refusal.type == "missing":
        return f"missing field {path!r}"
    if refusal.type in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"unknown field {path!r}"
    if refusal.type in _TYPES:
        return f"field {path!r} must be {_TYPES[refusal.type]}"
    return f"{path}: {refusal.message}" if path else refusal.message


def _pin(value: str) -> str:
    if not pin_policy_ok(value):
        raise rule(f"must be {PIN_MIN} to {PIN_MAX} ASCII letters or digits")
    return value


def _hex(value: object) -> object:
    """Bytes from the file's hexadecimal (bytes in Python stay as they are)."""
    if not isinstance(value, str):
        return value
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise rule("is not hexadecimal") from None


def _algorithm(value: object) -> object:
    """A management-key algorithm from its name in the file (3DES, AES128, AES256)."""
    if isinstance(value, str):
        if value not in MANAGEMENT_ALGORITHM_NAMES:
            raise rule(f"must be one of {sorted(MANAGEMENT_ALGORITHM_NAMES)}, not {value!r}")
        return MANAGEMENT_ALGORITHM_NAMES[value]
    return value


def _managed(algorithm: Algorithm) -> Algorithm:
    if algorithm not in MANAGEMENT_ALGORITHMS:
        raise rule(f"unsupported management key algorithm {int(algorithm):02X}")
    return algorithm


def _certificate(value: object) -> object:
    """A certificate's DER from the file's PEM (DER in Python stays as it is)."""
    if not isinstance(value, str):
        return value
    try:
        return x509.load_pem_x509_certificate(value.encode("ascii")).public_bytes(serialization.Encoding.DER)
    except ValueError as exc:
        raise rule(f"is not a PEM X.509 certificate: {exc}") from None


def _pem_cert(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _hex_key(pattern: str) -> Callable[[object], object]:
    """A mapping's key from the file's hexadecimal (``9A``, ``5FC102``); ints in Python stay."""

    def parse(value: object) -> object:
        if not isinstance(value, str):
            return value
        if not re.fullmatch(pattern, value):
            raise rule(f"{value!r} is not a hexadecimal tag")
        return int(value, 16)

    return parse


def _sorted(mapping: Mapping[int, _V]) -> dict[int, _V]:
    return dict(sorted(mapping.items()))


def _signature_containers(containers: dict[int, KeyContainer]) -> dict[int, KeyContainer]:
    """Exactly the card's signature key containers (9A and 9C), in order."""
    wanted = {int(r) for r in SIGNATURE_CONTAINERS}
    missing = [((f"{ref:02X}",), "missing: the card has containers 9A and 9C") for ref in wanted - set(containers)]
    unknown = [((f"{ref:02X}",), "unknown: the card has containers 9A and 9C") for ref in set(containers) - wanted]
    refuse(sorted(missing) + sorted(unknown))
    return _sorted(containers)


#: A PIN or PUK value.
PinValue = Annotated[str, Strict(), AfterValidator(_pin)]
#: Bytes written as upper-case hexadecimal.
HexBytes = Annotated[bytes, BeforeValidator(_hex), PlainSerializer(lambda b: b.hex().upper(), when_used="json")]
ManagementAlgorithm = Annotated[
    Algorithm, BeforeValidator(_algorithm), AfterValidator(_managed),
    PlainSerializer(lambda a: next(k for k, v in MANAGEMENT_ALGORITHM_NAMES.items() if v == a), when_used="json"),
]
PrivateKeyPem = Annotated[str, Strict(), passes(
    load_private_key, ValueError, TypeError, said=lambda exc: f"is not a PKCS#8 PEM RSA-2048 key: {exc}"
)]
CertificateDer = Annotated[bytes, BeforeValidator(_certificate), PlainSerializer(_pem_cert, when_used="json")]
ContainerRef = Annotated[int, BeforeValidator(_hex_key("[0-9A-F]{2}")),
                         PlainSerializer(lambda ref: f"{ref:02X}", when_used="json")]
ObjectTag = Annotated[int, BeforeValidator(_hex_key("[0-9A-F]{2,6}")),
                      PlainSerializer(lambda tag: f"{tag:X}", when_used="json")]


#: The carrier, written as 大卡 or 小卡.
CarrierField = Annotated[
    Carrier, refused_as(lambda value: f"must be one of {[c.value for c in Carrier]}, not {value!r}")
]


def _image_version(version: int) -> int:
    if version != VERSION:
        raise rule(f"unsupported image version {version} (this fxmlsim reads version {VERSION})")
    return version


@model
class Secret(ImageModel):
    """A PIN or PUK with its persistent retry counter."""

    value: PinValue = field(repr=False)
    tries_left: StrictInt
    max_tries: StrictInt = 3

    @model_validator(mode="after")
    def _counts(self) -> Self:
        if not 1 <= self.max_tries <= MAX_TRIES:
            refuse([(("max_tries",), f"must be 1..{MAX_TRIES}, not {self.max_tries}")])
        if not 0 <= self.tries_left <= self.max_tries:
            refuse([(("tries_left",), f"must be 0..{self.max_tries}, not {self.tries_left}")])
        return self

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


@model
class ManagementKey(ImageModel):
    """The card administration key (key reference 9B)."""

    algorithm: ManagementAlgorithm = Algorithm.TDEA_3KEY
    key: HexBytes = field(default=DEFAULT_MANAGEMENT_KEY, repr=False)

    @model_validator(mode="after")
    def _key_length(self) -> Self:
        want = MANAGEMENT_ALGORITHMS[self.algorithm][1]
        if len(self.key) != want:
            refuse([(("key",), f"{self.algorithm.name} key must be {want} bytes, not {len(self.key)}")])
        return self

    @property
    def block_size(self) -> int:
        return MANAGEMENT_ALGORITHMS[self.algorithm][0]

    @property
    def algorithm_name(self) -> str:
        return next(k for k, v in MANAGEMENT_ALGORITHM_NAMES.items() if v == self.algorithm)


@model
class KeyContainer(ImageModel):
    """One signature key container: its on-card private key and certificate object
    (in the file: ``private_key`` as PKCS#8 PEM, ``certificate`` as PEM)."""

    private_key_pem: PrivateKeyPem | None = Field(
        default=None, repr=False, validation_alias=AliasChoices("private_key", "private_key_pem"),
        serialization_alias="private_key",
    )
    certificate_der: CertificateDer | None = Field(
        default=None, validation_alias=AliasChoices("certificate", "certificate_der"), serialization_alias="certificate"
    )

    @property
    def empty(self) -> bool:
        return self.private_key_pem is None and self.certificate_der is None


def _empty_containers() -> dict[int, KeyContainer]:
    return {int(ref): KeyContainer() for ref in SIGNATURE_CONTAINERS}


@model(kw_only=True)
class CardImage(ImageModel):
    """The persistent state of one card. Change it with :func:`dataclasses.replace`
    or the ``with_*`` helpers; never in place. Fields in the file's order."""

    version: Annotated[StrictInt, AfterValidator(_image_version)] = VERSION
    card_serial: StrictStr
    carrier: CarrierField
    holder_id: StrictStr
    holder_name: StrictStr
    profile_version: StrictStr = "1"
    pin: Secret
    puk: Secret
    management_key: ManagementKey = field(default_factory=ManagementKey)
    #: Key containers by key reference (0x9A, 0x9C).
    containers: Annotated[Mapping[ContainerRef, KeyContainer], AfterValidator(_signature_containers)] = field(
        default_factory=_empty_containers
    )
    #: Other data objects by tag (CHUID, CCC, ...), each the content of its 53 wrapper.
    objects: Annotated[Mapping[ObjectTag, HexBytes], AfterValidator(_sorted)] = field(default_factory=dict)

    def with_container(self, ref: int, container: KeyContainer) -> CardImage:
        return replace(self, containers={**self.containers, ref: container})

    def with_object(self, tag: int, content: bytes | None) -> CardImage:
        objects = dict(self.objects)
        if content is None:
            objects.pop(tag, None)
        else:
            objects[tag] = content
        return replace(self, objects=objects)

    def certificates(self) -> Iterator[x509.Certificate]:
        """The certificates on the card, in container order (9A, then 9C)."""
        for ref in SIGNATURE_CONTAINERS:
            der = self.containers[int(ref)].certificate_der
            if der is not None:
                yield x509.load_der_x509_certificate(der)

    def to_json(self) -> dict[str, Any]:
        """The JSON document the file holds: the format marker, then every field."""
        return {"format": FORMAT, **super().to_json()}


# -- JSON ----------------------------------------------------------------------
def image_to_json(image: CardImage) -> dict[str, Any]:
    """The image as the JSON document the file holds."""
    return image.to_json()


def image_from_json(data: Any) -> CardImage:
    """Build an image from its JSON document; ValueError says what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = ""
        if isinstance(data, dict) and {"holder_id", "pin"} <= set(data) and "format" not in data:
            hint = " (it looks like a card profile: create a card from it with 'fxmlsim card create')"
        found = data.get("format") if isinstance(data, dict) else None
        raise ValueError(f"not an fxmlsim card image: format marker is {found!r}, expected {FORMAT!r}{hint}")
    return CardImage.from_json({k: v for k, v in data.items() if k != "format"})


# -- files ---------------------------------------------------------------------
def load_image(path: Path | str) -> CardImage:
    """Read a card image; CardImageError (naming the file) for anything unusable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CardImageError(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CardImageError(path, f"is not UTF-8 text (byte {exc.start}); is it a card image?") from exc
    except json.JSONDecodeError as exc:
        raise CardImageError(path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except (ValueError, RecursionError) as exc:
        # json.loads refuses integers of more than 4300 digits with a plain
        # ValueError and nesting deeper than the interpreter's stack with RecursionError.
        raise CardImageError(path, f"is not a usable JSON document: {exc}") from exc
    try:
        return image_from_json(data)
    except (ValueError, TypeError) as exc:
        raise CardImageError(path, str(exc)) from exc


def encode_image(image: CardImage) -> bytes:
    return (json.dumps(image_to_json(image), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def save_image(image: CardImage, path: Path | str) -> None:
    """Write ``image`` to ``path`` atomically and durably (mode 0600).

    A temporary file in the same folder is written and fsynced, renamed over
    the target, and the folder is fsynced: at any instant the path holds the
    old image or the new one, whole. An OSError means the old image is still
    in place, except :class:`ImageSyncError`: only the final folder sync
    failed, and the path already holds the new image.
    """
    path = Path(path)
    payload = encode_image(image)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        _fsync_dir(directory)
    except OSError as exc:
        raise ImageSyncError(exc.errno, f"image written but its folder not synced: {exc.strerror or exc}") from exc


def _fsync_dir(directory: Path) -> None:
    dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
