"""``fxmlsim bank``: list, show, create and unlock on a home's bank file, and one-line refusals."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from fxml.clock import TAIWAN
from simulator import cli
from simulator.bank.store import ANY_CLIENT, BankStore, Realm


def fxmlsim(home: Path, *argv: str) -> int:
    return cli.main(["--home", str(home), *argv])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def test_list_shows_the_personas(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fxmlsim(home, "bank", "list") == 0
    out = capsys.readouterr().out.splitlines()
    row = "\t".join([
        "39602297", "企業網路銀行 客戶別 4", "虛構青峰貿易股份有限公司",
        "SUPER001,CLERK004,CHIEF004,USER0041", "0060039 青峰分行",
    ])
    assert row in out
    assert fxmlsim(home, "bank", "list", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert all("password" not in user for customer in data for user in customer["users"])


def test_create_is_deterministic_for_a_seed(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fxmlsim(home, "bank", "create", "--kind", "corporate-3", "--seed", "42") == 0
    first = capsys.readouterr().out
    assert fxmlsim(tmp_path / "other", "bank", "create", "--kind", "corporate-3", "--seed", "42") == 0
    assert capsys.readouterr().out == first
    id_number = first.split("\t", 1)[0]
    assert fxmlsim(home, "bank", "show", id_number) == 0
    assert "administrator\t密碼錯誤 0 次" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (("bank", "show", "12345678"), "fxmlsim bank: 查無此客戶：12345678"),
    (("bank", "create", "--persona", "nobody"), "fxmlsim bank: no persona named 'nobody'"),
    (("bank", "create", "--persona", "person"), "fxmlsim bank: 身分證字號 A123456789 已存在於銀行資料中"),
    (("bank", "unlock", "A123456789", "nobody99"), "fxmlsim bank: 查無此使用者：A123456789 nobody99"),
    (("bank", "unlock-officer", "0060040", "EO999999"), "fxmlsim bank: 查無此分行經辦：0060040 EO999999"),
])
def test_refusals_are_one_line(home: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                               message: str) -> None:
    fxmlsim(home, "bank", "list")  # the bank exists (seeded) before the refusal
    before = dump(home)
    capsys.readouterr()
    assert fxmlsim(home, *argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err and err.count("\n") == 1
    assert dump(home) == before


def dump(home: Path) -> dict[str, list[tuple[object, ...]]]:
    store = BankStore(home / "bank" / "bank.sqlite3")
    try:
        return store.dump()
    finally:
        store.close()


def test_an_officer_is_unlocked_and_an_inbox_listed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fxmlsim(home, "bank", "list")
    store = BankStore(home / "bank" / "bank.sqlite3")
    try:
        for _ in range(3):
            store.reserve(Realm.OFFICER, "0060040", "EO004001", ANY_CLIENT, 3, datetime(2026, 3, 2, tzinfo=TAIWAN))
        row = store.officer("0060040", "EO004001")
        assert row is not None and row.locked
    finally:
        store.close()
    capsys.readouterr()
    assert fxmlsim(home, "bank", "unlock-officer", "0060040", "EO004001") == 0
    assert capsys.readouterr().out == "0060040 EO004001: 已解除暫停\n"
    store = BankStore(home / "bank" / "bank.sqlite3")
    try:
        row = store.officer("0060040", "EO004001")
        assert row is not None and not row.locked and row.failed_logins == 0
    finally:
        store.close()
    assert fxmlsim(home, "bank", "inbox", "0060040") == 0
    assert capsys.readouterr().out == ""  # nothing faxed to it yet
