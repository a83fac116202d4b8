"""``fxmlsim doctor``: one line per thing of the Debian side, the apt-get command for what is
missing, exit 1 then; and Debian's virtualsmartcard found without the checkout's .pth file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulator.debian import VIRTUALSMARTCARD_DIRS
from simulator.doctor import Result, missing_packages
from tests.support.paths import ROOT


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "doctor"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_on_this_machine_everything_is_there() -> None:
    done = doctor(dict(os.environ))
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(line.startswith("ok ") for line in lines[:-1]), lines
    assert lines[-1] == "fxmlsim doctor: everything fxmlsim needs is there"
    names = [line.split()[1].rstrip(":") for line in lines[:-1]]
    for needed in ("pcscd", "vpcd", "python3-virtualsmartcard", "gcc", "opensc", "openssl", "chromium",
                   "fonts-noto-cjk", "pango"):
        assert needed in names


def test_with_path_emptied_the_tools_are_missing_with_their_apt_command() -> None:
    done = doctor({**os.environ, "PATH": ""})
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    gcc = "gcc not on PATH (builds the reader driver guard at the stack's start)"
    assert f"MISSING  gcc: {gcc}; fix: apt-get install gcc" in lines
    assert any(line.startswith("MISSING  opensc: ") and line.endswith("fix: apt-get install opensc") for line in lines)
    assert any(line.startswith("MISSING  fonts-noto-cjk: ") for line in lines)
    # found by their absolute paths, not on PATH
    assert any(line.startswith("ok       pcscd: /usr/sbin/pcscd") for line in lines)
    assert lines[-1].startswith("fxmlsim doctor: all at once, as root: apt-get install gcc ")
    assert "opensc" in lines[-1].split()


def test_a_missing_package_is_named_once() -> None:
    results = [Result("a", False, "x", ("gcc",)), Result("b", True, "y"), Result("c", False, "z", ("gcc", "opensc")),
               Result("d", False, "w", fix="run as root")]
    assert missing_packages(results) == ["gcc", "opensc"]
    assert results[3].line() == "MISSING  d: w; fix: run as root"
    assert results[1].line() == "ok       b: y"


FIND = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from simulator.debian import find_virtualsmartcard
dirs = tuple(Path(d) for d in sys.argv[2:])
found = find_virtualsmartcard(dirs)
if found is not None:
    import virtualsmartcard
    print(json.dumps({"folder": str(found.folder), "added": found.added, "module": virtualsmartcard.__file__}))
else:
    print("null")
"""


def find_without_site(*dirs: Path) -> str:
    """find_virtualsmartcard in a python without site (-S): no .venv, no .pth file, as an installed wheel is."""
    return subprocess.run([sys.executable, "-S", "-c", FIND, str(ROOT), *map(str, dirs)], capture_output=True,
                          text=True, timeout=60, check=True).stdout.strip()


def test_without_the_pth_file_debian_s_folder_goes_on_sys_path() -> None:
    out = find_without_site(*VIRTUALSMARTCARD_DIRS)
    debian = VIRTUALSMARTCARD_DIRS[0]
    assert out == (f'{{"folder": "{debian}", "added": true, '
                   f'"module": "{debian}/virtualsmartcard/__init__.py"}}')


def test_nowhere_to_be_found_is_none(tmp_path: Path) -> None:
    assert find_without_site(tmp_path) == "null"


CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
from simulator.doctor import check_virtualsmartcard
print(check_virtualsmartcard().line())
"""


def test_virtualsmartcard_without_pycryptodome_is_missing_with_the_pip_fix() -> None:
    """Without site (-S) neither the venv's .pth file nor pycryptodome is there: doctor finds
    Debian's folder itself and says what the module lacks."""
    out = subprocess.run([sys.executable, "-S", "-c", CHECK, str(ROOT)], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == (f"MISSING  python3-virtualsmartcard: {VIRTUALSMARTCARD_DIRS[0]}: it needs pycryptodome (Crypto), "
                   "which is not installed; fix: pip install pycryptodome (one of fxmlsim's dependencies)")
