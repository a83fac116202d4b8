"""Paths in the repository, wherever pytest was started from."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[2]


def repo_path(*parts: str) -> Path:
    """``ROOT / part / ...``: e.g. ``repo_path("fixtures", "cards", "eoi-large.json")``."""
    return ROOT.joinpath(*parts)


def fresh_copy(target: Path) -> Path:
    """The files a clone would have (with this checkout's uncommitted edits, and
    new files git does not ignore), copied to ``target``: no .venv, no .tox."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout
    for name in filter(None, listed.split(b"\0")):
        source = ROOT / os.fsdecode(name)
        dest = target / os.fsdecode(name)
        if source.is_symlink():  # fixtures -> simulator/fixtures: a link in a clone too
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(os.readlink(source))
        elif source.is_file():  # a file deleted but not yet committed is gone from a clone too
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    return target
