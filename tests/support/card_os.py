"""Helpers for the card OS's own tests: a card on a temporary image, raw APDU
exchange, and the host side of management-key authentication."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.card.apdu import CommandApdu
from fxml.card.piv import Algorithm, pad_pin
from fxml.card.tlv import parse_tlv, tlv, unpack
from simulator.card.image import CardImage, load_image, save_image
from simulator.card.keys import encrypt_block
from simulator.card.os import TwcaCardOS
from simulator.card.profile import CardProfile, blank_image, load_profile
from tests.support.card import fixed_key
from tests.support.keys import rsa_private
from tests.support.paths import repo_path

#: The shipped 大卡 profile, without certificates: the card the tests start from.
PROFILE = replace(load_profile(repo_path("fixtures", "cards", "eoi-large.json")), certificates=())
PIN, PUK, MANAGEMENT_KEY = PROFILE.pin, PROFILE.puk, PROFILE.management_key


_KEYS = (fixed_key(i) for i in itertools.cycle([1, 2]))


def key_cycle() -> rsa.RSAPrivateKey:
    """Cheap stand-in for on-card key generation: pre-generated keys 1 and 2, in turn."""
    return next(_KEYS)


@dataclass
class Reply:
    data: bytes
    sw: int

    def __repr__(self) -> str:
        return f"Reply({self.data.hex().upper()}, {self.sw:04X})"


class Card:
    """A TwcaCardOS on an image file in a temporary folder."""

    def __init__(self, path: Path, profile: CardProfile = PROFILE):
        self.path = path
        self.profile = profile
        if not path.exists():
            save_image(blank_image(profile), path)
        self.os = TwcaCardOS.open(path, key_factory=key_cycle)

    def reopen(self) -> None:
        """The card pulled out and put back (or the simulator restarted)."""
        self.os.powerDown()
        self.os = TwcaCardOS.open(self.path, key_factory=key_cycle)

    @property
    def image(self) -> CardImage:
        """The image file as it is now."""
        return load_image(self.path)

    def private_key(self, ref: int) -> rsa.RSAPrivateKey:
        """The private key the image file holds in container ``ref``."""
        pem = self.image.containers[ref].private_key_pem
        assert pem is not None, f"container {ref:02X} holds no key"
        return rsa_private(serialization.load_pem_private_key(pem.encode(), None))

    def raw(self, apdu: bytes | str) -> bytes:
        return self.os.execute(bytes.fromhex(apdu) if isinstance(apdu, str) else apdu)

    def send(self, apdu: bytes | str | CommandApdu) -> Reply:
        if isinstance(apdu, CommandApdu):
            apdu = apdu.to_bytes()
        r = self.raw(apdu)
        return Reply(r[:-2], (r[-2] << 8) | r[-1])

    def cmd(self, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None, cla: int = 0) -> Reply:
        return self.send(CommandApdu(cla, ins, p1, p2, data, le))

    def whole(self, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = 256) -> Reply:
        """Send a command (chained if long), fetch 61xx parts, return the whole answer."""
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        for chunk in chunks[:-1]:
            r = self.cmd(ins, p1, p2, chunk, cla=0x10)
            assert r.sw == 0x9000, r
        r = self.cmd(ins, p1, p2, chunks[-1], le)
        out = r.data
        while r.sw >> 8 == 0x61:
            r = self.cmd(0xC0, 0, 0, le=(r.sw & 0xFF) or 256)
            out += r.data
        return Reply(out, r.sw)

    # -- host-side helpers ---------------------------------------------------
    def verify(self, pin: str = PIN) -> Reply:
        return self.cmd(0x20, 0x00, 0x80, pad_pin(pin))

    def admin(self, key: bytes = MANAGEMENT_KEY, alg: Algorithm = Algorithm.TDEA_3KEY) -> Reply:
        """Challenge-response management-key authentication."""
        r = self.cmd(0x87, alg, 0x9B, tlv(0x7C, tlv(0x81, b"")))
        assert r.sw == 0x9000, r
        challenge = parse_tlv(unpack(0x7C, r.data))[0x81]
        return self.cmd(0x87, alg, 0x9B, tlv(0x7C, tlv(0x82, encrypt_block(alg, key, challenge))))

    def generate(self, ref: int) -> Reply:
        return self.whole(0x47, 0x00, ref, tlv(0xAC, tlv(0x80, b"\x07")))

    def sign(self, ref: int, block: bytes) -> Reply:
        return self.whole(0x87, 0x07, ref, tlv(0x7C, tlv(0x82, b"") + tlv(0x81, block)))

    def get_data(self, tag: int) -> Reply:
        return self.whole(0xCB, 0x3F, 0xFF, tlv(0x5C, tag.to_bytes((tag.bit_length() + 7) // 8, "big")))

    def put_data(self, tag: int, content: bytes) -> Reply:
        return self.whole(0xDB, 0x3F, 0xFF, tlv(0x5C, tag.to_bytes(3, "big")) + tlv(0x53, content), le=None)


def public_key_of(reply: Reply) -> rsa.RSAPublicKey:
    fields = parse_tlv(unpack(0x7F49, reply.data))
    return rsa.RSAPublicNumbers(int.from_bytes(fields[0x82], "big"), int.from_bytes(fields[0x81], "big")).public_key()


def assert_refused(load: Callable[[Path], object], error: type[Exception], path: Path, *fragments: str) -> str:
    """``load(path)`` raises ``error`` whose message names the file and has every fragment."""
    try:
        load(path)
    except error as exc:
        message = str(exc)
    else:
        raise AssertionError(f"{path} was accepted")
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message
