"""身分證字號 and 統一編號: the published examples, generation, and what a
check digit does and does not catch (derived by hand in docs/bank.md and
written out literally here, independent of simulator.bank.ids)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from faker import Faker
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.bank.ids import (
    BusinessIdRule,
    IdErrorCode,
    IdNumberError,
    business_id_check_digits,
    business_id_sum,
    generate_business_id,
    generate_national_id,
    is_valid_business_id,
    is_valid_national_id,
    national_id_sum,
    validate_business_id,
    validate_national_id,
)

MOD5 = BusinessIdRule.MOD5_2023
LEGACY = BusinessIdRule.LEGACY
DIGITS = "0123456789"


# -- strategies ---------------------------------------------------------------
seeds = st.integers(min_value=0, max_value=2**64)
national_ids = seeds.map(lambda s: generate_national_id(random.Random(s)))


@st.composite
def business_ids(draw: st.DrawFn, rule: BusinessIdRule = MOD5) -> str:
    """Valid numbers, a third of them with 7 as the 7th digit (the special case)."""
    head = draw(st.text(DIGITS, min_size=6, max_size=6))
    seventh = draw(st.one_of(st.just("7"), st.sampled_from(DIGITS), st.sampled_from(DIGITS)))
    return head + seventh + draw(st.sampled_from(business_id_check_digits(head + seventh, rule=rule)))


eight_digits = st.text(DIGITS, min_size=8, max_size=8)


def refusal(validate: Callable[[str], str], text: str) -> IdNumberError | None:
    """The error ``validate`` raises for ``text``, or None when it accepts it."""
    try:
        validate(text)
    except IdNumberError as error:
        return error
    return None


# -- 身分證字號: examples ------------------------------------------------------
def test_the_textbook_national_id_is_valid() -> None:
    # A=10: 1*1 + 0*9; 1,2,...,8 weighted 8..1 = 120; check digit 9 = 9.
    assert national_id_sum("A123456789") == 130
    assert validate_national_id("A123456789") == "A123456789"


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("A123456788", IdErrorCode.NATIONAL_ID_CHECKSUM, "檢查碼"),
        ("a123456789", IdErrorCode.NATIONAL_ID_FORMAT, "大寫"),
        ("A12345678", IdErrorCode.NATIONAL_ID_FORMAT, "收到 9 碼"),
        ("A1234567890", IdErrorCode.NATIONAL_ID_FORMAT, "收到 11 碼"),
        ("", IdErrorCode.NATIONAL_ID_FORMAT, "收到 0 碼"),
        ("1123456789", IdErrorCode.NATIONAL_ID_FORMAT, "第 1 碼須為英文字母 A 到 Z"),
        ("\uff21123456789", IdErrorCode.NATIONAL_ID_FORMAT, "第 1 碼須為英文字母"),   # full-width A
        ("A323456789", IdErrorCode.NATIONAL_ID_FORMAT, "第 2 碼須為 1（男）或 2（女）"),
        ("A823456789", IdErrorCode.NATIONAL_ID_FORMAT, "外來人口統一證號"),
        ("AB23456789", IdErrorCode.NATIONAL_ID_FORMAT, "舊式居留證號"),
        ("A12345678\uff19", IdErrorCode.NATIONAL_ID_FORMAT, "第 10 碼須為半形數字"),  # full-width 9
        ("A1234567\u06689", IdErrorCode.NATIONAL_ID_FORMAT, "第 9 碼須為半形數字"),   # Arabic-Indic 8
        (" A12345678", IdErrorCode.NATIONAL_ID_FORMAT, "空白"),
        ("A123456789 ", IdErrorCode.NATIONAL_ID_FORMAT, "空白"),
    ],
)
def test_a_refused_national_id_says_what_is_wrong(value: str, code: IdErrorCode, words: str) -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_national_id(value)
    error = caught.value
    assert error.code is code
    assert error.message.startswith(code.summary + "：")
    assert words in error.message
    assert error.reason and error.reason.isascii()
    assert value.strip() not in error.message or not value.strip()   # the number is not echoed


def test_national_id_titles_are_the_bank_wording() -> None:
    assert IdErrorCode.NATIONAL_ID_FORMAT.summary == "身分證字號格式錯誤"
    assert IdErrorCode.NATIONAL_ID_CHECKSUM.summary == "身分證字號檢查碼錯誤"


@pytest.mark.parametrize("value", [None, 123456789, b"A123456789", ["A123456789"]])
def test_a_national_id_that_is_not_text_is_a_format_error(value: object) -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_national_id(value)
    assert caught.value.code is IdErrorCode.NATIONAL_ID_FORMAT


# -- 身分證字號: generation ----------------------------------------------------
@given(national_ids)
def test_every_generated_national_id_validates(value: str) -> None:
    assert is_valid_national_id(value)


@given(seeds)
def test_national_id_generation_is_deterministic_for_a_random_state(seed: int) -> None:
    assert generate_national_id(random.Random(seed)) == generate_national_id(random.Random(seed))


@given(seeds, st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), st.sampled_from([1, 2]))
def test_national_id_generation_honours_letter_and_sex(seed: int, letter: str, sex: int) -> None:
    value = generate_national_id(random.Random(seed), letter=letter, sex=sex)
    assert value[:2] == f"{letter}{sex}" and is_valid_national_id(value)


def test_national_id_generation_refuses_a_bad_letter_or_sex() -> None:
    with pytest.raises(ValueError, match="letter"):
        generate_national_id(random.Random(1), letter="a")
    with pytest.raises(ValueError, match="sex"):
        generate_national_id(random.Random(1), sex=3)


@settings(max_examples=50)
@given(seeds)
def test_fakers_zh_tw_ssn_gives_valid_national_ids(seed: int) -> None:
    fake = Faker("zh_TW")
    fake.seed_instance(seed)
    for _ in range(20):
        assert is_valid_national_id(fake.ssn())


# -- 身分證字號: what the check digit catches ----------------------------------
#: Letters whose two digits weigh the same modulo 10 (tens + 9 x units):
#: swapping one for another in its group keeps the sum. Derived by hand.
LETTER_GROUPS = ("BNZ", "AMW", "KLY", "JVX", "HU", "GT", "FS", "ER", "DOQ", "CIP")


def national_change_is_undetected(index: int, old: str, new: str) -> bool:
    """Whether replacing character ``index`` (0-based) keeps the weighted sum
    a multiple of 10; weights of indexes 1..9 are 8, 7, 6, 5, 4, 3, 2, 1, 1."""
    if index == 0:
        return any(old in group and new in group for group in LETTER_GROUPS)
    delta = abs(int(new) - int(old))
    if index in (3, 5, 7):        # weights 6, 4, 2: blind to a change of 5
        return delta == 5
    if index == 4:                # weight 5: blind to any even change
        return delta % 2 == 0
    return False                  # weights 8 (1 <-> 2), 7, 3, 1, 1 catch everything


@given(national_ids, st.integers(min_value=0, max_value=9), st.data())
@example("A123456789", 4, None)   # 4 -> 6 under weight 5: A123656789 is valid too
def test_a_single_changed_character_breaks_a_national_id_exactly_when_the_weights_say(
    value: str, index: int, data: st.DataObject | None
) -> None:
    if data is None:
        new = "6"
    else:
        pool = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if index == 0 else "12" if index == 1 else DIGITS
        new = data.draw(st.sampled_from([c for c in pool if c != value[index]]))
    changed = value[:index] + new + value[index + 1:]
    assert is_valid_national_id(changed) == national_change_is_undetected(index, value[index], new)


def test_examples_of_undetected_national_id_changes() -> None:
    assert is_valid_national_id("A123656789")   # 4th digit 4 -> 6, weight 5
    assert is_valid_national_id("A128456789")   # 3 -> 8, weight 6
    assert is_valid_national_id("W123456789")   # A (10) and W (32) both weigh 1
    assert not is_valid_national_id("B123456789")


@given(st.text(max_size=12))
def test_any_text_is_either_a_valid_national_id_or_an_id_number_error(text: str) -> None:
    error = refusal(validate_national_id, text)
    if error is None:
        assert text.isascii() and text[0].isupper()
    else:
        assert error.code in (IdErrorCode.NATIONAL_ID_FORMAT, IdErrorCode.NATIONAL_ID_CHECKSUM)


@given(national_ids)
def test_a_valid_national_id_in_lowercase_is_refused_as_lowercase(value: str) -> None:
    with pytest.raises(IdNumberError, match="不接受小寫") as caught:
        validate_national_id(value.lower())
    assert caught.value.code is IdErrorCode.NATIONAL_ID_FORMAT


# -- 統一編號: examples --------------------------------------------------------
def test_the_ministrys_general_example() -> None:
    # 0 4 5 9 5 2 5 7 x 1 2 1 2 1 2 4 1 = 0 8 5 18 5 4 20 7 -> 0+8+5+9+5+4+2+7 = 40
    assert business_id_sum("04595257") == 40
    assert is_valid_business_id("04595257", rule=MOD5) and is_valid_business_id("04595257", rule=LEGACY)


def test_the_ministrys_seventh_digit_seven_example_under_both_rules() -> None:
    # 1 0 4 5 8 5 7 5 -> 1 0 4 10 8 10 28 5 -> 1+0+4+1+8+1+(2+8)+5 = 30: counting
    # 28 as 10 (or 0) gives 30, a multiple of 10 and of 5, so 10458575 is valid
    # under both rules through the plain total; counting it as 1 gives 31.
    assert business_id_sum("10458575") == 30
    assert is_valid_business_id("10458575", rule=MOD5)
    assert is_valid_business_id("10458575", rule=LEGACY)


def test_the_seventh_digit_seven_alternative_alone_makes_a_number_valid() -> None:
    # 10458574: total 29, valid under neither rule's plain test; total + 1 = 30.
    assert business_id_sum("10458574") == 29
    assert is_valid_business_id("10458574", rule=MOD5)
    assert is_valid_business_id("10458574", rule=LEGACY)
    # 10458576: total 31; 32 is no better.
    assert not is_valid_business_id("10458576", rule=MOD5)


@pytest.mark.parametrize("value", ["00000005", "10458570", "04595252"])
def test_numbers_valid_only_since_2023(value: str) -> None:
    assert business_id_sum(value) % 10 == 5
    assert is_valid_business_id(value, rule=MOD5)
    assert not is_valid_business_id(value, rule=LEGACY)


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("88117126", IdErrorCode.BUSINESS_ID_CHECKSUM, "檢查碼不符"),
        ("0459525", IdErrorCode.BUSINESS_ID_FORMAT, "收到 7 碼"),
        ("045952570", IdErrorCode.BUSINESS_ID_FORMAT, "收到 9 碼"),
        ("0459525A", IdErrorCode.BUSINESS_ID_FORMAT, "第 8 碼須為半形數字"),
        ("\uff104595257", IdErrorCode.BUSINESS_ID_FORMAT, "第 1 碼須為半形數字"),
        ("0459 257", IdErrorCode.BUSINESS_ID_FORMAT, "第 5 碼"),
        ("04595257\n", IdErrorCode.BUSINESS_ID_FORMAT, "空白"),
    ],
)
def test_a_refused_business_id_says_what_is_wrong(value: str, code: IdErrorCode, words: str) -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_business_id(value)
    assert caught.value.code is code
    assert caught.value.message.startswith(code.summary + "：")
    assert words in caught.value.message


def test_business_id_titles_are_the_bank_wording() -> None:
    assert IdErrorCode.BUSINESS_ID_FORMAT.summary == "統一編號格式錯誤"
    assert IdErrorCode.BUSINESS_ID_CHECKSUM.summary == "統一編號檢查碼錯誤"


def test_a_checksum_refusal_explains_the_totals_in_english() -> None:
    with pytest.raises(IdNumberError) as caught:
        validate_business_id("10458576")
    assert "31" in caught.value.reason and "32" in caught.value.reason and "2023" in caught.value.reason
    assert str(caught.value).startswith("[BUSINESS_ID_CHECKSUM] 統一編號檢查碼錯誤")


# -- 統一編號: an independent reading of the rule -------------------------------
def reference_business_id_valid(value: str, modulus: int) -> bool:
    """The Ministry's description, literally: split each product into tens and
    units, add them into s_i; when the 7th digit is 7 its s is 10, taken
    once as 1 and once as 0; valid when either sum is divisible."""
    weights = [1, 2, 1, 2, 1, 2, 4, 1]
    s = []
    for digit, weight in zip(value, weights, strict=True):
        product = int(digit) * weight
        s.append(product // 10 + product % 10)
    if s[6] == 10:
        return any((sum(s[:6]) + alt + s[7]) % modulus == 0 for alt in (1, 0))
    return sum(s) % modulus == 0


@given(eight_digits)
@example("10458575")
@example("10458574")
@example("00000005")
def test_the_validator_agrees_with_the_ministrys_description(value: str) -> None:
    assert is_valid_business_id(value, rule=MOD5) == reference_business_id_valid(value, 5)
    assert is_valid_business_id(value, rule=LEGACY) == reference_business_id_valid(value, 10)


@given(eight_digits)
def test_every_number_valid_under_the_legacy_rule_stays_valid(value: str) -> None:
    if is_valid_business_id(value, rule=LEGACY):
        assert is_valid_business_id(value, rule=MOD5)


# -- 統一編號: generation ------------------------------------------------------
@given(seeds, st.sampled_from(list(BusinessIdRule)))
def test_every_generated_business_id_validates(seed: int, rule: BusinessIdRule) -> None:
    value = generate_business_id(random.Random(seed), rule=rule)
    assert len(value) == 8 and is_valid_business_id(value, rule=rule)


@given(seeds)
def test_business_id_generation_is_deterministic_for_a_random_state(seed: int) -> None:
    first = random.Random(seed)
    second = random.Random(seed)
    assert [generate_business_id(first) for _ in range(5)] == [generate_business_id(second) for _ in range(5)]


def test_generated_business_ids_include_numbers_valid_only_since_2023() -> None:
    rng = random.Random(2023)
    values = [generate_business_id(rng) for _ in range(400)]
    new_only = [v for v in values if not is_valid_business_id(v, rule=LEGACY)]
    assert 100 < len(new_only) < 300
    assert any(v[6] == "7" for v in values)


@given(st.text(DIGITS, min_size=7, max_size=7))
def test_check_digit_counts(first_seven: str) -> None:
    special = first_seven[6] == "7"
    assert len(business_id_check_digits(first_seven, rule=MOD5)) == (4 if special else 2)
    assert len(business_id_check_digits(first_seven, rule=LEGACY)) == (2 if special else 1)


# -- 統一編號: what the check digit catches ------------------------------------
def changes(value: str) -> list[tuple[int, str, str]]:
    """Every single-digit change: (1-based position, old digit, changed number)."""
    return [
        (position, value[position - 1], value[: position - 1] + new + value[position:])
        for position in range(1, 9)
        for new in DIGITS
        if new != value[position - 1]
    ]


@given(business_ids(LEGACY))
@example("10458575")
def test_legacy_rule_catches_every_single_digit_change_not_involving_a_seventh_digit_seven(value: str) -> None:
    """Under the legacy rule (multiple of 10) every digit's contribution is a
    different residue, except 0 and 7 in 7th place (0 and 10); so a change
    goes unnoticed only when the original or the changed number has 7 as its
    7th digit: 0 <-> 7 there, or, with that 7, a change elsewhere that moves
    the total by 1 (mod 10) onto the other accepted total (10458575 <->
    10458574, or 10458575 -> 19458575: 30 -> 39)."""
    for position, old, changed in changes(value):
        if is_valid_business_id(changed, rule=LEGACY):
            assert value[6] == "7" or changed[6] == "7", (value, changed)
            if position == 7:
                assert {old, changed[6]} == {"0", "7"}
            else:
                assert (business_id_sum(changed) - business_id_sum(value)) % 10 in (1, 9)


#: Under the 2023 rule, the single-digit changes that keep the total's residue
#: modulo 5, when no 7th digit 7 is involved; derived by hand from the digit
#: sums of d, 2d and 4d (docs/bank.md). Unordered pairs per weight.
UNDETECTED_2023 = {
    1: {frozenset(p) for p in ("05", "16", "27", "38", "49")},   # weight 1: a change of 5
    2: {frozenset(p) for p in ("07", "18", "29", "35", "46")},   # weight 2: 2d digit sums 0 2 4 6 8 1 3 5 7 9
    4: {frozenset(p) for p in ("08", "19", "23", "45")},         # weight 4: 4d digit sums 0 4 8 3 7 2 6 10 5 9
}
WEIGHT_OF_POSITION = {1: 1, 2: 2, 3: 1, 4: 2, 5: 1, 6: 2, 7: 4, 8: 1}


@given(business_ids(MOD5).filter(lambda v: v[6] != "7"))
@example("04595257")
def test_2023_rule_misses_exactly_the_changes_that_keep_the_residue_mod_5(value: str) -> None:
    """Not every single-digit change is caught since 2023: a weight-1 digit
    changed by 5 (04595257 -> 04595252) moves the total by 5. With no 7 in
    7th place before or after, a change is missed exactly when it is one of
    the pairs above; and each such miss moves the total by an odd multiple
    of 5, so the legacy rule would have caught it."""
    for position, old, changed in changes(value):
        if changed[6] == "7":
            continue
        pair = frozenset(old + changed[position - 1])
        expected = pair in UNDETECTED_2023[WEIGHT_OF_POSITION[position]]
        assert is_valid_business_id(changed, rule=MOD5) == expected, (value, changed)
        if expected:
            assert (business_id_sum(changed) - business_id_sum(value)) % 10 == 5


@given(business_ids(MOD5).filter(lambda v: v[6] == "7"))
@example("10458575")
def test_2023_rule_with_a_seventh_digit_seven_accepts_two_residues(value: str) -> None:
    """With 7 in 7th place the accepted totals are those = 0 or 4 (mod 5): a
    change elsewhere stays valid when the changed total lands on either."""
    for position, _old, changed in changes(value):
        if position == 7:
            continue
        assert is_valid_business_id(changed, rule=MOD5) == (business_id_sum(changed) % 5 in (0, 4))


def test_examples_of_missed_changes_since_2023() -> None:
    assert is_valid_business_id("04595252")      # last digit 7 -> 2
    assert is_valid_business_id("54595257")      # first digit 0 -> 5
    assert is_valid_business_id("04595957")      # 6th digit 2 -> 9 (weight 2: 4 -> 18, 1 + 8 = 9)
    assert not is_valid_business_id("04595857")  # 2 -> 8 (4 -> 16, 1 + 6 = 7): caught
    assert is_valid_business_id("10458574")      # 8th digit 5 -> 4, with the 7th-digit 7
    # 6 -> 7 in 7th place: 6 weighs 24 -> 6 = 1 (mod 5); 7 weighs 10 or 1; the total
    # drops by 1 mod 5 and the "+ 1" alternative accepts it.
    six = "1234566" + business_id_check_digits("1234566")[0]
    assert is_valid_business_id(six)
    assert is_valid_business_id(six[:6] + "7" + six[7])


@given(st.text(max_size=10))
def test_any_text_is_either_a_valid_business_id_or_an_id_number_error(text: str) -> None:
    error = refusal(validate_business_id, text)
    if error is None:
        assert len(text) == 8 and text.isascii() and text.isdigit()
    else:
        assert error.code in (IdErrorCode.BUSINESS_ID_FORMAT, IdErrorCode.BUSINESS_ID_CHECKSUM)
