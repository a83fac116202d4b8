"""The branch steps: fxmlsim's step library (simulator/behave/steps/branch.py, docs/pytest.md)."""

from simulator.behave.steps import branch  # noqa: F401
