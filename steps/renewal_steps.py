"""The renewal steps: fxmlsim's step library (simulator/behave/steps/renewal.py, docs/pytest.md)."""

from simulator.behave.steps import renewal  # noqa: F401
