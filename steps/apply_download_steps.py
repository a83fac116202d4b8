"""The apply_download steps: fxmlsim's step library (simulator/behave/steps/apply_download.py, docs/pytest.md)."""

from simulator.behave.steps import apply_download  # noqa: F401
