"""The stack's one clock, as the steps move it (a file every process of the stack reads)."""

from __future__ import annotations

from datetime import datetime, timedelta

from behave.runner import Context

from fxml.clock import TAIWAN


def set_now(context: Context, at: datetime) -> None:
    context.clock.write(fixed=at)


def advance(context: Context, seconds: float) -> None:
    """Move the clock on; a clock on real time is first frozen at now."""
    context.clock.write(fixed=context.clock.now() + timedelta(seconds=seconds))


def roc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    """民國 year → the instant in Taiwan time."""
    return datetime(year + 1911, month, day, hour, minute, second, tzinfo=TAIWAN)
