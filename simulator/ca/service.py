"""The simulated TWCA Financial User CA: issuance, renewal rules, status, CRL and OCSP.

:class:`CertificateAuthority` is the service; :mod:`simulator.ca.app` puts
each of its methods behind an HTTP endpoint. Operations carry the bank's own
words (:class:`Operation`: 申請, 下載, 更新, 暫禁 ...) and certificates a
status in the bank's words (:class:`CertStatus`: 正常, 暫禁, 已廢止, 已過期),
computed with the CA's clock.

Each operation is one registry transaction that also appends its audit
entry. A refusal raises a :class:`~simulator.ca.errors.CaServiceError`, changes
nothing, and appends one audit entry that records the refusal's code.

Issuance is idempotent by request id: the certificate and the request row
commit together, and a request id seen again with the same request returns
the certificate it produced (``replayed=True``), whether the first answer
was delivered or lost in a crash.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partialmethod
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from fxml.ca.api import CODE_ALPHABET, CODE_LENGTH, PROOF_FIELDS, code_digest, normal_code
from fxml.ca.api import CertStatus as CertStatus  # re-exported: the Python API (docs/ca.md)
from fxml.ca.api import Operation as Operation
from fxml.clock import TAIWAN, Clock, from_env
from fxml.display import display_name, roc_date, taiwan_text
from simulator.ca import errors
from simulator.ca.config import DEFAULT_BASE_URL, CaConfig, check_base_url
from simulator.ca.hierarchy import Hierarchy, ensure_hierarchy
from simulator.ca.issued import Authorization as Authorization  # re-exported: the Python API
from simulator.ca.issued import IssuedCertificate as IssuedCertificate
from simulator.ca.profile import (
    DEFAULT_BANK_NAME,
    DEFAULT_BRANCH_CODE,
    FXML,
    FxmlProfile,
    ServiceUrls,
    build_name,
    end_entity_extensions,
    name_pairs,
    serial_hex,
)
from simulator.ca.registry import (
    REGISTRY_FILE,
    AuditRow,
    AuthorizationRow,
    CertificateRow,
    HolderRow,
    Registry,
    RequestRow,
    Transaction,
)
from simulator.ca.requests import (
    BANK_NAME,
    BRANCH,
    HOLDER_ID,
    REQUEST_ID,
    SUFFIX,
    CsrFacts,
    check_csr,
    check_renewal_proof,
    normal_serial,
    require,
)
from simulator.ca.revocation import HOLD, REVOCATION_REASONS, CertStatusInfo, CrlPublisher, OcspResponder

log = logging.getLogger(__name__)

Holder = HolderRow

#: The proof sheet's (憑證證明單) lines, in the order the bank prints them.
PROOF_SHEET_LABELS = PROOF_FIELDS


class CertificateAuthority:
    """The simulated TWCA Financial User CA over one state folder.

    Use :meth:`open`; the constructor takes already-built parts.
    """

    def __init__(
        self,
        state_dir: Path,
        hierarchy: Hierarchy,
        registry: Registry,
        clock: Clock,
        config: CaConfig,
        profile: FxmlProfile = FXML,
    ):
        self.state_dir = state_dir
        self.hierarchy = hierarchy
        self.registry = registry
        self.clock = clock
        self.config = config
        self.profile = profile
        self._base_url = config.base_url or self._stored_base_url() or DEFAULT_BASE_URL
        self._crl = CrlPublisher(hierarchy, registry, config)
        self._ocsp = OcspResponder(hierarchy, registry, config)
        #: Called after an issuance commits and before it is returned: a place
        #: for tests (and ``FXMLSIM_CA_FAULT``) to crash between the two.
        self.after_commit: Callable[[Operation, IssuedCertificate], None] | None = None

    @classmethod
    def open(
        cls,
        state_dir: Path | str,
        clock: Clock | None = None,
        config: CaConfig | None = None,
        *,
        keys_dir: Path | str | None = None,
    ) -> CertificateAuthority:
        """The CA of ``state_dir``, made on first start: root and issuing CA
        (copied from ``keys_dir`` if given, else generated; keys 0600) and the
        registry ``ca.sqlite3``. ``clock`` defaults to ``FXMLSIM_CLOCK``,
        ``config`` to ``<state_dir>/config.json``."""
        state = Path(state_dir)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = config or CaConfig.load(state)
        hierarchy = ensure_hierarchy(state, Path(keys_dir) if keys_dir else None)
        registry = Registry(state / REGISTRY_FILE, durability=config.durability)
        try:
            registry.bind_issuer(x509.SubjectKeyIdentifier.from_public_key(
                hierarchy.issuer_cert.public_key()).digest.hex(), state)
        except BaseException:
            registry.close()
            raise
        return cls(state, hierarchy, registry, clock or from_env(), config)

    def close(self) -> None:
        self.registry.close()

    def __enter__(self) -> CertificateAuthority:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the hierarchy and where it is published --------------------------------
    @property
    def root_certificate(self) -> x509.Certificate:
        return self.hierarchy.root_cert

    @property
    def issuer_certificate(self) -> x509.Certificate:
        return self.hierarchy.issuer_cert

    def chain_pem(self) -> bytes:
        """The issuing CA's certificate then the root's, PEM."""
        return self.hierarchy.chain_pem()

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def urls(self) -> ServiceUrls:
        return ServiceUrls(self._base_url)

    def set_base_url(self, url: str, *, remember: bool = True) -> None:
        """Point new certificates' CRL and AIA URLs at ``url``; ``remember`` keeps
        it in the registry for other processes of this state folder."""
        self._base_url = check_base_url(url)
        if remember:
            with self.registry.write() as tx:
                tx.set_meta("base_url", self._base_url)

    def _stored_base_url(self) -> str | None:
        with self.registry.read() as tx:
            return tx.meta("base_url")

    def now(self) -> datetime:
        """The CA's clock, to the second (certificates have no finer time)."""
        return self.clock.now().astimezone(UTC).replace(microsecond=0)

    # -- holders ---------------------------------------------------------------
    def register_holder(
        self,
        holder_id: str,
        name: str,
        cn_suffix: str,
        branch_code: str = DEFAULT_BRANCH_CODE,
        bank_name: str = DEFAULT_BANK_NAME,
        *,
        actor: str = "system",
        exist_ok: bool = False,
    ) -> Holder:
        """Register a holder, or one more certificate name (CN suffix) of a known
        holder. With ``exist_ok``, a registration that already exists exactly as
        given is returned instead of refused (``HOLDER_EXISTS``)."""
        with self._operation(Operation.REGISTER, actor, holder_id) as op:
            require(HOLDER_ID, holder_id, "holder_id", "用戶代號")
            require(SUFFIX, cn_suffix, "cn_suffix", "憑證名稱後綴")
            require(BRANCH, branch_code, "branch_code", "分行代號(7 位數字)")
            require(BANK_NAME, bank_name, "bank_name", "銀行英文名稱")
            if not isinstance(name, str) or not name.strip() or len(name) > 100:
                raise errors.BadRequestError("用戶名稱不可空白，且不得超過 100 字。", field="name")
            cn = self.profile.cn(holder_id, cn_suffix)
            with self.registry.write() as tx:
                holder = tx.holder(holder_id)
                if holder is None:
                    tx.insert_holder(holder_id, name, branch_code, bank_name, op.now)
                elif (holder.name, holder.branch_code, holder.bank_name) != (name, branch_code, bank_name):
                    raise errors.HolderConflictError(holder_id=holder_id)
                elif cn_suffix in holder.cn_suffixes:
                    if exist_ok:
                        return holder
                    raise errors.HolderExistsError(holder_id=holder_id, cn=cn)
                other = tx.holder_of_cn(cn)
                if other is not None:
                    raise errors.HolderExistsError(holder_id=other, cn=cn)
                tx.insert_holder_name(holder_id, cn_suffix, cn, op.now)
                op.succeed(tx, cn=cn)
                registered = tx.holder(holder_id)
        assert registered is not None
        return registered

    #: :meth:`register_holder` with ``exist_ok=True``.
    ensure_holder = partialmethod(register_holder, exist_ok=True)

    def holder(self, holder_id: str) -> Holder:
        with self.registry.read() as tx:
            holder = tx.holder(holder_id)
        if holder is None:
            raise errors.UnknownHolderError(holder_id=holder_id)
        return holder

    def subject_for(self, holder_id: str, cn_suffix: str) -> x509.Name:
        """The subject a request for this holder and certificate name must carry."""
        holder = self.holder(holder_id)
        return build_name(self.profile.subject(holder_id, cn_suffix, holder.branch_code, holder.bank_name))

    # -- 申請 -----------------------------------------------------------------
    def apply(
        self,
        request_id: str,
        holder_id: str,
        csr: bytes | str | x509.CertificateSigningRequest,
        *,
        actor: str = "system",
        not_after: datetime | None = None,
    ) -> IssuedCertificate:
        """Issue a certificate for a registered holder from a PKCS#10 request.

        The request's signature must verify with its RSA-2048 key and its
        subject must be the holder's for one of the holder's registered CN
        suffixes. Validity: from now to 23:59:59 (+08:00) of the same day
        two years on, or to 23:59:59 of the Taiwan date of ``not_after``
        (for card fixtures that reproduce a given certificate).
        """
        with self._operation(Operation.APPLY, actor, request_id) as op:
            require(REQUEST_ID, request_id, "request_id", "申請編號")
            require(HOLDER_ID, holder_id, "holder_id", "用戶代號")
            request = check_csr(csr, self.profile.key_bits)
            with self.registry.write() as tx:
                replay = self._replay(tx, request_id, "apply", holder_id, request.sha256, None)
                if replay is not None:
                    # The requests table keeps no not_after; a given one must be what was issued.
                    if not_after is not None and self._closing_time(not_after) != replay.not_after:
                        raise errors.RequestIdReusedError(request_id=request_id, serial=replay.serial)
                    op.succeed(tx, result="REPLAYED", serial=replay.serial)
                    return replay
                holder = tx.holder(holder_id)
                if holder is None:
                    raise errors.UnknownHolderError(holder_id=holder_id)
                suffix = self._matching_suffix(holder, request.request)
                end = self.profile.initial_not_after(op.now)
                if not_after is not None:
                    end = self._requested_not_after(not_after, op.now)
                row = self._issue(
                    tx, holder=holder, suffix=suffix, csr=request, request_id=request_id, kind="apply",
                    actor=actor, now=op.now, not_after=end, renewed_from=None,
                )
                op.succeed(tx, serial=row.serial, holder_id=holder_id, cn=row.cn)
            issued = self._record(row, op.now)
        return self._after_commit(Operation.APPLY, issued)

    def _closing_time(self, not_after: datetime) -> datetime:
        """23:59:59 (+08:00) of the Taiwan date of ``not_after`` (naive: Taiwan time)."""
        local = not_after if not_after.tzinfo else not_after.replace(tzinfo=TAIWAN)
        try:
            return self.profile.closing_time(local.astimezone(TAIWAN).date())
        except OverflowError:  # years 1 and 9999 on the far side of +08:00
            raise errors.BadValidityError(not_after=str(not_after)) from None

    def _requested_not_after(self, not_after: datetime, now: datetime) -> datetime:
        """23:59:59 (+08:00) of the Taiwan date of ``not_after``: after now, and
        within the issuing CA's own validity (RFC 5280 path validation)."""
        end = self._closing_time(not_after)
        if end <= now:
            raise errors.BadValidityError("憑證到期日必須晚於現在。", not_after=end.isoformat())
        ca_end = self.hierarchy.issuer_cert.not_valid_after_utc
        if end > ca_end:
            raise errors.BadValidityError(
                f"憑證到期日不得晚於發證中心憑證的到期日（{taiwan_text(ca_end)}）。",
                not_after=end.isoformat(), issuer_not_after=ca_end.astimezone(TAIWAN).isoformat(),
            )
        return end

    # -- 更新(展期) -------------------------------------------------------------
    def renew(
        self,
        request_id: str,
        current_serial: str,
        csr: bytes | str | x509.CertificateSigningRequest,
        *,
        actor: str = "system",
        old_key_signature: bytes | None = None,
        require_proof: bool = False,
    ) -> IssuedCertificate:
        """Renew (更新/展期) the certificate ``current_serial`` for the key of ``csr``.

        ``old_key_signature``: the old certificate's key's signature over
        :func:`fxml.ca.api.renewal_proof_message` (the HTTP API requires it:
        only the holder of the old key may renew); checked when given, refused
        when missing and ``require_proof``.

        Allowed from ``renewal_window_days`` before the current not-after up
        to that not-after, for a certificate neither suspended, revoked nor
        already renewed. The new certificate runs from now to the old
        not-after plus two years, 23:59:59 (+08:00); the old one stays 正常
        until its own not-after.
        """
        with self._operation(Operation.RENEW, actor, request_id) as op:
            require(REQUEST_ID, request_id, "request_id", "申請編號")
            serial = normal_serial(current_serial)
            request = check_csr(csr, self.profile.key_bits)
            with self.registry.write() as tx:
                current = tx.certificate(serial)
                holder_id = current.holder_id if current else ""
                replay = self._replay(tx, request_id, "renew", holder_id, request.sha256, serial)
                if replay is not None:
                    op.succeed(tx, result="REPLAYED", serial=replay.serial, renewed_from=serial)
                    return replay
                if current is None:
                    raise errors.UnknownSerialError(serial=serial)
                if old_key_signature is not None or require_proof:
                    csr_der = request.request.public_bytes(serialization.Encoding.DER)
                    check_renewal_proof(current.der, request_id, serial, csr_der, old_key_signature)
                self._check_renewable(current, op.now)
                holder = tx.holder(current.holder_id)
                assert holder is not None  # a foreign key
                suffix = self._matching_suffix(holder, request.request, only_cn=current.cn)
                row = self._issue(
                    tx, holder=holder, suffix=suffix, csr=request, request_id=request_id, kind="renew",
                    actor=actor, now=op.now, not_after=self.profile.renewed_not_after(current.not_after),
                    renewed_from=serial,
                )
                op.succeed(tx, serial=row.serial, renewed_from=serial, holder_id=holder.holder_id, cn=row.cn)
            issued = self._record(row, op.now)
        return self._after_commit(Operation.RENEW, issued)

    def renewal_check(self, serial: str) -> dict[str, str]:
        """Whether ``serial`` may be renewed now, without renewing it (not audited).

        Answers what a renewal would give (the window's opening, the new
        certificate's not-after), or raises the very refusal :meth:`renew`
        would raise for the certificate's state, so that the engine can tell
        the customer before the card makes a key for nothing.
        """
        key = normal_serial(serial)
        now = self.now()
        with self.registry.read() as tx:
            current = tx.certificate(key)
        if current is None:
            raise errors.UnknownSerialError(serial=key)
        self._check_renewable(current, now)
        opens = current.not_after - timedelta(days=self.config.renewal_window_days)
        return {
            "serial": current.serial,
            "cn": current.cn,
            "not_after": current.not_after.astimezone(TAIWAN).isoformat(),
            "window_opens": opens.astimezone(TAIWAN).isoformat(),
            "renewed_not_after": self.profile.renewed_not_after(current.not_after).astimezone(TAIWAN).isoformat(),
        }

    def _check_renewable(self, current: CertificateRow, now: datetime) -> None:
        facts = {
            "serial": current.serial,
            "not_after": current.not_after.astimezone(TAIWAN).isoformat(),
        }
        # In this order, so that the message never sends the holder to a step
        # that cannot help: a suspended certificate that has expired (status
        # 已過期) is not to be resumed first but applied for anew at the branch.
        if current.revoked_at is not None:
            raise errors.CertificateRevokedError("憑證已廢止，無法辦理憑證更新，請至分行重新申請憑證。", **facts)
        if current.renewed_by is not None:
            raise errors.AlreadyRenewedError(renewed_by=current.renewed_by, **facts)
        if now > current.not_after:
            raise errors.CertificateExpiredApplyAtBranchError(**facts)
        if current.suspended_at is not None:
            raise errors.CertificateSuspendedError(
                "憑證已暫禁，無法辦理憑證更新；請先辦理解除暫禁。", **facts
            )
        opens = current.not_after - timedelta(days=self.config.renewal_window_days)
        if now < opens:
            raise errors.RenewalWindowNotOpenError(
                f"憑證尚未進入可更新期間，請於憑證到期日前 {self.config.renewal_window_days} 天內"
                f"（{taiwan_text(opens)} 起）辦理憑證更新。",
                window_opens=opens.astimezone(TAIWAN).isoformat(),
                **facts,
            )

    # -- 授權碼: the RA authorizes one issuance, the customer's card asks for it ------------------
    def authorize(
        self, holder_id: str, cn_suffix: str, *, actor: str = "system", expires_at: datetime | None = None,
    ) -> tuple[str, Authorization]:
        """核發授權碼: a one-time code that lets whoever holds it have one certificate issued for the
        holder's registered Common Name ``cn_suffix`` (:meth:`enroll`), until ``expires_at`` (default:
        ``authorization_days`` from now, at most 30 days). The code is answered here only: the CA
        keeps its SHA-256."""
        with self._operation(Operation.AUTHORIZE, actor, holder_id) as op:
            require(HOLDER_ID, holder_id, "holder_id", "用戶代號")
            require(SUFFIX, cn_suffix, "cn_suffix", "憑證名稱後綴")
            ends = expires_at.astimezone(UTC).replace(microsecond=0) if expires_at is not None \
                else op.now + timedelta(days=self.config.authorization_days)
            if not op.now < ends <= op.now + timedelta(days=30):
                raise errors.BadRequestError("授權碼有效期限須晚於現在，且不得超過 30 天。", field="expires_at")
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            with self.registry.write() as tx:
                holder = tx.holder(holder_id)
                if holder is None or cn_suffix not in holder.cn_suffixes:
                    raise errors.UnknownHolderError("查無此用戶或此憑證名稱，請先辦理用戶登錄。", holder_id=holder_id,
                                                    cn_suffix=cn_suffix)
                row = AuthorizationRow(code_digest(code), holder_id, cn_suffix, self.profile.cn(holder_id, cn_suffix),
                                       op.now, ends, op.actor, None, None, None)
                tx.insert_authorization(row)
                op.succeed(tx, cn=row.cn, expires_at=ends.isoformat())
                return code, self._authorization(tx, row)

    def check_authorization(self, code: str, holder_id: str) -> Authorization:
        """What ``code`` allows ``holder_id`` now, without using it (not audited): or the very
        refusal :meth:`enroll` would give (unknown, another holder's, used, expired)."""
        now = self.now()
        with self.registry.read() as tx:
            row = self._usable(tx, code, holder_id, now)
            return self._authorization(tx, row)

    def enroll(
        self,
        request_id: str,
        holder_id: str,
        code: str,
        csr: bytes | str | x509.CertificateSigningRequest,
        *,
        actor: str = "system",
    ) -> IssuedCertificate:
        """申請 authorized by a 授權碼 (the customer's 憑證下載): a certificate for the request's key,
        in the name the code was issued for, once per code. The same request id with the same
        request answers the certificate it issued (``replayed``), even after the code was used or
        expired; another request with a used code is refused (``AUTHORIZATION_USED``)."""
        with self._operation(Operation.ENROLL, actor, request_id) as op:
            require(REQUEST_ID, request_id, "request_id", "申請編號")
            require(HOLDER_ID, holder_id, "holder_id", "用戶代號")
            request = check_csr(csr, self.profile.key_bits)
            with self.registry.write() as tx:
                grant = self._granted(tx, code, holder_id)
                replay = self._replay(tx, request_id, "apply", holder_id, request.sha256, None)
                if replay is not None:
                    if grant.request_id != request_id:  # the request id was another request's
                        raise errors.RequestIdReusedError(request_id=request_id, serial=replay.serial)
                    op.succeed(tx, result="REPLAYED", serial=replay.serial)
                    return replay
                self._check_usable(grant, op.now)
                holder = tx.holder(holder_id)
                assert holder is not None  # a foreign key of the code
                suffix = self._matching_suffix(holder, request.request, only_cn=grant.cn)
                row = self._issue(
                    tx, holder=holder, suffix=suffix, csr=request, request_id=request_id, kind="apply",
                    actor=actor, now=op.now, not_after=self.profile.initial_not_after(op.now), renewed_from=None,
                )
                tx.use_authorization(grant.code_sha256, request_id, row.serial, op.now)
                op.succeed(tx, serial=row.serial, holder_id=holder_id, cn=row.cn)
            issued = self._record(row, op.now)
        return self._after_commit(Operation.ENROLL, issued)

    def _granted(self, tx: Transaction, code: str, holder_id: str) -> AuthorizationRow:
        """The code's row, if it is one the CA issued for ``holder_id`` (used or not)."""
        row = tx.authorization(code_digest(code)) if normal_code(code) else None
        if row is None:
            raise errors.AuthorizationUnknownError()
        if row.holder_id != holder_id:
            raise errors.AuthorizationMismatchError(holder_id=holder_id)
        return row

    def _usable(self, tx: Transaction, code: str, holder_id: str, now: datetime) -> AuthorizationRow:
        row = self._granted(tx, code, holder_id)
        self._check_usable(row, now)
        return row

    @staticmethod
    def _check_usable(row: AuthorizationRow, now: datetime) -> None:
        if row.request_id is not None:
            raise errors.AuthorizationUsedError(cn=row.cn, used_at=row.used_at.isoformat() if row.used_at else None,
                                                serial=row.serial)
        if now > row.expires_at:
            raise errors.AuthorizationExpiredError(
                f"授權碼已於 {taiwan_text(row.expires_at)} 逾期，請洽申辦分行重新核發授權碼。", cn=row.cn,
                expires_at=row.expires_at.astimezone(TAIWAN).isoformat())

    def _authorization(self, tx: Transaction, row: AuthorizationRow) -> Authorization:
        holder = tx.holder(row.holder_id)
        assert holder is not None
        subject = build_name(self.profile.subject(row.holder_id, row.cn_suffix, holder.branch_code, holder.bank_name))
        return Authorization(row.holder_id, row.cn, subject, row.issued_at, row.expires_at, row.used_at, row.serial)

    # -- 下載, 查詢 --------------------------------------------------------------
    def download(self, serial: str, *, actor: str = "system") -> IssuedCertificate:
        """The certificate ``serial`` (下載), with its status."""
        with self._operation(Operation.DOWNLOAD, actor, str(serial)) as op:
            key = normal_serial(serial)
            with self.registry.write() as tx:
                row = tx.certificate(key)
                if row is None:
                    raise errors.UnknownSerialError(serial=key)
                op.succeed(tx, serial=key)
        return self._record(row, op.now)

    def query(
        self, holder_id: str | None = None, cn: str | None = None, serial: str | None = None,
        *, after: str | None = None, limit: int | None = None,
    ) -> list[IssuedCertificate]:
        """Certificates (查詢) of a holder, a CN or a serial (all given filters apply; none: all),
        in issuance order; ``after`` and ``limit`` give one page of them."""
        key = normal_serial(serial) if serial is not None else None
        cursor = normal_serial(after) if after is not None else None
        now = self.now()
        with self.registry.read() as tx:
            rows = tx.certificates(holder_id=holder_id, cn=cn, serial=key, after=cursor, limit=limit)
        return [self._record(row, now) for row in rows]

    def proof_sheet(self, serial: str) -> dict[str, str]:
        """The 憑證證明單 of ``serial``: the bank's labels and what it prints for them."""
        now = self.now()
        record = self.lookup(serial, now)
        values = (
            roc_date(now),
            record.serial,
            record.subject,
            record.issuer,
            taiwan_text(record.not_before),
            taiwan_text(record.not_after),
            record.status.value,
        )
        return dict(zip(PROOF_SHEET_LABELS, values, strict=True))

    def lookup(self, serial: str, now: datetime | None = None) -> IssuedCertificate:
        """A certificate by serial without an audit entry (for screens and OCSP)."""
        key = normal_serial(serial)
        with self.registry.read() as tx:
            row = tx.certificate(key)
        if row is None:
            raise errors.UnknownSerialError(serial=key)
        return self._record(row, now or self.now())

    # -- 暫禁, 解除暫禁, 廢止 ------------------------------------------------------
    def suspend(self, serial: str, *, actor: str = "system") -> IssuedCertificate:
        """Suspend (暫禁) a certificate: CRL and OCSP report it on hold."""
        def change(tx: Transaction, row: CertificateRow, now: datetime) -> None:
            if row.suspended_at is not None:
                raise errors.CertificateSuspendedError("憑證已暫禁，無須重複暫禁。", serial=row.serial)
            tx.set_suspended(row.serial, now)

        return self._change_status(Operation.SUSPEND, serial, actor, change)

    def resume(self, serial: str, *, actor: str = "system") -> IssuedCertificate:
        """Lift a suspension (解除暫禁): the certificate is 正常 again."""
        def change(tx: Transaction, row: CertificateRow, now: datetime) -> None:
            if row.suspended_at is None:
                raise errors.CertificateNotSuspendedError(serial=row.serial)
            tx.set_suspended(row.serial, None)

        return self._change_status(Operation.RESUME, serial, actor, change, allow_expired=True)

    def revoke(self, serial: str, reason: str = "unspecified", *, actor: str = "system") -> IssuedCertificate:
        """Revoke (廢止) a certificate for good; ``reason`` is an RFC 5280 reason name."""
        if reason not in REVOCATION_REASONS:
            allowed = ", ".join(REVOCATION_REASONS)
            with self._operation(Operation.REVOKE, actor, str(serial)):
                raise errors.BadRevocationReasonError(f"廢止原因不正確，可用：{allowed}。", reason=reason)

        def change(tx: Transaction, row: CertificateRow, now: datetime) -> None:
            tx.set_revoked(row.serial, now, reason)

        return self._change_status(Operation.REVOKE, serial, actor, change)

    def _change_status(
        self,
        operation: Operation,
        serial: str,
        actor: str,
        change: Callable[[Transaction, CertificateRow, datetime], None],
        *,
        allow_expired: bool = False,
    ) -> IssuedCertificate:
        with self._operation(operation, actor, str(serial)) as op:
            key = normal_serial(serial)
            with self.registry.write() as tx:
                row = tx.certificate(key)
                if row is None:
                    raise errors.UnknownSerialError(serial=key)
                if row.revoked_at is not None:
                    raise errors.CertificateRevokedError(serial=key)
                if op.now > row.not_after and not allow_expired:
                    raise errors.CertificateExpiredError(serial=key)
                change(tx, row, op.now)
                op.succeed(tx, serial=key)
                updated = tx.certificate(key)
        assert updated is not None
        return self._record(updated, op.now)

    # -- CRL and OCSP -----------------------------------------------------------
    def crl_der(self) -> bytes:
        """The issuing CA's CRL (DER): revoked certificates, and suspended ones as certificateHold."""
        return self._crl.crl_der(self.now())

    def ocsp_response(self, request_der: bytes) -> bytes:
        """The DER OCSP response (RFC 6960) to a DER OCSP request."""
        return self._ocsp.respond(request_der, self.now(), self._ocsp_status)

    def ocsp_cached(self, request_der: bytes) -> bytes | None:
        """The OCSP answer if it needs no signature (cached or unsuccessful), else None."""
        return self._ocsp.cached(request_der, self.now())

    def _ocsp_status(self, serial: int) -> CertStatusInfo:
        with self.registry.read() as tx:
            row = tx.certificate(serial_hex(serial))
        if row is None:
            return CertStatusInfo(ocsp.OCSPCertStatus.UNKNOWN)
        if row.revoked_at is not None:
            return CertStatusInfo(ocsp.OCSPCertStatus.REVOKED, row.revoked_at, row.revocation_reason)
        if row.suspended_at is not None:
            return CertStatusInfo(ocsp.OCSPCertStatus.REVOKED, row.suspended_at, HOLD)
        return CertStatusInfo(ocsp.OCSPCertStatus.GOOD)

    # -- audit -------------------------------------------------------------------
    def audit_log(self, limit: int | None = None) -> list[AuditRow]:
        """The audit log, oldest first (the last ``limit`` entries if given)."""
        with self.registry.read() as tx:
            return tx.audit_log(limit)

    # -- internals ---------------------------------------------------------------
    def status_of(self, row: CertificateRow, now: datetime | None = None) -> CertStatus:
        now = now or self.now()
        if row.revoked_at is not None:
            return CertStatus.REVOKED
        if now > row.not_after:
            return CertStatus.EXPIRED
        if row.suspended_at is not None:
            return CertStatus.SUSPENDED
        return CertStatus.NORMAL

    def _record(self, row: CertificateRow, now: datetime) -> IssuedCertificate:
        return IssuedCertificate(
            serial=row.serial,
            holder_id=row.holder_id,
            cn=row.cn,
            certificate=x509.load_der_x509_certificate(row.der),
            status=self.status_of(row, now),
            not_before=row.not_before,
            not_after=row.not_after,
            issued_at=row.issued_at,
            renewed_from=row.renewed_from,
            renewed_by=row.renewed_by,
            suspended_at=row.suspended_at,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
        )

    def _after_commit(self, operation: Operation, issued: IssuedCertificate) -> IssuedCertificate:
        if self.after_commit is not None:
            self.after_commit(operation, issued)
        return issued

    def _matching_suffix(
        self, holder: HolderRow, request: x509.CertificateSigningRequest, only_cn: str | None = None
    ) -> str:
        got = name_pairs(request.subject)
        single_valued = all(len(rdn) == 1 for rdn in request.subject.rdns)
        for suffix in holder.cn_suffixes:
            expected = self.profile.subject(holder.holder_id, suffix, holder.branch_code, holder.bank_name)
            if only_cn is not None and self.profile.cn(holder.holder_id, suffix) != only_cn:
                continue
            if single_valued and got == expected:
                return suffix
        wanted = [
            display_name(build_name(self.profile.subject(holder.holder_id, s, holder.branch_code, holder.bank_name)))
            for s in holder.cn_suffixes
            if only_cn is None or self.profile.cn(holder.holder_id, s) == only_cn
        ]
        raise errors.SubjectMismatchError(got=display_name(request.subject), expected=wanted)

    def _replay(
        self, tx: Transaction, request_id: str, kind: str, holder_id: str, csr_sha256: str, renews: str | None
    ) -> IssuedCertificate | None:
        seen = tx.request(request_id)
        if seen is None:
            return None
        same = (seen.kind, seen.csr_sha256, seen.renews_serial) == (kind, csr_sha256, renews)
        if kind == "apply":
            same = same and seen.holder_id == holder_id
        if not same:
            raise errors.RequestIdReusedError(request_id=request_id, serial=seen.serial)
        row = tx.certificate(seen.serial)
        assert row is not None  # committed together
        return replace(self._record(row, self.now()), replayed=True)

    def _issue(
        self,
        tx: Transaction,
        *,
        holder: HolderRow,
        suffix: str,
        csr: CsrFacts,
        request_id: str,
        kind: str,
        actor: str,
        now: datetime,
        not_after: datetime,
        renewed_from: str | None,
    ) -> CertificateRow:
        profile = self.profile
        subject = build_name(profile.subject(holder.holder_id, suffix, holder.branch_code, holder.bank_name))
        serial = profile.new_serial()
        while tx.serial_exists(serial_hex(serial)):  # 2^-126 per try, but uniqueness is a promise
            serial = profile.new_serial()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.hierarchy.issuer_cert.subject)
            .public_key(csr.public_key)
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(not_after)
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(csr.public_key)
        for extension, critical in end_entity_extensions(profile, ski, self.hierarchy.issuer_cert, self.urls):
            builder = builder.add_extension(extension, critical=critical)
        certificate = builder.sign(self.hierarchy.issuer_key, profile.signature_hash())
        cn = profile.cn(holder.holder_id, suffix)
        tx.insert_certificate(
            serial=serial_hex(serial), holder_id=holder.holder_id, cn=cn, not_before=now, not_after=not_after,
            der=certificate.public_bytes(serialization.Encoding.DER), issued_at=now, renewed_from=renewed_from,
        )
        tx.insert_request(RequestRow(
            request_id=request_id, kind=kind, holder_id=holder.holder_id, csr_sha256=csr.sha256,
            renews_serial=renewed_from, serial=serial_hex(serial), actor=actor, received_at=now,
        ))
        row = tx.certificate(serial_hex(serial))
        assert row is not None
        return row

    @contextmanager
    def _operation(self, operation: Operation, actor: str, target: str) -> Iterator[_Op]:
        # A target that is not text (a number or list in a JSON body) is
        # refused by the operation's own checks; the audit keeps its repr.
        op = _Op(operation, _actor(actor), (target if isinstance(target, str) else repr(target))[:200], self.now())
        try:
            yield op
        except errors.CaServiceError as err:
            # The operation's own transaction rolled back; record the refusal alone.
            with self.registry.write() as tx:
                tx.audit(at=op.now, actor=op.actor, action=operation.value, target=op.target, result=err.code,
                         detail=_jsonable(err.details))
            log.info("%s refused for %s: %s", operation.value, op.target, err)
            raise


@dataclass
class _Op:
    operation: Operation
    actor: str
    target: str
    now: datetime

    def succeed(self, tx: Transaction, result: str = "OK", **detail: Any) -> None:
        tx.audit(at=self.now, actor=self.actor, action=self.operation.value, target=self.target, result=result,
                 detail=_jsonable(detail))


def _actor(actor: str) -> str:
    return actor[:100] if isinstance(actor, str) and actor.strip() else "unknown"


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool, list, type(None))) else str(v)) for k, v in detail.items()}
