"""The CA's one-time authorization codes (授權碼): the RA issues one for a holder's Common Name, the
customer's card asks with it (申請 without the admin token), once; every refusal with its message
and nothing changed but one audit entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography import x509

from fxml.ca.api import code_digest, grouped_code, normal_code
from fxml.clock import FixedClock
from simulator.ca import errors
from simulator.ca.service import CertificateAuthority, Operation
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, HOLDER_NAME, KeyCache, make_csr
from tests.unit.test_ca_service import refused

OTHER_HOLDER = "99000002"


@pytest.fixture
def csr(ca: CertificateAuthority, keys: KeyCache) -> Callable[[str], bytes]:
    return lambda name: make_csr(keys.rsa(name), ca.subject_for(HOLDER_ID, CN_SUFFIX))


@pytest.fixture
def code(ca: CertificateAuthority) -> str:
    issued, grant = ca.authorize(HOLDER_ID, CN_SUFFIX, actor="0060000:EB000001")
    assert grant.cn == f"{HOLDER_ID}-00-{CN_SUFFIX}" and grant.used_at is None
    return issued


def test_a_code_is_shown_once_and_kept_as_its_digest(ca: CertificateAuthority, clock: FixedClock) -> None:
    code, grant = ca.authorize(HOLDER_ID, CN_SUFFIX, actor="0060000:EB000001")
    assert len(normal_code(code)) == 16 and normal_code(grouped_code(code)) == code
    assert grant.expires_at == clock.now().replace(microsecond=0) + timedelta(days=7)
    dump = ca.registry.dump()
    assert code not in repr(dump) and grouped_code(code) not in repr(dump)
    assert [row[0] for row in dump["authorizations"]] == [code_digest(code)]
    entry = ca.audit_log()[-1]
    assert (entry.action, entry.actor, entry.target, entry.result) == (
        Operation.AUTHORIZE.value, "0060000:EB000001", HOLDER_ID, "OK")
    assert code not in repr(entry)


def test_codes_are_read_as_people_type_them(ca: CertificateAuthority, code: str) -> None:
    grouped = grouped_code(code).lower()
    assert ca.check_authorization(f" {grouped} ", HOLDER_ID).cn == f"{HOLDER_ID}-00-{CN_SUFFIX}"
    assert normal_code("O0I1L1" + "A" * 10) == "001111" + "A" * 10  # Crockford: O is 0, I and L are 1
    for wrong in ("", "short", "U" * 16, "\uff21" * 16, 7):
        assert normal_code(wrong) == ""  # type: ignore[arg-type]


def test_the_check_says_what_the_code_allows_and_uses_nothing(ca: CertificateAuthority, code: str) -> None:
    before = ca.registry.dump()
    grant = ca.check_authorization(code, HOLDER_ID)
    assert grant.subject == ca.subject_for(HOLDER_ID, CN_SUFFIX)
    assert x509.Name.from_rfc4514_string(grant.to_json()["subject_rfc4514"]) == grant.subject
    assert ca.registry.dump() == before


def test_enrollment_issues_once_and_a_retry_answers_the_same(
    ca: CertificateAuthority, code: str, csr: Callable[[str], bytes]
) -> None:
    issued = ca.enroll("download-1", HOLDER_ID, code, csr("download-1"))
    assert issued.subject == ("C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank "
                              "OU=FXML CN=99000001-00-2015")
    assert issued.renewed_from is None and not issued.replayed
    again = ca.enroll("download-1", HOLDER_ID, grouped_code(code), csr("download-1"))
    assert again.serial == issued.serial and again.replayed
    grant = ca.registry.dump()["authorizations"][0]
    assert grant[7:9] == ("download-1", issued.serial)
    assert [e.result for e in ca.audit_log() if e.action == Operation.ENROLL.value] == ["OK", "REPLAYED"]


def test_a_used_code_is_refused_to_another_request(
    ca: CertificateAuthority, code: str, csr: Callable[[str], bytes]
) -> None:
    ca.enroll("download-1", HOLDER_ID, code, csr("download-1"))
    refused(ca, lambda: ca.enroll("download-2", HOLDER_ID, code, csr("download-2")), errors.AuthorizationUsedError,
            409, "此授權碼已使用過")
    with pytest.raises(errors.AuthorizationUsedError):
        ca.check_authorization(code, HOLDER_ID)


def test_an_unknown_code_is_refused(ca: CertificateAuthority, code: str, csr: Callable[[str], bytes]) -> None:
    other = ("7" if code[0] != "7" else "8") + code[1:]
    for wrong in (other, "not a code"):
        refused(ca, lambda w=wrong: ca.enroll("download-x", HOLDER_ID, w, csr("download-x")),  # type: ignore[misc]
                errors.AuthorizationUnknownError, 404, "授權碼錯誤")


def test_an_expired_code_is_refused(
    ca: CertificateAuthority, clock: FixedClock, code: str, csr: Callable[[str], bytes]
) -> None:
    clock.set(clock.now() + timedelta(days=7, seconds=1))
    err = refused(ca, lambda: ca.enroll("late", HOLDER_ID, code, csr("late")), errors.AuthorizationExpiredError,
                  409, "授權碼已於")
    assert "逾期" in err.message and err.details["expires_at"]


def test_another_holders_request_or_subject_is_refused(
    ca: CertificateAuthority, code: str, keys: KeyCache
) -> None:
    ca.ensure_holder(OTHER_HOLDER, HOLDER_NAME, CN_SUFFIX)
    theirs = make_csr(keys.rsa("other-holder"), ca.subject_for(OTHER_HOLDER, CN_SUFFIX))
    refused(ca, lambda: ca.enroll("wrong-holder", OTHER_HOLDER, code, theirs), errors.AuthorizationMismatchError,
            403, "此授權碼不是核發給您的")
    # The holder's code, but a request in another name (another registered CN of the holder).
    ca.ensure_holder(HOLDER_ID, HOLDER_NAME, "2023")
    other_cn = make_csr(keys.rsa("other-cn"), ca.subject_for(HOLDER_ID, "2023"))
    refused(ca, lambda: ca.enroll("wrong-subject", HOLDER_ID, code, other_cn), errors.SubjectMismatchError, 422,
            "主旨")


def test_a_request_id_of_another_request_is_not_a_retry(
    ca: CertificateAuthority, code: str, csr: Callable[[str], bytes]
) -> None:
    ca.apply("taken", HOLDER_ID, csr("admin-issued"))
    refused(ca, lambda: ca.enroll("taken", HOLDER_ID, code, csr("admin-issued")), errors.RequestIdReusedError, 409,
            "此申請編號已用於另一筆不同的申請")


def test_only_a_registered_name_gets_a_code(ca: CertificateAuthority, clock: FixedClock) -> None:
    refused(ca, lambda: ca.authorize(HOLDER_ID, "2099"), errors.UnknownHolderError, 404, "查無此用戶或此憑證名稱")
    refused(ca, lambda: ca.authorize(HOLDER_ID, CN_SUFFIX, expires_at=clock.now() + timedelta(days=31)),
            errors.BadRequestError, 400, "不得超過 30 天")
