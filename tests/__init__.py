"""fxmlsim's tests, a package so that helpers are imported by their full
name (``from tests.support.card import ...``) however pytest is started."""
