"""Customers made with faker's zh_TW locale, seeded: the same seed gives the same customers."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import Final

from fxml.platform.tickets import System
from simulator.bank.customers.collection import CustomerSet
from simulator.bank.customers.fields import SUPER_USER_CODE, AccountKind, Role
from simulator.bank.customers.model import (
    Account,
    Branch,
    Certificate,
    Company,
    Customer,
    Person,
    RelationshipCustomer,
    User,
)
from simulator.bank.ids import BusinessIdRule, generate_business_id, validate_national_id
from simulator.card.image import Carrier

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
        from faker import Faker  # here: the bank's server and fxmlsim's other commands never generate

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
