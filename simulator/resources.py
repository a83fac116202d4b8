"""The data files the package carries (package data: in the wheel, next to the code).

Every runtime lookup of a data file goes through here or through a path relative to its
own module (``Path(__file__).parent / "templates"``), never through the checkout's root,
so an installed wheel works from any folder. The fixtures live in ``simulator/fixtures/``;
the checkout's top-level ``fixtures`` is a symbolic link to them, for the docs', features'
and tests' paths.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from simulator.errors import SimulatorError


class PackageDataError(SimulatorError, RuntimeError):
    """The package's data files are not on disk (a zipped import): gcc, pcscd and Jinja need real files."""


def _package_dir() -> Path:
    root = files("simulator")
    if not isinstance(root, Path):
        raise PackageDataError(f"fxmlsim's data files are not on disk ({root!r}): install the wheel unpacked")
    return root


#: The fixtures: card profiles (``cards/*.json``), the bank's personas and officers (``bank/*.json``).
FIXTURES: Final = _package_dir() / "fixtures"
#: The card profiles ``fxmlsim card create`` and the demo use.
CARD_PROFILES: Final = FIXTURES / "cards"
#: The personas the features use.
PERSONAS: Final = FIXTURES / "bank" / "personas.json"
#: The branches' officers.
OFFICERS: Final = FIXTURES / "bank" / "officers.json"
