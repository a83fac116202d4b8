"""Customer files on disk: read as UTF-8 JSON (a refusal names the line), written
atomically, indented, invisible characters as ``\\uXXXX`` escapes."""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from simulator.bank.customers.errors import CustomerDataError, Problem, said

#: ``format`` of a customers file and of a personas file.
CUSTOMERS_FORMAT: Final = "fxmlsim-bank-customers"
PERSONAS_FORMAT: Final = "fxmlsim-bank-personas"
#: The version of both formats this package reads and writes.
FORMAT_VERSION: Final = 1

_T = TypeVar("_T")
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def dumps(data: Any) -> str:
    """JSON as this package writes it: indented, UTF-8 text, invisible
    characters (bidi marks, zero-width joiners, ...) as ``\\uXXXX`` escapes."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return "".join(_escape(c) if unicodedata.category(c) in _INVISIBLE and c != "\n" else c for c in text)


def read_json(path: str | Path) -> object:
    """A file's JSON; :class:`CustomerDataError` naming the file if it is not UTF-8 JSON."""
    path = Path(path)
    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise CustomerDataError([Problem("", said("檔案須為 UTF-8 文字", f"not UTF-8: {error}"))], path) from error
    except json.JSONDecodeError as error:
        raise CustomerDataError(
            [Problem("", said(f"JSON 格式錯誤（第 {error.lineno} 行第 {error.colno} 字）", f"not JSON: {error.msg}"))],
            path,
        ) from error
    return data


def load(path: str | Path, parse: Callable[[object], _T]) -> _T:
    """``parse`` of a file's JSON; a refusal names the file."""
    data = read_json(path)
    try:
        return parse(data)
    except CustomerDataError as error:
        raise error.in_file(path) from None


def write_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` (:func:`dumps`) to ``path``: the file holds the old content or the new, whole."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(data))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
