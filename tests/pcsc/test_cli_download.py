"""``fxmlsim apply``, ``approve`` and ``download`` through the real stack: a blank card made with
``card create --blank``, the application, the branch officer's 授權碼 on standard output, the download
onto the card with the code and the PIN on standard input (never on the command line: ``--code`` and
``--pin`` are refused, nothing changed)."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from simulator.home import Home
from simulator.pin_input import CODE_OPTION_REFUSED
from tests.pcsc.test_cli_renew import fxmlsim
from tests.support.paths import repo_path

PROFILE = repo_path("fixtures", "cards", "personal-small.json")
PIN = json.loads(PROFILE.read_text(encoding="utf-8"))["pin"]

pytestmark = [pytest.mark.pcsc]


def test_apply_approve_download_onto_a_card_made_blank(empty_readers: Home) -> None:
    home = empty_readers
    made = fxmlsim(home, "card", "create", str(PROFILE), "--name", "cli-blank", "--blank", "--replace")
    assert made.returncode == 0, made.stderr
    shown = json.loads(fxmlsim(home, "card", "show", "cli-blank").stdout)
    assert shown["certificates"] == [] and shown["holder_id"] == "A123456789"  # the profile's, no certificate
    inserted = fxmlsim(home, "card", "insert", "cli-blank", "--reader", "0")
    assert inserted.returncode == 0, inserted.stderr

    applied = fxmlsim(home, "apply", "--persona", "person", "--cn-suffix", "CLI1", "--carrier", "小卡")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "申辦分行 0060000 營業部" in applied.stdout
    approved = fxmlsim(home, "approve", "--officer", "EB000001")
    assert approved.returncode == 0, approved.stderr
    code = approved.stdout.strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code) and "張家豪" in approved.stderr

    before = sqlite3.connect(home.root / "platform" / "platform.sqlite3").execute(
        "SELECT count(*) FROM renewals WHERE kind = 'download'").fetchone()
    refused = fxmlsim(home, "download", "--persona", "person", "--code", code)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(CODE_OPTION_REFUSED)
    after = sqlite3.connect(home.root / "platform" / "platform.sqlite3").execute(
        "SELECT count(*) FROM renewals WHERE kind = 'download'").fetchone()
    assert after == before

    done = fxmlsim(home, "download", "--persona", "person", stdin=f"{code}\n{PIN}\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "憑證下載成功!" in done.stdout
    card = json.loads(fxmlsim(home, "card", "show", "cli-blank").stdout)
    assert [c["subject"].split(",")[0] for c in card["certificates"]] == ["CN=A123456789-00-CLI1"]
    again = fxmlsim(home, "download", "--persona", "person", stdin=f"{code}\n{PIN}\n")
    assert again.returncode == 1 and "此授權碼已使用過" in again.stderr
