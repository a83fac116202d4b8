"""The query steps: fxmlsim's step library (simulator/behave/steps/query.py, docs/pytest.md)."""

from simulator.behave.steps import query  # noqa: F401
