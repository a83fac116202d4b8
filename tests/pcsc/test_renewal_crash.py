"""Issue 9's "atomic and resumable", on the real stack: the renewal runs in a process
of its own (``python -m fxml.renewal.run``) against the card in a reader of a
private pcscd + vpcd, the CA service and a platform service, and is killed
(SIGKILL) before and after every move of its record, or meets a card pulled
out, a CA or a platform that went down, or a CA that died between committing
the certificate and answering.

After each: the old certificate still signs (through PC/SC), no key is on the
card without a certificate or a record naming its container, the CA issued at
most once for the renewal's request id; then a retry completes the renewal
with exactly one issuance and the record at DONE.

The stack runs on a clock file at the manual's golden instant (2023-04-17
11:28:33), so the golden card (fixtures/cards/eoi-golden.json) is 27 days
before its expiry and the renewed certificate runs to 2025-05-14 23:59:59.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from fxml import env
from fxml.clock import TAIWAN
from fxml.renewal.model import ENGINE_STATES, RenewalRecord, State
from tests.support.crash import READER, ROOT, Stack, crash_stack, go_on, paused
from tests.support.renewal import (
    ISSUED_AT,
    NEW_NOT_AFTER,
    PIN,
    assert_no_unrecorded_key,
    keys_on_card,
)

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with crash_stack(request, tmp_path_factory, "crash") as built:
        yield built


@pytest.fixture
def card(stack: Stack) -> Iterator[tuple[Path, str]]:
    yield stack.new_card()
    stack.home.stack.remove(READER)


def check_after_stop(stack: Stack, renewal: RenewalRecord, image: Path, reader: str) -> RenewalRecord:
    """What must hold after any stop; the record as the platform keeps it."""
    record = stack.book.get(renewal.renewal_id)
    stack.old_key_signs(reader, image, renewal)
    assert_no_unrecorded_key(image, record)
    assert len(stack.issuances(renewal)) <= 1
    return record


def check_completed(stack: Stack, renewal: RenewalRecord, image: Path, reader: str) -> RenewalRecord:
    """A retry (a new process: a new card session, the PIN verified again) completes it, one issuance."""
    code, lines = stack.run(renewal, reader)
    assert code == 0, lines
    record = stack.book.get(renewal.renewal_id)
    assert record.state == State.DONE and json.loads(lines[-1])["renewal"] == record.to_json()
    [issued] = stack.issuances(renewal)
    assert issued["detail"]["serial"] == record.new_serial
    assert keys_on_card(image) == {"9A": True, "9C": True}
    new = x509.load_pem_x509_certificate((record.certificate or "").encode())
    assert new.not_valid_before_utc.astimezone(TAIWAN) == ISSUED_AT
    assert new.not_valid_after_utc.astimezone(TAIWAN) == NEW_NOT_AFTER
    stack.old_key_signs(reader, image, renewal)
    return record


def test_one_run_goes_through_every_state(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    code, lines = stack.run(renewal, reader)
    assert code == 0, lines
    assert lines[:-1] == [f"STATE {s}" for s in ENGINE_STATES]
    assert json.loads(lines[-1])["renewal"]["state"] == "done"
    check_completed(stack, renewal, image, reader)  # and running it again changes nothing


@pytest.mark.parametrize("state", ENGINE_STATES)
@pytest.mark.parametrize("when", ["before", "after"])
def test_killed_at_every_move(stack: Stack, card: tuple[Path, str], when: str, state: State) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    code, lines = stack.run(renewal, reader, fault=f"kill-{when}:{state}")
    assert code == -9, lines  # SIGKILL
    record = check_after_stop(stack, renewal, image, reader)
    states = (State.TERMS_ACCEPTED, *ENGINE_STATES)
    assert record.state == (state if when == "after" else states[states.index(state) - 1])
    check_completed(stack, renewal, image, reader)


@pytest.mark.parametrize("moment", [
    "pause-after:key_pending",    # the container is named; the card has not generated yet
    "pause-before:key_generated",  # the key is on the card; the record does not say so yet
    "pause-after:key_generated",   # the CSR is not signed yet
    "pause-after:issued",          # the certificate is not written yet
    "pause-before:written",        # written, not recorded
])
def test_card_pulled_out_mid_renewal(stack: Stack, card: tuple[Path, str], moment: str) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = stack.start_runner(renewal, reader, fault=moment)
    assert proc.stdout is not None and proc.stdin is not None
    for line in proc.stdout:
        if line.startswith("PAUSED"):
            break
    stack.home.stack.remove(READER)
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=60)
    answer = json.loads(out.splitlines()[-1])
    assert (proc.returncode, answer["error"]["code"]) == (1, "CARD_REMOVED")
    assert answer["error"]["retryable"] and "重新插入憑證載具" in answer["error"]["message"]
    stack.home.stack.insert(image, READER)
    record = check_after_stop(stack, renewal, image, reader)
    assert record.error_code == "CARD_REMOVED"
    check_completed(stack, renewal, image, reader)


def test_ca_down_when_the_request_is_sent(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = paused(stack, renewal, reader, "pause-after:csr_signed")
    stack.ca.stop()
    try:
        answer = go_on(proc)
        assert answer["error"]["code"] == "CA_UNREACHABLE" and answer["error"]["retryable"]
        assert answer["error"]["message"] == "無法連線至憑證中心，請稍後再試。"
    finally:
        stack.ca.start()
    record = check_after_stop(stack, renewal, image, reader)
    assert (record.state, record.error_code) == (State.CSR_SIGNED, "CA_UNREACHABLE")
    assert stack.issuances(renewal) == []
    check_completed(stack, renewal, image, reader)


def test_ca_dies_between_committing_the_certificate_and_answering(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = paused(stack, renewal, reader, "pause-after:csr_signed")
    stack.ca.stop()
    stack.ca.start({env.CA_FAULT: "exit-after-commit"})
    try:
        answer = go_on(proc)
        assert answer["error"]["code"] == "CA_UNREACHABLE"
    finally:
        stack.ca.stop()
        stack.ca.start()
    record = check_after_stop(stack, renewal, image, reader)
    assert record.state == State.CSR_SIGNED and len(stack.issuances(renewal)) == 1  # issued, answer lost
    done = check_completed(stack, renewal, image, reader)  # the CA answers the same certificate again
    replays = [e for e in stack.ca_client.audit(10_000) if e["target"] == renewal.request_id
               and e["result"] == "REPLAYED"]
    assert len(replays) == 1 and replays[0]["detail"]["serial"] == done.new_serial


@pytest.mark.parametrize("moment", [
    "pause-before:key_generated",  # the key is made, the platform cannot record it
    "pause-before:csr_signed",     # the card signed, the platform cannot record it
    "pause-before:issued",         # the CA issued, the platform cannot record it
])
def test_platform_down(stack: Stack, card: tuple[Path, str], moment: str) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = paused(stack, renewal, reader, moment)
    stack.platform.stop()
    try:
        answer = go_on(proc)
        assert answer["error"]["code"] == "PLATFORM_UNREACHABLE" and answer["error"]["retryable"]
        assert "無法連線至憑證管理平台" in answer["error"]["message"]
    finally:
        stack.platform.start()
    check_after_stop(stack, renewal, image, reader)
    check_completed(stack, renewal, image, reader)


def test_a_forged_token_moves_nothing(stack: Stack, card: tuple[Path, str]) -> None:
    image, reader = card
    renewal = stack.new_renewal(image)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fxml.renewal.run", "--reader", reader,
         "--platform-url", stack.platform.url, "--ca-url", stack.ca.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=stack.runner_env(None),
    )
    token = stack.book.token(renewal.renewal_id)
    out, _ = proc.communicate(json.dumps({"pin": PIN, "token": token[:-3] + "abc"}) + "\n", timeout=60)
    answer = json.loads(out.splitlines()[-1])
    assert (proc.returncode, answer["error"]["code"]) == (1, "RENEWAL_BAD_TOKEN")
    assert answer["error"]["message"] == "憑證更新作業已逾時，請重新進入憑證更新。"
    assert keys_on_card(image) == {"9A": True} and stack.book.get(renewal.renewal_id) == renewal
