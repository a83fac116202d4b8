"""The suspend steps: fxmlsim's step library (simulator/behave/steps/suspend.py, docs/pytest.md)."""

from simulator.behave.steps import suspend  # noqa: F401
