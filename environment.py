"""behave hooks for the features in features/ (steps in steps/): fxmlsim's own, from its step library.

behave looks for this file beside the ``steps/`` folder it finds, which is the repository root. The
hooks are :mod:`simulator.behave.hooks` (what they do: its docstring and docs/pytest.md); the
screenshots and their manifest go to this checkout's ``reports/`` wherever behave runs from.
"""

from __future__ import annotations

from pathlib import Path

from behave.runner import Context

from simulator.behave import hooks
from simulator.behave.hooks import after_all, after_scenario, after_step, before_scenario, before_step

__all__ = ["after_all", "after_scenario", "after_step", "before_all", "before_scenario", "before_step"]

ROOT = Path(__file__).resolve().parent


def before_all(context: Context) -> None:
    hooks.before_all(context, reports=ROOT / "reports")
