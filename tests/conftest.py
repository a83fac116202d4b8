"""Test groups by what they need (markers in pyproject.toml): unit tests need
nothing; ``pcsc`` tests start a private pcscd + vpcd stack (their fixtures are
in tests/pcsc/conftest.py); ``opensc`` tests also run OpenSC's tools against it.
Helpers live in tests/support/.
"""
