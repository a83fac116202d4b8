"""The transfer steps: fxmlsim's step library (simulator/behave/steps/transfer.py, docs/pytest.md)."""

from simulator.behave.steps import transfer  # noqa: F401
