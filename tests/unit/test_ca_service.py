"""The CA service: the reference's renewal, the renewal rules, every refusal
(answer and unchanged registry), idempotent issuance and crashes, the audit log."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from fxml.clock import TAIWAN, FileClock, FixedClock
from simulator.ca import errors
from simulator.ca.config import CaConfig
from simulator.ca.registry import Transaction
from simulator.ca.service import CertificateAuthority, CertStatus, IssuedCertificate, Operation
from simulator.ca.testing import (
    CN_SUFFIX,
    HOLDER_ID,
    KeyCache,
    assert_only_refusal_recorded,
    break_signature,
    make_csr,
    open_test_ca,
)
from tests.support.ca import FIRST_ISSUE, RENEWED_AT
from tests.support.paths import repo_path

OLD_NOT_AFTER = datetime(2023, 5, 14, 23, 59, 59, tzinfo=TAIWAN)


@pytest.fixture
def csr(ca: CertificateAuthority, keys: KeyCache) -> Callable[[str], bytes]:
    """A correct request of the fixture holder for the key named ``name``."""
    return lambda name: make_csr(keys.rsa(name), ca.subject_for(HOLDER_ID, CN_SUFFIX))


@pytest.fixture
def old(ca: CertificateAuthority, csr: Callable[[str], bytes]) -> IssuedCertificate:
    """The certificate the reference renews: valid until 2023-05-14 23:59:59."""
    issued = ca.apply("first", HOLDER_ID, csr("holder-1"))
    assert issued.not_after == OLD_NOT_AFTER
    return issued


def refused(ca: CertificateAuthority, call: Callable[[], object], error: type[errors.CaServiceError], status: int,
            message: str) -> errors.CaServiceError:
    """``call`` raises ``error`` with ``status`` and a message containing ``message``, the
    registry's tables are unchanged, and the audit log gained one entry recording the code."""
    before = ca.registry.dump()
    with pytest.raises(error) as caught:
        call()
    err = caught.value
    assert type(err) is error
    assert err.code == error.code and err.status == status
    assert message in err.message, err.message
    assert_only_refusal_recorded(before, ca.registry.dump(), error.code)
    return err


# -- the reference's renewal ------------------------------------------------------------------
def test_golden_renewal_reproduces_the_proof_sheet(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    clock.set(RENEWED_AT)
    new = ca.renew("renew-1", old.serial, csr("holder-2"))
    assert new.not_before == RENEWED_AT and new.not_after == datetime(2025, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
    assert new.renewed_from == old.serial and new.status is CertStatus.NORMAL
    assert ca.proof_sheet(new.serial) == {
        "證明單申請日期": "112/04/17",
        "簽章憑證序號": new.serial,
        "主旨(使用者識別名稱)": "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank "
                               "OU=FXML CN=99000001-00-2015",
        "憑證發行者": "C=TW O=TWCA OU=User CA CN=TWCA Financial User CA",
        "憑證生效日": "2023-04-17 11:28:33",
        "憑證到期日": "2025-05-14 23:59:59",
        "憑證狀態": "正常",
    }


def test_old_certificate_stays_normal_until_its_own_not_after(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    clock.set(RENEWED_AT)
    new = ca.renew("renew-1", old.serial, csr("holder-2"))
    assert ca.download(old.serial).status is CertStatus.NORMAL
    assert ca.download(old.serial).renewed_by == new.serial
    clock.set(OLD_NOT_AFTER)
    assert ca.query(serial=old.serial)[0].status is CertStatus.NORMAL
    clock.set(OLD_NOT_AFTER + timedelta(seconds=1))
    assert ca.query(serial=old.serial)[0].status is CertStatus.EXPIRED
    assert ca.query(serial=new.serial)[0].status is CertStatus.NORMAL
    assert [c.serial for c in ca.query(holder_id=HOLDER_ID)] == [old.serial, new.serial]
    assert [c.serial for c in ca.query(cn="99000001-00-2015")] == [old.serial, new.serial]
    assert ca.query(cn="nobody") == []


def test_certificates_issued_on_the_same_instant_are_listed_in_issuance_order(
    ca: CertificateAuthority, csr: Callable[[str], bytes]
) -> None:
    # A frozen clock gives them one issuance time; the random serials must not decide the order.
    issued = [ca.apply(f"same-instant-{n}", HOLDER_ID, csr(f"same-instant-{n}")).serial for n in range(8)]
    assert [c.serial for c in ca.query(holder_id=HOLDER_ID)] == issued
    pages = [c.serial for c in ca.query(holder_id=HOLDER_ID, limit=3)]
    while len(pages) < len(issued):
        pages += [c.serial for c in ca.query(holder_id=HOLDER_ID, after=pages[-1], limit=3)]
    assert pages == issued


def test_the_clock_can_be_moved_from_outside_through_a_file(
    tmp_path: Path, keys: KeyCache, csr: Callable[[str], bytes]
) -> None:
    clock = FileClock(tmp_path / "clock.json")
    clock.write(fixed=FIRST_ISSUE)
    with open_test_ca(tmp_path / "file-ca", keys, clock) as ca:
        issued = ca.apply("f-1", HOLDER_ID, csr("holder-1"))
        assert issued.not_before == FIRST_ISSUE
        clock.write(fixed=datetime(2027, 1, 1, tzinfo=TAIWAN))
        assert ca.download(issued.serial).status is CertStatus.EXPIRED


# -- the renewal window ------------------------------------------------------------------------
@pytest.mark.parametrize(("now", "refusal"), [
    (OLD_NOT_AFTER - timedelta(days=30), None),  # the window opens
    (OLD_NOT_AFTER, None),  # the last second
    (RENEWED_AT, None),
    (OLD_NOT_AFTER - timedelta(days=30, seconds=1), errors.RenewalWindowNotOpenError),
    (datetime(2022, 1, 1, tzinfo=TAIWAN), errors.RenewalWindowNotOpenError),
    (OLD_NOT_AFTER + timedelta(seconds=1), errors.CertificateExpiredApplyAtBranchError),
])
def test_renewal_window(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes],
    now: datetime, refusal: type[errors.CaServiceError] | None,
) -> None:
    clock.set(now)
    if refusal is None:
        assert ca.renew("w", old.serial, csr("holder-2")).not_before == now
        return
    messages: dict[type[errors.CaServiceError], str] = {
        errors.RenewalWindowNotOpenError:
            "憑證尚未進入可更新期間，請於憑證到期日前 30 天內（2023-04-14 23:59:59 起）辦理憑證更新。",
        errors.CertificateExpiredApplyAtBranchError: "憑證已過期，無法線上更新，請攜帶相關證件至申辦分行重新申請憑證。",
    }
    refused(ca, lambda: ca.renew("w", old.serial, csr("holder-2")), refusal, 409, messages[refusal])


def test_the_window_is_configuration(tmp_path: Path, keys: KeyCache, csr: Callable[[str], bytes]) -> None:
    clock = FixedClock(FIRST_ISSUE)
    with open_test_ca(tmp_path / "wide", keys, clock, config=CaConfig(renewal_window_days=60)) as ca:
        issued = ca.apply("first", HOLDER_ID, csr("holder-1"))
        clock.set(OLD_NOT_AFTER - timedelta(days=61))
        err = refused(ca, lambda: ca.renew("earlier", issued.serial, csr("holder-3")),
                      errors.RenewalWindowNotOpenError, 409, "到期日前 60 天內")
        assert err.details["window_opens"] == "2023-03-15T23:59:59+08:00"
        clock.set(OLD_NOT_AFTER - timedelta(days=45))
        assert ca.renew("early", issued.serial, csr("holder-2")).renewed_from == issued.serial


def test_renewing_a_renewed_certificate_is_refused_and_the_new_one_waits_for_its_window(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    clock.set(RENEWED_AT)
    new = ca.renew("renew-1", old.serial, csr("holder-2"))
    err = refused(ca, lambda: ca.renew("renew-2", old.serial, csr("holder-3")),
                  errors.AlreadyRenewedError, 409, "此憑證已完成更新，不得重複更新。")
    assert err.details["renewed_by"] == new.serial
    refused(ca, lambda: ca.renew("renew-3", new.serial, csr("holder-3")),
            errors.RenewalWindowNotOpenError, 409, "2025-04-14 23:59:59 起")


def test_suspended_and_revoked_certificates_are_not_renewed(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    clock.set(RENEWED_AT)
    ca.suspend(old.serial)
    refused(ca, lambda: ca.renew("r", old.serial, csr("holder-2")), errors.CertificateSuspendedError, 409,
            "憑證已暫禁，無法辦理憑證更新；請先辦理解除暫禁。")
    ca.resume(old.serial)
    ca.revoke(old.serial, "keyCompromise")
    refused(ca, lambda: ca.renew("r", old.serial, csr("holder-2")), errors.CertificateRevokedError, 409,
            "憑證已廢止，無法辦理憑證更新，請至分行重新申請憑證。")


def test_renewal_refusals_follow_the_status_the_holder_sees(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    # Suspended and then expired: the status is 已過期, and resuming would not
    # help, so the answer is to apply anew at the branch, not to resume first.
    clock.set(RENEWED_AT)
    ca.suspend(old.serial)
    clock.set(OLD_NOT_AFTER + timedelta(seconds=1))
    assert ca.download(old.serial).status is CertStatus.EXPIRED
    refused(ca, lambda: ca.renew("late", old.serial, csr("holder-2")), errors.CertificateExpiredApplyAtBranchError,
            409, "請攜帶相關證件至申辦分行重新申請憑證")


def test_a_renewed_certificate_suspended_later_is_already_renewed(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    clock.set(RENEWED_AT)
    ca.renew("renew-1", old.serial, csr("holder-2"))
    ca.suspend(old.serial)
    refused(ca, lambda: ca.renew("renew-2", old.serial, csr("holder-3")), errors.AlreadyRenewedError, 409,
            "此憑證已完成更新，不得重複更新。")


# -- bad requests ---------------------------------------------------------------------------------
def test_malformed_csr(ca: CertificateAuthority) -> None:
    refused(ca, lambda: ca.apply("bad", HOLDER_ID, b"\x30\x03\x02\x01\x00"), errors.BadCsrError, 400,
            "憑證申請檔(PKCS#10)格式錯誤，無法解析。")
    refused(ca, lambda: ca.apply("bad", HOLDER_ID, "-----BEGIN CERTIFICATE REQUEST-----\nnope\n"),
            errors.BadCsrError, 400, "格式錯誤")


def test_badly_signed_csr(ca: CertificateAuthority, csr: Callable[[str], bytes]) -> None:
    refused(ca, lambda: ca.apply("bad-sig", HOLDER_ID, break_signature(csr("holder-1"))),
            errors.BadCsrSignatureError, 400, "憑證申請檔的簽章驗證失敗，無法證明持有私密金鑰。")


def test_csr_signed_by_another_key_proves_nothing(ca: CertificateAuthority, keys: KeyCache) -> None:
    good = make_csr(keys.rsa("holder-1"), ca.subject_for(HOLDER_ID, CN_SUFFIX))
    other = make_csr(keys.rsa("holder-2"), ca.subject_for(HOLDER_ID, CN_SUFFIX))
    # holder-1's request body with holder-2's signature
    from cryptography import x509

    g, o = x509.load_der_x509_csr(good), x509.load_der_x509_csr(other)
    forged = good.replace(g.signature, o.signature)
    refused(ca, lambda: ca.apply("forged", HOLDER_ID, forged), errors.BadCsrSignatureError, 400, "簽章驗證失敗")


@pytest.mark.parametrize("kind", ["rsa1024", "rsa3072", "ec"])
def test_keys_other_than_rsa_2048_are_refused(ca: CertificateAuthority, keys: KeyCache, kind: str) -> None:
    subject = ca.subject_for(HOLDER_ID, CN_SUFFIX)
    if kind == "ec":
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        key = ec.generate_private_key(ec.SECP256R1())
        request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        data = request.public_bytes(serialization.Encoding.DER)
    else:
        data = make_csr(keys.rsa("odd", int(kind[3:])), subject)
    refused(ca, lambda: ca.apply("k", HOLDER_ID, data), errors.KeyNotRsa2048Error, 400,
            "憑證申請檔的金鑰不符規定：須為 RSA 2048 位元金鑰。")


@pytest.mark.parametrize("subject", [
    (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"), ("OU", "0060000-Taiwan Cooperative Bank"),
     ("OU", "FXML"), ("CN", "99000001-00-2016")),  # a suffix not registered
    (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"), ("OU", "0050000-Taiwan Bank"),
     ("OU", "FXML"), ("CN", "99000001-00-2015")),  # another bank
    (("C", "TW"), ("O", "Finance"), ("OU", "TWCA Financial User CA"), ("OU", "FXML"),
     ("OU", "0060000-Taiwan Cooperative Bank"), ("CN", "99000001-00-2015")),  # OUs out of order
    (("CN", "99000001-00-2015"),),
])
def test_subject_that_does_not_match_the_holder(
    ca: CertificateAuthority, keys: KeyCache, subject: tuple[tuple[str, str], ...]
) -> None:
    err = refused(ca, lambda: ca.apply("s", HOLDER_ID, make_csr(keys.rsa("holder-1"), subject)),
                  errors.SubjectMismatchError, 422, "憑證申請檔的主旨(使用者識別名稱)與登記的用戶資料不符。")
    assert err.details["expected"] == [
        "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank OU=FXML CN=99000001-00-2015"
    ]


def test_renewal_subject_must_be_the_current_certificates(
    ca: CertificateAuthority, keys: KeyCache, clock: FixedClock, old: IssuedCertificate
) -> None:
    ca.register_holder(HOLDER_ID, "虛構測試貿易股份有限公司", "2016")
    clock.set(RENEWED_AT)
    other_cn = make_csr(keys.rsa("holder-2"), ca.subject_for(HOLDER_ID, "2016"))
    refused(ca, lambda: ca.renew("r", old.serial, other_cn), errors.SubjectMismatchError, 422, "不符")


def test_unknown_holder_and_unknown_serial(ca: CertificateAuthority, csr: Callable[[str], bytes]) -> None:
    refused(ca, lambda: ca.apply("u", "88000001", csr("holder-1")), errors.UnknownHolderError, 404,
            "查無此用戶，請先至分行辦理憑證申請登記。")
    for call in (
        lambda: ca.download("0123ABCD"),
        lambda: ca.renew("u", "0123ABCD", csr("holder-1")),
        lambda: ca.suspend("0123ABCD"),
        lambda: ca.resume("0123ABCD"),
        lambda: ca.revoke("0123ABCD", "keyCompromise"),
    ):
        refused(ca, call, errors.UnknownSerialError, 404, "查無此憑證序號。")
    refused(ca, lambda: ca.download("not-hex"), errors.UnknownSerialError, 404, "憑證序號格式不正確")
    with pytest.raises(errors.UnknownSerialError):
        ca.proof_sheet("0123ABCD")


def test_bad_request_fields(ca: CertificateAuthority, csr: Callable[[str], bytes]) -> None:
    refused(ca, lambda: ca.apply("", HOLDER_ID, csr("holder-1")), errors.BadRequestError, 400, "申請編號格式不正確。")
    refused(ca, lambda: ca.apply("has space", HOLDER_ID, csr("holder-1")), errors.BadRequestError, 400, "申請編號")
    refused(ca, lambda: ca.register_holder("bad id!", "x", "1"), errors.BadRequestError, 400, "用戶代號格式不正確。")
    # JSON bodies can carry numbers, lists and objects where text belongs
    refused(ca, lambda: ca.apply(7, HOLDER_ID, csr("holder-1")),  # type: ignore[arg-type]
            errors.BadRequestError, 400, "申請編號格式不正確。")
    refused(ca, lambda: ca.apply("q", [HOLDER_ID], csr("holder-1")),  # type: ignore[arg-type]
            errors.BadRequestError, 400, "用戶代號格式不正確。")
    refused(ca, lambda: ca.renew({"a": 1}, "0123ABCD", csr("holder-1")),  # type: ignore[arg-type]
            errors.BadRequestError, 400, "申請編號")
    refused(ca, lambda: ca.register_holder("99000002", "x", "1", branch_code="60000"), errors.BadRequestError,
            400, "分行代號(7 位數字)格式不正確。")
    refused(ca, lambda: ca.register_holder("99000002", " ", "1"), errors.BadRequestError, 400, "用戶名稱不可空白")
    refused(ca, lambda: ca.apply("p", HOLDER_ID, csr("holder-1"), not_after=datetime(2020, 1, 1, tzinfo=TAIWAN)),
            errors.BadValidityError, 400, "憑證到期日必須晚於現在。")
    # beyond the issuing CA's own not-after (2049-12-31 23:59:59 +08:00), and at the ends of the calendar
    refused(ca, lambda: ca.apply("p", HOLDER_ID, csr("holder-1"), not_after=datetime(2050, 1, 1, tzinfo=TAIWAN)),
            errors.BadValidityError, 400, "憑證到期日不得晚於發證中心憑證的到期日（2049-12-31 23:59:59）。")
    assert ca.apply("p", HOLDER_ID, csr("holder-1"), not_after=datetime(2049, 12, 31, tzinfo=TAIWAN)).not_after == (
        datetime(2049, 12, 31, 23, 59, 59, tzinfo=TAIWAN))
    for extreme in (datetime.fromisoformat("0001-01-01T00:00:00+14:00"),
                    datetime.fromisoformat("9999-12-31T23:59:59-10:00")):
        refused(ca, functools.partial(ca.apply, "q", HOLDER_ID, csr("holder-1"), not_after=extreme),
                errors.BadValidityError, 400, "憑證到期日不正確。")


def test_holder_registration_conflicts(ca: CertificateAuthority) -> None:
    refused(ca, lambda: ca.register_holder(HOLDER_ID, "虛構測試貿易股份有限公司", CN_SUFFIX),
            errors.HolderExistsError, 409, "此用戶及憑證名稱已登記。")
    refused(ca, lambda: ca.register_holder(HOLDER_ID, "別的名字", "2016"), errors.HolderConflictError, 409,
            "此用戶代號已登記為不同的用戶資料。")
    assert ca.ensure_holder(HOLDER_ID, "虛構測試貿易股份有限公司", CN_SUFFIX).cn_suffixes == (CN_SUFFIX,)
    assert ca.register_holder(HOLDER_ID, "虛構測試貿易股份有限公司", "2016").cn_suffixes == (CN_SUFFIX, "2016")


def test_status_changes_that_do_not_apply(ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate) -> None:
    refused(ca, lambda: ca.resume(old.serial), errors.CertificateNotSuspendedError, 409, "憑證未暫禁，無須解除暫禁。")
    refused(ca, lambda: ca.revoke(old.serial, "certificateHold"), errors.BadRevocationReasonError, 400,
            "廢止原因不正確")
    assert ca.suspend(old.serial).status is CertStatus.SUSPENDED
    refused(ca, lambda: ca.suspend(old.serial), errors.CertificateSuspendedError, 409, "憑證已暫禁，無須重複暫禁。")
    assert ca.revoke(old.serial, "keyCompromise").status is CertStatus.REVOKED
    refused(ca, lambda: ca.revoke(old.serial), errors.CertificateRevokedError, 409, "憑證已廢止")
    refused(ca, lambda: ca.suspend(old.serial), errors.CertificateRevokedError, 409, "憑證已廢止")


def test_expired_certificates_are_not_suspended_or_revoked(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate
) -> None:
    clock.set(OLD_NOT_AFTER + timedelta(days=1))
    assert ca.download(old.serial).status is CertStatus.EXPIRED
    refused(ca, lambda: ca.suspend(old.serial), errors.CertificateExpiredError, 409, "憑證已過期")
    refused(ca, lambda: ca.revoke(old.serial), errors.CertificateExpiredError, 409, "憑證已過期")


def test_statuses(ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate) -> None:
    assert old.status is CertStatus.NORMAL
    assert ca.suspend(old.serial).status is CertStatus.SUSPENDED
    assert ca.resume(old.serial).status is CertStatus.NORMAL
    assert ca.revoke(old.serial, "superseded").status is CertStatus.REVOKED
    clock.set(OLD_NOT_AFTER + timedelta(days=1))
    assert ca.download(old.serial).status is CertStatus.REVOKED  # revocation outlives expiry
    assert [s.value for s in CertStatus] == ["正常", "暫禁", "已廢止", "已過期"]


# -- idempotency and crashes -------------------------------------------------------------------------
def _count(ca: CertificateAuthority, table: str) -> int:
    return len(ca.registry.dump()[table])


def test_same_request_id_returns_the_same_certificate(ca: CertificateAuthority, csr: Callable[[str], bytes]) -> None:
    first = ca.apply("once", HOLDER_ID, csr("holder-1"))
    again = ca.apply("once", HOLDER_ID, csr("holder-1"))
    assert again.serial == first.serial and again.der == first.der and again.replayed and not first.replayed
    assert _count(ca, "certificates") == 1 and _count(ca, "requests") == 1
    assert [a.result for a in ca.audit_log()][-2:] == ["OK", "REPLAYED"]


def test_a_request_id_is_never_reused_for_another_request(
    ca: CertificateAuthority, csr: Callable[[str], bytes]
) -> None:
    first = ca.apply("once", HOLDER_ID, csr("holder-1"))
    err = refused(ca, lambda: ca.apply("once", HOLDER_ID, csr("holder-2")), errors.RequestIdReusedError, 409,
                  "此申請編號已用於另一筆不同的申請，請使用新的申請編號。")
    assert err.details["serial"] == first.serial
    refused(ca, lambda: ca.renew("once", first.serial, csr("holder-1")), errors.RequestIdReusedError, 409, "申請編號")


def test_a_request_id_retried_with_another_not_after_is_refused(
    ca: CertificateAuthority, csr: Callable[[str], bytes]
) -> None:
    ends = datetime(2025, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
    first = ca.apply("fixture", HOLDER_ID, csr("holder-1"), not_after=datetime(2025, 5, 14, tzinfo=TAIWAN))
    assert first.not_after == ends
    again = ca.apply("fixture", HOLDER_ID, csr("holder-1"), not_after=datetime(2025, 5, 14, 12, 0, tzinfo=TAIWAN))
    assert again.replayed and again.serial == first.serial
    assert ca.apply("fixture", HOLDER_ID, csr("holder-1")).serial == first.serial  # no not_after: the retry as sent
    err = refused(ca, lambda: ca.apply("fixture", HOLDER_ID, csr("holder-1"),
                                       not_after=datetime(2026, 5, 14, tzinfo=TAIWAN)),
                  errors.RequestIdReusedError, 409, "此申請編號已用於另一筆不同的申請")
    assert err.details["serial"] == first.serial


class CrashError(Exception):
    """The process dying between the commit and the answer."""


def test_crash_between_commit_and_answer_loses_nothing(ca: CertificateAuthority, csr: Callable[[str], bytes]) -> None:
    seen: list[str] = []

    def crash(operation: Operation, issued: IssuedCertificate) -> None:
        seen.append(issued.serial)
        raise CrashError("the process died before answering")

    ca.after_commit = crash
    with pytest.raises(CrashError):
        ca.apply("crash-1", HOLDER_ID, csr("holder-1"))
    ca.after_commit = None
    retried = ca.apply("crash-1", HOLDER_ID, csr("holder-1"))
    assert retried.replayed and [retried.serial] == seen
    assert _count(ca, "certificates") == 1 and _count(ca, "requests") == 1


def test_renewal_retry_after_a_crash_returns_the_renewal_not_already_renewed(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    clock.set(RENEWED_AT)
    ca.after_commit = lambda op, issued: (_ for _ in ()).throw(CrashError())
    with pytest.raises(CrashError):
        ca.renew("renew-crash", old.serial, csr("holder-2"))
    ca.after_commit = None
    clock.set(RENEWED_AT + timedelta(seconds=30))  # the retry comes a little later
    retried = ca.renew("renew-crash", old.serial, csr("holder-2"))
    assert retried.replayed and retried.renewed_from == old.serial and retried.not_before == RENEWED_AT
    assert _count(ca, "certificates") == 2


def test_a_failure_inside_the_transaction_leaves_nothing(
    ca: CertificateAuthority, csr: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ca.registry.dump()

    def broken(self: Transaction, row: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Transaction, "insert_request", broken)
    with pytest.raises(sqlite3.OperationalError):
        ca.apply("half", HOLDER_ID, csr("holder-1"))
    assert ca.registry.dump() == before


def test_concurrent_retries_of_one_request_issue_one_certificate(
    ca: CertificateAuthority, csr: Callable[[str], bytes]
) -> None:
    request = csr("holder-1")
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(ca.apply("racy", HOLDER_ID, request).serial)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert _count(ca, "certificates") == 1


# -- registry and audit log ----------------------------------------------------------------------------
def test_audit_log_records_who_what_when_and_result(
    ca: CertificateAuthority, clock: FixedClock, csr: Callable[[str], bytes]
) -> None:
    issued = ca.apply("a-1", HOLDER_ID, csr("holder-1"), actor="branch-officer-7")
    clock.advance(timedelta(minutes=5))
    with pytest.raises(errors.CertificateNotSuspendedError):
        ca.resume(issued.serial, actor="branch-officer-7")
    entries = ca.audit_log(2)
    assert [(e.actor, e.action, e.target, e.result) for e in entries] == [
        ("branch-officer-7", "申請", "a-1", "OK"),
        ("branch-officer-7", "解除暫禁", issued.serial, "CERT_NOT_SUSPENDED"),
    ]
    assert entries[0].at == FIRST_ISSUE and entries[1].at == FIRST_ISSUE + timedelta(minutes=5)
    assert entries[0].detail["serial"] == issued.serial


def test_audit_log_is_append_only(ca: CertificateAuthority) -> None:
    conn = ca.registry.connection()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET result = 'OK'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")


def test_registry_is_one_sqlite_file_in_wal_mode(ca: CertificateAuthority) -> None:
    assert ca.registry.path == ca.state_dir / "ca.sqlite3"
    assert ca.registry.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert set(ca.registry.dump()) == {"meta", "holders", "holder_names", "certificates", "requests",
                                       "authorizations", "audit"}


def test_every_error_code_is_documented() -> None:
    doc = repo_path("docs", "ca.md").read_text(encoding="utf-8")
    missing = [code for code in errors.ERRORS if f"`{code}`" not in doc]
    assert not missing, f"docs/ca.md does not list {missing}"


# -- the renewal check (asked before the card makes a key) --------------------------------------------
def test_the_renewal_check_answers_what_renew_would_without_changing_anything(
    ca: CertificateAuthority, clock: FixedClock, old: IssuedCertificate, csr: Callable[[str], bytes]
) -> None:
    def check_refused(error: type[errors.CaServiceError], message: str) -> None:
        before = ca.registry.dump()
        with pytest.raises(error) as caught:
            ca.renewal_check(old.serial)
        assert message in caught.value.message
        assert ca.registry.dump() == before  # not even an audit entry: it is a question

    clock.set(OLD_NOT_AFTER - timedelta(days=31))
    check_refused(errors.RenewalWindowNotOpenError, "2023-04-14 23:59:59 起")
    clock.set(RENEWED_AT)
    before = ca.registry.dump()
    assert ca.renewal_check(old.serial) == {
        "serial": old.serial, "cn": f"{HOLDER_ID}-00-{CN_SUFFIX}",
        "not_after": "2023-05-14T23:59:59+08:00", "window_opens": "2023-04-14T23:59:59+08:00",
        "renewed_not_after": "2025-05-14T23:59:59+08:00",
    }
    assert ca.registry.dump() == before
    ca.suspend(old.serial)
    check_refused(errors.CertificateSuspendedError, "請先辦理解除暫禁")
    ca.resume(old.serial)
    ca.renew("renew-1", old.serial, csr("holder-2"))
    check_refused(errors.AlreadyRenewedError, "不得重複更新")
    with pytest.raises(errors.UnknownSerialError):
        ca.renewal_check("ABCDEF")
