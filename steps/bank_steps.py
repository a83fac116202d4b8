"""The bank steps: fxmlsim's step library (simulator/behave/steps/bank.py, docs/pytest.md)."""

from simulator.behave.steps import bank  # noqa: F401
