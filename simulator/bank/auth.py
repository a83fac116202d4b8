"""Logging in to the bank's systems, and who may go on to the FXML platform.

Two sets of rules, both enforced here on the server:

- **Login** (:class:`Logins`): the id number (身分證字號 or 統一編號) and the
  使用者代號 must be well formed, the customer must belong to the system, the
  password must match its argon2 hash. A wrong password counts; at
  ``lock_after`` consecutive wrong passwords (3 by default) the code is
  locked until the branch unlocks it. The count is kept per code as typed,
  whether or not a user has it, and an unknown code has a dummy hash checked:
  an unknown customer or user code gets the same answers at the same cost as
  a known one, so the login page cannot be used to find out who banks here.
  The count is also kept per client: a browser where the user logged in
  before (its device cookie) counts on its own, so guesses made elsewhere
  never lock the user out of it (docs/bank.md, *The lockout*). The branch's
  officers log in through the same mechanism (:mod:`simulator.bank.branch`).
- **The platform** (:func:`check_platform_access`), the manual's step 1:
  企業網路銀行 客戶別 2 goes in with its one user code, 客戶別 3 only with its
  管理者代號, 客戶別 4 only with SUPER001; any other user of a 客戶別 3 or 4
  company is refused with the user code to log in with; a 客戶別 the manual
  does not describe is refused the platform. 個人網路銀行 and EOI customers
  go in with their user code.

Every refusal is a :class:`BankError` with a stable code and the zh-TW
message the customer reads.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.requests import Request
from starlette.responses import Response

from fxml.clock import Clock
from fxml.errors import CodedError
from fxml.platform.tickets import System
from fxml.web.sessions import CookiePolicy
from simulator.bank.customers import (
    DESCRIBED_CUSTOMER_TYPES,
    SUPER_USER_CODE,
    Company,
    Customer,
    Role,
    User,
)
from simulator.bank.ids import IdNumberError, validate_business_id, validate_national_id
from simulator.bank.store import ANY_CLIENT, DEVICE_DAYS, BankStore, Realm
from simulator.errors import SimulatorError

#: Consecutive wrong passwords that lock a user.
LOCK_AFTER: Final = 3
_USER_CODE = re.compile(r"[A-Za-z0-9]{6,16}")
#: A device cookie's token as the bank makes them (secrets.token_urlsafe(32)); anything else is none.
_DEVICE_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)


@enum.unique
class BankErrorCode(enum.StrEnum):
    BAD_ID_NUMBER = "BAD_ID_NUMBER"
    BAD_USER_CODE = "BAD_USER_CODE"
    USER_CODE_IS_ID_NUMBER = "USER_CODE_IS_ID_NUMBER"
    MISSING_FIELD = "MISSING_FIELD"
    LOGIN_FAILED = "LOGIN_FAILED"
    USER_LOCKED = "USER_LOCKED"
    WRONG_SYSTEM = "WRONG_SYSTEM"
    NOT_LOGGED_IN = "NOT_LOGGED_IN"
    CSRF_FAILED = "CSRF_FAILED"
    PLATFORM_ADMIN_ONLY = "PLATFORM_ADMIN_ONLY"
    PLATFORM_SUPER001_ONLY = "PLATFORM_SUPER001_ONLY"
    PLATFORM_CUSTOMER_TYPE = "PLATFORM_CUSTOMER_TYPE"
    # -- the branch back office (step 9): officers' logins -------------------------------------
    BAD_BRANCH_CODE = "BAD_BRANCH_CODE"
    BAD_OFFICER_CODE = "BAD_OFFICER_CODE"
    # -- 憑證展期建檔 --------------------------------------------------------------------------------
    FAX_NOT_FOUND = "FAX_NOT_FOUND"
    FILING_NOT_EOI = "FILING_NOT_EOI"
    FILING_NOT_RENEWAL = "FILING_NOT_RENEWAL"
    FILING_DUPLICATE = "FILING_DUPLICATE"
    CERT_NOT_NEWEST = "CERT_NOT_NEWEST"
    SHEET_MISMATCH = "SHEET_MISMATCH"
    REL_CODE_REQUIRED = "REL_CODE_REQUIRED"
    REL_CODE_FORMAT = "REL_CODE_FORMAT"
    REL_CODE_UNKNOWN = "REL_CODE_UNKNOWN"
    REL_CODE_OTHER_COMPANY = "REL_CODE_OTHER_COMPANY"
    REL_CODE_DUPLICATE = "REL_CODE_DUPLICATE"
    REL_CODE_NOT_SHARED = "REL_CODE_NOT_SHARED"
    # -- 憑證申請審核 (the branch's approval of an application) ---------------------------------------
    APPLICATION_NOT_FOUND = "APPLICATION_NOT_FOUND"
    APPLICATION_DECIDED = "APPLICATION_DECIDED"
    APPLICATION_REASON = "APPLICATION_REASON"
    APPLICATION_HOLDER_CONFLICT = "APPLICATION_HOLDER_CONFLICT"
    # -- transfers (轉帳): the form ----------------------------------------------------------------
    TRANSFER_FROM_ACCOUNT = "TRANSFER_FROM_ACCOUNT"
    TRANSFER_TO_BANK = "TRANSFER_TO_BANK"
    TRANSFER_TO_ACCOUNT = "TRANSFER_TO_ACCOUNT"
    TRANSFER_SAME_ACCOUNT = "TRANSFER_SAME_ACCOUNT"
    TRANSFER_AMOUNT = "TRANSFER_AMOUNT"
    TRANSFER_MEMO = "TRANSFER_MEMO"
    TRANSFER_PAYER = "TRANSFER_PAYER"
    # -- transfers: the signed transfer ------------------------------------------------------------
    TRANSFER_UNKNOWN = "TRANSFER_UNKNOWN"
    TRANSFER_REPLAYED = "TRANSFER_REPLAYED"
    TRANSFER_EXPIRED = "TRANSFER_EXPIRED"
    SIGNATURE_MISSING = "SIGNATURE_MISSING"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    # -- the certificate (transfers and filings) -------------------------------------------------------
    CERT_MALFORMED = "CERT_MALFORMED"
    CERT_CHAIN_INVALID = "CERT_CHAIN_INVALID"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_REVOKED = "CERT_REVOKED"
    CERT_SUSPENDED = "CERT_SUSPENDED"
    CERT_UNKNOWN = "CERT_UNKNOWN"
    CA_UNAVAILABLE = "CA_UNAVAILABLE"
    CERT_NOT_CUSTOMERS = "CERT_NOT_CUSTOMERS"
    CERT_NOT_FILED = "CERT_NOT_FILED"
    CERT_NOT_BOUND = "CERT_NOT_BOUND"
    CERT_SUPERSEDED = "CERT_SUPERSEDED"
    PAYER_NOT_BOUND = "PAYER_NOT_BOUND"
    # -- 解除暫禁 at the branch ------------------------------------------------------------------------
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    RESUME_OTHER_BRANCH = "RESUME_OTHER_BRANCH"
    CERT_NOT_SUSPENDED = "CERT_NOT_SUSPENDED"
    RA_UNAVAILABLE = "RA_UNAVAILABLE"


class BankError(CodedError, SimulatorError):
    """A refusal of the bank's: a stable ``code``, the ``message`` the customer reads (the bank's
    messages name the case: the field, the system, the limit) and the HTTP status it is answered with."""

    def __init__(self, code: BankErrorCode, message: str, status: int = 400):
        super().__init__(code, message, status)


def password_hasher(profile: str = "default") -> PasswordHasher:
    """argon2id: RFC 9106's low-memory profile in production (deliberately slow, ~0.1 s),
    the cheapest in tests ("cheapest")."""
    if profile == "cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    if profile == "default":
        return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
    raise ValueError(f"unknown password profile {profile!r} (default, cheapest)")


@dataclass(frozen=True)
class LoggedIn:
    """Who logged in: the customer, the user, the system; at login, the device cookie's token the
    browser keeps."""

    system: System
    customer: Customer
    user: User
    device: str | None = field(default=None, compare=False, repr=False)

    @property
    def actor(self) -> str:
        return f"{self.customer.id_number}:{self.user.user_code}"


def id_label(system: System) -> str:
    return "身分證字號" if system is System.PERSONAL else "統一編號"


def check_login_form(system: System, id_number: str, user_code: str, password: str) -> tuple[str, str]:
    """The id number and user code, well formed, or the refusal that says what is wrong."""
    label = id_label(system)
    for value, name in ((id_number, label), (user_code, "使用者代號"), (password, "密碼")):
        if not value:
            raise BankError(BankErrorCode.MISSING_FIELD, f"請輸入{name}。")
    id_number = id_number.strip()
    validate = validate_national_id if system is System.PERSONAL else validate_business_id
    try:
        validate(id_number)
    except IdNumberError as exc:
        raise BankError(BankErrorCode.BAD_ID_NUMBER, exc.message) from None
    if not _USER_CODE.fullmatch(user_code):
        raise BankError(BankErrorCode.BAD_USER_CODE, "使用者代號須為 6 至 16 位英文字母或數字。")
    if user_code.upper() == id_number.upper():
        raise BankError(BankErrorCode.USER_CODE_IS_ID_NUMBER, f"使用者代號不可與{label}相同。")
    return id_number, user_code


# -- the lockout: per code as typed, per client ---------------------------------------------------------
def device_id(token: str | None) -> str | None:
    """What the bank keeps of a device cookie's token (its SHA-256), or None if ``token`` is not
    one the bank could have made."""
    if token is None or not _DEVICE_TOKEN.fullmatch(token):
        return None
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class DeviceCookie:
    """The cookie that makes a browser one where an account logged in before: a random token (the
    bank keeps its SHA-256 only), set at every good login, kept :data:`DEVICE_DAYS` days, HttpOnly,
    SameSite=Strict (only the bank's own login form needs it), scoped to the system's path."""

    name: str
    path: str
    secure: bool = False

    def token(self, request: Request) -> str | None:
        return request.cookies.get(self.name)

    def set(self, response: Response, token: str) -> None:
        response.set_cookie(self.name, token, max_age=DEVICE_DAYS * 24 * 3600, path=self.path, httponly=True,
                            samesite="strict", secure=self.secure)

    @classmethod
    def beside(cls, sessions: CookiePolicy, name: str) -> DeviceCookie:
        """The device cookie of the app whose session cookie is ``sessions`` (same path and TLS)."""
        return cls(name, sessions.path, sessions.secure)


class Verdict(enum.Enum):
    RIGHT = "right"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class Attempt:
    """A login attempt counted on the record of its code as typed and of its client
    (:meth:`Logins.attempt`), and what it came to."""

    realm: Realm
    owner: str
    code: str
    #: ``""`` (no device of the account) or the device's id.
    client: str
    verdict: Verdict


class Logins:
    """Password checks and the lockout, over the bank's store."""

    def __init__(self, store: BankStore, clock: Clock, hasher: PasswordHasher, lock_after: int = LOCK_AFTER):
        self.store = store
        self.clock = clock
        self.hasher = hasher
        self.lock_after = lock_after
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()

    def _dummy(self) -> str:
        """The hash checked for a code that names no account, made with the hasher's own parameters:
        an unknown code costs what a known one does (argon2's verify, not a hash of the password).
        Made at the first attempt after a start, known code or not (a command line that never logs
        anyone in does not pay for it)."""
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
            return self._dummy_hash

    def attempt(self, realm: Realm, owner: str, code: str, password: str, password_hash: str | None,
                device: str | None, now: datetime) -> Attempt:
        """One attempt on the code as typed, the same steps whether an account has it
        (``password_hash``) or not (None): the client is the browser's device if it is trusted for
        this code, else every other client; the attempt is counted on that record before the
        password is checked (one transaction: a burst checks no more passwords than a sequence);
        a locked record is answered at once, without a check; otherwise one argon2 verify, of the
        account's hash or of the dummy one. A right password is then :meth:`succeeded` (or
        :meth:`released`)."""
        dummy = self._dummy()
        client = device if device is not None and self.store.trusted(device, realm, owner, code, now) else ANY_CLIENT
        counted = self.store.reserve(realm, owner, code, client, self.lock_after, now)
        if counted is None:
            return Attempt(realm, owner, code, client, Verdict.LOCKED)
        right = self.verify(password_hash if password_hash is not None else dummy, password)
        if right and password_hash is not None:
            return Attempt(realm, owner, code, client, Verdict.RIGHT)
        return Attempt(realm, owner, code, client, Verdict.LOCKED if counted.locked else Verdict.WRONG)

    def succeeded(self, attempt: Attempt, now: datetime, password_hash: str, password: str,
                  token: str | None) -> str:
        """Record a right password: its record starts again, and the browser is a device of the
        account under a new token (the accounts its old token was a device of move to the new
        one, as a session id is rotated at login: a token planted in the browser before is worth
        nothing after); the new token, for the device cookie."""
        fresh = secrets.token_urlsafe(32)
        self.store.succeed(attempt.realm, attempt.owner, attempt.code, attempt.client, now, device=device_id(fresh),
                           replacing=device_id(token), new_hash=self.rehash(password_hash, password))
        return fresh

    def released(self, attempt: Attempt) -> None:
        """A right password that does not log in (another system's customer) is no failure."""
        self.store.release(attempt.realm, attempt.owner, attempt.code, attempt.client, self.lock_after)

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def login(self, system: System, id_number: str, user_code: str, password: str, device: str | None = None
              ) -> LoggedIn:
        """The logged-in customer and user, or a :class:`BankError` (recorded in the audit log).
        ``device`` is the token of the browser's device cookie, if it sent one."""
        now = self.clock.now()
        try:
            id_number, user_code = check_login_form(system, id_number, user_code, password)
            return self._login(system, id_number, user_code, password, device, now)
        except BankError as exc:
            self.store.audit(now, system.value, f"{id_number}:{user_code}"[:80], "登入", exc.code)
            raise

    def _login(self, system: System, id_number: str, user_code: str, password: str, device: str | None,
               now: datetime) -> LoggedIn:
        customer = self.store.customer(id_number)
        row = self.store.user(id_number, user_code) if customer is not None else None
        attempt = self.attempt(Realm.USER, id_number, user_code, password, row.password_hash if row else None,
                               device_id(device), now)
        if attempt.verdict is Verdict.LOCKED:
            raise self._locked()
        if attempt.verdict is Verdict.WRONG:
            raise BankError(BankErrorCode.LOGIN_FAILED,
                            f"使用者代號或密碼錯誤；密碼連續錯誤 {self.lock_after} 次將暫停使用。", 401)
        assert customer is not None and row is not None
        if customer.system is not system:
            # Said only to whom knows the password (the page tells no one who banks where);
            # a right password is no failure: its attempt is given back.
            self.released(attempt)
            raise BankError(BankErrorCode.WRONG_SYSTEM,
                            f"您是{customer.system.label}客戶，請由{customer.system.label}登入。", 403)
        token = self.succeeded(attempt, now, row.password_hash, password, device)
        user = customer.user(user_code)
        assert user is not None
        self.store.audit(now, system.value, f"{id_number}:{user.user_code}", "登入", "OK")
        return LoggedIn(system, customer, user, device=token)

    def _locked(self) -> BankError:
        return BankError(
            BankErrorCode.USER_LOCKED,
            f"密碼連續錯誤 {self.lock_after} 次，使用者代號已暫停使用，請洽往來分行辦理解除。", 403,
        )

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` is the one ``password_hash`` was made of (a stored hash that
        is not argon2's is no match)."""
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def rehash(self, password_hash: str, password: str) -> str | None:
        """After a good password: a new hash if ``password_hash`` was made with other
        parameters than the hasher's (to store instead), else None."""
        return self.hasher.hash(password) if self.hasher.check_needs_rehash(password_hash) else None


def check_platform_access(logged_in: LoggedIn) -> None:
    """The manual's step 1: who may enter the FXML 憑證管理 platform. Refusals name the way in."""
    customer, user = logged_in.customer, logged_in.user
    if logged_in.system is not System.CORPORATE:
        return  # 個人網路銀行 and EOI: the customer's user code goes in
    assert isinstance(customer, Company)
    kind = customer.customer_type
    if kind not in DESCRIBED_CUSTOMER_TYPES:
        raise BankError(
            BankErrorCode.PLATFORM_CUSTOMER_TYPE,
            f"客戶別 {kind} 無法使用線上憑證管理平台（僅適用客戶別 2、3、4），"
            f"請洽申辦分行 {customer.branch.display} 辦理。", 403,
        )
    if kind == 3 and user.role is not Role.ADMINISTRATOR:
        admin = next((u.user_code for u in customer.users if u.role is Role.ADMINISTRATOR), "管理者代號")
        raise BankError(
            BankErrorCode.PLATFORM_ADMIN_ONLY,
            f"客戶別 3 請以管理者代號 {admin} 登入操作憑證管理平台。", 403,
        )
    if kind == 4 and user.user_code != SUPER_USER_CODE:
        raise BankError(
            BankErrorCode.PLATFORM_SUPER001_ONLY,
            f"客戶別 4 請利用使用者代號 {SUPER_USER_CODE} 登入操作憑證管理平台。", 403,
        )
