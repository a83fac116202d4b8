"""One injectable clock for every process of the stack.

Every time the CA, the card stack or the platform uses comes from a
:class:`Clock`. :func:`from_env` reads the ``FXMLSIM_CLOCK`` setting that the
stack passes to each process it starts:

``system``                      real time (the default)
``fixed:2023-04-17T11:28:33+08:00``   frozen at that instant
``offset:-1234.5``              real time shifted by that many seconds
``file:/path/clock.json``       read on every call from a JSON file holding
                                ``{"fixed": "<iso>"}`` or ``{"offset": <seconds>}``
                                (or ``{}`` for real time), so a test can move
                                the clock of processes that are already running

All instants are timezone-aware. Taiwan time (+08:00) is :data:`TAIWAN`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from fxml import env
from fxml.errors import FxmlError

TAIWAN = timezone(timedelta(hours=8), "Asia/Taipei")
ENV = env.CLOCK


class ClockError(FxmlError, ValueError):
    """A clock setting that cannot be understood."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; a naive one is taken as Taiwan time."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ClockError(f"not an ISO 8601 date and time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=TAIWAN)


class Clock:
    """Real time. Subclasses freeze or shift it."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def describe(self) -> str:
        return "system"

    def now_taiwan(self) -> datetime:
        return self.now().astimezone(TAIWAN)


@dataclass
class FixedClock(Clock):
    """Frozen at ``at`` until moved with :meth:`set` or :meth:`advance`."""

    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ClockError("a fixed clock needs a timezone-aware instant")

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta

    def describe(self) -> str:
        return f"fixed:{self.at.isoformat()}"


@dataclass
class OffsetClock(Clock):
    """Real time shifted by ``offset``."""

    offset: timedelta

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def describe(self) -> str:
        return f"offset:{self.offset.total_seconds()}"


@dataclass
class FileClock(Clock):
    """A clock whose setting lives in a JSON file shared by several processes."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cache: tuple[float, Clock] | None = field(default=None, repr=False)

    def _current(self) -> Clock:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return Clock()
        with self._lock:
            if self._cache and self._cache[0] == mtime:
                return self._cache[1]
            clock = _from_mapping(json.loads(self.path.read_text(encoding="utf-8")), self.path)
            self._cache = (mtime, clock)
            return clock

    def now(self) -> datetime:
        return self._current().now()

    def describe(self) -> str:
        return f"file:{self.path}"

    def write(self, *, fixed: datetime | None = None, offset: timedelta | None = None) -> None:
        """Move every process that reads this file (atomic replace)."""
        data: dict[str, object] = {}
        if fixed is not None:
            data["fixed"] = fixed.isoformat()
        if offset is not None:
            data["offset"] = offset.total_seconds()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.path)


def _from_mapping(data: object, origin: Path) -> Clock:
    if not isinstance(data, dict) or set(data) - {"fixed", "offset"}:
        raise ClockError(f"{origin}: expected {{'fixed': iso}} or {{'offset': seconds}}, got {data!r}")
    if "fixed" in data:
        return FixedClock(parse_instant(str(data["fixed"])))
    if "offset" in data:
        return OffsetClock(timedelta(seconds=float(data["offset"])))
    return Clock()


def parse(setting: str) -> Clock:
    """Turn a ``FXMLSIM_CLOCK`` setting into a clock."""
    kind, _, arg = setting.partition(":")
    if kind in ("", "system"):
        return Clock()
    if kind == "fixed":
        return FixedClock(parse_instant(arg))
    if kind == "offset":
        try:
            return OffsetClock(timedelta(seconds=float(arg)))
        except ValueError as exc:
            raise ClockError(f"offset needs seconds, got {arg!r}") from exc
    if kind == "file":
        return FileClock(Path(arg))
    raise ClockError(f"unknown clock setting {setting!r} (system, fixed:, offset:, file:)")


def from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> Clock:
    env = os.environ if environ is None else environ
    return parse(env.get(ENV, "system"))
