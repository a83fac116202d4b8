"""``fxmlsim doctor``: is the Debian side of fxmlsim there?

pip installs fxmlsim's Python side; what it drives comes from Debian: pcscd and vpcd (the
private stack), python3-virtualsmartcard (the card OS's base), gcc and pcsc-lite's header (the
reader driver guard, compiled at the stack's start), unshare and ip (the stack's namespace),
OpenSC and openssl (what a developer checks a card with), chromium and the CJK fonts (the
features), Pango (WeasyPrint's PDFs: the proof sheet, the report). One :class:`Result` per
thing, each with the ``apt-get install`` that fixes it when it is missing.
"""

from __future__ import annotations

import ctypes.util
import importlib
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fxml import env
from simulator.debian import VIRTUALSMARTCARD_PACKAGE, find_virtualsmartcard
from simulator.pcsc import layout

#: The fonts the screens and the PDFs are drawn with (Traditional Chinese).
CJK_FONT: Final = "Noto Sans CJK"


@dataclass(frozen=True)
class Result:
    """One thing fxmlsim needs: ``detail`` says where it was found, or what is missing;
    ``packages`` are the Debian packages that provide it; ``fix`` is set when apt cannot."""

    name: str
    ok: bool
    detail: str
    packages: tuple[str, ...] = ()
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok       {self.name}: {self.detail}"
        remedy = self.fix or f"apt-get install {' '.join(self.packages)}"
        return f"MISSING  {self.name}: {self.detail}; fix: {remedy}"


def _file(name: str, path: Path, package: str, what: str) -> Result:
    if path.exists():
        return Result(name, True, str(path))
    return Result(name, False, f"no {path} ({what})", (package,))


def _tools(name: str, tools: Sequence[str], package: str, what: str) -> Result:
    found = {tool: shutil.which(tool) for tool in tools}
    missing = [tool for tool, path in found.items() if path is None]
    if not missing:
        return Result(name, True, ", ".join(str(path) for path in found.values()))
    return Result(name, False, f"{', '.join(missing)} not on PATH ({what})", (package,))


def check_virtualsmartcard() -> Result:
    found = find_virtualsmartcard()
    name = VIRTUALSMARTCARD_PACKAGE
    if found is None:
        return Result(name, False, "the module virtualsmartcard is nowhere (the card OS's base)", (name,))
    if importlib.util.find_spec("Crypto") is None:  # virtualsmartcard falls back to Python 2's sha module then
        return Result(name, False, f"{found.folder}: it needs pycryptodome (Crypto), which is not installed",
                      fix="pip install pycryptodome (one of fxmlsim's dependencies)")
    try:
        importlib.import_module("virtualsmartcard.VirtualSmartcard")
    except ImportError as exc:
        return Result(name, False, f"{found.folder}: the module does not import ({exc})", (name,))
    how = "added to sys.path by fxmlsim" if found.added else "on sys.path"
    return Result(name, True, f"{found.folder} ({how})")


def check_chromium() -> Result:
    path = Path(os.environ.get(env.CHROMIUM) or "/usr/bin/chromium")
    if os.access(path, os.X_OK):
        return Result("chromium", True, str(path))
    return Result("chromium", False, f"no {path} (the zh-TW features' browser; {env.CHROMIUM} names another)",
                  ("chromium",))


def check_fonts() -> Result:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return Result("fonts-noto-cjk", False, "fc-list not on PATH (fontconfig: how fonts are found)",
                      ("fontconfig", "fonts-noto-cjk"))
    done = subprocess.run([fc_list, ":lang=zh-tw", "family"], capture_output=True, text=True, check=False)
    if CJK_FONT in done.stdout:
        return Result("fonts-noto-cjk", True, f"{CJK_FONT} (fc-list :lang=zh-tw)")
    return Result("fonts-noto-cjk", False, f"no {CJK_FONT} font for zh-TW (the screens' and PDFs' Chinese)",
                  ("fonts-noto-cjk",))


def check_pango() -> Result:
    libraries = {"pango-1.0": "libpango-1.0-0", "pangoft2-1.0": "libpangoft2-1.0-0"}
    missing = [package for library, package in libraries.items() if ctypes.util.find_library(library) is None]
    if not missing:
        return Result("pango", True, ", ".join(f"lib{library}" for library in libraries))
    return Result("pango", False, "Pango not found (WeasyPrint draws the proof sheet and the report with it)",
                  tuple(missing))


def check_namespaces() -> Result:
    """The stack runs in its own mount and network namespace: root, or unprivileged user namespaces."""
    name = "namespaces"
    if os.geteuid() == 0:
        return Result(name, True, "root (unshare --mount --net)")
    limits = {Path("/proc/sys/user/max_user_namespaces"): "user.max_user_namespaces=15000",
              Path("/proc/sys/kernel/unprivileged_userns_clone"): "kernel.unprivileged_userns_clone=1"}
    for path, setting in limits.items():
        try:
            value = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if value <= 0:
            return Result(name, False, f"not root, and {path} is {value} (unshare --map-root-user fails)",
                          fix=f"run as root, or: sysctl -w {setting}")
    return Result(name, True, "user namespaces (unshare --map-root-user)")


CHECKS: Final[tuple[Callable[[], Result], ...]] = (
    lambda: _file("pcscd", layout.PCSCD, "pcscd", "the private stack's PC/SC daemon"),
    lambda: _file("vpcd", layout.VPCD_DRIVER, "vsmartcard-vpcd", "the virtual readers' driver"),
    check_virtualsmartcard,
    lambda: _file("libpcsclite-dev", layout.IFD_HEADER, "libpcsclite-dev", "the reader driver guard is built with it"),
    lambda: _tools("gcc", ["gcc"], "gcc", "builds the reader driver guard at the stack's start"),
    lambda: _tools("unshare", ["unshare"], "util-linux", "the stack's own namespace"),
    lambda: _tools("ip", ["ip"], "iproute2", "the stack's loopback"),
    check_namespaces,
    lambda: _tools("opensc", ["opensc-tool", "pkcs11-tool", "pkcs15-tool"], "opensc", "OpenSC's card tools"),
    lambda: _tools("openssl", ["openssl"], "openssl", "certificates and keys by hand"),
    check_chromium,
    check_fonts,
    check_pango,
)


def run_checks() -> list[Result]:
    return [check() for check in CHECKS]


def missing_packages(results: Sequence[Result]) -> list[str]:
    """Every Debian package the failed checks name, once, in order."""
    return list(dict.fromkeys(package for result in results if not result.ok for package in result.packages))
