"""Another local user and a running stack (issue 7, defect 8): the home, its
files and the stack's sockets are its owner's alone. The test runs as root
and probes as ``nobody``, from a folder everyone may enter, so that only the
home's own permissions stand between them."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.home import Home
from tests.support.paths import ROOT

pytestmark = [
    pytest.mark.pcsc,
    pytest.mark.root("runs a client as another user (nobody)"),
]

PROFILE = ROOT / "fixtures" / "cards" / "personal-small.json"
SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's python may sit where nobody cannot reach

#: What a curious neighbour tries: list, read, connect. Prints what worked.
PROBE = """
import json, os, socket, sys
targets = json.loads(sys.argv[1])
got = {}
for path in targets["folders"]:
    try:
        got[path] = "listed " + ",".join(os.listdir(path))
    except OSError as exc:
        pass
for path in targets["files"]:
    try:
        with open(path, "rb") as f:
            f.read(1)
        got[path] = "read"
    except OSError:
        pass
for path in targets["sockets"]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        got[path] = "connected"
    except OSError:
        pass
    finally:
        s.close()
print(json.dumps(got))
"""


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder every user may enter (0755), unlike pytest's own (0700)."""
    folder = Path(tempfile.mkdtemp(prefix="fxmlsim-privacy-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_nobody(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, user="nobody", group="nogroup",
                          extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.mark.skipif(not Path(SYSTEM_PYTHON).exists(), reason=f"needs {SYSTEM_PYTHON}")
def test_another_user_can_neither_read_the_home_nor_use_its_readers(open_folder: Path) -> None:
    home = Home(open_folder / "home")
    image = home.create_card(PROFILE, name="private")
    env = home.up(readers=2)
    try:
        reader = home.stack.insert(image, 0)["name"]
        lay = home.stack.layout
        everything = sorted(home.root.rglob("*"))
        targets = {
            "folders": [str(p) for p in [home.root, *everything] if p.is_dir()],
            "files": [str(p) for p in everything if p.is_file()],
            "sockets": [str(lay.pcscd_socket), str(lay.control_socket)],
        }
        assert str(home.ca_dir / "registry.sqlite") in targets["files"] or any(
            "sqlite" in f for f in targets["files"]), targets["files"]
        probe = as_nobody([SYSTEM_PYTHON, "-c", PROBE, json.dumps(targets)])
        assert probe.returncode == 0, probe.stderr
        assert json.loads(probe.stdout) == {}  # nothing listed, read or connected to
        if shutil.which("opensc-tool"):
            # A real PC/SC client pointed at the stack's socket finds no reader.
            listed = as_nobody(["opensc-tool", "--list-readers"], env={"PCSCLITE_CSOCK_NAME": str(lay.pcscd_socket)})
            assert reader not in listed.stdout, listed.stdout
        # Every folder 0700 and every file 0600 or stricter: nothing for group or others.
        loose = {str(p): oct(p.lstat().st_mode & 0o777) for p in [home.root, *everything]
                 if (p.is_dir() or p.is_file()) and not p.is_symlink() and p.lstat().st_mode & 0o077}
        assert loose == {}, loose
        assert stat.S_ISSOCK(lay.pcscd_socket.stat().st_mode)
    finally:
        home.down()
    assert env["PCSCLITE_CSOCK_NAME"] == str(home.stack.socket_path)
