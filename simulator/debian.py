"""Debian's python3-virtualsmartcard, wherever fxmlsim is installed.

Debian installs the module outside every ``sys.path``
(``dpkg -L python3-virtualsmartcard``: ``/usr/lib/python3/site-packages/virtualsmartcard/virtualsmartcard``),
and it is on no pip index. ``scripts/setup.sh`` points the checkout's ``.venv`` at it with a
``.pth`` file; an installed wheel has no such file. :func:`find_virtualsmartcard` is the one place
that adds Debian's folder to ``sys.path`` when the module does not import as it is; the card OS
calls it before importing the module, and ``fxmlsim doctor`` reports what it found.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: The Debian package that ships the module.
VIRTUALSMARTCARD_PACKAGE: Final = "python3-virtualsmartcard"
#: Where Debian 12's package puts the module's parent folder (the first), and where Debian puts
#: Python modules as a rule (the second), in the order they are tried.
VIRTUALSMARTCARD_DIRS: Final = (
    Path("/usr/lib/python3/site-packages/virtualsmartcard"),
    Path("/usr/lib/python3/dist-packages"),
)


@dataclass(frozen=True)
class Found:
    """Where ``virtualsmartcard`` imports from, and whether this process's ``sys.path`` needed Debian's folder."""

    folder: Path
    added: bool


def _on_path() -> Path | None:
    spec = importlib.util.find_spec("virtualsmartcard")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def find_virtualsmartcard(dirs: tuple[Path, ...] = VIRTUALSMARTCARD_DIRS) -> Found | None:
    """Make ``import virtualsmartcard`` work: as it is (a ``.pth`` file, PYTHONPATH), or by
    appending the first of ``dirs`` that holds the module to ``sys.path``. None: it is nowhere."""
    folder = _on_path()
    if folder is not None:
        return Found(folder, added=False)
    for candidate in dirs:
        if (candidate / "virtualsmartcard" / "__init__.py").is_file():
            sys.path.append(str(candidate))
            importlib.invalidate_caches()
            return Found(candidate, added=True)
    return None
