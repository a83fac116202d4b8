"""Ids taken from a request (path and query parameters, a few headers), read as ASCII only.

Python's own tests for digits accept far more than ``0``-``9``: ``str.isdigit()`` is true for
superscripts (``²``) that ``int()`` then refuses with ValueError (a 500), and ``int()`` and
``re``'s ``\\d`` accept every Unicode decimal digit, so an Arabic-Indic one (U+0661) or a
full-width one two (U+FF11 U+FF12) would silently name fax 1 or fax 12. Every app reads such
ids through this module instead: an id is ASCII digits (or hex digits) and nothing else, or it
is no id at all (None), which each app answers as "not found" in its own words.
"""

from __future__ import annotations

import re
from typing import Final

#: Ids of at most this many digits: an SQLite INTEGER (and a Unix time in seconds) fits easily.
MAX_DIGITS: Final = 18
_DIGITS: Final = re.compile(r"[0-9]+", re.ASCII)
_HEX: Final = re.compile(r"[0-9A-Fa-f]+", re.ASCII)


def number(text: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` as a number if it is 1 to ``max_digits`` ASCII digits, else None: no sign, no
    space, no ``_`` (which ``int()`` accepts), no other script's digits."""
    if text is None or not 0 < len(text) <= max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)


def hex_id(text: str | None, *, max_digits: int = 40) -> str | None:
    """``text`` in upper case if it is 1 to ``max_digits`` ASCII hex digits (a certificate's serial
    as the CA writes it), else None; full-width and other scripts' digits are no hex digits."""
    if text is None or not 0 < len(text) <= max_digits or not _HEX.fullmatch(text):
        return None
    return text.upper()


def matching(text: str | None, pattern: re.Pattern[str]) -> str | None:
    """``text`` if ``pattern`` (compiled with ``re.ASCII``, so that ``\\d`` is 0-9) matches all of
    it, else None."""
    if not pattern.flags & re.ASCII:
        raise ValueError(f"{pattern.pattern!r} must be compiled with re.ASCII")
    return text if text is not None and pattern.fullmatch(text) else None


__all__ = ["MAX_DIGITS", "hex_id", "matching", "number"]
