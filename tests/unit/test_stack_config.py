"""The stack's configuration and refusals that need no running daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import main
from simulator.pcsc import layout, stack
from simulator.pcsc.stack import PcscStack, StackError


def test_reader_conf_gives_each_reader_its_own_port_and_driver_copy(tmp_path: Path) -> None:
    lay = layout.RunLayout(tmp_path)
    conf = layout.reader_conf(8, lay)
    assert conf.count("FRIENDLYNAME") == 4  # vpcd: two slots per entry
    for k in range(4):
        assert f"DEVICENAME   /dev/null:{layout.BASE_PORT + 2 * k}\n" in conf
        # vpcd's slot table is static per loaded library: one copy per entry,
        # each loaded by its own copy of the guard in front of it
        assert f"LIBPATH      {tmp_path / 'drivers' / f'ifd-guard-{k}.so'}\n" in conf
        assert lay.driver_copy(k).name == f"libifdvpcd-{k}.so"
    assert str(layout.VPCD_DRIVER) not in conf
    assert [layout.reader_port(i) for i in range(3)] == [35963, 35964, 35965]


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("fxmlsim TWCA Reader 0 00 00", 0),
        ("fxmlsim TWCA Reader 0 00 01", 1),
        ("fxmlsim TWCA Reader 3 00 01", 7),
        ("Some USB Reader 00 00", None),
        ("fxmlsim TWCA Reader x 00 00", None),
    ],
)
def test_reader_names_map_back_to_indexes(name: str, index: int | None) -> None:
    assert layout.reader_index(name) == index


def test_missing_debian_package_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(stack.REQUIRED, "vsmartcard-vpcd", tmp_path / "no-such-driver.so")
    with pytest.raises(StackError, match=r"missing Debian packages: vsmartcard-vpcd \(run: bash scripts/setup.sh\)"):
        PcscStack(tmp_path / "run").up()
    assert not (tmp_path / "run").exists()  # refused before anything was made


@pytest.mark.parametrize("readers", [0, 17])
def test_reader_count_out_of_range_is_refused(tmp_path: Path, readers: int) -> None:
    with pytest.raises(StackError, match="readers must be between 1 and 16"):
        PcscStack(tmp_path / "run").up(readers=readers)
    assert not (tmp_path / "run").exists()


def test_cli_without_a_running_stack_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "card", "remove"]) == 1
    err = capsys.readouterr().err
    assert "no PC/SC stack is running" in err and "fxmlsim up first" in err


def test_cli_down_with_nothing_running_is_harmless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "down"]) == 0
    assert "nothing was running" in capsys.readouterr().err


def test_cli_bad_clock_setting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "up", "--clock", "yesterday"]) == 1
    assert "unknown clock setting 'yesterday'" in capsys.readouterr().err
    assert not (tmp_path / "run" / "state.json").exists()
