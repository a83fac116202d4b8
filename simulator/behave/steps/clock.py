"""Steps that set the one clock of the whole stack (bank, platform, CA, card agent)."""

from __future__ import annotations

from behave import given, when
from behave.runner import Context

from simulator.behave.clock_support import advance, roc, set_now


@given("現在是 民國{year:d}年{month:d}月{day:d}日 {hour:d}:{minute:d}:{second:d}")
@when("現在是 民國{year:d}年{month:d}月{day:d}日 {hour:d}:{minute:d}:{second:d}")
def now_is(context: Context, year: int, month: int, day: int, hour: int, minute: int, second: int) -> None:
    set_now(context, roc(year, month, day, hour, minute, second))


@when("過了 {seconds:d} 秒")
def time_passes(context: Context, seconds: int) -> None:
    advance(context, seconds)
