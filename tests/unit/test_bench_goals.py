"""The benchmarks' goals as data (benchmarks/common.py: GOALS) and the verdict of
``python -m benchmarks --check`` / ``--check-ratios`` on measured values (nothing measured
here: the values are made up, the rules are what is tested)."""

from __future__ import annotations

import re

import pytest

from benchmarks.__main__ import SUITES, enforcement, verdict, with_ratio_goals
from benchmarks.common import GOALS, Kind, Measured


def test_every_goal_belongs_to_a_suite_and_reads_as_the_readme_writes_it() -> None:
    assert {goal.suite for goal in GOALS.values()} <= set(SUITES)
    assert GOALS["card.select_ratio"].text() == "<= 1.5x"
    assert GOALS["card.select_median"].text() == "< 1 ms"
    assert GOALS["ca.issuance_http"].text() == ">= 200/s"
    assert GOALS["renewal.agent_ratio"].text() == "<= 3x"


def test_the_ratio_goals_are_the_cards_select_and_the_renewals() -> None:
    ratios = sorted(key for key, goal in GOALS.items() if goal.kind is Kind.RATIO)
    assert ratios == ["card.select_ratio", "renewal.agent_ratio", "renewal.engine_ratio"]
    assert with_ratio_goals() == ["card", "renewal"]


@pytest.mark.parametrize(("key", "value", "met"), [
    ("card.select_ratio", 1.5, True), ("card.select_ratio", 1.51, False),
    ("card.select_median", 0.99, True), ("card.select_median", 1.0, False),
    ("ca.issuance_in_process", 200, True), ("ca.issuance_in_process", 199.9, False),
    ("renewal.engine_at_once", 0, True), ("renewal.engine_at_once", 1, False),
])
def test_a_value_meets_its_goal_or_not(key: str, value: float, met: bool) -> None:
    assert Measured(key, value).met is met


def test_check_ratios_fails_on_a_missed_ratio_and_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    measured = [Measured("card.select_ratio", 1.2), Measured("renewal.agent_ratio", 3.4),
                Measured("renewal.agent_median", 2000)]
    assert verdict(measured, enforcement(check=False, check_ratios=True)) == 1
    err = capsys.readouterr().err
    assert "MISSED: renewal via agent / the same crypto in process, medians: 3.400x, goal <= 3x (ratio)" in err
    assert "via agent, median" not in err  # absolute: reported in the table, not enforced


def test_check_ratios_passes_a_missed_absolute_goal_which_check_fails(capsys: pytest.CaptureFixture[str]) -> None:
    measured = [Measured("card.select_ratio", 1.2), Measured("card.select_median", 1.7)]
    assert verdict(measured, enforcement(check=False, check_ratios=True)) == 0
    out = capsys.readouterr().out
    assert re.search(r"TWCA card, median +\| absolute \| < 1 ms +\| 1\.700 ms \| NO +\| reported", out), out
    assert verdict(measured, enforcement(check=True, check_ratios=False)) == 1
    assert "MISSED: SELECT through pcscd + vpcd, TWCA card, median: 1.700 ms" in capsys.readouterr().err


def test_a_failed_outcome_fails_even_without_a_check() -> None:
    assert verdict([Measured("renewal.engine_at_once", 2)], enforcement(check=False, check_ratios=False)) == 1
    assert verdict([Measured("renewal.engine_median", 2000)], enforcement(check=False, check_ratios=False)) == 0
