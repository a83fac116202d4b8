"""The package as someone else's CI gets it: a wheel, installed into a fresh venv outside the
repository, renews a card with ``fxmlsim demo --no-wait`` from a folder outside the checkout.

What is real and what is borrowed, honestly:

- the wheel is built by pip (``pip wheel --no-deps --no-build-isolation``, offline, with the
  setuptools of the lock) from a fresh copy of the checkout (what a clone has, with this
  checkout's uncommitted edits), so the build writes nothing into the checkout;
- the fresh venv gets the wheel itself with ``pip install --no-deps --no-index``: the package, its
  data files and its ``fxmlsim`` script come from the wheel alone;
- its *dependencies* (starlette, pyscard, WeasyPrint, ...) are the ones already in the checkout's
  ``.venv``, reached through a ``.pth`` file naming ``.venv``'s site-packages, instead of a
  download of the lock's 60-odd packages on every run (and a network this test would depend on).
  A ``.pth`` line only appends a folder to ``sys.path``: the ``.pth`` files inside that folder (the
  checkout's editable install, the ``virtualsmartcard`` path scripts/setup.sh writes) are not
  processed, so neither the checkout's code nor setup.sh's path to Debian's virtualsmartcard is
  seen; the test checks both (``simulator`` imports from the fresh venv, and doctor says fxmlsim
  added Debian's folder itself). ``pip check`` checks that the wheel's declared dependencies are
  all satisfied there;
- everything then runs with its working folder in ``tmp_path``, a private ``HOME``, ``TMPDIR``
  and no ``PYTHONPATH``, so nothing of the checkout is on ``sys.path``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import fresh_copy

pytestmark = [pytest.mark.slow]

#: Data files named in the issue, by kind: templates, static files, terms, fixtures, C source.
NAMED = (
    "fxml/platform/templates/renew_confirm.html",
    "fxml/web/templates/frame.html",
    "simulator/bank/templates/login.html",
    "simulator/reporting/templates/report.html.j2",
    "fxml/platform/static/renewal.js",
    "fxml/web/static/bank.css",
    "simulator/bank/static/transfer.js",
    "fxml/platform/templates/terms.txt",
    "fxml/platform/templates/download_terms.txt",
    "simulator/fixtures/cards/personal-small.json",
    "simulator/fixtures/cards/eoi-golden.json",
    "simulator/fixtures/bank/personas.json",
    "simulator/fixtures/bank/officers.json",
    "simulator/pcsc/ifd_guard.c",
)

#: Where a venv's python installs pure-Python packages.
PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    source: Path
    venv: Path
    root: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self) -> dict[str, str]:
        """The caller's environment without what would point back at the checkout or a running stack."""
        drop = ("PYTHONPATH", "VIRTUAL_ENV", "PCSCLITE_CSOCK_NAME", "FXMLSIM_HOME")
        kept = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("FXMLSIM_")}
        home = self.root / "home"
        tmp = self.root / "t"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        return {**kept, "HOME": str(home), "TMPDIR": str(tmp), "FXMLSIM_CLOCK": "system",
                "PATH": f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        work = self.root / "work"
        work.mkdir(exist_ok=True)
        return subprocess.run(list(args), cwd=work, env=self.env(), capture_output=True, text=True,
                              timeout=timeout, check=False)


def _run(*args: str, cwd: Path) -> None:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = fresh_copy(root / "src")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
         str(source), cwd=root)
    (wheel,) = (root / "dist").glob("fxmlsim-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", str(venv), cwd=root)
    _run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel), cwd=root)
    # The dependencies only: the checkout's .venv site-packages (see the module's docstring).
    deps = Path(sysconfig.get_paths()["purelib"])
    assert deps != Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["purelib"]), "run in the checkout's .venv"
    site = subprocess.run([str(venv / "bin" / "python"), "-c", PURELIB],
                          capture_output=True, text=True, check=True, cwd=root).stdout.strip()
    (Path(site) / "fxmlsim-test-dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    return Installed(wheel, source, venv, root)


def test_the_wheel_holds_every_data_file_of_the_packages(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    for name in NAMED:
        assert name in names
    data = {
        path.relative_to(installed.source).as_posix()
        for package in ("fxml", "simulator")
        for path in (installed.source / package).rglob("*")
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts
    }
    assert len(data) > 60
    assert sorted(data - names) == []


def test_the_installed_package_is_the_wheel_s_and_finds_debian_s_virtualsmartcard(installed: Installed) -> None:
    where = installed.run(str(installed.bin / "python"), "-c",
                          "import fxml, simulator, sys; print(fxml.__file__); print(simulator.__file__); "
                          "print(any('virtualsmartcard' in p for p in sys.path))")
    assert where.returncode == 0, where.stderr
    fxml_file, simulator_file, on_path = where.stdout.splitlines()
    assert Path(fxml_file).is_relative_to(installed.venv) and Path(simulator_file).is_relative_to(installed.venv)
    assert on_path == "False"  # setup.sh's .pth file is not in this venv
    check = installed.run(str(installed.bin / "python"), "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    doctor = installed.run(str(installed.bin / "fxmlsim"), "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert ("ok       python3-virtualsmartcard: /usr/lib/python3/site-packages/virtualsmartcard "
            "(added to sys.path by fxmlsim)") in doctor.stdout.splitlines()


@pytest.mark.pcsc
def test_the_installed_wheel_renews_a_card_with_the_demo(installed: Installed) -> None:
    done = installed.run(str(installed.bin / "fxmlsim"), "demo", "--no-wait", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for step in ("步驟1、登入個人網路銀行", "步驟3、[插入憑證載具]", "步驟4、審閱憑證晶片卡用戶約定條款後，點選[更新]",
                 "步驟6、憑證下載成功!", "步驟8、憑證證明單列印", "憑證狀態：正常", "已停止模擬環境。"):
        assert step in out, out
    serial = re.search(r"步驟7、憑證下載頁：憑證下載成功（新憑證 ([0-9A-F]+)）", out)
    assert serial, out
    pdf = installed.root / "work" / f"憑證證明單-{serial.group(1)}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "憑證證明單" in text and serial.group(1) in text
