"""``fxmlsim ca ...`` on a state folder, through the ``register`` hook the
``fxmlsim`` parser calls (here on a parser of its own)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from fxml.clock import ENV as CLOCK_ENV
from fxml.clock import FixedClock, parse_instant
from simulator.ca.cli import register
from simulator.ca.registry import Registry
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, HOLDER_NAME, KeyCache, make_csr, open_test_ca
from simulator.home import Home

NOW = "2023-04-17T11:28:33+08:00"


@pytest.fixture
def state(tmp_path: Path, keys: KeyCache, monkeypatch: pytest.MonkeyPatch) -> Path:
    with open_test_ca(tmp_path / "ca", keys, FixedClock(parse_instant(NOW))):
        pass
    monkeypatch.setenv(CLOCK_ENV, f"fixed:{NOW}")
    monkeypatch.delenv("FXMLSIM_CA_URL", raising=False)
    monkeypatch.delenv("FXMLSIM_CA_DIR", raising=False)
    return tmp_path / "ca"


@pytest.fixture
def fxmlsim(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    parser = argparse.ArgumentParser(prog="fxmlsim")
    parser.add_argument("--home", type=Path)
    # As simulator.cli does: the home's ca/ when no option or variable names a CA.
    register(parser.add_subparsers(dest="command", required=True), lambda args: Home.from_args(args).ca_dir)

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def csr_file(tmp_path: Path, keys: KeyCache) -> Path:
    subject = (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"),
               ("OU", "0060000-Taiwan Cooperative Bank"), ("OU", "FXML"), ("CN", f"{HOLDER_ID}-00-{CN_SUFFIX}"))
    path = tmp_path / "request.der"
    path.write_bytes(make_csr(keys.rsa("holder-1"), subject))
    return path


def test_issue_list_show_suspend_resume_revoke_crl(
    fxmlsim: Callable[..., tuple[int, str, str]], state: Path, csr_file: Path, tmp_path: Path
) -> None:
    code, out, err = fxmlsim("ca", "--state-dir", str(state), "issue", "--holder", HOLDER_ID, "--csr", str(csr_file),
                             "--request-id", "cli-1", "--out", str(tmp_path / "cert.pem"))
    assert code == 0, err
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    serial = f"{cert.serial_number:X}"
    assert err.startswith(
        f"憑證申請成功: {serial} {HOLDER_ID}-00-{CN_SUFFIX} 2023-04-17 11:28:33 ~ 2025-04-17 23:59:59"
    )

    code, out, _ = fxmlsim("ca", "list", "--state-dir", str(state))
    assert out.splitlines() == [
        "簽章憑證序號\tCommon Name\t憑證狀態\t憑證生效日\t憑證到期日",
        f"{serial}\t{HOLDER_ID}-00-{CN_SUFFIX}\t正常\t2023-04-17 11:28:33\t2025-04-17 23:59:59",
    ]
    code, out, _ = fxmlsim("ca", "show", serial, "--state-dir", str(state))
    assert "憑證發行者：C=TW O=TWCA OU=User CA CN=TWCA Financial User CA" in out
    assert "憑證狀態：正常" in out and "證明單申請日期：112/04/17" in out

    assert fxmlsim("ca", "suspend", serial, "--state-dir", str(state))[1].strip().endswith("憑證狀態：暫禁")
    assert fxmlsim("ca", "resume", serial, "--state-dir", str(state))[1].strip().endswith("憑證狀態：正常")
    code, out, _ = fxmlsim("ca", "revoke", serial, "--reason", "keyCompromise", "--state-dir", str(state))
    assert code == 0 and out.startswith("憑證廢止成功") and out.strip().endswith("已廢止")

    code, _, err = fxmlsim("ca", "crl", "--out", str(tmp_path / "crl.der"), "--state-dir", str(state))
    crl = x509.load_der_x509_crl((tmp_path / "crl.der").read_bytes())
    assert code == 0 and crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    code, out, _ = fxmlsim("ca", "crl", "--state-dir", str(state))
    assert out.startswith("-----BEGIN X509 CRL-----")


def test_a_refusal_is_one_line_on_stderr_and_exit_code_1(
    fxmlsim: Callable[..., tuple[int, str, str]], state: Path
) -> None:
    registry = Registry(state / "ca.sqlite3")
    before = registry.dump()["certificates"]
    code, out, err = fxmlsim("ca", "suspend", "ABCDEF", "--state-dir", str(state))
    assert (code, out) == (1, "")
    assert err == "fxmlsim ca: [UNKNOWN_SERIAL] 查無此憑證序號。\n"
    code, _, err = fxmlsim("ca", "issue", "--holder", HOLDER_ID, "--csr", str(state / "missing.csr"),
                           "--state-dir", str(state))
    assert code == 1 and err.startswith("fxmlsim ca: ") and "missing.csr" in err and err.count("\n") == 1
    assert registry.dump()["certificates"] == before
    registry.close()


def test_holder_add_and_json_list(fxmlsim: Callable[..., tuple[int, str, str]], state: Path) -> None:
    code, out, _ = fxmlsim("ca", "holder-add", "12345678", "--name", "另一家公司", "--cn-suffix", "01",
                           "--state-dir", str(state))
    assert code == 0 and out.strip() == "用戶登錄成功: 12345678 12345678-00-01"
    code, _, err = fxmlsim("ca", "holder-add", HOLDER_ID, "--name", HOLDER_NAME, "--cn-suffix", CN_SUFFIX,
                           "--state-dir", str(state))
    assert code == 1 and "[HOLDER_EXISTS]" in err
    code, out, _ = fxmlsim("ca", "list", "--json", "--state-dir", str(state))
    assert code == 0 and out.strip() == "[]"


def test_the_ca_comes_from_fxmlsim_ca_dir_or_the_home(
    fxmlsim: Callable[..., tuple[int, str, str]], state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FXMLSIM_CA_DIR", str(state))
    code, out, _ = fxmlsim("ca", "list")
    assert code == 0 and out.startswith("簽章憑證序號")
    monkeypatch.delenv("FXMLSIM_CA_DIR")
    code, out, _ = fxmlsim("--home", str(tmp_path / "home"), "ca", "list")
    assert code == 0 and (tmp_path / "home" / "ca" / "ca.sqlite3").exists()
