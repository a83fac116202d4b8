"""Taiwan's two identity numbers the bank logs customers in with: validation
and generation.

- **身分證字號** (national ID of the Republic of China): an uppercase letter,
  ``1`` (male) or ``2`` (female), seven digits and a check digit. The letter
  stands for two digits (:data:`LETTER_CODES`); the eleven digits, weighted
  1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1, must sum to a multiple of 10.
- **統一編號** (business ID, 營利事業統一編號): eight digits. Each digit is
  multiplied by 1, 2, 1, 2, 1, 2, 4, 1 and the digits of each product are
  added (18 counts 1 + 8 = 9); the total must be a multiple of **5** since the
  Ministry of Finance changed the rule on 2023-04-01 (before: a multiple of
  10, :attr:`BusinessIdRule.LEGACY`). When the 7th digit is 7, its product 28
  gives 2 + 8 = 10, which may count as 1 or 0: the number is also valid when
  total + 1 is a multiple of 5 (10 under the legacy rule).

A refused number raises :class:`IdNumberError`, which carries a stable
:class:`IdErrorCode`, a zh-TW message naming what is wrong (for customers and
bank officers) and an English reason (for logs and developers).

What a check digit catches is documented in docs/bank.md; in short, the 2023
rule no longer catches every single-digit error (a weight-1 digit changed by
5 keeps the total's remainder mod 5), and neither does the national ID's
(weights 2, 4, 5, 6 share a factor with 10).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from simulator.errors import SimulatorError

#: The letter of a 身分證字號 and the two digits it stands for (the registry
#: office of first registration; letters no longer issued, such as L, R, S and
#: Y, still appear on valid numbers).
LETTER_CODES: Final[Mapping[str, int]] = MappingProxyType({
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34,
    "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25,
    "S": 26, "T": 27, "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
})
#: Weights of the 11 digits of a 身分證字號: the letter's two, then the nine digits.
NATIONAL_ID_WEIGHTS: Final = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)
#: Weights of the 8 digits of a 統一編號.
BUSINESS_ID_WEIGHTS: Final = (1, 2, 1, 2, 1, 2, 4, 1)
#: 1-based position of the 統一編號 digit whose 7 makes the product 28 ambiguous.
BUSINESS_ID_SPECIAL_POSITION: Final = 7

_UPPER: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS: Final = frozenset("0123456789")


class IdErrorCode(enum.StrEnum):
    """Stable codes of the refusals; programs compare these, never the messages."""

    NATIONAL_ID_FORMAT = "NATIONAL_ID_FORMAT"
    NATIONAL_ID_CHECKSUM = "NATIONAL_ID_CHECKSUM"
    BUSINESS_ID_FORMAT = "BUSINESS_ID_FORMAT"
    BUSINESS_ID_CHECKSUM = "BUSINESS_ID_CHECKSUM"

    @property
    def summary(self) -> str:
        """The short zh-TW message a screen shows for this code (身分證字號格式錯誤)."""
        return _SUMMARIES[self]


_SUMMARIES: Final = {
    IdErrorCode.NATIONAL_ID_FORMAT: "身分證字號格式錯誤",
    IdErrorCode.NATIONAL_ID_CHECKSUM: "身分證字號檢查碼錯誤",
    IdErrorCode.BUSINESS_ID_FORMAT: "統一編號格式錯誤",
    IdErrorCode.BUSINESS_ID_CHECKSUM: "統一編號檢查碼錯誤",
}


class IdNumberError(SimulatorError, ValueError):
    """A 身分證字號 or 統一編號 that is refused.

    ``code`` is stable; ``summary`` is the short zh-TW message (身分證字號格式錯誤);
    ``message`` is the summary followed by what exactly is wrong, in zh-TW;
    ``reason`` says the same in English. The refused value itself is not
    repeated in any of them.
    """

    def __init__(self, code: IdErrorCode, detail: str, reason: str):
        self.code = code
        self.summary = code.summary
        self.detail = detail
        self.message = f"{self.summary}：{detail}"
        self.reason = reason
        super().__init__(f"[{code}] {self.message} ({reason})")


class BusinessIdRule(enum.StrEnum):
    """Which check rule a 統一編號 is validated with."""

    #: From 2023-04-01: the total is a multiple of 5. Every number valid under
    #: the legacy rule is valid under this one.
    MOD5_2023 = "2023"
    #: Before 2023-04-01: the total is a multiple of 10.
    LEGACY = "legacy"

    @property
    def modulus(self) -> int:
        return 5 if self is BusinessIdRule.MOD5_2023 else 10


# -- 身分證字號 ----------------------------------------------------------------
def _national_format(detail: str, reason: str) -> IdNumberError:
    return IdNumberError(IdErrorCode.NATIONAL_ID_FORMAT, detail, reason)


def _check_national_format(value: object) -> str:
    if not isinstance(value, str):
        raise _national_format("須為文字。", f"must be a string, got {type(value).__name__}")
    if value != value.strip():
        raise _national_format("前後不可有空白。", "must not start or end with white space")
    if len(value) != 10:
        raise _national_format(
            f"應為 10 碼（1 個英文字母加 9 個數字），收到 {len(value)} 碼。",
            f"must be 10 characters (a letter and 9 digits), got {len(value)}",
        )
    first, second = value[0], value[1]
    if first in _LOWER:
        raise _national_format(
            "第 1 碼須為大寫英文字母，不接受小寫。",
            "the first character must be an uppercase letter, got a lowercase one",
        )
    if first not in _UPPER:
        raise _national_format("第 1 碼須為英文字母 A 到 Z。", "the first character must be a letter A-Z")
    if second in "89":
        raise _national_format(
            "第 2 碼須為 1 或 2；8、9 開頭者為外來人口統一證號，不是身分證字號。",
            "the second character must be 1 or 2; 8 and 9 start a resident certificate number, not a national ID",
        )
    if second in _UPPER or second in _LOWER:
        raise _national_format(
            "第 2 碼須為 1 或 2；第 2 碼為英文字母者為舊式居留證號，不是身分證字號。",
            "the second character must be 1 or 2; a letter there is an old resident certificate number",
        )
    if second not in "12":
        raise _national_format("第 2 碼須為 1（男）或 2（女）。", "the second character must be 1 (male) or 2 (female)")
    for position, char in enumerate(value[2:], start=3):
        if char not in _DIGITS:
            raise _national_format(
                f"第 {position} 碼須為半形數字 0 到 9。", f"character {position} must be an ASCII digit 0-9"
            )
    return value


def national_id_sum(value: str) -> int:
    """The weighted sum of a well-formed 身分證字號 (a multiple of 10 when valid).

    Raises :class:`IdNumberError` (``NATIONAL_ID_FORMAT``) when ``value`` is not
    an uppercase letter, 1 or 2, and eight digits.
    """
    _check_national_format(value)
    code = LETTER_CODES[value[0]]
    digits = (code // 10, code % 10, *(int(c) for c in value[1:]))
    return sum(w * d for w, d in zip(NATIONAL_ID_WEIGHTS, digits, strict=True))


def validate_national_id(value: object) -> str:
    """Return ``value`` if it is a valid 身分證字號, else raise :class:`IdNumberError`.

    Uppercase only; no white space, no full-width characters, no resident
    certificate numbers (second character 8, 9 or a letter).
    """
    text = _check_national_format(value)
    total = national_id_sum(text)
    if total % 10:
        raise IdNumberError(
            IdErrorCode.NATIONAL_ID_CHECKSUM,
            "檢查碼（第 10 碼）不符，請確認號碼是否輸入正確。",
            f"check digit wrong: the weighted sum {total} is not a multiple of 10",
        )
    return text


def is_valid_national_id(value: object) -> bool:
    """Whether :func:`validate_national_id` accepts ``value``."""
    try:
        validate_national_id(value)
    except IdNumberError:
        return False
    return True


def national_id_check_digit(first_nine: str) -> str:
    """The check digit completing ``first_nine`` (letter, 1 or 2, seven digits)."""
    total = national_id_sum(first_nine + "0")
    return str(-total % 10)


def generate_national_id(rng: random.Random, *, letter: str | None = None, sex: int | None = None) -> str:
    """A valid 身分證字號 drawn from ``rng`` (the same state gives the same number).

    ``letter`` (A-Z) and ``sex`` (1 or 2) are random unless given.
    """
    if letter is None:
        letter = rng.choice(sorted(LETTER_CODES))
    elif letter not in LETTER_CODES:
        raise ValueError(f"letter must be one of A-Z, got {letter!r}")
    if sex is None:
        sex = rng.choice((1, 2))
    elif sex not in (1, 2):
        raise ValueError(f"sex must be 1 or 2, got {sex!r}")
    body = f"{letter}{sex}{rng.randrange(10_000_000):07d}"
    return body + national_id_check_digit(body)


# -- 統一編號 -----------------------------------------------------------------
def _business_format(detail: str, reason: str) -> IdNumberError:
    return IdNumberError(IdErrorCode.BUSINESS_ID_FORMAT, detail, reason)


def _check_business_format(value: object) -> str:
    if not isinstance(value, str):
        raise _business_format("須為文字。", f"must be a string, got {type(value).__name__}")
    if value != value.strip():
        raise _business_format("前後不可有空白。", "must not start or end with white space")
    if len(value) != 8:
        raise _business_format(
            f"應為 8 碼數字，收到 {len(value)} 碼。", f"must be 8 digits, got {len(value)} characters"
        )
    for position, char in enumerate(value, start=1):
        if char not in _DIGITS:
            raise _business_format(
                f"第 {position} 碼須為半形數字 0 到 9。", f"character {position} must be an ASCII digit 0-9"
            )
    return value


def _digit_sum(n: int) -> int:
    return n // 10 + n % 10


def business_id_sum(value: str) -> int:
    """The total of a well-formed 統一編號: the digit sums of the weighted digits.

    A 7 in 7th place counts 10 here (2 + 8); :func:`validate_business_id`
    also accepts the total that counts it as 1 (this total + 1). Raises
    :class:`IdNumberError` (``BUSINESS_ID_FORMAT``) unless ``value`` is 8 digits.
    """
    _check_business_format(value)
    return sum(_digit_sum(w * int(c)) for w, c in zip(BUSINESS_ID_WEIGHTS, value, strict=True))


def _business_valid(value: str, rule: BusinessIdRule) -> tuple[bool, int]:
    total = business_id_sum(value)
    special = value[BUSINESS_ID_SPECIAL_POSITION - 1] == "7"
    ok = total % rule.modulus == 0 or (special and (total + 1) % rule.modulus == 0)
    return ok, total


def validate_business_id(value: object, *, rule: BusinessIdRule = BusinessIdRule.MOD5_2023) -> str:
    """Return ``value`` if it is a valid 統一編號 under ``rule``, else raise :class:`IdNumberError`."""
    text = _check_business_format(value)
    ok, total = _business_valid(text, rule)
    if not ok:
        multiple = "5" if rule is BusinessIdRule.MOD5_2023 else "10"
        special = text[BUSINESS_ID_SPECIAL_POSITION - 1] == "7"
        also = f", nor is the total + 1 ({total + 1}) that a 7th digit 7 allows" if special else ""
        raise IdNumberError(
            IdErrorCode.BUSINESS_ID_CHECKSUM,
            "檢查碼不符，請確認號碼是否輸入正確。",
            f"check digit wrong under the {rule.value} rule: the total {total} is not a multiple of {multiple}{also}",
        )
    return text


def is_valid_business_id(value: object, *, rule: BusinessIdRule = BusinessIdRule.MOD5_2023) -> bool:
    """Whether :func:`validate_business_id` accepts ``value`` under ``rule``."""
    try:
        validate_business_id(value, rule=rule)
    except IdNumberError:
        return False
    return True


def business_id_check_digits(first_seven: str, *, rule: BusinessIdRule = BusinessIdRule.MOD5_2023) -> tuple[str, ...]:
    """Every last digit that makes ``first_seven`` + digit a valid 統一編號, ascending.

    Under the 2023 rule there are two (d and d + 5), or four when the 7th
    digit is 7; under the legacy rule one, or two when the 7th digit is 7.
    """
    _check_business_format(first_seven + "0")
    return tuple(d for d in "0123456789" if _business_valid(first_seven + d, rule)[0])


def generate_business_id(rng: random.Random, *, rule: BusinessIdRule = BusinessIdRule.MOD5_2023) -> str:
    """A valid 統一編號 drawn from ``rng`` (the same state gives the same number).

    The first seven digits are uniform; the last is one of the digits that
    make the number valid under ``rule``, chosen uniformly. With the default
    2023 rule about half the numbers are valid only under the 2023 rule, as
    the numbers the Ministry of Finance issues from April 2023 may be; pass
    ``rule=BusinessIdRule.LEGACY`` for numbers that also satisfy the old rule.
    """
    first_seven = f"{rng.randrange(10_000_000):07d}"
    return first_seven + rng.choice(business_id_check_digits(first_seven, rule=rule))
