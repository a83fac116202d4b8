"""fxmlsim's behave step library (docs/pytest.md): the zh-TW steps (:mod:`simulator.behave.steps`), the
hooks a project's ``environment.py`` imports (:mod:`simulator.behave.hooks`: the stack, chromium, the
screenshots of the report) and the page objects the steps share."""
