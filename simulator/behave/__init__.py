"""fxmlsim's behave step library (docs/pytest.md)."""
