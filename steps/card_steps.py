"""The card steps: fxmlsim's step library (simulator/behave/steps/card.py, docs/pytest.md)."""

from simulator.behave.steps import card  # noqa: F401
