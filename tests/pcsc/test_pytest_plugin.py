"""The pytest plugin as another project uses it: a small project in a temporary folder, with no conftest
and nothing of this repository but the installed package, runs pytest with fxmlsim's fixtures
(docs/pytest.md); its tests pass, and no process of the stack they started outlives the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.procs import record_running

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

SAMPLE = '''
"""A project's own tests of a TWCA card, with fxmlsim's plugin only."""

import json
import os
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection


def test_not_from_the_checkout():
    """The package comes from the installation, not from a folder on sys.path."""
    assert REPO_ROOT not in [str(Path(p or ".").resolve()) for p in sys.path]


def test_the_stack_runs(fxmlsim_stack):
    assert set(fxmlsim_stack.urls) == {"ca", "agent", "platform", "bank"}
    assert os.environ["PCSCLITE_CSOCK_NAME"] == fxmlsim_stack.pcsc_socket
    assert Path(fxmlsim_stack.pcsc_socket).exists()
    assert Path(fxmlsim_stack.home.root).name.startswith("fxmlsim-main-")
    Path("stack.json").write_text(json.dumps({
        "processes": fxmlsim_stack.processes(), "home": str(fxmlsim_stack.home.root)}))


@pytest.mark.fxmlsim_clock("2023-04-17T11:13:42+08:00")
def test_the_card_and_the_ca(fxmlsim_stack, fxmlsim_card, fxmlsim_persona, fxmlsim_clock):
    """The persona's card is in a reader; it signs with its key; the CA knows its certificate and OCSP
    says it is good; the persona logs in to the bank and enters the FXML platform."""
    card = fxmlsim_card(persona="person")
    assert card.persona.customer.holder_id == "A123456789"
    with PcscConnection(card.reader) as connection:
        client = PivCardClient(connection)
        client.select()
        (entry,) = client.list_certificates()
        client.verify_pin(card.pin)
        signature = client.sign(entry.container, b"transfer 100")
    certificate = entry.certificate
    assert f"{certificate.serial_number:X}" == card.serial
    certificate.public_key().verify(signature, b"transfer 100", PADDING, hashes.SHA256())
    assert certificate.not_valid_before_utc < fxmlsim_clock.now() < certificate.not_valid_after_utc

    ca = CaClient.from_env(fxmlsim_stack.env, actor="sample")
    (record,) = [r for r in ca.query(holder_id="A123456789") if r.serial == card.serial]
    assert record.cn == "A123456789-00-2015" and record.status == "正常"
    issuer = ca.chain()[0]
    asked = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1()).build()
    answer = ocsp.load_der_ocsp_response(ca.ocsp(asked.public_bytes(serialization.Encoding.DER)))
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD

    customer = card.persona.headless()
    customer.log_in()
    platform = customer.enter_platform()
    assert platform.url.startswith(fxmlsim_stack.platform_url)
    assert "憑證更新" in platform.page.text


def test_a_profile_card(fxmlsim_card, fxmlsim_stack):
    card = fxmlsim_card("eoi-golden")
    readers = {r["index"]: r["card"] for r in fxmlsim_stack.home.stack.readers()}
    assert readers[card.index]
    assert card.described["carrier"] == "憑證晶片卡(大卡)"


def test_the_persona(fxmlsim_persona):
    eoi = fxmlsim_persona("eoi")
    assert eoi.login_url.endswith("/eoi/login")


def test_the_cards_of_earlier_tests_are_out_and_the_clock_is_real(fxmlsim_stack, fxmlsim_clock):
    assert not [r for r in fxmlsim_stack.home.stack.readers() if r["card"]]
    assert fxmlsim_clock.now().year >= 2025
'''


def _sample(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    header = (
        f"REPO_ROOT = {str(REPO)!r}\n"
        "from cryptography.hazmat.primitives.asymmetric import padding\n"
        "PADDING = padding.PKCS1v15()\n"
    )
    (project / "tests" / "test_card.py").write_text(header + SAMPLE, encoding="utf-8")
    # Its own rootdir: pytest reads no configuration of this repository.
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n", encoding="utf-8")
    return project


def _environment() -> dict[str, str]:
    """This process's environment without what would point the sample at this checkout or this run."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "FXMLSIM_")) and k not in ("PCSCLITE_CSOCK_NAME", "PYTHONPATH")}
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p and not Path(p).resolve().is_relative_to(REPO)]
    if paths:
        environ["PYTHONPATH"] = os.pathsep.join(paths)
    return environ


def test_a_project_uses_the_plugin(tmp_path: Path) -> None:
    project = _sample(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pytest", "-v", "tests"], cwd=project,
                          env=_environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout, done.stdout
    seen = json.loads((project / "stack.json").read_text())
    assert len(seen["processes"]) >= 6  # the PC/SC daemon, pcscd and four services
    left = [p for p in seen["processes"] if record_running(p)]
    assert not left, f"processes of the sample's stack still run: {left}"
    assert not Path(seen["home"]).exists()


FAILING = '''
import json
from pathlib import Path


def test_fails(fxmlsim_stack):
    Path("stack.json").write_text(json.dumps({
        "processes": fxmlsim_stack.processes(), "home": str(fxmlsim_stack.home.root),
        "worker": fxmlsim_stack.worker}))
    raise AssertionError("on purpose")
'''


def test_the_stack_stops_when_a_test_fails(tmp_path: Path) -> None:
    """Also: under an xdist worker (here as pytest-xdist tells it, by PYTEST_XDIST_WORKER), the home is
    the worker's."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_failing.py").write_text(FAILING, encoding="utf-8")
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "test_failing.py"], cwd=project,
                          env={**_environment(), "PYTEST_XDIST_WORKER": "gw1"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout + done.stderr
    seen = json.loads((project / "stack.json").read_text())
    assert seen["worker"] == "gw1" and Path(seen["home"]).name.startswith("fxmlsim-gw1-")
    assert seen["processes"] and not [p for p in seen["processes"] if record_running(p)]
    assert not Path(seen["home"]).exists()
