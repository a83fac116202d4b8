"""Check that the Python running this script has exactly the versions requirements.lock pins.

    .venv/bin/python scripts/check_lock.py      # scripts/setup.sh runs it after installing

Exit status 1, naming each package, if one is missing or at another version. The lock
is made by scripts/lock.sh (uv pip compile, with hashes); setup.sh and tox install from it.
Only the standard library: it runs before anything else is known to work.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a lock (hash lines and comments skipped)."""
    return dict(PIN.findall(text))


def mismatches(pinned: dict[str, str]) -> list[str]:
    """One line per package whose installed version is not the pinned one."""
    out = []
    for name, want in sorted(pinned.items()):
        try:
            have = version(name)
        except PackageNotFoundError:
            out.append(f"{name}: not installed (the lock pins {want})")
            continue
        if have != want:
            out.append(f"{name}: {have} installed, the lock pins {want}")
    return out


def main() -> int:
    pinned = pins(LOCK.read_text(encoding="utf-8"))
    if not pinned:
        print(f"{LOCK}: no pinned package", file=sys.stderr)
        return 1
    wrong = mismatches(pinned)
    for line in wrong:
        print(line, file=sys.stderr)
    if wrong:
        print(f"{len(wrong)} of {len(pinned)} packages differ from {LOCK.name}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
