"""Card names and one-line errors (issue 7, defects 4 and 5): a card name is
a plain name, never a path; a home that is a file, a name too long, a home
on a read-only or virtual file system are each one line naming the path and
the reason, with a non-zero exit and no traceback. Nothing here needs a
running stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.home import Home, HomeError, check_card_name
from tests.support.paths import ROOT

PROFILE = ROOT / "fixtures" / "cards" / "personal-small.json"
LONG = "x" * 300


def fxmlsim(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


def assert_one_line(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fxmlsim: "), done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("name", ["plain", "a.b-c_d", "x" * 64, "A1", "-dash", "_under"])
def test_plain_names_are_card_names(name: str) -> None:
    assert check_card_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".hidden", "..", "../../victim", "/tmp/victim", "sub/x", "x" * 65, LONG, "a b", "a\\b", "卡片", "null",
     "a\nb", "a:b"],
)
def test_anything_else_is_refused(name: str) -> None:
    with pytest.raises(HomeError, match=r"not a card name|null card"):
        check_card_name(name)


@pytest.mark.parametrize("name", ["../../victim", "ABSOLUTE", "sub/x", "null", ".hidden", LONG])
def test_card_create_refuses_a_name_that_is_not_plain_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    home = tmp_path / "a" / "b" / "home"
    victim = tmp_path / "victim.json"
    victim.write_text("unrelated")
    if name == "ABSOLUTE":
        name = str(tmp_path / "victim")
    before = sorted(tmp_path.rglob("*"))
    assert main(["--home", str(home), "card", "create", str(PROFILE), "--name", name, "--replace"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("not a card name" in err[0] or "null card" in err[0]), err
    assert victim.read_text() == "unrelated"
    assert sorted(tmp_path.rglob("*")) == before  # not even the home was made


@pytest.mark.parametrize("command", [["card", "insert", LONG], ["card", "show", LONG],
                                     ["card", "insert", f"/tmp/{LONG}.json"], ["card", "show", f"{LONG}.json"]])
def test_a_name_too_long_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    assert main(["--home", str(tmp_path), *command]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("not a card name" in err[0] or "too long" in err[0]), err
    assert len(err[0]) < 300  # the name itself is cut short


@pytest.mark.parametrize("command", [["up", "--readers", "2"], ["card", "create", str(PROFILE)], ["card", "list"],
                                     ["status"], ["down"], ["card", "show", "x"], ["ca", "list"]])
def test_a_home_that_is_a_file_is_one_line(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("not a folder")
    done = fxmlsim(*command, env={"FXMLSIM_HOME": str(home)})
    assert_one_line(done, str(home), "not a folder")
    assert home.read_text() == "not a folder"


def test_a_home_on_a_virtual_file_system_is_one_line() -> None:
    done = fxmlsim("--home", "/proc/fxmlsim-home", "up", "--readers", "2")
    assert_one_line(done, "/proc/fxmlsim-home")


@pytest.mark.root("mounts a read-only tmpfs")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_a_home_on_a_read_only_file_system_is_one_line(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    script = (f"mount -t tmpfs -o ro,mode=0700 tmpfs {mount} && "
              f"exec {sys.executable} -m simulator.cli --home {mount / 'home'} up --readers 2")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert_one_line(done, str(mount / "home"), "Read-only file system")


def test_the_home_is_made_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        home = Home(tmp_path / "new" / "home")
        home.make_private()
    finally:
        os.umask(old)
    assert (home.root.stat().st_mode & 0o777, home.run_dir.stat().st_mode & 0o777) == (0o700, 0o700)


def test_a_home_others_could_read_is_made_private(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """As a default mkdir, or an older fxmlsim, left it: made private, with a warning."""
    home = tmp_path / "open"
    (home / "cards").mkdir(parents=True)
    (home / "cards" / "x.json").write_text("{}")
    home.chmod(0o755)
    (home / "cards").chmod(0o755)
    (home / "cards" / "x.json").chmod(0o644)
    Home(home).make_private()
    modes = {p.name: p.stat().st_mode & 0o777 for p in [home, *home.rglob("*")]}
    assert modes == {"open": 0o700, "cards": 0o700, "x.json": 0o600, "run": 0o700}
    assert "made them private" in caplog.text


@pytest.mark.parametrize("where", ["home", "inside"])
def test_a_home_others_may_write_to_is_refused(tmp_path: Path, where: str) -> None:
    home = tmp_path / "shared"
    (home / "cards").mkdir(parents=True)
    target = home if where == "home" else home / "cards"
    target.chmod(0o777)
    with pytest.raises(HomeError, match=rf"{target}: other users may write to it \(mode 0777\)"):
        Home(home).make_private()


@pytest.mark.root("gives a folder to another user")
def test_a_home_another_user_owns_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "theirs"
    home.mkdir(mode=0o700)
    os.chown(home, 65534, 65534)
    with pytest.raises(HomeError, match=r"belongs to uid 65534, not to you"):
        Home(home).make_private()
