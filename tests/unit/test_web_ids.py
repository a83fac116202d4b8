"""fxml/web/ids.py: an id taken from a request is ASCII digits (or hex digits) and nothing else.
Python's own checks accept more: ``"\u00b2".isdigit()`` is true and ``int()`` refuses it (a 500),
``int()`` reads an Arabic-Indic one or full-width digits as ordinary numbers (another record).
The routes themselves are walked in tests/unit/test_every_route.py."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from fxml.clock import FixedClock
from fxml.platform import bankapi
from fxml.web import ids
from fxml.web.body import declared_length
from tests.support.bank import NOW

SUPERSCRIPT_TWO, ARABIC_INDIC_ONE, FULL_WIDTH_12 = "\u00b2", "\u0661", "\uff11\uff12"


def test_python_alone_would_take_these_for_digits() -> None:
    """Why the helper exists: what str and int make of them."""
    assert SUPERSCRIPT_TWO.isdigit()
    with pytest.raises(ValueError, match="invalid literal"):
        int(SUPERSCRIPT_TWO)
    assert (int(ARABIC_INDIC_ONE), int(FULL_WIDTH_12)) == (1, 12)
    assert re.fullmatch(r"\d+", FULL_WIDTH_12)


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), ("12", 12), ("000123", 123), ("9" * 18, int("9" * 18)),
])
def test_ascii_digits_are_a_number(text: str, expected: int) -> None:
    assert ids.number(text) == expected


@pytest.mark.parametrize("text", [
    SUPERSCRIPT_TWO, ARABIC_INDIC_ONE, FULL_WIDTH_12, "1" + FULL_WIDTH_12, "", None, "+1", "-1", " 1", "1 ", "1\n",
    "1_000", "0x1F", "1.0", "9" * 19,
])
def test_anything_else_is_no_number(text: str | None) -> None:
    assert ids.number(text) is None


def test_the_length_limit_is_the_caller_s() -> None:
    assert ids.number("123", max_digits=2) is None and ids.number("12", max_digits=2) == 12


@pytest.mark.parametrize(("text", "expected"), [("5a17c0de", "5A17C0DE"), ("0", "0"), ("F" * 40, "F" * 40)])
def test_hex_ids_are_read_in_upper_case(text: str, expected: str) -> None:
    assert ids.hex_id(text) == expected


@pytest.mark.parametrize("text", [SUPERSCRIPT_TWO, ARABIC_INDIC_ONE, FULL_WIDTH_12, "\uff21", "5A:17", "G1", "", None,
                                  "F" * 41])
def test_anything_else_is_no_hex_id(text: str | None) -> None:
    assert ids.hex_id(text) is None


def test_a_pattern_must_be_ascii() -> None:
    assert ids.matching("T12", re.compile(r"T\d+", re.ASCII)) == "T12"
    assert ids.matching(f"T{FULL_WIDTH_12}", re.compile(r"T\d+", re.ASCII)) is None
    with pytest.raises(ValueError, match=r"re\.ASCII"):
        ids.matching("T12", re.compile(r"T\d+"))


def test_a_content_length_of_other_digits_is_no_length() -> None:
    """Starlette decodes headers as Latin-1: a byte 0xB2 is a superscript two, no length (the body
    is then counted as it arrives) rather than a ValueError."""
    assert declared_length({"content-length": SUPERSCRIPT_TWO}) is None
    assert declared_length({"content-length": "42"}) == 42


@pytest.mark.parametrize("timestamp", [FULL_WIDTH_12, SUPERSCRIPT_TWO, "9" * 400])
def test_the_bank_api_refuses_a_timestamp_of_other_digits_as_unauthenticated(timestamp: str) -> None:
    """Even well signed (the 400 digits once reached int() and a float overflow): the timestamp is
    read through the helper."""
    clock = FixedClock(NOW)
    key = bankapi.api_key(b"k" * 32)
    nonce = "0" * 32
    body = b"{}"
    text = "\n".join((bankapi.SCHEME, "POST", "/api/platform/faxes", timestamp, nonce,
                      hashlib.sha256(body).hexdigest())).encode()
    signature = hmac.new(key, text, hashlib.sha256).hexdigest()
    headers = {bankapi.HEADER_TIMESTAMP: timestamp, bankapi.HEADER_NONCE: nonce,
               bankapi.HEADER_AUTHORIZATION: f"{bankapi.SCHEME} {signature}"}
    with pytest.raises(bankapi.BankApiError) as refused:
        bankapi.verify(key, "POST", "/api/platform/faxes", body, headers, clock, lambda *_: True)
    assert refused.value.code is bankapi.ErrorCode.BANK_API_UNAUTHENTICATED
