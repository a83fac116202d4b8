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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fxml.card.piv import PIN_MAX, PIN_MIN, SIGNATURE_CONTAINERS, Algorithm
from simulator.card.keys import MANAGEMENT_ALGORITHMS, load_private_key
from simulator.errors import SimulatorError

FORMAT = "fxmlsim.card-image"
VERSION = 1
FILE_MODE = 0o600
#: 63Cx can only count to 15.
MAX_TRIES = 15

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


@dataclass(frozen=True)
class Secret:
    """A PIN or PUK with its persistent retry counter."""

    value: str = field(repr=False)
    tries_left: int
    max_tries: int = 3

    def __post_init__(self) -> None:
        if not pin_policy_ok(self.value):
            raise ValueError(f"must be {PIN_MIN} to {PIN_MAX} ASCII letters or digits")
        if not 1 <= self.max_tries <= MAX_TRIES:
            raise ValueError(f"max_tries must be 1..{MAX_TRIES}, not {self.max_tries}")
        if not 0 <= self.tries_left <= self.max_tries:
            raise ValueError(f"tries_left must be 0..{self.max_tries}, not {self.tries_left}")

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


@dataclass(frozen=True)
class ManagementKey:
    """The card administration key (key reference 9B)."""

    algorithm: Algorithm = Algorithm.TDEA_3KEY
    key: bytes = field(default=DEFAULT_MANAGEMENT_KEY, repr=False)

    def __post_init__(self) -> None:
        if self.algorithm not in MANAGEMENT_ALGORITHMS:
            raise ValueError(f"unsupported management key algorithm {int(self.algorithm):02X}")
        want = MANAGEMENT_ALGORITHMS[self.algorithm][1]
        if len(self.key) != want:
            raise ValueError(f"{self.algorithm.name} key must be {want} bytes, not {len(self.key)}")

    @property
    def block_size(self) -> int:
        return MANAGEMENT_ALGORITHMS[self.algorithm][0]

    @property
    def algorithm_name(self) -> str:
        return next(k for k, v in MANAGEMENT_ALGORITHM_NAMES.items() if v == self.algorithm)


@dataclass(frozen=True)
class KeyContainer:
    """One signature key container: its on-card private key and certificate object."""

    private_key_pem: str | None = field(default=None, repr=False)
    certificate_der: bytes | None = None

    @property
    def empty(self) -> bool:
        return self.private_key_pem is None and self.certificate_der is None


@dataclass(frozen=True)
class CardImage:
    """The persistent state of one card. Change it with :func:`dataclasses.replace`
    or the ``with_*`` helpers; never in place."""

    card_serial: str
    carrier: Carrier
    holder_id: str
    holder_name: str
    pin: Secret
    puk: Secret
    management_key: ManagementKey = field(default_factory=ManagementKey)
    #: Key containers by key reference (0x9A, 0x9C).
    containers: Mapping[int, KeyContainer] = field(
        default_factory=lambda: {int(ref): KeyContainer() for ref in SIGNATURE_CONTAINERS}
    )
    #: Other data objects by tag (CHUID, CCC, ...), each the content of its 53 wrapper.
    objects: Mapping[int, bytes] = field(default_factory=dict)
    profile_version: str = "1"
    version: int = VERSION

    def __post_init__(self) -> None:
        if set(self.containers) != {int(r) for r in SIGNATURE_CONTAINERS}:
            raise ValueError("containers must be exactly " + ", ".join(f"{int(r):02X}" for r in SIGNATURE_CONTAINERS))

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


# -- JSON ----------------------------------------------------------------------
def _pem_cert(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def image_to_json(image: CardImage) -> dict[str, Any]:
    """The image as the JSON document the file holds."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "card_serial": image.card_serial,
        "carrier": image.carrier.value,
        "holder_id": image.holder_id,
        "holder_name": image.holder_name,
        "profile_version": image.profile_version,
        "pin": {"value": image.pin.value, "tries_left": image.pin.tries_left, "max_tries": image.pin.max_tries},
        "puk": {"value": image.puk.value, "tries_left": image.puk.tries_left, "max_tries": image.puk.max_tries},
        "management_key": {
            "algorithm": image.management_key.algorithm_name,
            "key": image.management_key.key.hex().upper(),
        },
        "containers": {
            f"{ref:02X}": {
                "private_key": c.private_key_pem,
                "certificate": _pem_cert(c.certificate_der) if c.certificate_der is not None else None,
            }
            for ref, c in sorted(image.containers.items())
        },
        "objects": {f"{tag:X}": content.hex().upper() for tag, content in sorted(image.objects.items())},
    }


class _Reader:
    """Typed field access that turns every schema violation into one message."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise ValueError(f"{where or 'the document'} must be a JSON object, not {type(data).__name__}")
        self.data = data
        self.where = where
        self.seen: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if optional:
                return None
            raise ValueError(f"missing field {self._name(key)!r}")
        value = self.data[key]
        if optional and value is None:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ValueError(f"field {self._name(key)!r} must be {names}, not {type(value).__name__}")
        return value

    def child(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict), self._name(key))

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            raise ValueError(f"unknown field {self._name(extra[0])!r}")


def _secret(r: _Reader) -> Secret:
    secret = Secret(r.get("value", str), r.get("tries_left", int), r.get("max_tries", int))
    r.done()
    return secret


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"{what} is not hexadecimal") from exc


def _container(r: _Reader) -> KeyContainer:
    pem = r.get("private_key", str, optional=True)
    cert_pem = r.get("certificate", str, optional=True)
    r.done()
    if pem is not None:
        try:
            load_private_key(pem)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{r.where}.private_key is not a PKCS#8 PEM RSA-2048 key: {exc}") from exc
    der = None
    if cert_pem is not None:
        try:
            der = x509.load_pem_x509_certificate(cert_pem.encode("ascii")).public_bytes(serialization.Encoding.DER)
        except ValueError as exc:
            raise ValueError(f"{r.where}.certificate is not a PEM X.509 certificate: {exc}") from exc
    return KeyContainer(pem, der)


def image_from_json(data: Any) -> CardImage:
    """Build an image from its JSON document; ValueError says what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = ""
        if isinstance(data, dict) and {"holder_id", "pin"} <= set(data) and "format" not in data:
            hint = " (it looks like a card profile: create a card from it with 'fxmlsim card create')"
        found = data.get("format") if isinstance(data, dict) else None
        raise ValueError(f"not an fxmlsim card image: format marker is {found!r}, expected {FORMAT!r}{hint}")
    r = _Reader(data, "")
    r.get("format", str)
    version = r.get("version", int)
    if version != VERSION:
        raise ValueError(f"unsupported image version {version} (this fxmlsim reads version {VERSION})")
    carrier_text = r.get("carrier", str)
    try:
        carrier = Carrier(carrier_text)
    except ValueError:
        raise ValueError(f"field 'carrier' must be one of {[c.value for c in Carrier]}, not {carrier_text!r}") from None
    try:
        pin = _secret(r.child("pin"))
    except ValueError as exc:
        raise ValueError(f"pin: {exc}") from exc
    try:
        puk = _secret(r.child("puk"))
    except ValueError as exc:
        raise ValueError(f"puk: {exc}") from exc
    mk = r.child("management_key")
    alg_name = mk.get("algorithm", str)
    if alg_name not in MANAGEMENT_ALGORITHM_NAMES:
        names = sorted(MANAGEMENT_ALGORITHM_NAMES)
        raise ValueError(f"management_key.algorithm must be one of {names}, not {alg_name!r}")
    mkey = ManagementKey(MANAGEMENT_ALGORITHM_NAMES[alg_name], _hex(mk.get("key", str), "management_key.key"))
    mk.done()
    cr = r.child("containers")
    containers = {}
    for ref in SIGNATURE_CONTAINERS:
        containers[int(ref)] = _container(cr.child(f"{int(ref):02X}"))
    cr.done()
    objects: dict[int, bytes] = {}
    for tag_text, value in r.get("objects", dict).items():
        if not re.fullmatch(r"[0-9A-F]{2,6}", tag_text) or not isinstance(value, str):
            raise ValueError(f"objects entry {tag_text!r} must map a hex tag to a hex string")
        objects[int(tag_text, 16)] = _hex(value, f"objects.{tag_text}")
    image = CardImage(
        card_serial=r.get("card_serial", str),
        carrier=carrier,
        holder_id=r.get("holder_id", str),
        holder_name=r.get("holder_name", str),
        profile_version=r.get("profile_version", str),
        pin=pin,
        puk=puk,
        management_key=mkey,
        containers=containers,
        objects=objects,
    )
    r.done()
    return image


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
