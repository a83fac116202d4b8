"""The 授權碼 of ``fxmlsim download``, as the 憑證載具密碼 is read: from a file, the terminal or standard
input (its first line, before the PIN's), never from the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.pin_input import CODE_OPTION_REFUSED, PinInputError, read_code, read_pin


def test_the_code_then_the_pin_on_standard_input() -> None:
    stdin = io.StringIO(" 7K2M-QX9D-4HTB-P8ZW \nFxml2015\n")
    assert read_code(stdin=stdin) == "7K2M-QX9D-4HTB-P8ZW"
    assert read_pin(stdin=stdin, environ={}) == "Fxml2015"


def test_the_code_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "code.txt"
    path.write_text("7K2M-QX9D-4HTB-P8ZW\n", encoding="utf-8")
    assert read_code(str(path)) == "7K2M-QX9D-4HTB-P8ZW"
    with pytest.raises(PinInputError, match="cannot read the 授權碼"):
        read_code(str(tmp_path / "none.txt"))
    with pytest.raises(PinInputError, match="no 授權碼"):
        read_code(stdin=io.StringIO("\n"))


def test_the_code_on_the_command_line_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["download", "--persona", "person", "--code", "7K2M-QX9D-4HTB-P8ZW"])
    assert stopped.value.code == 2 and CODE_OPTION_REFUSED in capsys.readouterr().err
