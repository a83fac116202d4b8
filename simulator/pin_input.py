"""The 憑證載具密碼 for a command that needs it, never from its command line.

A command line is visible to every user of the machine (``ps``,
``/proc/<pid>/cmdline``), so ``fxmlsim renew`` takes the PIN, in this order, from:

1. ``--pin-file FILE`` (``-`` for standard input), else the file that
   ``FXMLSIM_PIN_FILE`` names: its first line. A regular file that others may
   read or write is refused, as ssh refuses such a key (``chmod 600 FILE``);
2. the terminal, without echo, when standard input is one;
3. else standard input's first line (``printf '%s\\n' "$PIN" | fxmlsim renew ...``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import stat
import sys
from collections.abc import Mapping
from typing import IO, Any

from fxml import env
from simulator.errors import SimulatorError

PROMPT = "憑證載具密碼："

#: What ``--pin`` answers: it would put the PIN where every user of the machine can read it.
PIN_OPTION_REFUSED = (
    "--pin is refused: a command line is visible to every user of this machine (ps); "
    "give the 憑證載具密碼 with --pin-file FILE, FXMLSIM_PIN_FILE, the terminal or standard input"
)


#: What ``--code`` answers: a 授權碼 is a secret until it is used, as a PIN is.
CODE_OPTION_REFUSED = (
    "--code is refused: a command line is visible to every user of this machine (ps); "
    "give the 授權碼 with --code-file FILE, the terminal or standard input"
)
CODE_PROMPT = "授權碼："


class PinInputError(SimulatorError):
    """The PIN could not be read, or was read from where it may not come."""


class RefusePinOption(argparse.Action):
    """``--pin``: kept only to say why it is refused (argparse's usage error, exit 2)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error(PIN_OPTION_REFUSED)


class RefuseCodeOption(argparse.Action):
    """``--code``: kept only to say why it is refused (argparse's usage error, exit 2)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error(CODE_OPTION_REFUSED)


def read_code(code_file: str | None = None, *, stdin: IO[str] | None = None) -> str:
    """The 授權碼 of ``fxmlsim download``: from ``--code-file`` (``-``: standard input), else the
    terminal (it is shown as typed: it is read out by the officer, and used once), else standard
    input's first line (then the PIN its second: ``printf '%s\\n%s\\n' "$CODE" "$PIN" | ...``)."""
    source = sys.stdin if stdin is None else stdin
    if code_file == "-" or (not code_file and not source.isatty()):
        text = source.readline()
    elif code_file:
        try:
            with open(code_file, encoding="utf-8") as handle:
                text = handle.readline()
        except (OSError, UnicodeDecodeError) as exc:
            raise PinInputError(f"{code_file}: cannot read the 授權碼 ({exc})") from exc
    else:
        text = input(CODE_PROMPT)
    code = text.strip()
    if not code:
        raise PinInputError("no 授權碼 given")
    return code


def read_pin(pin_file: str | None = None, *, environ: Mapping[str, str] | None = None,
             stdin: IO[str] | None = None) -> str:
    """The PIN, from the first source of the module's list that is given."""
    source = sys.stdin if stdin is None else stdin
    path = pin_file or (os.environ if environ is None else environ).get(env.PIN_FILE)
    if path == "-":
        text = source.readline()
    elif path:
        text = _first_line(path)
    elif source.isatty():
        text = getpass.getpass(PROMPT)
    else:
        text = source.readline()
    pin = text.rstrip("\r\n")
    if not pin:
        raise PinInputError(f"no 憑證載具密碼 given ({_where(path)} is empty)")
    return pin


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise PinInputError(f"{path}: others may read the 憑證載具密碼 in this file (chmod 600 {path})")
            return handle.readline()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PinInputError(f"{path}: cannot read the 憑證載具密碼 ({reason})") from exc


def _where(path: str | None) -> str:
    if path == "-" or (not path and not sys.stdin.isatty()):
        return "standard input"
    return path or "the terminal"
