"""Random and hostile APDUs: the card always answers with a status word, never
crashes (no 6F00), never hangs, and keeps a valid image."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fxml.card.apdu import CommandApdu
from fxml.card.piv import INS, Algorithm, pad_pin
from fxml.card.tlv import parse_tlv, tlv, unpack
from simulator.card.image import CardImage, image_from_json, image_to_json
from simulator.card.keys import encrypt_block
from simulator.card.os import TwcaCardOS
from simulator.card.profile import blank_image
from tests.support.card_os import MANAGEMENT_KEY, PIN, PROFILE, key_cycle

BLANK = blank_image(PROFILE)
T = TypeVar("T")
KNOWN_INS = [int(i) for i in INS] + [0x00, 0xB0, 0xFF]
INTERESTING_P = [0x00, 0x03, 0x07, 0x3F, 0x80, 0x81, 0x9A, 0x9B, 0x9C, 0xFF]


def new_card(image: CardImage = BLANK) -> tuple[TwcaCardOS, list[CardImage]]:
    saved: list[CardImage] = []
    return TwcaCardOS(image, persist=saved.append, key_factory=key_cycle), saved


def check_response(resp: bytes) -> int:
    assert isinstance(resp, bytes) and len(resp) >= 2
    sw = (resp[-2] << 8) | resp[-1]
    assert sw != 0x6F00, "the card hit an unexpected exception"
    if len(resp) > 2:
        assert sw == 0x9000 or sw >> 8 == 0x61, f"data with SW {sw:04X}"
    assert len(resp) <= 2 + 65536
    return sw


PARAMS = [(0x04, 0x00), (0x3F, 0xFF), (0x00, 0x80), (0x00, 0x81), (0xFF, 0x80), (0x00, 0x9A),
          (0x00, 0x9C), (0x07, 0x9A), (0x07, 0x9C), (0x03, 0x9B), (0x00, 0x00), (0x08, 0x9B)]
TAGS = [0x5C, 0x53, 0x7C, 0xAC, 0x7E, 0x70, 0x81, 0x82]


class Bits:
    def __init__(self, seed: int):
        self.seed = seed

    def take(self, n: int) -> int:
        value, self.seed = self.seed & ((1 << n) - 1), self.seed >> n
        return value

    def choose(self, options: Sequence[T], random_bits: int) -> T | int:
        """Mostly (3 in 4) one of ``options``, otherwise any value."""
        if self.take(2):
            return options[self.take(4) % len(options)]
        return self.take(random_bits)


def build_apdu(seed: int, body: bytes) -> bytes:
    """Turn one random number and random bytes into an APDU of one of four shapes:
    raw bytes, a plausible header with a random tail, a well-formed command with
    random data, or a well-formed command whose data is a TLV around random
    bytes. (Two draws per example keep 10,000 examples within a few seconds.)"""
    bits = Bits(seed)
    shape = bits.take(3)  # 0: raw, 1: header + tail, 2-4: random data, 5-7: TLV data
    if shape == 0:
        return body
    cla = bits.choose([0x00, 0x00, 0x10], 8)
    ins = bits.choose(KNOWN_INS, 8)
    params = bits.choose(PARAMS, 16)
    p1, p2 = params if isinstance(params, tuple) else divmod(params, 256)
    header = bytes([cla, ins, p1, p2])
    if shape == 1:
        return header + body[: bits.take(4)]
    data = body if shape <= 4 else tlv(TAGS[bits.take(3)], body)
    le = None if bits.take(1) else bits.take(8) + 1
    extended = bool(bits.take(1)) or len(data) > 255
    return header + CommandApdu(0, 0, 0, 0, data, le, extended).to_bytes()[4:]


apdus = st.builds(build_apdu, st.integers(0, 2**64 - 1), st.binary(max_size=300))


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(apdus)
def test_any_apdu_gets_a_status_word(apdu: bytes) -> None:
    card, saved = new_card()
    check_response(card.execute(apdu))
    for image in saved:  # whatever it wrote is a valid image
        assert image_from_json(image_to_json(image)) == image


# -- sequences ------------------------------------------------------------------------
def _admin(card: TwcaCardOS) -> None:
    r = card.execute(CommandApdu(0, 0x87, 3, 0x9B, tlv(0x7C, tlv(0x81, b""))).to_bytes())
    if check_response(r) != 0x9000:  # e.g. 6883 while a chain is pending
        return
    challenge = parse_tlv(unpack(0x7C, r[:-2]))[0x81]
    answer = encrypt_block(Algorithm.TDEA_3KEY, MANAGEMENT_KEY, challenge)
    check_response(card.execute(CommandApdu(0, 0x87, 3, 0x9B, tlv(0x7C, tlv(0x82, answer))).to_bytes()))


VALID = [
    CommandApdu(0, 0x20, 0, 0x80, pad_pin(PIN)).to_bytes(),
    CommandApdu(0, 0x20, 0, 0x80, pad_pin("Wrong1")).to_bytes(),
    CommandApdu(0, 0x47, 0, 0x9A, tlv(0xAC, tlv(0x80, b"\x07")), le=256).to_bytes(),
    CommandApdu(0, 0x47, 0, 0x9C, tlv(0xAC, tlv(0x80, b"\x07")), le=256).to_bytes(),
    CommandApdu(
        0, 0x87, 7, 0x9A, tlv(0x7C, tlv(0x82, b"") + tlv(0x81, b"\x00\x01" + b"\xff" * 254)), le=256
    ).to_bytes(),
    CommandApdu(0x10, 0xDB, 0x3F, 0xFF, tlv(0x5C, bytes.fromhex("5FC102"))).to_bytes(),
    CommandApdu(0, 0xDB, 0x3F, 0xFF, tlv(0x53, tlv(0x34, bytes(16)))).to_bytes(),
    CommandApdu(0, 0xCB, 0x3F, 0xFF, tlv(0x5C, bytes.fromhex("5FC105")), le=8).to_bytes(),
    bytes.fromhex("00C0000000"),
    CommandApdu(0, 0xE4, 0, 0x9A).to_bytes(),
    CommandApdu(0, 0x2C, 0, 0x80, pad_pin("87654321") + pad_pin(PIN)).to_bytes(),
]
steps = st.lists(
    st.one_of(apdus, st.sampled_from(VALID), st.sampled_from(["admin", "power", "reset"])),
    max_size=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_sequences_keep_the_card_consistent(sequence: list) -> None:
    card, saved = new_card()
    for step in sequence:
        if step == "admin":
            _admin(card)
        elif step == "power":
            card.powerDown()
            card.powerUp()
        elif step == "reset":
            card.reset()
        else:
            check_response(card.execute(step))
    image = card.image
    assert image == (saved[-1] if saved else BLANK)  # memory never runs ahead of the written image
    assert 0 <= image.pin.tries_left <= image.pin.max_tries
    assert image_from_json(image_to_json(image)) == image


def test_huge_apdu_is_answered_quickly() -> None:
    card, _ = new_card()
    start = time.perf_counter()
    for apdu in (bytes(70_000), b"\x00\xdb\x3f\xff\x00\xff\xff" + bytes(65535), b"\x7f" * 5000):
        check_response(card.execute(apdu))
    assert time.perf_counter() - start < 1.0
