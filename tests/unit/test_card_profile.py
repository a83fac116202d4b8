"""Card profiles in fixtures/cards: parsing, validation, and the blank image they make."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fxml.card.piv import Algorithm, Obj
from simulator.card.image import DEFAULT_MANAGEMENT_KEY, Carrier
from simulator.card.profile import ProfileError, blank_image, fasc_n, load_profile
from tests.support.card_os import assert_refused
from tests.support.paths import repo_path

FIXTURES = repo_path("fixtures", "cards")


def test_shipped_large_card_profile() -> None:
    p = load_profile(FIXTURES / "eoi-large.json")
    assert p.carrier is Carrier.LARGE and p.carrier.display == "憑證晶片卡(大卡)"
    assert len(p.holder_id) == 8 and p.holder_id.isdigit()  # a company's 統一編號
    assert p.management_algorithm is Algorithm.TDEA_3KEY and p.management_key == DEFAULT_MANAGEMENT_KEY
    assert [(c.container, c.cn_suffix) for c in p.certificates] == [("9A", "2015")]
    assert p.certificates[0].key_ref == 0x9A


def test_shipped_small_card_profile() -> None:
    p = load_profile(FIXTURES / "personal-small.json")
    assert p.carrier is Carrier.SMALL and p.carrier.display == "憑證晶片卡(小卡)"
    assert p.pin_tries == 3 and p.puk_tries == 3
    assert p.certificates[0].issued_at is None


def test_profiles_do_not_show_secrets_in_repr() -> None:
    p = load_profile(FIXTURES / "eoi-large.json")
    assert p.pin not in repr(p) and p.puk not in repr(p)
    assert p.pin not in repr(blank_image(p))


def test_blank_image_is_personalized_without_keys() -> None:
    p = load_profile(FIXTURES / "eoi-large.json")
    image = blank_image(p)
    assert (image.card_serial, image.holder_id, image.carrier) == (p.card_serial, p.holder_id, p.carrier)
    assert image.pin.value == p.pin and image.pin.tries_left == image.pin.max_tries == 3
    assert image.puk.value == p.puk
    assert all(c.empty for c in image.containers.values())
    assert Obj.CHUID in image.objects


def test_fasc_n_is_25_bytes_of_odd_parity_characters() -> None:
    value = fasc_n("0000000001")
    bits = bin(int.from_bytes(value, "big"))[2:].zfill(200)
    chars = [bits[i : i + 5] for i in range(0, 200, 5)]
    assert len(value) == 25 and chars[0] == "11010" and chars[-2] == "11111"
    assert all(c.count("1") % 2 == 1 for c in chars)


def _write(tmp_path: Path, **changes: object) -> Path:
    data = json.loads((FIXTURES / "eoi-large.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _refused(path: Path, *fragments: str) -> None:
    assert_refused(load_profile, ProfileError, path, *fragments)


def test_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    _refused(_write(tmp_path, pin_retries=5), "unknown key 'pin_retries'")


def test_unknown_certificate_key(tmp_path: Path) -> None:
    _refused(_write(tmp_path, certificates=[{"container": "9A", "cn_suffix": "2015", "valid_to": "x"}]),
             "unknown key certificates[0].'valid_to'")


def test_unknown_management_key_field(tmp_path: Path) -> None:
    profile = _write(tmp_path, management_key={"algorithm": "3DES", "key": "00" * 24, "kcv": "x"})
    _refused(profile, "management_key.'kcv'")


@pytest.mark.parametrize("pin", ["12345", "123456789", "12345!", "密碼密碼密碼", 123456])
def test_pin_policy(tmp_path: Path, pin: object) -> None:
    _refused(_write(tmp_path, pin=pin), "'pin'")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"carrier": "中卡"}, "'carrier'"),
        ({"puk": "123"}, "'puk'"),
        ({"pin_tries": 0}, "'pin_tries'"),
        ({"pin_tries": 16}, "'pin_tries'"),
        ({"holder_id": None}, "'holder_id'"),
        ({"card_serial": "有空白 1"}, "'card_serial'"),
        ({"management_key": {"algorithm": "AES128", "key": "00" * 24}}, "16 bytes"),
        ({"management_key": {"algorithm": "RC4", "key": "00"}}, "algorithm"),
        ({"card_expires": "2035-13-01"}, "card_expires"),
        ({"certificates": [{"container": "9D", "cn_suffix": "2015"}]}, "container"),
        ({"certificates": [{"container": "9A", "cn_suffix": "2015", "not_after": "someday"}]}, "not_after"),
        (
            {"certificates": [{"container": "9A", "cn_suffix": "a"}, {"container": "9A", "cn_suffix": "b"}]},
            "same container",
        ),
        ({"certificates": {"container": "9A"}}, "list"),
    ],
)
def test_bad_values(tmp_path: Path, changes: dict, fragment: str) -> None:
    _refused(_write(tmp_path, **changes), fragment)


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{holder_id: 1")
    _refused(path, "not valid JSON")


@pytest.mark.parametrize("text", ["[" * 100_000, '{"pin_tries": ' + "1" * 5000 + "}"])
def test_json_too_deep_or_with_a_huge_integer(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    _refused(path, "not valid JSON")


def test_aes_management_key(tmp_path: Path) -> None:
    p = load_profile(_write(tmp_path, management_key={"algorithm": "AES256", "key": "11" * 32}))
    assert p.management_algorithm is Algorithm.AES_256 and p.management_key == b"\x11" * 32
