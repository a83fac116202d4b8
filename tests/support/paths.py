"""Paths in the repository, wherever pytest was started from."""

from __future__ import annotations

from pathlib import Path

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[2]


def repo_path(*parts: str) -> Path:
    """``ROOT / part / ...``: e.g. ``repo_path("fixtures", "cards", "eoi-large.json")``."""
    return ROOT.joinpath(*parts)
