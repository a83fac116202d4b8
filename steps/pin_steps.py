"""The pin steps: fxmlsim's step library (simulator/behave/steps/pin.py, docs/pytest.md)."""

from simulator.behave.steps import pin  # noqa: F401
