"""The platform steps: fxmlsim's step library (simulator/behave/steps/platform.py, docs/pytest.md)."""

from simulator.behave.steps import platform  # noqa: F401
