"""The bank's customers: the model, its JSON files, a generator and the personas.

Two kinds of customer log in to the bank's three systems:

- a :class:`Person` (個人網路銀行): 身分證字號, one 使用者代號 and password;
- a :class:`Company` (企業網路銀行 or EOI 系統): 統一編號, its 客戶別 (企業網路銀行
  only: 2, 3 or 4 are the ones the manual describes) and its users, whose
  roles follow the 客戶別 (:class:`Role`), its 申辦分行 and, for a shared
  certificate (共用憑證), its relationship customers (關係戶) with their
  12-digit 用戶代碼.

Every customer owns certificates at the CA. The mapping is fixed: the card
holder id (the CA's ``holder_id``, on the card and in the CN) *is* the
customer's 身分證字號 or 統一編號, and each certificate is named by a CN
suffix, so a company 04595257 with suffix 2015 owns CN ``04595257-00-2015``
(:data:`simulator.ca.profile.FXML`'s ``{holder_id}-00-{suffix}``).
:meth:`Person.ca_registrations` gives the arguments of
``CertificateAuthority.register_holder`` for each.

The model is frozen dataclasses that check their own rules when built: an
object that exists is valid. Each has ``to_json()`` / ``from_json()``; JSON
input is first checked for shape by pydantic models (``extra="forbid"``),
then built; any refusal is one :class:`CustomerDataError` listing every
problem with its field path (``customers[2].users[0].user_code: ...``).
Files are versioned (``format`` and ``version``), indented, UTF-8, with
invisible characters (bidi marks, zero-width joiners) written as ``\\uXXXX``.
Passwords are the clear test passwords: the bank hashes them when it stores
a customer. See docs/bank.md.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import random
import re
import string
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal, Protocol, TypeAlias, TypeVar

from faker import Faker
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from fxml.platform.tickets import System
from simulator.bank.ids import (
    BusinessIdRule,
    IdNumberError,
    generate_business_id,
    validate_business_id,
    validate_national_id,
)
from simulator.ca.profile import DEFAULT_BANK_NAME, DEFAULT_BRANCH_CODE, FXML
from simulator.card.image import Carrier
from simulator.errors import SimulatorError

#: ``format`` of a customers file and of a personas file.
CUSTOMERS_FORMAT: Final = "fxmlsim-bank-customers"
PERSONAS_FORMAT: Final = "fxmlsim-bank-personas"
#: The version of both formats this module reads and writes.
FORMAT_VERSION: Final = 1
#: The personas the features use.
DEFAULT_PERSONAS: Final = Path(__file__).resolve().parents[2] / "fixtures" / "bank" / "personas.json"

#: Taiwan Cooperative Bank's 3-digit bank code: every branch code starts with it.
BANK_CODE: Final = "006"
#: The user code of a 客戶別 4 company that reaches the certificate platform.
SUPER_USER_CODE: Final = "SUPER001"
#: The 客戶別 the manual describes for 企業網路銀行.
DESCRIBED_CUSTOMER_TYPES: Final = frozenset({2, 3, 4})

_USER_CODE = re.compile(r"[A-Za-z0-9]{6,16}")
_PASSWORD = re.compile(r"[A-Za-z0-9]{6,16}")
_BRANCH_CODE = re.compile(r"\d{7}", re.ASCII)
_ACCOUNT = re.compile(r"\d{14}", re.ASCII)
_CUSTOMER_CODE = re.compile(r"\d{12}", re.ASCII)
_CN_SUFFIX = re.compile(r"[A-Za-z0-9]{1,16}")
_PHONE = re.compile(r"[0-9()+ -]{7,20}")
_PERSONA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_T = TypeVar("_T")

#: Longest name: the CA's limit on a holder's name.
NAME_MAX: Final = 100
ADDRESS_MAX: Final = 200


# -- errors ---------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong in customer data: where (a field path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def under(self, prefix: str) -> Problem:
        """The same problem seen from a containing object, ``prefix`` being this object's path there."""
        if not prefix:
            return self
        if not self.path:
            return Problem(prefix, self.message)
        joiner = "" if self.path.startswith("[") else "."
        return Problem(f"{prefix}{joiner}{self.path}", self.message)


class CustomerDataError(SimulatorError, ValueError):
    """Customer data that is refused; nothing was built, loaded or written.

    ``problems`` lists every problem found, each naming its field path;
    ``source`` is the file, if the data came from one.
    """

    code: ClassVar[str] = "CUSTOMER_DATA_INVALID"
    summary: ClassVar[str] = "客戶資料錯誤"

    def __init__(self, problems: Sequence[Problem], source: str | Path | None = None):
        self.problems = tuple(problems)
        self.source = None if source is None else str(source)
        where = f"{self.source}: " if self.source else ""
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        self.message = f"{where}{self.summary}（{count} 項）：\n{lines}"
        super().__init__(f"[{self.code}] {where}customer data refused, {count} problem(s):\n{lines}")

    def under(self, prefix: str) -> CustomerDataError:
        return CustomerDataError([p.under(prefix) for p in self.problems], self.source)

    def in_file(self, source: str | Path) -> CustomerDataError:
        return CustomerDataError(self.problems, source)


class UnknownPersonaError(SimulatorError, KeyError):
    """No persona of that name or title; the message lists the known ones."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name = name
        self.known = tuple(known)
        super().__init__(f"no persona named {name!r}; known: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0])


class UnknownCustomerError(SimulatorError, KeyError):
    """No customer with that 身分證字號 or 統一編號."""

    def __init__(self, id_number: str):
        self.id_number = id_number
        super().__init__(f"no customer with id number {id_number!r}")

    def __str__(self) -> str:
        return str(self.args[0])


def _p(path: str, zh: str, en: str) -> Problem:
    return Problem(path, f"{zh} ({en})")


class _Problems:
    """Collects problems while an object checks itself; raises them all at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str, zh: str, en: str) -> None:
        self.items.append(_p(path, zh, en))

    def extend(self, problems: Iterable[Problem], prefix: str = "") -> None:
        self.items.extend(p.under(prefix) for p in problems)

    def raise_if_any(self) -> None:
        if self.items:
            raise CustomerDataError(self.items)

    def build(self, path: str, make: Callable[[], _T]) -> _T | None:
        """``make()``, or None after recording its problems under ``path``."""
        try:
            return make()
        except CustomerDataError as error:
            self.extend(error.problems, path)
            return None


# -- field rules -------------------------------------------------------------------
def _check_text(problems: _Problems, path: str, value: object, label: str, limit: int) -> None:
    if not isinstance(value, str):
        problems.add(path, f"{label}須為文字", "must be a string")
    elif not value.strip():
        problems.add(path, f"{label}不可空白", "must not be blank")
    elif len(value) > limit:
        problems.add(path, f"{label}不得超過 {limit} 字，現為 {len(value)} 字", f"at most {limit} characters")
    elif any(unicodedata.category(c) == "Cc" for c in value):
        problems.add(path, f"{label}不可含控制字元", "must not contain control characters")


def _check_id(problems: _Problems, path: str, value: object, validate: Callable[[object], str]) -> None:
    try:
        validate(value)
    except IdNumberError as error:
        problems.items.append(Problem(path, f"{error.message} ({error.reason}) [{error.code}]"))


def _check_pattern(
    problems: _Problems, path: str, value: object, pattern: re.Pattern[str], zh: str, en: str
) -> bool:
    if isinstance(value, str) and pattern.fullmatch(value):
        return True
    problems.add(path, zh, en)
    return False


def _unique(problems: _Problems, path: str, values: Sequence[str], zh: str, en: str, *, fold: bool = False) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        key = value.upper() if fold else value
        if key in seen:
            problems.add(f"{path}[{index}]", zh, en)
        seen.add(key)


def _coerce_enum(obj: object, name: str, kind: type[enum.Enum]) -> None:
    """Let a frozen dataclass take an enum field by its value ("corporate" for System.CORPORATE)."""
    value = getattr(obj, name)
    if not isinstance(value, kind):
        with contextlib.suppress(ValueError):   # left as is: the field's check reports it
            object.__setattr__(obj, name, kind(value))


# -- enumerations -------------------------------------------------------------------
class Role(enum.StrEnum):
    """What a user is within its customer. 客戶別 2 has one USER; 客戶別 3 one
    ADMINISTRATOR (its 管理者代號) and USERs; 客戶別 4 the SUPER user SUPER001,
    MANAGING_CLERKs (管理經辦), MANAGING_SUPERVISORs (管理主管) and USERs."""

    USER = "user"
    ADMINISTRATOR = "administrator"
    SUPER = "super"
    MANAGING_CLERK = "managing_clerk"
    MANAGING_SUPERVISOR = "managing_supervisor"

    @property
    def label(self) -> str:
        return {
            "user": "一般使用者",
            "administrator": "管理者",
            "super": SUPER_USER_CODE,
            "managing_clerk": "管理經辦",
            "managing_supervisor": "管理主管",
        }[self.value]


class AccountKind(enum.StrEnum):
    """The kind of deposit account."""

    DEMAND = "demand"
    SAVINGS = "savings"
    CHECKING = "checking"

    @property
    def label(self) -> str:
        return {"demand": "活期存款", "savings": "活期儲蓄存款", "checking": "支票存款"}[self.value]


# -- the model ------------------------------------------------------------------------
@dataclass(frozen=True)
class Branch:
    """A branch of the bank: 7-digit code (006 + 4 digits) and its name."""

    code: str
    name: str

    def __post_init__(self) -> None:
        problems = _Problems()
        _check_pattern(
            problems, "code", self.code, _BRANCH_CODE,
            f"分行代號須為 7 位數字（{BANK_CODE} 開頭）", f"must be 7 digits starting with {BANK_CODE}",
        )
        if isinstance(self.code, str) and _BRANCH_CODE.fullmatch(self.code) and not self.code.startswith(BANK_CODE):
            problems.add("code", f"分行代號須以合作金庫銀行代碼 {BANK_CODE} 開頭", f"must start with {BANK_CODE}")
        _check_text(problems, "name", self.name, "分行名稱", 40)
        problems.raise_if_any()

    @property
    def display(self) -> str:
        """``0060017 晴川分行``."""
        return f"{self.code} {self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name}

    @classmethod
    def from_json(cls, data: object) -> Branch:
        return _shape(BranchModel, data).build()


@dataclass(frozen=True)
class Account:
    """A deposit account: 14 digits, the first four being its branch's (the
    last four of the branch code; a layout of this simulator)."""

    number: str
    branch_code: str
    kind: AccountKind = AccountKind.DEMAND

    def __post_init__(self) -> None:
        _coerce_enum(self, "kind", AccountKind)
        problems = _Problems()
        number_ok = _check_pattern(problems, "number", self.number, _ACCOUNT, "帳號須為 14 位數字", "must be 14 digits")
        code_ok = _check_pattern(
            problems, "branch_code", self.branch_code, _BRANCH_CODE, "分行代號須為 7 位數字", "must be 7 digits"
        )
        if number_ok and code_ok and self.number[:4] != self.branch_code[3:]:
            problems.add(
                "number", f"帳號前 4 碼須為分行代號後 4 碼 {self.branch_code[3:]}",
                f"must start with the branch's last 4 digits {self.branch_code[3:]}",
            )
        if not isinstance(self.kind, AccountKind):
            problems.add("kind", "存款種類錯誤", f"must be one of {[k.value for k in AccountKind]}")
        problems.raise_if_any()

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "branch_code": self.branch_code, "kind": self.kind.value}

    @classmethod
    def from_json(cls, data: object) -> Account:
        return _shape(AccountModel, data).build()


@dataclass(frozen=True)
class User:
    """A login of a customer: 使用者代號 (6 to 16 letters or digits), the
    clear test password (6 to 16 letters and digits, both present), a role
    and, for a company's user, who it is."""

    user_code: str
    password: str = field(repr=False)
    role: Role = Role.USER
    name: str | None = None

    def __post_init__(self) -> None:
        _coerce_enum(self, "role", Role)
        problems = _Problems()
        _check_pattern(
            problems, "user_code", self.user_code, _USER_CODE,
            "使用者代號須為 6 至 16 位英文字母或數字", "must be 6 to 16 letters or digits",
        )
        password = self.password
        if not (
            isinstance(password, str)
            and _PASSWORD.fullmatch(password)
            and any(c.isdigit() for c in password)
            and any(c.isalpha() for c in password)
        ):
            problems.add(
                "password", "密碼須為 6 至 16 位英文字母與數字，且兩者皆有",
                "must be 6 to 16 letters and digits, with at least one of each",
            )
        elif isinstance(self.user_code, str) and password.upper() == self.user_code.upper():
            problems.add("password", "密碼不可與使用者代號相同", "must differ from the user code")
        if not isinstance(self.role, Role):
            problems.add("role", "使用者角色錯誤", f"must be one of {[r.value for r in Role]}")
        if self.name is not None:
            _check_text(problems, "name", self.name, "使用者姓名", NAME_MAX)
        problems.raise_if_any()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"user_code": self.user_code, "password": self.password, "role": self.role.value}
        if self.name is not None:
            data["name"] = self.name
        return data

    @classmethod
    def from_json(cls, data: object) -> User:
        return _shape(UserModel, data).build()


@dataclass(frozen=True)
class Certificate:
    """A certificate the customer owns at the CA, named by its CN suffix; the
    CN is ``<holder id>-00-<suffix>``. ``carrier`` is the card it is on
    (憑證晶片卡 大卡 or 小卡); ``ca_branch_code`` is the branch code the
    certificate's OU names (0060000 on the manual's proof sheet)."""

    cn_suffix: str
    carrier: Carrier = Carrier.LARGE
    ca_branch_code: str = DEFAULT_BRANCH_CODE

    def __post_init__(self) -> None:
        _coerce_enum(self, "carrier", Carrier)
        problems = _Problems()
        _check_pattern(
            problems, "cn_suffix", self.cn_suffix, _CN_SUFFIX,
            "憑證名稱後綴須為 1 至 16 位英文字母或數字", "must be 1 to 16 letters or digits",
        )
        if not isinstance(self.carrier, Carrier):
            problems.add("carrier", "憑證儲存媒體須為大卡或小卡", "must be 大卡 or 小卡")
        _check_pattern(
            problems, "ca_branch_code", self.ca_branch_code, _BRANCH_CODE, "分行代號須為 7 位數字", "must be 7 digits"
        )
        problems.raise_if_any()

    def cn(self, holder_id: str) -> str:
        """The certificate's Common Name for its holder: ``04595257-00-2015``."""
        return FXML.cn(holder_id, self.cn_suffix)

    def to_json(self, holder_id: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"cn_suffix": self.cn_suffix}
        if holder_id is not None:
            data["cn"] = self.cn(holder_id)
        data["carrier"] = self.carrier.value
        data["ca_branch_code"] = self.ca_branch_code
        return data

    @classmethod
    def from_json(cls, data: object) -> Certificate:
        return _shape(CertificateModel, data).build()


@dataclass(frozen=True)
class RelationshipCustomer:
    """A relationship customer (關係戶) using a company's shared certificate:
    its name, 統一編號 and 12-digit 用戶代碼 (what the branch is told in step 9)."""

    name: str
    business_id: str
    customer_code: str

    def __post_init__(self) -> None:
        problems = _Problems()
        _check_text(problems, "name", self.name, "關係戶名稱", NAME_MAX)
        _check_id(problems, "business_id", self.business_id, validate_business_id)
        _check_pattern(
            problems, "customer_code", self.customer_code, _CUSTOMER_CODE,
            "關係戶用戶代碼須為 12 位數字", "must be 12 digits",
        )
        problems.raise_if_any()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "business_id": self.business_id, "customer_code": self.customer_code}

    @classmethod
    def from_json(cls, data: object) -> RelationshipCustomer:
        return _shape(RelationshipModel, data).build()


@dataclass(frozen=True)
class HolderRegistration:
    """What the CA is told about one certificate of a customer: the arguments
    of ``CertificateAuthority.register_holder`` / ``ensure_holder``."""

    holder_id: str
    name: str
    cn_suffix: str
    branch_code: str = DEFAULT_BRANCH_CODE
    bank_name: str = DEFAULT_BANK_NAME

    @property
    def cn(self) -> str:
        return FXML.cn(self.holder_id, self.cn_suffix)


class _CustomerBase:
    """What persons and companies share; not a dataclass itself."""

    kind: ClassVar[str]
    name: str
    address: str
    phone: str
    branch: Branch
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    certificates: tuple[Certificate, ...]

    @property
    def id_number(self) -> str:
        """The 身分證字號 or 統一編號 the customer logs in with."""
        raise NotImplementedError

    @property
    def id_label(self) -> str:
        raise NotImplementedError

    @property
    def system(self) -> System:
        """The system the customer logs in to."""
        raise NotImplementedError

    @property
    def holder_id(self) -> str:
        """The card holder id at the CA and on the card: the id number itself."""
        return self.id_number

    @property
    def cns(self) -> tuple[str, ...]:
        """The Common Names of the customer's certificates, in order."""
        return tuple(c.cn(self.holder_id) for c in self.certificates)

    def user(self, user_code: str) -> User | None:
        """The user with this 使用者代號 (compared without case), or None."""
        wanted = user_code.upper()
        return next((u for u in self.users if u.user_code.upper() == wanted), None)

    def ca_registrations(self) -> tuple[HolderRegistration, ...]:
        """One registration per certificate, for ``CertificateAuthority.ensure_holder(**dataclasses.asdict(r))``."""
        return tuple(
            HolderRegistration(self.holder_id, self.name, c.cn_suffix, c.ca_branch_code) for c in self.certificates
        )

    def _coerce(self) -> None:
        for name in ("accounts", "users", "certificates", "relationship_customers"):
            value = getattr(self, name, None)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def _check_common(self, problems: _Problems) -> None:
        _check_text(problems, "name", self.name, "名稱", NAME_MAX)
        _check_text(problems, "address", self.address, "地址", ADDRESS_MAX)
        phone = self.phone
        if not (isinstance(phone, str) and _PHONE.fullmatch(phone) and sum(c.isdigit() for c in phone) >= 7):
            problems.add("phone", "電話號碼格式錯誤", "must be 7 to 20 digits, spaces, dashes, parentheses or +")
        if not isinstance(self.branch, Branch):
            problems.add("branch", "申辦分行資料錯誤", "must be a Branch")
        self._check_list(problems, "accounts", Account, "帳戶")
        self._check_list(problems, "users", User, "使用者")
        self._check_list(problems, "certificates", Certificate, "憑證")
        if all(isinstance(a, Account) for a in self.accounts):
            _unique(problems, "accounts", [a.number for a in self.accounts], "帳號重複", "duplicate account number")
        if all(isinstance(u, User) for u in self.users):
            codes = [u.user_code for u in self.users]
            _unique(
                problems, "users", codes, "使用者代號重複（不分大小寫）", "duplicate user code (ignoring case)",
                fold=True,
            )
            id_number = self.id_number if isinstance(self.id_number, str) else ""
            for index, code in enumerate(codes):
                if code.upper() == id_number.upper():
                    problems.add(
                        f"users[{index}].user_code", f"使用者代號不可與{self.id_label}相同",
                        f"must not equal the customer's {self.id_label}",
                    )
        if all(isinstance(c, Certificate) for c in self.certificates):
            _unique(
                problems, "certificates", [c.cn_suffix for c in self.certificates],
                "憑證名稱後綴重複", "duplicate CN suffix",
            )

    def _check_list(self, problems: _Problems, name: str, kind: type, label: str) -> None:
        items = getattr(self, name)
        if not isinstance(items, tuple):
            problems.add(name, f"{label}須為清單", "must be a list")
            object.__setattr__(self, name, ())
            return
        if not items:
            problems.add(name, f"至少須有一個{label}", "must not be empty")
        for index, item in enumerate(items):
            if not isinstance(item, kind):
                problems.add(f"{name}[{index}]", f"{label}資料錯誤", f"must be a {kind.__name__}")

    def _json_common(self) -> dict[str, Any]:
        return {
            "holder_id": self.holder_id,
            "address": self.address,
            "phone": self.phone,
            "branch": self.branch.to_json(),
            "accounts": [a.to_json() for a in self.accounts],
            "users": [u.to_json() for u in self.users],
            "certificates": [c.to_json(self.holder_id) for c in self.certificates],
        }

    def summary(self) -> dict[str, str]:
        """The customer in one row for a listing, labels in zh-TW."""
        return {
            "系統": self.system.label,
            "證號": self.id_number,
            "名稱": self.name,
            "使用者代號": "、".join(u.user_code for u in self.users),
            "憑證": "、".join(self.cns),
            "申辦分行": self.branch.display,
        }


@dataclass(frozen=True)
class Person(_CustomerBase):
    """A customer of 個人網路銀行: logs in with 身分證字號, 使用者代號 and 密碼."""

    kind: ClassVar[str] = "person"

    name: str
    national_id: str
    address: str
    phone: str
    branch: Branch
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    certificates: tuple[Certificate, ...]

    def __post_init__(self) -> None:
        self._coerce()
        problems = _Problems()
        _check_id(problems, "national_id", self.national_id, validate_national_id)
        self._check_common(problems)
        if len(self.users) != 1:
            problems.add(
                "users", "個人戶須有恰好一個使用者代號", f"a person has exactly one user, got {len(self.users)}"
            )
        for index, user in enumerate(self.users):
            if isinstance(user, User) and user.role is not Role.USER:
                problems.add(f"users[{index}].role", "個人戶的使用者角色須為 user", "a person's user has role user")
            if isinstance(user, User) and user.name is not None:
                problems.add(f"users[{index}].name", "個人戶的使用者不另列姓名", "a person's user has no separate name")
        problems.raise_if_any()

    @property
    def id_number(self) -> str:
        return self.national_id

    @property
    def id_label(self) -> str:
        return "身分證字號"

    @property
    def system(self) -> System:
        return System.PERSONAL

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "national_id": self.national_id, **self._json_common()}

    @classmethod
    def from_json(cls, data: object) -> Person:
        return _shape(PersonModel, data).build()


@dataclass(frozen=True)
class Company(_CustomerBase):
    """A corporate customer of 企業網路銀行 (with its 客戶別) or of EOI 系統.

    ``branch`` is its 申辦分行 (applying branch). With a shared certificate
    (共用憑證), ``relationship_customers`` are the 關係戶 that use it.
    """

    kind: ClassVar[str] = "company"

    name: str
    business_id: str
    address: str
    phone: str
    branch: Branch
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    certificates: tuple[Certificate, ...]
    system: System = System.CORPORATE
    customer_type: int | None = None
    shared_certificate: bool = False
    relationship_customers: tuple[RelationshipCustomer, ...] = ()

    def __post_init__(self) -> None:
        self._coerce()
        _coerce_enum(self, "system", System)
        problems = _Problems()
        _check_id(problems, "business_id", self.business_id, validate_business_id)
        self._check_common(problems)
        self._check_system(problems)
        if all(isinstance(u, User) for u in self.users):
            self._check_roles(problems)
        self._check_relationships(problems)
        problems.raise_if_any()

    # -- rules ---------------------------------------------------------------
    def _check_system(self, problems: _Problems) -> None:
        ctype = self.customer_type
        if self.system is System.CORPORATE:
            if isinstance(ctype, bool) or not isinstance(ctype, int) or not 1 <= ctype <= 9:
                problems.add(
                    "customer_type", "企業網路銀行客戶須有客戶別（1 至 9）", "a corporate customer has a type 1-9"
                )
        elif self.system is System.EOI:
            if ctype is not None:
                problems.add("customer_type", "EOI 客戶沒有客戶別", "an EOI customer has no customer type (null)")
        else:
            problems.add("system", "公司戶的系統須為 corporate 或 eoi", "a company's system is corporate or eoi")

    def _check_roles(self, problems: _Problems) -> None:
        users = self.users
        roles = [u.role for u in users]
        for index, user in enumerate(users):
            is_super_code = user.user_code.upper() == SUPER_USER_CODE
            if user.role is Role.SUPER and user.user_code != SUPER_USER_CODE:
                problems.add(
                    f"users[{index}].user_code", f"SUPER 使用者的代號須為 {SUPER_USER_CODE}",
                    f"the super user's code is {SUPER_USER_CODE}",
                )
            elif is_super_code and user.role is not Role.SUPER:
                problems.add(
                    f"users[{index}].user_code", f"{SUPER_USER_CODE} 保留給客戶別 4 的 SUPER 使用者",
                    f"{SUPER_USER_CODE} is reserved for the super user of a type-4 customer",
                )
        allowed: set[Role]
        if self.system is System.EOI:
            allowed = {Role.USER, Role.ADMINISTRATOR}
            if roles.count(Role.ADMINISTRATOR) > 1:
                problems.add("users", "EOI 客戶至多一位管理者", "an EOI customer has at most one administrator")
        elif self.customer_type == 2:
            allowed = {Role.USER}
            if len(users) != 1:
                problems.add(
                    "users", f"客戶別 2 僅有一個使用者代號，現有 {len(users)} 個",
                    f"a type-2 customer has exactly one user, got {len(users)}",
                )
        elif self.customer_type == 3:
            allowed = {Role.USER, Role.ADMINISTRATOR}
            if roles.count(Role.ADMINISTRATOR) != 1:
                problems.add(
                    "users", f"客戶別 3 須有恰好一位管理者（administrator），現有 {roles.count(Role.ADMINISTRATOR)} 位",
                    "a type-3 customer has exactly one administrator",
                )
        elif self.customer_type == 4:
            allowed = {Role.USER, Role.SUPER, Role.MANAGING_CLERK, Role.MANAGING_SUPERVISOR}
            if roles.count(Role.SUPER) != 1:
                problems.add(
                    "users", f"客戶別 4 須有恰好一位 {SUPER_USER_CODE}（super）",
                    f"a type-4 customer has exactly one {SUPER_USER_CODE}",
                )
            for role in (Role.MANAGING_CLERK, Role.MANAGING_SUPERVISOR):
                if role not in roles:
                    problems.add(
                        "users", f"客戶別 4 須有{role.label}（{role.value}）", f"a type-4 customer has a {role.value}"
                    )
        else:
            allowed = {Role.USER}
        for index, user in enumerate(users):
            if user.role not in allowed:
                where = "EOI 客戶" if self.system is System.EOI else f"客戶別 {self.customer_type}"
                problems.add(
                    f"users[{index}].role", f"{where}不能有{user.role.label}（{user.role.value}）",
                    f"role {user.role.value} is not allowed here; allowed: {sorted(r.value for r in allowed)}",
                )

    def _check_relationships(self, problems: _Problems) -> None:
        related = self.relationship_customers
        if not isinstance(self.shared_certificate, bool):
            problems.add("shared_certificate", "共用憑證須為 true 或 false", "must be a boolean")
        if not isinstance(related, tuple):
            problems.add("relationship_customers", "關係戶須為清單", "must be a list")
            return
        if self.shared_certificate and not related:
            problems.add(
                "relationship_customers", "共用憑證須至少有一個關係戶",
                "a shared certificate has relationship customers",
            )
        if not self.shared_certificate and related:
            problems.add(
                "relationship_customers", "未申辦共用憑證者不應有關係戶",
                "only a shared certificate has relationship customers",
            )
        if not all(isinstance(r, RelationshipCustomer) for r in related):
            problems.add("relationship_customers", "關係戶資料錯誤", "must be RelationshipCustomer objects")
            return
        _unique(
            problems, "relationship_customers", [r.customer_code for r in related],
            "關係戶用戶代碼重複", "duplicate 用戶代碼",
        )
        _unique(
            problems, "relationship_customers", [r.business_id for r in related],
            "關係戶統一編號重複", "duplicate relationship 統一編號",
        )
        for index, relation in enumerate(related):
            if relation.business_id == self.business_id:
                problems.add(
                    f"relationship_customers[{index}].business_id", "關係戶不可為本公司",
                    "a relationship customer is another company",
                )

    # -- views ---------------------------------------------------------------
    @property
    def id_number(self) -> str:
        return self.business_id

    @property
    def id_label(self) -> str:
        return "統一編號"

    @property
    def customer_type_label(self) -> str:
        """``客戶別 3``, or ``EOI`` for an EOI customer."""
        return "EOI" if self.customer_type is None else f"客戶別 {self.customer_type}"

    def designated_user(self) -> User | None:
        """The user the manual sends to the certificate platform: 客戶別 2's one
        user, 客戶別 3's administrator (管理者代號), 客戶別 4's SUPER001. None for
        EOI (the manual names no such user) and for a 客戶別 it does not describe."""
        if self.system is not System.CORPORATE:
            return None
        wanted = {2: Role.USER, 3: Role.ADMINISTRATOR, 4: Role.SUPER}.get(self.customer_type or 0)
        return next((u for u in self.users if u.role is wanted), None) if wanted else None

    def summary(self) -> dict[str, str]:
        row = super().summary()
        row["客戶別"] = self.customer_type_label
        if self.shared_certificate:
            row["關係戶"] = "、".join(r.customer_code for r in self.relationship_customers)
        return row

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "system": self.system.value,
            "customer_type": self.customer_type,
            "name": self.name,
            "business_id": self.business_id,
            **self._json_common(),
            "shared_certificate": self.shared_certificate,
            "relationship_customers": [r.to_json() for r in self.relationship_customers],
        }

    @classmethod
    def from_json(cls, data: object) -> Company:
        return _shape(CompanyModel, data).build()


Customer: TypeAlias = Person | Company


def customer_from_json(data: object) -> Customer:
    """A person or a company from its JSON object (``kind`` says which)."""
    return _shape(_CustomerEnvelope, {"customer": data}, strip="customer").customer.build()


@dataclass(frozen=True)
class CustomerSet:
    """The bank's customers, in order: id numbers unique (so holder ids and
    CNs are too), account numbers unique across the bank."""

    customers: tuple[Customer, ...]

    def __post_init__(self) -> None:
        if isinstance(self.customers, list):
            object.__setattr__(self, "customers", tuple(self.customers))
        problems = _Problems()
        for index, customer in enumerate(self.customers):
            if not isinstance(customer, Person | Company):
                problems.add(f"customers[{index}]", "客戶資料錯誤", "must be a Person or a Company")
        problems.raise_if_any()
        _check_across(problems, [(f"customers[{i}]", c) for i, c in enumerate(self.customers)])
        problems.raise_if_any()

    def __iter__(self) -> Iterator[Customer]:
        return iter(self.customers)

    def __len__(self) -> int:
        return len(self.customers)

    def get(self, id_number: str) -> Customer:
        """The customer with this 身分證字號 or 統一編號; :class:`UnknownCustomerError` otherwise."""
        for customer in self.customers:
            if customer.id_number == id_number:
                return customer
        raise UnknownCustomerError(id_number)

    @property
    def persons(self) -> tuple[Person, ...]:
        return tuple(c for c in self.customers if isinstance(c, Person))

    @property
    def companies(self) -> tuple[Company, ...]:
        return tuple(c for c in self.customers if isinstance(c, Company))

    def with_customers(self, *more: Customer) -> CustomerSet:
        """This set and ``more`` after it; refused as a whole if any clashes."""
        return CustomerSet((*self.customers, *more))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CUSTOMERS_FORMAT,
            "version": FORMAT_VERSION,
            "customers": [c.to_json() for c in self.customers],
        }

    @classmethod
    def from_json(cls, data: object) -> CustomerSet:
        return _shape(CustomerFileModel, data).build()

    @classmethod
    def load(cls, path: str | Path) -> CustomerSet:
        """Read a customers file; :class:`CustomerDataError` names the file and the field paths."""
        return _load(path, cls.from_json)

    def save(self, path: str | Path) -> None:
        """Write this set to ``path`` atomically: the file holds the old content or the new, whole."""
        data = self.to_json()
        if CustomerSet.from_json(data) != self:   # pragma: no cover - a bug in to_json/from_json
            raise AssertionError("customer set does not survive its own JSON")
        _write_atomic(Path(path), dumps(data))


def _check_across(problems: _Problems, entries: Sequence[tuple[str, Customer]]) -> None:
    seen_ids: dict[str, str] = {}
    seen_accounts: dict[str, str] = {}
    for path, customer in entries:
        field_name = "national_id" if isinstance(customer, Person) else "business_id"
        first = seen_ids.setdefault(customer.id_number, path)
        if first != path:
            problems.add(
                f"{path}.{field_name}", f"{customer.id_label}與 {first} 重複",
                f"the same id number as {first}",
            )
        for index, account in enumerate(customer.accounts):
            owner = seen_accounts.setdefault(account.number, f"{path}.accounts[{index}]")
            if owner != f"{path}.accounts[{index}]":
                problems.add(
                    f"{path}.accounts[{index}].number", f"帳號與 {owner} 重複", f"the same account number as {owner}"
                )


# -- personas -----------------------------------------------------------------
@dataclass(frozen=True)
class Persona:
    """A named customer that features and tests use: ``name`` is an ASCII
    slug (``corporate-3``), ``title`` the zh-TW name a feature may use
    instead (企業網路銀行客戶別 3), ``purpose`` what it is for."""

    name: str
    title: str
    purpose: str
    customer: Customer

    def __post_init__(self) -> None:
        problems = _Problems()
        _check_pattern(
            problems, "name", self.name, _PERSONA_NAME,
            "角色名稱須為小寫英文字母、數字與 -", "must be lowercase letters, digits and -, at most 40",
        )
        _check_text(problems, "title", self.title, "角色標題", 40)
        _check_text(problems, "purpose", self.purpose, "用途說明", 400)
        if not isinstance(self.customer, Person | Company):
            problems.add("customer", "客戶資料錯誤", "must be a Person or a Company")
        problems.raise_if_any()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "purpose": self.purpose, "customer": self.customer.to_json()}

    @classmethod
    def from_json(cls, data: object) -> Persona:
        return _shape(PersonaModel, data).build()


#: The note every personas file carries.
PERSONAS_NOTE: Final = (
    "Test data only: fictional customers of the fxmlsim simulation; passwords are clear test passwords "
    "(the bank stores argon2 hashes). 測試資料：虛構客戶，密碼為明文測試密碼。"
)


def personas_to_json(personas: Iterable[Persona]) -> dict[str, Any]:
    """A personas file's JSON."""
    return {
        "format": PERSONAS_FORMAT,
        "version": FORMAT_VERSION,
        "note": PERSONAS_NOTE,
        "personas": [p.to_json() for p in personas],
    }


def personas_from_json(data: object) -> dict[str, Persona]:
    """Personas by name, in file order, from a personas file's JSON."""
    return _shape(PersonaFileModel, data).build()


def load_personas(path: str | Path | None = None) -> dict[str, Persona]:
    """The personas of ``path`` (default ``fixtures/bank/personas.json``) by name, in file order."""
    return _load(DEFAULT_PERSONAS if path is None else path, personas_from_json)


def save_personas(path: str | Path, personas: Iterable[Persona]) -> None:
    """Write a personas file atomically, after checking it loads back the same."""
    items = list(personas)
    data = personas_to_json(items)
    if list(personas_from_json(data).values()) != items:   # pragma: no cover - a bug in to_json/from_json
        raise AssertionError("personas do not survive their own JSON")
    _write_atomic(Path(path), dumps(data))


def persona(name: str, path: str | Path | None = None) -> Persona:
    """The persona called ``name`` in ``path`` (default ``fixtures/bank/personas.json``):
    its slug, its zh-TW title, or its title and a part of the customer's name, as a feature
    names who it is (``EOI 企業客戶 虛構雲杉企業``, ``個人網路銀行客戶 王小明``);
    :class:`UnknownPersonaError` otherwise."""
    personas = load_personas(path)
    if name in personas:
        return personas[name]
    for item in personas.values():
        if item.title == name:
            return item
    for item in personas.values():
        rest = name.removeprefix(f"{item.title} ").strip()
        if rest != name and rest and rest in item.customer.name:
            return item
    raise UnknownPersonaError(name, [f"{p.name} ({p.title})" for p in personas.values()])


def persona_customers(path: str | Path | None = None) -> CustomerSet:
    """The personas' customers as one set (what a bank seeded with the personas holds)."""
    return CustomerSet(tuple(p.customer for p in load_personas(path).values()))


# -- files ---------------------------------------------------------------------
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def dumps(data: Any) -> str:
    """JSON as this module writes it: indented, UTF-8 text, invisible
    characters (bidi marks, zero-width joiners, ...) as ``\\uXXXX`` escapes."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return "".join(_escape(c) if unicodedata.category(c) in _INVISIBLE and c != "\n" else c for c in text)


def _load(path: str | Path, parse: Callable[[object], _T]) -> _T:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise CustomerDataError([_p("", "檔案須為 UTF-8 文字", f"not UTF-8: {error}")], path) from error
    except json.JSONDecodeError as error:
        raise CustomerDataError(
            [_p("", f"JSON 格式錯誤（第 {error.lineno} 行第 {error.colno} 字）", f"not JSON: {error.msg}")], path
        ) from error
    try:
        return parse(data)
    except CustomerDataError as error:
        raise error.in_file(path) from None


def _write_atomic(path: Path, text: str) -> None:
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def add_to_file(path: str | Path, customers: Iterable[Customer]) -> CustomerSet:
    """Add ``customers`` to the customers file at ``path`` (created if absent)
    and return the new set. All or nothing: a clash with a customer already
    there, or a file that does not load, leaves the file as it was."""
    path = Path(path)
    current = CustomerSet.load(path) if path.exists() else CustomerSet(())
    try:
        updated = current.with_customers(*customers)
    except CustomerDataError as error:
        raise error.in_file(path) from None
    updated.save(path)
    return updated


# -- JSON shape (pydantic) --------------------------------------------------------
_TAGS = frozenset({"person", "company"})
_SHAPE_MESSAGES = {
    "missing": ("缺少此欄位", "field required"),
    "extra_forbidden": ("不認得的欄位", "unknown field"),
    "string_type": ("須為文字", "must be a string"),
    "int_type": ("須為整數", "must be an integer"),
    "bool_type": ("須為 true 或 false", "must be a boolean"),
    "list_type": ("須為清單", "must be a list"),
    "model_type": ("須為物件", "must be an object"),
    "model_attributes_type": ("須為物件", "must be an object"),
    "dict_type": ("須為物件", "must be an object"),
    "union_tag_not_found": ("缺少 kind（person 或 company）", "missing kind: person or company"),
    "union_tag_invalid": ("kind 須為 person 或 company", "kind must be person or company"),
}


def _loc_path(loc: Sequence[int | str], strip: str | None = None) -> str:
    parts: list[str] = []
    items = list(loc)
    if strip is not None and items and items[0] == strip:
        items = items[1:]
    for item in items:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in _TAGS:
            continue   # the discriminated union's tag: not a field
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts)


_M = TypeVar("_M", bound=BaseModel)


def _shape(model: type[_M], data: object, strip: str | None = None) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            zh, en = _SHAPE_MESSAGES.get(item["type"], ("格式錯誤", item["msg"]))
            if item["type"] in ("enum", "literal_error"):
                zh, en = "值不在允許範圍內", item["msg"]
            problems.append(_p(_loc_path(item["loc"], strip), zh, en))
        raise CustomerDataError(problems) from None


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BranchModel(_Shape):
    """JSON of a :class:`Branch`."""

    code: StrictStr
    name: StrictStr

    def build(self) -> Branch:
        return Branch(self.code, self.name)


class AccountModel(_Shape):
    """JSON of an :class:`Account`."""

    number: StrictStr
    branch_code: StrictStr
    kind: AccountKind = AccountKind.DEMAND

    def build(self) -> Account:
        return Account(self.number, self.branch_code, self.kind)


class UserModel(_Shape):
    """JSON of a :class:`User`."""

    user_code: StrictStr
    password: StrictStr
    role: Role = Role.USER
    name: StrictStr | None = None

    def build(self) -> User:
        return User(self.user_code, self.password, self.role, self.name)


class CertificateModel(_Shape):
    """JSON of a :class:`Certificate`; ``cn`` is written for readers and checked when read."""

    cn_suffix: StrictStr
    cn: StrictStr | None = None
    carrier: Carrier = Carrier.LARGE
    ca_branch_code: StrictStr = DEFAULT_BRANCH_CODE

    def build(self) -> Certificate:
        return Certificate(self.cn_suffix, self.carrier, self.ca_branch_code)


class RelationshipModel(_Shape):
    """JSON of a :class:`RelationshipCustomer`."""

    name: StrictStr
    business_id: StrictStr
    customer_code: StrictStr

    def build(self) -> RelationshipCustomer:
        return RelationshipCustomer(self.name, self.business_id, self.customer_code)


def _built(problems: _Problems, result: _T | None) -> _T:
    """``result`` once ``problems`` is known to be empty (so ``result`` was built)."""
    problems.raise_if_any()
    if result is None:   # pragma: no cover - problems.build returns None only after recording a problem
        raise CustomerDataError([Problem("", "internal error: nothing built")])
    return result


class _Buildable(Protocol):
    def build(self) -> Any: ...


def _build_children(problems: _Problems, name: str, models: Sequence[_Buildable]) -> tuple[Any, ...]:
    return tuple(problems.build(f"{name}[{i}]", m.build) for i, m in enumerate(models))


class _CustomerModel(_Shape):
    name: StrictStr
    holder_id: StrictStr | None = None
    address: StrictStr
    phone: StrictStr
    branch: BranchModel
    accounts: list[AccountModel]
    users: list[UserModel]
    certificates: list[CertificateModel]

    def _parts(self, problems: _Problems) -> dict[str, Any]:
        return {
            "branch": problems.build("branch", self.branch.build),
            "accounts": _build_children(problems, "accounts", self.accounts),
            "users": _build_children(problems, "users", self.users),
            "certificates": _build_children(problems, "certificates", self.certificates),
        }

    def _check_derived(self, problems: _Problems, id_number: str) -> None:
        if self.holder_id is not None and self.holder_id != id_number:
            problems.add(
                "holder_id", f"憑證持有人代號須等於證號 {id_number}",
                f"the holder id is the customer's id number, {id_number}",
            )
        for index, cert in enumerate(self.certificates):
            expected = FXML.cn(id_number, cert.cn_suffix)
            if cert.cn is not None and cert.cn != expected:
                problems.add(
                    f"certificates[{index}].cn", f"Common Name 須為 {expected}",
                    "the CN is <holder id>-00-<cn_suffix>",
                )

    def _finish(self, problems: _Problems, id_number: str, make: Callable[[], _T]) -> _T:
        """Build with ``make`` once every part is built; report the customer's
        own problems and those of the derived fields together."""
        problems.raise_if_any()
        made = problems.build("", make)
        self._check_derived(problems, id_number)
        return _built(problems, made)


class PersonModel(_CustomerModel):
    """JSON of a :class:`Person`."""

    kind: Literal["person"]
    national_id: StrictStr

    def build(self) -> Person:
        problems = _Problems()
        parts = self._parts(problems)
        return self._finish(problems, self.national_id, lambda: Person(
            name=self.name, national_id=self.national_id, address=self.address, phone=self.phone, **parts
        ))


class CompanyModel(_CustomerModel):
    """JSON of a :class:`Company`."""

    kind: Literal["company"]
    system: Literal["corporate", "eoi"]
    customer_type: StrictInt | None
    business_id: StrictStr
    shared_certificate: StrictBool = False
    relationship_customers: list[RelationshipModel] = Field(default_factory=list)

    def build(self) -> Company:
        problems = _Problems()
        parts = self._parts(problems)
        related = _build_children(problems, "relationship_customers", self.relationship_customers)
        return self._finish(problems, self.business_id, lambda: Company(
            name=self.name, business_id=self.business_id, address=self.address, phone=self.phone, **parts,
            system=System(self.system), customer_type=self.customer_type,
            shared_certificate=self.shared_certificate, relationship_customers=related,
        ))


CustomerModel = Annotated[PersonModel | CompanyModel, Field(discriminator="kind")]


class _CustomerEnvelope(_Shape):
    customer: CustomerModel


class CustomerFileModel(_Shape):
    """JSON of a customers file."""

    format: Literal["fxmlsim-bank-customers"]
    version: Literal[1]
    customers: list[CustomerModel]

    def build(self) -> CustomerSet:
        problems = _Problems()
        built = _build_children(problems, "customers", self.customers)
        problems.raise_if_any()
        return CustomerSet(built)


class PersonaModel(_Shape):
    """JSON of a :class:`Persona`."""

    name: StrictStr
    title: StrictStr
    purpose: StrictStr
    customer: CustomerModel

    def build(self) -> Persona:
        try:
            customer = self.customer.build()
        except CustomerDataError as error:
            raise error.under("customer") from None
        return Persona(self.name, self.title, self.purpose, customer)


class PersonaFileModel(_Shape):
    """JSON of a personas file."""

    format: Literal["fxmlsim-bank-personas"]
    version: Literal[1]
    note: StrictStr = PERSONAS_NOTE
    personas: list[PersonaModel]

    def build(self) -> dict[str, Persona]:
        problems = _Problems()
        built: list[Persona | None] = list(_build_children(problems, "personas", self.personas))
        problems.raise_if_any()
        personas = [p for p in built if p is not None]
        _unique(problems, "personas", [p.name for p in personas], "角色名稱重複", "duplicate persona name")
        _unique(problems, "personas", [p.title for p in personas], "角色標題重複", "duplicate persona title")
        _check_across(problems, [(f"personas[{i}].customer", p.customer) for i, p in enumerate(personas)])
        problems.raise_if_any()
        return {p.name: p for p in personas}


# -- the generator ---------------------------------------------------------------------
#: The branches generated customers apply at: 0060000 (the code the manual's
#: proof sheet shows) and made-up branches with realistic codes.
BRANCHES: Final = (
    Branch("0060000", "營業部"),
    Branch("0060017", "晴川分行"),
    Branch("0060028", "松竹分行"),
    Branch("0060039", "青峰分行"),
    Branch("0060040", "雲杉分行"),
    Branch("0060051", "月湖分行"),
    Branch("0060062", "星河分行"),
    Branch("0060073", "翠谷分行"),
)

#: What :func:`generate_customers` makes for its companies, in turn:
#: (system, 客戶別, shared certificate).
COMPANY_MIX: Final = (
    (System.CORPORATE, 2, False),
    (System.CORPORATE, 3, False),
    (System.CORPORATE, 4, False),
    (System.EOI, None, False),
    (System.EOI, None, True),
)

_ALNUM = string.ascii_letters + string.digits


class CustomerGenerator:
    """Customers made with faker's zh_TW locale: the same seed gives the same
    customers, in the same order, with the same faker version.

    Every random choice, faker's and this module's (統一編號, passwords, user
    codes, account numbers), comes from one ``random.Random`` seeded through
    ``Faker.seed_instance``. Id numbers and account numbers are unique among
    everything one generator makes.
    """

    def __init__(self, seed: int, *, branches: Sequence[Branch] = BRANCHES):
        self.seed = seed
        self.faker = Faker("zh_TW")
        self.faker.seed_instance(seed)
        self.random: random.Random = self.faker.random
        self.branches = tuple(branches)
        self._ids: set[str] = set()
        self._accounts: set[str] = set()

    # -- pieces -----------------------------------------------------------------
    def national_id(self) -> str:
        """A 身分證字號 from faker's ``ssn()`` (valid: checked), unique in this generator."""
        while True:
            value = str(self.faker.ssn())
            validate_national_id(value)
            if value not in self._ids:
                self._ids.add(value)
                return value

    def business_id(self) -> str:
        """A 統一編號 (2023 rule), unique in this generator."""
        while True:
            value = generate_business_id(self.random, rule=BusinessIdRule.MOD5_2023)
            if value not in self._ids:
                self._ids.add(value)
                return value

    def branch(self) -> Branch:
        return self.random.choice(self.branches)

    def account(self, branch: Branch, kind: AccountKind) -> Account:
        while True:
            number = branch.code[3:] + "".join(self.random.choice(string.digits) for _ in range(10))
            if number not in self._accounts:
                self._accounts.add(number)
                return Account(number, branch.code, kind)

    def password(self) -> str:
        length = self.random.randint(8, 12)
        chars = [self.random.choice(string.ascii_letters), self.random.choice(string.digits)]
        chars += [self.random.choice(_ALNUM) for _ in range(length - 2)]
        self.random.shuffle(chars)
        return "".join(chars)

    def user_code(self, taken: set[str]) -> str:
        """A 使用者代號 from faker's ``user_name()``, letters and digits only, 6 to 16
        long, not in ``taken`` (upper-cased codes and id numbers), added to it."""
        while True:
            code = "".join(c for c in str(self.faker.user_name()) if c in _ALNUM)[:16]
            while len(code) < 6:
                code += self.random.choice(string.digits)
            if code.upper() not in taken and code.upper() != SUPER_USER_CODE:
                taken.add(code.upper())
                return code

    def mobile_phone(self) -> str:
        digits = "".join(self.random.choice(string.digits) for _ in range(8))
        return f"09{digits[:2]}-{digits[2:5]}-{digits[5:]}"

    def office_phone(self) -> str:
        area = self.random.choice("2345678")
        size = 8 if area in "24" else 7
        digits = self.random.choice("23456789") + "".join(self.random.choice(string.digits) for _ in range(size - 1))
        return f"(0{area}){digits[:-4]}-{digits[-4:]}"

    def certificate(self, carrier: Carrier) -> Certificate:
        return Certificate(str(self.random.randint(2012, 2022)), carrier)

    # -- customers ---------------------------------------------------------------
    def person(self) -> Person:
        """A 個人網路銀行 customer with one or two savings accounts."""
        national_id = self.national_id()
        branch = self.branch()
        taken = {national_id}
        return Person(
            name=str(self.faker.name()),
            national_id=national_id,
            address=str(self.faker.address()),
            phone=self.mobile_phone(),
            branch=branch,
            accounts=tuple(self.account(branch, AccountKind.SAVINGS) for _ in range(self.random.randint(1, 2))),
            users=(User(self.user_code(taken), self.password()),),
            certificates=(self.certificate(self.random.choice((Carrier.SMALL, Carrier.LARGE))),),
        )

    def company(
        self,
        system: System = System.CORPORATE,
        customer_type: int | None = 2,
        *,
        shared_certificate: bool = False,
        ordinary_users: int = 1,
        relationship_customers: int = 2,
    ) -> Company:
        """A company of ``system``: 客戶別 2 gets its one user; 3 an administrator
        and ``ordinary_users`` users; 4 SUPER001, a 管理經辦, a 管理主管 and
        ``ordinary_users`` users; EOI an administrator and ``ordinary_users``
        users; any other 客戶別 ``ordinary_users`` users (at least one). A shared
        certificate comes with ``relationship_customers`` 關係戶."""
        business_id = self.business_id()
        branch = self.branch()
        taken = {business_id, SUPER_USER_CODE}

        def user(role: Role, code: str | None = None) -> User:
            return User(code or self.user_code(taken), self.password(), role, str(self.faker.name()))

        users: list[User]
        if system is System.EOI or customer_type == 3:
            users = [user(Role.ADMINISTRATOR)] + [user(Role.USER) for _ in range(ordinary_users)]
        elif customer_type == 2:
            users = [user(Role.USER)]
        elif customer_type == 4:
            users = [user(Role.SUPER, SUPER_USER_CODE), user(Role.MANAGING_CLERK), user(Role.MANAGING_SUPERVISOR)]
            users += [user(Role.USER) for _ in range(ordinary_users)]
        else:
            users = [user(Role.USER) for _ in range(max(ordinary_users, 1))]
        related: tuple[RelationshipCustomer, ...] = ()
        if shared_certificate:
            related = tuple(self.relationship_customer(i + 1) for i in range(max(relationship_customers, 1)))
        kinds = (AccountKind.DEMAND, AccountKind.CHECKING)
        return Company(
            name=str(self.faker.company()),
            business_id=business_id,
            address=str(self.faker.address()),
            phone=self.office_phone(),
            branch=branch,
            accounts=tuple(self.account(branch, kinds[i % 2]) for i in range(self.random.randint(1, 3))),
            users=tuple(users),
            certificates=(self.certificate(Carrier.LARGE),),
            system=system,
            customer_type=None if system is System.EOI else customer_type,
            shared_certificate=shared_certificate,
            relationship_customers=related,
        )

    def relationship_customer(self, sequence: int) -> RelationshipCustomer:
        """A 關係戶: another company; its 用戶代碼 is its 統一編號 and a 4-digit
        sequence number (a layout of this simulator; the manual says only
        that the code has 12 digits)."""
        business_id = self.business_id()
        return RelationshipCustomer(str(self.faker.company()), business_id, f"{business_id}{sequence:04d}")

    def customers(
        self, persons: int = 2, companies: Sequence[tuple[System, int | None, bool]] = COMPANY_MIX
    ) -> CustomerSet:
        """``persons`` persons, then one company per entry of ``companies``."""
        made: list[Customer] = [self.person() for _ in range(persons)]
        made += [self.company(system, ctype, shared_certificate=shared) for system, ctype, shared in companies]
        return CustomerSet(tuple(made))


def generate_customers(
    seed: int, *, persons: int = 2, companies: Sequence[tuple[System, int | None, bool]] = COMPANY_MIX
) -> CustomerSet:
    """A customer set for ``seed``: see :meth:`CustomerGenerator.customers`."""
    return CustomerGenerator(seed).customers(persons, companies)
