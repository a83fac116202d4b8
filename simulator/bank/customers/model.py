"""The customer model: persons, companies and their parts, each a model that checks
its rules when built (an object that exists is valid) and is its own JSON schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final, Literal, Self, TypeAlias

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    model_serializer,
    model_validator,
)

from fxml.platform.tickets import System
from simulator.bank.customers.errors import CustomerDataModel, Problems, repeated, said
from simulator.bank.customers.fields import (
    SUPER_USER_CODE,
    AccountKind,
    AccountKindField,
    AccountNumber,
    Address,
    BranchCode,
    BranchName,
    BusinessId,
    CarrierField,
    CnSuffix,
    CompanySystem,
    CustomerCode,
    Name,
    NationalId,
    Password,
    Phone,
    RelationName,
    Role,
    RoleField,
    SevenDigits,
    UserCode,
    UserName,
)
from simulator.ca.profile import DEFAULT_BANK_NAME, DEFAULT_BRANCH_CODE, FXML
from simulator.card.image import Carrier
from simulator.schema import model, parse, refuse


# -- the parts ---------------------------------------------------------------------------
@model
class Branch(CustomerDataModel):
    """A branch of the bank: 7-digit code (006 + 4 digits) and its name."""

    code: BranchCode
    name: BranchName

    @property
    def display(self) -> str:
        """``0060017 晴川分行``."""
        return f"{self.code} {self.name}"


@model
class Account(CustomerDataModel):
    """A deposit account: 14 digits, the first four being its branch's (the
    last four of the branch code; a layout of this simulator)."""

    number: AccountNumber
    branch_code: SevenDigits
    kind: AccountKindField = AccountKind.DEMAND

    @model_validator(mode="after")
    def _of_its_branch(self) -> Self:
        if self.number[:4] != self.branch_code[3:]:
            refuse([(("number",), said(
                f"帳號前 4 碼須為分行代號後 4 碼 {self.branch_code[3:]}",
                f"must start with the branch's last 4 digits {self.branch_code[3:]}",
            ))])
        return self


@model
class User(CustomerDataModel):
    """A login of a customer: 使用者代號 (6 to 16 letters or digits), the
    clear test password (6 to 16 letters and digits, both present), a role
    and, for a company's user, who it is."""

    user_code: UserCode
    password: Password = field(repr=False)
    role: RoleField = Role.USER
    name: UserName | None = Field(default=None, exclude_if=lambda name: name is None)

    @model_validator(mode="after")
    def _password_is_not_the_code(self) -> Self:
        if self.password.upper() == self.user_code.upper():
            refuse([(("password",), said("密碼不可與使用者代號相同", "must differ from the user code"))])
        return self


@model
class Certificate(CustomerDataModel):
    """A certificate the customer owns at the CA, named by its CN suffix; the
    CN is ``<holder id>-00-<suffix>``. ``carrier`` is the card it is on
    (憑證晶片卡 大卡 or 小卡); ``ca_branch_code`` is the branch code the
    certificate's OU names (0060000 on the manual's proof sheet)."""

    cn_suffix: CnSuffix
    carrier: CarrierField = Carrier.LARGE
    ca_branch_code: SevenDigits = DEFAULT_BRANCH_CODE

    @model_validator(mode="before")
    @classmethod
    def _cn_for_readers(cls, data: Any) -> Any:
        """``cn`` in the JSON is written for readers: its customer checks it, a certificate alone cannot."""
        return {k: v for k, v in data.items() if k != "cn"} if isinstance(data, dict) else data

    def cn(self, holder_id: str) -> str:
        """The certificate's Common Name for its holder: ``04595257-00-2015``."""
        return FXML.cn(holder_id, self.cn_suffix)

    def to_json(self, holder_id: str | None = None) -> dict[str, Any]:
        """The JSON; with ``holder_id``, the CN too (after the suffix), for readers."""
        data = super().to_json()
        return data if holder_id is None else _with_cn(data, self.cn(holder_id))


def _with_cn(data: dict[str, Any], cn: str) -> dict[str, Any]:
    return {"cn_suffix": data["cn_suffix"], "cn": cn, **data}


@model
class RelationshipCustomer(CustomerDataModel):
    """A relationship customer (關係戶) using a company's shared certificate:
    its name, 統一編號 and 12-digit 用戶代碼 (what the branch is told in step 9)."""

    name: RelationName
    business_id: BusinessId
    customer_code: CustomerCode


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


# -- customers ---------------------------------------------------------------------------
def _without_derived(data: dict[str, Any]) -> tuple[dict[str, Any], object, dict[int, object]]:
    """A customer's JSON without its ``holder_id``, then that ``holder_id`` and the
    certificates' ``cn`` by index (a certificate leaves its ``cn`` out itself)."""
    fields = dict(data)
    holder_id = fields.pop("holder_id", None)
    certificates = fields.get("certificates")
    cns: dict[int, object] = {}
    if isinstance(certificates, list):
        cns = {i: c.get("cn") for i, c in enumerate(certificates) if isinstance(c, dict)}
    return fields, holder_id, cns


class _CustomerBase(CustomerDataModel):
    """What persons and companies share; not a model itself."""

    #: The field of the 身分證字號 or 統一編號.
    id_field: ClassVar[str]
    id_label: ClassVar[str]
    kind: str
    name: str
    address: str
    phone: str
    branch: Branch
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    certificates: tuple[Certificate, ...]

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """The customer's rules once its fields are valid, and, when read from JSON,
        ``holder_id`` and each certificate's ``cn``: written for readers, optional when
        read, and when present what the id number and suffix make. Reported together."""
        if isinstance(data, cls):
            return handler(data)
        holder_id: object = None
        cns: dict[int, object] = {}
        if isinstance(data, dict):
            data, holder_id, cns = _without_derived(data)
        made = handler(data)
        refuse([*made._problems(), *made._derived_problems(holder_id, cns)])  # noqa: SLF001 - its own class
        return made

    def _derived_problems(self, holder_id: object, cns: dict[int, object]) -> Problems:
        if holder_id is not None and holder_id != self.id_number:
            yield ("holder_id",), said(
                f"憑證持有人代號須等於證號 {self.id_number}",
                f"the holder id is the customer's id number, {self.id_number}",
            )
        for index, cn in sorted(cns.items()):
            expected = self.certificates[index].cn(self.id_number)
            if cn is not None and cn != expected:
                yield ("certificates", index, "cn"), said(
                    f"Common Name 須為 {expected}",
                    "the CN is <holder id>-00-<cn_suffix>",
                )

    def _problems(self) -> Problems:
        """Every rule of a customer this one breaks, its fields being valid."""
        for name, label in (("accounts", "帳戶"), ("users", "使用者"), ("certificates", "憑證")):
            if not getattr(self, name):
                yield (name,), said(f"至少須有一個{label}", "must not be empty")
        yield from repeated("accounts", [a.number for a in self.accounts], "帳號重複", "duplicate account number")
        yield from repeated(
            "users", [u.user_code.upper() for u in self.users],
            "使用者代號重複（不分大小寫）", "duplicate user code (ignoring case)",
        )
        for index, user in enumerate(self.users):
            if user.user_code.upper() == self.id_number.upper():
                yield ("users", index, "user_code"), said(
                    f"使用者代號不可與{self.id_label}相同", f"must not equal the customer's {self.id_label}"
                )
        yield from repeated(
            "certificates", [c.cn_suffix for c in self.certificates], "憑證名稱後綴重複", "duplicate CN suffix"
        )
        yield from self._own_problems()

    def _own_problems(self) -> Problems:
        raise NotImplementedError

    @model_serializer(mode="wrap")
    def _with_derived(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The JSON, with ``holder_id`` after the id number and each certificate's ``cn``, for readers."""
        data: dict[str, Any] = {}
        for key, value in handler(self).items():
            data[key] = value
            if key == self.id_field:
                data["holder_id"] = self.holder_id
        written = zip(data["certificates"], self.certificates, strict=True)
        data["certificates"] = [_with_cn(item, cert.cn(self.holder_id)) for item, cert in written]
        return data

    # -- views ---------------------------------------------------------------------------
    @property
    def id_number(self) -> str:
        """The 身分證字號 or 統一編號 the customer logs in with."""
        value: str = getattr(self, self.id_field)
        return value

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


@model(kw_only=True)
class Person(_CustomerBase):
    """A customer of 個人網路銀行: logs in with 身分證字號, 使用者代號 and 密碼."""

    id_field: ClassVar[str] = "national_id"
    id_label: ClassVar[str] = "身分證字號"

    kind: Literal["person"] = Field(default="person", repr=False)
    name: Name
    national_id: NationalId
    address: Address
    phone: Phone
    branch: Branch
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    certificates: tuple[Certificate, ...]

    @property
    def system(self) -> System:
        return System.PERSONAL

    def _own_problems(self) -> Problems:
        if len(self.users) != 1:
            yield ("users",), said(
                "個人戶須有恰好一個使用者代號",
                f"a person has exactly one user, got {len(self.users)}",
            )
        for index, user in enumerate(self.users):
            if user.role is not Role.USER:
                yield ("users", index, "role"), said("個人戶的使用者角色須為 user", "a person's user has role user")
            if user.name is not None:
                yield ("users", index, "name"), said("個人戶的使用者不另列姓名", "a person's user has no separate name")


#: The 客戶別 the manual describes for 企業網路銀行.
DESCRIBED_CUSTOMER_TYPES: Final = frozenset({2, 3, 4})
#: The roles each kind of company may give its users (客戶別, None for EOI); other 客戶別: users only.
_ALLOWED_ROLES: dict[int | None, frozenset[Role]] = {
    None: frozenset({Role.USER, Role.ADMINISTRATOR}),
    2: frozenset({Role.USER}),
    3: frozenset({Role.USER, Role.ADMINISTRATOR}),
    4: frozenset({Role.USER, Role.SUPER, Role.MANAGING_CLERK, Role.MANAGING_SUPERVISOR}),
}


@model(kw_only=True)
class Company(_CustomerBase):
    """A corporate customer of 企業網路銀行 (with its 客戶別) or of EOI 系統.

    ``branch`` is its 申辦分行 (applying branch). With a shared certificate
    (共用憑證), ``relationship_customers`` are the 關係戶 that use it.
    """

    id_field: ClassVar[str] = "business_id"
    id_label: ClassVar[str] = "統一編號"

    kind: Literal["company"] = Field(default="company", repr=False)
    system: CompanySystem = System.CORPORATE  # a field here, a property of persons
    customer_type: StrictInt | None
    name: Name
    business_id: BusinessId
    address: Address
    phone: Phone
    branch: Branch
    accounts: tuple[Account, ...]
    users: tuple[User, ...]
    certificates: tuple[Certificate, ...]
    shared_certificate: StrictBool = False
    relationship_customers: tuple[RelationshipCustomer, ...] = ()

    # -- rules ---------------------------------------------------------------------------
    def _own_problems(self) -> Problems:
        ctype = self.customer_type
        if self.system is System.CORPORATE and (ctype is None or not 1 <= ctype <= 9):
            yield ("customer_type",), said(
                "企業網路銀行客戶須有客戶別（1 至 9）",
                "a corporate customer has a type 1-9",
            )
        elif self.system is System.EOI and ctype is not None:
            yield ("customer_type",), said("EOI 客戶沒有客戶別", "an EOI customer has no customer type (null)")
        yield from self._super_code_problems()
        yield from self._role_count_problems()
        allowed = _ALLOWED_ROLES.get(None if self.system is System.EOI else ctype, frozenset({Role.USER}))
        for index, user in enumerate(self.users):
            if user.role not in allowed:
                where = "EOI 客戶" if self.system is System.EOI else f"客戶別 {ctype}"
                yield ("users", index, "role"), said(
                    f"{where}不能有{user.role.label}（{user.role.value}）",
                    f"role {user.role.value} is not allowed here; allowed: {sorted(r.value for r in allowed)}",
                )
        yield from self._relationship_problems()

    def _super_code_problems(self) -> Problems:
        for index, user in enumerate(self.users):
            if user.role is Role.SUPER and user.user_code != SUPER_USER_CODE:
                yield ("users", index, "user_code"), said(
                    f"SUPER 使用者的代號須為 {SUPER_USER_CODE}", f"the super user's code is {SUPER_USER_CODE}"
                )
            elif user.user_code.upper() == SUPER_USER_CODE and user.role is not Role.SUPER:
                yield ("users", index, "user_code"), said(
                    f"{SUPER_USER_CODE} 保留給客戶別 4 的 SUPER 使用者",
                    f"{SUPER_USER_CODE} is reserved for the super user of a type-4 customer",
                )

    def _role_count_problems(self) -> Problems:
        roles = [u.role for u in self.users]
        admins = roles.count(Role.ADMINISTRATOR)
        if self.system is System.EOI:
            if admins > 1:
                yield ("users",), said("EOI 客戶至多一位管理者", "an EOI customer has at most one administrator")
        elif self.customer_type == 2 and len(roles) != 1:
            yield ("users",), said(
                f"客戶別 2 僅有一個使用者代號，現有 {len(roles)} 個",
                f"a type-2 customer has exactly one user, got {len(roles)}",
            )
        elif self.customer_type == 3 and admins != 1:
            yield ("users",), said(
                f"客戶別 3 須有恰好一位管理者（administrator），現有 {admins} 位",
                "a type-3 customer has exactly one administrator",
            )
        elif self.customer_type == 4:
            if roles.count(Role.SUPER) != 1:
                yield ("users",), said(
                    f"客戶別 4 須有恰好一位 {SUPER_USER_CODE}（super）",
                    f"a type-4 customer has exactly one {SUPER_USER_CODE}",
                )
            for role in (Role.MANAGING_CLERK, Role.MANAGING_SUPERVISOR):
                if role not in roles:
                    yield ("users",), said(
                        f"客戶別 4 須有{role.label}（{role.value}）",
                        f"a type-4 customer has a {role.value}",
                    )

    def _relationship_problems(self) -> Problems:
        related = self.relationship_customers
        name = "relationship_customers"
        if self.shared_certificate and not related:
            yield (name,), said("共用憑證須至少有一個關係戶", "a shared certificate has relationship customers")
        if not self.shared_certificate and related:
            yield (name,), said("未申辦共用憑證者不應有關係戶", "only a shared certificate has relationship customers")
        yield from repeated(name, [r.customer_code for r in related], "關係戶用戶代碼重複", "duplicate 用戶代碼")
        yield from repeated(
            name, [r.business_id for r in related], "關係戶統一編號重複", "duplicate relationship 統一編號"
        )
        for index, relation in enumerate(related):
            if relation.business_id == self.business_id:
                yield (name, index, "business_id"), said(
                    "關係戶不可為本公司",
                    "a relationship customer is another company",
                )

    # -- views ---------------------------------------------------------------------------
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


#: A person or a company; in JSON, ``kind`` says which.
Customer: TypeAlias = Annotated[Person | Company, Field(discriminator="kind")]


def customer_from_json(data: object) -> Customer:
    """A person or a company from its JSON object (``kind`` says which)."""
    made: Customer = parse(Customer, data, CustomerDataModel.refused)
    return made
