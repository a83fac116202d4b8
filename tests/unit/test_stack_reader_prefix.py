"""A stack whose readers carry another name prefix (``fxmlsim up
--reader-prefix``): for clients that choose readers by name, such as
Debian's ykcs11 2.2, which only looks at readers whose name starts with
"Yubico" (docs/card.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import main
from simulator.pcsc import layout
from simulator.pcsc.daemon import StackDaemon
from simulator.pcsc.stack import PcscStack, StackError

PREFIX = "Yubico-prefixed fxmlsim TWCA Reader"


def test_reader_conf_names_the_entries_with_the_prefix(tmp_path: Path) -> None:
    conf = layout.reader_conf(4, layout.RunLayout(tmp_path), PREFIX)
    assert f'FRIENDLYNAME "{PREFIX} 0"\n' in conf and f'FRIENDLYNAME "{PREFIX} 1"\n' in conf
    assert layout.READER_PREFIX not in conf.replace(PREFIX, "")


def test_the_default_names_are_unchanged(tmp_path: Path) -> None:
    lay = layout.RunLayout(tmp_path)
    assert layout.reader_conf(2, lay) == layout.reader_conf(2, lay, layout.READER_PREFIX)
    assert 'FRIENDLYNAME "fxmlsim TWCA Reader 0"\n' in layout.reader_conf(2, lay)


@pytest.mark.parametrize(
    ("name", "index"),
    [
        (f"{PREFIX} 0 00 00", 0),
        (f"{PREFIX} 2 00 01", 5),
        ("fxmlsim TWCA Reader 0 00 00", None),
        (f"{PREFIX}X 0 00 00", None),
    ],
)
def test_names_with_the_prefix_map_back_to_indexes(name: str, index: int | None) -> None:
    assert layout.reader_index(name, PREFIX) == index


@pytest.mark.parametrize(
    "prefix",
    ["", " Yubico", "Yubico ", 'Yubico "quoted"', "Yubico\nLIBPATH /tmp/x.so", "讀卡機", "Y" * 65, "Yubico#1"],
    ids=["empty", "leading-space", "trailing-space", "quote", "newline", "non-ascii", "too-long", "hash"],
)
def test_an_unsafe_prefix_is_refused_before_anything_starts(tmp_path: Path, prefix: str) -> None:
    assert not layout.valid_reader_prefix(prefix)
    with pytest.raises(ValueError, match="invalid reader name prefix"):
        layout.reader_conf(2, layout.RunLayout(tmp_path), prefix)
    with pytest.raises(StackError, match="invalid reader name prefix"):
        StackDaemon(tmp_path / "run", 2, prefix)
    with pytest.raises(StackError, match="invalid reader name prefix"):
        PcscStack(tmp_path / "run").up(readers=2, reader_prefix=prefix)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("prefix", [PREFIX, "Y", "Yubico (test) reader_2.0-a", "Y" * 64])
def test_plain_prefixes_are_accepted(prefix: str) -> None:
    assert layout.valid_reader_prefix(prefix)


def test_cli_refuses_an_unsafe_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "up", "--reader-prefix", 'bad"name']) == 1
    assert "invalid reader name prefix" in capsys.readouterr().err
