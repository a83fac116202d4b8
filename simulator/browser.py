"""How fxmlsim drives Debian's chromium: headless, through Playwright, on a machine
whose only network is loopback.

The features (``environment.py``) and the browser tests launch it the same way.
Playwright cannot download a browser here; it drives the ``chromium`` package
(``FXMLSIM_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fxml import env

#: Flags for a headless chromium with no network beyond loopback: no sandbox (CI runs as
#: root), no GPU, and none of the background connections a closed network refuses.
ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--lang=zh-TW",
)


def executable() -> Path:
    """The chromium binary (``FXMLSIM_CHROMIUM``, else Debian's)."""
    return Path(os.environ.get(env.CHROMIUM) or "/usr/bin/chromium")


def launch(playwright: Any) -> Any:
    """A headless chromium from a started Playwright (``sync_playwright().start()``)."""
    return playwright.chromium.launch(executable_path=str(executable()), headless=True, args=list(ARGS))
