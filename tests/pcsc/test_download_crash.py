"""憑證下載's "a kill at any state, a retry completes with one issuance", on the real stack, as the
renewal's (tests/pcsc/test_renewal_crash.py, whose stack it shares): a blank card
(fixtures/cards/personal-blank.json) in a reader of a private pcscd + vpcd, the CA service, a
platform service; the branch's approval (a 授權碼 the RA had the CA issue), the download opened and
its terms accepted as the platform's pages do; then the runner (``python -m fxml.renewal.run``, the
record's kind picks the download engine) killed (SIGKILL) before and after every move of the
record, or meeting a card pulled out, a platform that went down, or a CA that died between
committing the certificate and answering — the 授權碼 is used then, and only the retry under the
same request id gets the certificate.

After each: no key on the card without a certificate or a record naming its container, at most
one issuance for the download's request id; then a retry in a new process completes it with
exactly one issuance, the certificate on the card in 9A, running two years from the stack's instant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509

from fxml import env
from fxml.clock import TAIWAN
from fxml.renewal.model import ENGINE_STATES, Kind, RenewalRecord, State
from tests.support.crash import BLANK, READER, Stack, crash_stack, go_on, paused
from tests.support.renewal import ISSUED_AT, assert_no_unrecorded_key, keys_on_card

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

#: A certificate issued at the golden instant runs two years, to 23:59:59 of that date.
NOT_AFTER = datetime(2025, 4, 17, 23, 59, 59, tzinfo=TAIWAN)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with crash_stack(request, tmp_path_factory, "download-crash") as built:
        yield built


@pytest.fixture
def card(stack: Stack) -> Iterator[tuple[Path, str]]:
    yield stack.new_card(BLANK)
    stack.home.stack.remove(READER)


def run(stack: Stack, download: RenewalRecord, reader: str, fault: str | None = None) -> tuple[int, list[str]]:
    proc = stack.start_runner(download, reader, fault)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out.splitlines()


def check_after_stop(stack: Stack, download: RenewalRecord, image: Path) -> RenewalRecord:
    record = stack.book.get(download.renewal_id)
    assert_no_unrecorded_key(image, record)
    assert len(stack.issuances(download)) <= 1
    return record


def check_completed(stack: Stack, download: RenewalRecord, image: Path, reader: str) -> RenewalRecord:
    code, lines = run(stack, download, reader)
    assert code == 0, lines
    record = stack.book.get(download.renewal_id)
    assert record.state == State.DONE and json.loads(lines[-1])["renewal"] == record.to_json()
    [issued] = stack.issuances(download)
    assert issued["detail"]["serial"] == record.new_serial
    assert keys_on_card(image) == {"9A": True}
    new = x509.load_pem_x509_certificate((record.certificate or "").encode())
    assert new.subject.rfc4514_string() == record.subject
    assert new.not_valid_before_utc.astimezone(TAIWAN) == ISSUED_AT
    assert new.not_valid_after_utc.astimezone(TAIWAN) == NOT_AFTER
    return record


def test_one_run_goes_through_every_state(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    download = stack.new_download(image)
    assert download.kind is Kind.DOWNLOAD and keys_on_card(image) == {}
    code, lines = run(stack, download, reader)
    assert code == 0, lines
    assert lines[:-1] == [f"STATE {s}" for s in ENGINE_STATES]
    check_completed(stack, download, image, reader)  # and running it again changes nothing


@pytest.mark.parametrize("state", ENGINE_STATES)
@pytest.mark.parametrize("when", ["before", "after"])
def test_killed_at_every_move(stack: Stack, card: tuple[Path, str], when: str, state: State) -> None:
    image, reader = card
    download = stack.new_download(image)
    code, lines = run(stack, download, reader, fault=f"kill-{when}:{state}")
    assert code == -9, lines  # SIGKILL
    record = check_after_stop(stack, download, image)
    states = (State.TERMS_ACCEPTED, *ENGINE_STATES)
    assert record.state == (state if when == "after" else states[states.index(state) - 1])
    check_completed(stack, download, image, reader)


@pytest.mark.parametrize("moment", ["pause-before:key_generated", "pause-after:issued"])
def test_card_pulled_out_mid_download(stack: Stack, card: tuple[Path, str], moment: str) -> None:
    image, reader = card
    download = stack.new_download(image)
    proc = paused(stack, download, reader, moment)
    stack.home.stack.remove(READER)
    answer = go_on(proc)
    assert answer["error"]["code"] == "CARD_REMOVED" and answer["error"]["retryable"]
    assert "再執行憑證下載" in answer["error"]["message"]
    stack.home.stack.insert(image, READER)
    assert check_after_stop(stack, download, image).error_code == "CARD_REMOVED"
    check_completed(stack, download, image, reader)


def test_ca_dies_between_committing_the_certificate_and_answering(stack: Stack, card: tuple[Path, str]) -> None:
    """The CA used the 授權碼 for this request and died before answering: the retry, under the same
    request id with the same request, gets the certificate it issued (the code, used, allows no other)."""
    image, reader = card
    download = stack.new_download(image)
    proc = paused(stack, download, reader, "pause-after:csr_signed")
    stack.ca.stop()
    stack.ca.start({env.CA_FAULT: "exit-after-commit"})
    try:
        assert go_on(proc)["error"]["code"] == "CA_UNREACHABLE"
    finally:
        stack.ca.stop()
        stack.ca.start()
    record = check_after_stop(stack, download, image)
    assert record.state == State.CSR_SIGNED and len(stack.issuances(download)) == 1  # issued, answer lost
    done = check_completed(stack, download, image, reader)
    [replay] = stack.issuances(download, "REPLAYED")
    assert replay["detail"]["serial"] == done.new_serial


def test_platform_down_after_the_ca_issued(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    download = stack.new_download(image)
    proc = paused(stack, download, reader, "pause-before:issued")
    stack.platform.stop()
    try:
        answer = go_on(proc)
        assert answer["error"]["code"] == "PLATFORM_UNREACHABLE"
        assert answer["error"]["message"] == "無法連線至憑證管理平台，請稍後再試，系統將接續完成憑證下載。"
    finally:
        stack.platform.start()
    check_after_stop(stack, download, image)
    check_completed(stack, download, image, reader)
