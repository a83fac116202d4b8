"""The clock steps: fxmlsim's step library (simulator/behave/steps/clock.py, docs/pytest.md)."""

from simulator.behave.steps import clock  # noqa: F401
