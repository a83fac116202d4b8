"""The 憑證載具密碼 of ``fxmlsim renew`` never comes from its command line
(simulator/pin_input.py): a file of its owner's, the terminal without echo, or
standard input; ``--pin`` is refused before anything runs."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import build_parser
from simulator.pin_input import PIN_OPTION_REFUSED, PinInputError, read_pin

REPO = Path(__file__).resolve().parents[2]


class Pipe(io.StringIO):
    """Standard input that is not a terminal."""

    def isatty(self) -> bool:
        return False


def private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_the_first_line_of_a_private_file(tmp_path: Path) -> None:
    assert read_pin(str(private(tmp_path / "pin", "a1b2c3\nnot this\n")), environ={}) == "a1b2c3"
    assert read_pin(str(private(tmp_path / "crlf", "a1b2c3\r\n")), environ={}) == "a1b2c3"


def test_the_file_named_by_the_environment(tmp_path: Path) -> None:
    path = private(tmp_path / "pin", "Eoi2015a\n")
    assert read_pin(None, environ={"FXMLSIM_PIN_FILE": str(path)}, stdin=Pipe("ignored\n")) == "Eoi2015a"


def test_the_option_wins_over_the_environment(tmp_path: Path) -> None:
    given = private(tmp_path / "given", "given1\n")
    other = private(tmp_path / "other", "other1\n")
    assert read_pin(str(given), environ={"FXMLSIM_PIN_FILE": str(other)}) == "given1"


def test_standard_input_when_it_is_not_a_terminal() -> None:
    assert read_pin(None, environ={}, stdin=Pipe("a1b2c3\n")) == "a1b2c3"
    assert read_pin("-", environ={}, stdin=Pipe("a1b2c3\n")) == "a1b2c3"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_may_read_is_refused_and_left_alone(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "pin"
    path.write_text("a1b2c3\n", encoding="utf-8")
    path.chmod(mode)
    with pytest.raises(PinInputError) as caught:
        read_pin(str(path), environ={})
    assert str(caught.value) == f"{path}: others may read the 憑證載具密碼 in this file (chmod 600 {path})"
    assert path.read_text(encoding="utf-8") == "a1b2c3\n" and (path.stat().st_mode & 0o777) == mode


def test_a_missing_file_and_an_empty_pin_are_one_line_each(tmp_path: Path) -> None:
    with pytest.raises(PinInputError) as caught:
        read_pin(str(tmp_path / "nowhere"), environ={})
    assert str(caught.value) == f"{tmp_path / 'nowhere'}: cannot read the 憑證載具密碼 (No such file or directory)"
    with pytest.raises(PinInputError) as caught:
        read_pin(str(private(tmp_path / "empty", "\n")), environ={})
    assert str(caught.value) == f"no 憑證載具密碼 given ({tmp_path / 'empty'} is empty)"
    with pytest.raises(PinInputError) as caught:
        read_pin("-", environ={}, stdin=Pipe(""))
    assert str(caught.value) == "no 憑證載具密碼 given (standard input is empty)"


def test_pin_on_the_command_line_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["renew", "--persona", "person", "--pin", "a1b2c3"], ["renew", "--persona", "person", "--pin"]):
        with pytest.raises(SystemExit) as caught:
            build_parser().parse_args(argv)
        assert caught.value.code == 2
        assert capsys.readouterr().err.strip().endswith(f"error: {PIN_OPTION_REFUSED}")


def test_the_terminal_asks_without_echo() -> None:
    # A real terminal (a pseudo-terminal): the prompt shows, the PIN typed does not.
    pid, fd = pty.fork()
    if pid == 0:  # the child: read the PIN as fxmlsim renew does, print what it got, hex-encoded
        os.chdir(REPO)
        script = "from simulator.pin_input import read_pin; print('GOT', read_pin(environ={}).encode().hex())"
        os.execv(sys.executable, [sys.executable, "-c", script])  # noqa: S606 - our own interpreter, no shell
    seen = b""
    try:
        while "憑證載具密碼：".encode() not in seen:
            ready, _, _ = select.select([fd], [], [], 20)
            assert ready, seen
            seen += os.read(fd, 1024)
        os.write(fd, b"a1b2c3\n")
        while b"GOT" not in seen or not seen.rstrip().endswith(b"a1b2c3".hex().encode()):
            ready, _, _ = select.select([fd], [], [], 20)
            assert ready, seen
            seen += os.read(fd, 1024)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert f"GOT {b'a1b2c3'.hex()}".encode() in seen
    assert b"a1b2c3" not in seen.replace(b"a1b2c3".hex().encode(), b"")  # never echoed


def test_no_command_line_of_fxmlsim_renew_carries_a_pin() -> None:
    # The README's and the docs' examples give the PIN only in the safe forms.
    texts = [(REPO / "README.md").read_text(encoding="utf-8"),
             *(p.read_text(encoding="utf-8") for p in (REPO / "docs").glob("*.md"))]
    lines = [line for text in texts for line in text.splitlines() if "fxmlsim renew" in line]
    assert lines and not [line for line in lines if "--pin " in line or "--pin=" in line], lines
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "renew", "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert "--pin-file" in done.stdout and "--pin " not in done.stdout.replace("--pin-file", "")
