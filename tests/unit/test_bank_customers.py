"""The bank's customer model: its rules, its JSON files, the seeded generator,
the personas, and the mapping of customers to holders and CNs at the CA."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.bank.customers import (
    BRANCHES,
    DEFAULT_PERSONAS,
    SUPER_USER_CODE,
    Account,
    AccountKind,
    Branch,
    Certificate,
    Company,
    Customer,
    CustomerDataError,
    CustomerGenerator,
    CustomerSet,
    Person,
    Persona,
    RelationshipCustomer,
    Role,
    System,
    UnknownCustomerError,
    UnknownPersonaError,
    User,
    add_to_file,
    customer_from_json,
    dumps,
    generate_customers,
    load_personas,
    persona,
    persona_customers,
    save_personas,
)
from simulator.bank.ids import BusinessIdRule, is_valid_business_id, is_valid_national_id
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import KeyCache, make_csr
from simulator.card.image import Carrier

REPO = Path(__file__).resolve().parents[2]
USER_CODE = re.compile(r"[A-Za-z0-9]{6,16}")
PERSONA_NAMES = [
    "person", "corporate-2", "corporate-3", "corporate-4", "eoi", "shared-certificate", "shared-certificate-2",
    "hostile-name", "corporate-1",
]

generator_settings = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(min_value=0, max_value=2**32)


# -- building blocks for rule tests -----------------------------------------------------
BRANCH = Branch("0060017", "晴川分行")


def account(tail: str = "0000000001", kind: AccountKind = AccountKind.DEMAND) -> Account:
    return Account("0017" + tail, BRANCH.code, kind)


def person(**changes: Any) -> Person:
    fields: dict[str, Any] = {
        "name": "測試甲", "national_id": "A123456789", "address": "臺北市虛構路1號", "phone": "0912-345-678",
        "branch": BRANCH, "accounts": (account(),), "users": (User("tester01", "Passw0rd"),),
        "certificates": (Certificate("2015", Carrier.SMALL),),
    }
    fields.update(changes)
    return Person(**fields)


def company(customer_type: int | None = 2, users: tuple[User, ...] | None = None, **changes: Any) -> Company:
    fields: dict[str, Any] = {
        "name": "虛構測試股份有限公司", "business_id": "04595257", "address": "臺北市虛構路2號",
        "phone": "(02)2345-6789",
        "branch": BRANCH, "accounts": (account("0000000002"),),
        "users": users if users is not None else (User("only0001", "Passw0rd"),),
        "certificates": (Certificate("2015"),), "customer_type": customer_type,
    }
    fields.update(changes)
    return Company(**fields)


def problems_of(make: Any) -> list[str]:
    """The problems (as 'path: message') a refused construction reports."""
    with pytest.raises(CustomerDataError) as caught:
        make()
    return [str(p) for p in caught.value.problems]


def paths_of(make: Any) -> list[str]:
    with pytest.raises(CustomerDataError) as caught:
        make()
    return [p.path for p in caught.value.problems]


# -- the generator ----------------------------------------------------------------------
@generator_settings
@given(seeds)
def test_the_same_seed_gives_the_same_customers(seed: int) -> None:
    first = generate_customers(seed)
    assert generate_customers(seed) == first
    assert dumps(generate_customers(seed).to_json()) == dumps(first.to_json())


def test_different_seeds_give_different_customers() -> None:
    sets = [generate_customers(seed) for seed in range(5)]
    ids = [tuple(c.id_number for c in s) for s in sets]
    assert len(set(ids)) == 5


def test_the_generator_uses_fakers_zh_tw_names() -> None:
    customers = generate_customers(8)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for customer in customers:
        assert cjk.search(customer.name), customer.name
        assert cjk.search(customer.address), customer.address
        assert cjk.search(customer.branch.name)


def check_generated(customer: Customer) -> None:
    """The rules every generated customer keeps, checked here independently of the model's own checks."""
    assert customer.holder_id == customer.id_number
    assert customer.cns == tuple(f"{customer.id_number}-00-{c.cn_suffix}" for c in customer.certificates)
    codes = [u.user_code for u in customer.users]
    assert len({c.upper() for c in codes}) == len(codes)
    for code in codes:
        assert USER_CODE.fullmatch(code)
        assert code.upper() != customer.id_number.upper()
    for user in customer.users:
        assert re.fullmatch(r"[A-Za-z0-9]{6,16}", user.password)
        assert any(c.isdigit() for c in user.password) and any(c.isalpha() for c in user.password)
    for acc in customer.accounts:
        assert re.fullmatch(r"\d{14}", acc.number) and acc.number[:4] == acc.branch_code[3:]
    assert re.fullmatch(r"006\d{4}", customer.branch.code)
    if isinstance(customer, Person):
        assert is_valid_national_id(customer.national_id)
        assert len(customer.users) == 1
        return
    assert is_valid_business_id(customer.business_id, rule=BusinessIdRule.MOD5_2023)
    roles = [u.role for u in customer.users]
    if customer.system is System.EOI:
        assert customer.customer_type is None
    elif customer.customer_type == 2:
        assert roles == [Role.USER]
    elif customer.customer_type == 3:
        assert roles.count(Role.ADMINISTRATOR) == 1
        assert roles.count(Role.USER) == len(roles) - 1  # ordinary users, as many as asked (maybe none)
    elif customer.customer_type == 4:
        assert [u.user_code for u in customer.users if u.role is Role.SUPER] == [SUPER_USER_CODE]
        assert Role.MANAGING_CLERK in roles and Role.MANAGING_SUPERVISOR in roles
    for relation in customer.relationship_customers:
        assert re.fullmatch(r"\d{12}", relation.customer_code)
        assert is_valid_business_id(relation.business_id)
    assert customer.shared_certificate == bool(customer.relationship_customers)


@generator_settings
@given(seeds)
def test_generated_customers_keep_every_rule_and_survive_json(seed: int) -> None:
    customers = generate_customers(seed, persons=3)
    assert len(customers.persons) == 3 and len(customers.companies) == 5
    for customer in customers:
        check_generated(customer)
    ids = [c.id_number for c in customers]
    assert len(set(ids)) == len(ids)
    numbers = [a.number for c in customers for a in c.accounts]
    assert len(set(numbers)) == len(numbers)
    assert CustomerSet.from_json(json.loads(dumps(customers.to_json()))) == customers


@generator_settings
@given(seeds, st.sampled_from([(System.CORPORATE, t) for t in range(1, 10)] + [(System.EOI, None)]),
       st.integers(min_value=0, max_value=4), st.booleans())
def test_generated_companies_of_every_kind(
    seed: int, kind: tuple[System, int | None], ordinary: int, shared: bool
) -> None:
    system, customer_type = kind
    made = CustomerGenerator(seed).company(system, customer_type, ordinary_users=ordinary, shared_certificate=shared)
    check_generated(made)
    assert made.system is system and made.customer_type == customer_type
    if customer_type in (3, 4) or system is System.EOI:
        assert [u.role for u in made.users].count(Role.USER) == ordinary


def test_one_generator_never_repeats_an_id_or_account() -> None:
    generator = CustomerGenerator(11)
    made = [generator.person() for _ in range(30)] + [generator.company() for _ in range(30)]
    assert len({c.id_number for c in made}) == 60
    numbers = [a.number for c in made for a in c.accounts]
    assert len(set(numbers)) == len(numbers)


# -- the rules ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code", ["abc12", "a" * 17, "user-001", "user 001", "使用者代號01", "\uff21BC12345", "abc123\n", ""]
)
def test_a_user_code_is_6_to_16_ascii_letters_or_digits(code: str) -> None:
    assert problems_of(lambda: User(code, "Passw0rd")) == [
        "user_code: 使用者代號須為 6 至 16 位英文字母或數字 (must be 6 to 16 letters or digits)"
    ]


@pytest.mark.parametrize("code", ["abc123", "A" * 16, "SUPER001", "0000000"])
def test_good_user_codes(code: str) -> None:
    assert User(code, "Passw0rd9").user_code == code


@pytest.mark.parametrize("password", ["Ab1", "Passw0rd!", "password", "12345678", "P" * 16 + "1", "pässw0rd", ""])
def test_a_bad_password_is_refused(password: str) -> None:
    assert paths_of(lambda: User("tester01", password)) == ["password"]


@pytest.mark.parametrize("password", ["abc123", "P" * 15 + "1", "0000a0"])
def test_good_passwords(password: str) -> None:
    assert User("tester01", password).password == password


def test_a_password_is_not_the_user_code_and_is_not_shown_in_repr() -> None:
    assert paths_of(lambda: User("Tester01", "tester01")) == ["password"]
    assert "Passw0rd" not in repr(User("tester01", "Passw0rd"))


def test_a_user_code_never_equals_the_national_id_in_any_case() -> None:
    assert problems_of(lambda: person(users=(User("a123456789", "Passw0rd"),))) == [
        "users[0].user_code: 使用者代號不可與身分證字號相同 (must not equal the customer's 身分證字號)"
    ]


def test_a_user_code_never_equals_the_business_id() -> None:
    assert paths_of(lambda: company(users=(User("04595257", "Passw0rd"),))) == ["users[0].user_code"]


def test_a_person_has_exactly_one_plain_user() -> None:
    two = (User("tester01", "Passw0rd"), User("tester02", "Passw0rd"))
    assert paths_of(lambda: person(users=two)) == ["users"]
    assert paths_of(lambda: person(users=())) == ["users", "users"]   # none at all, and not exactly one
    assert paths_of(lambda: person(users=(User("tester01", "Passw0rd", Role.ADMINISTRATOR),))) == ["users[0].role"]


def test_a_person_needs_a_valid_national_id() -> None:
    [problem] = problems_of(lambda: person(national_id="A123456788"))
    assert problem.startswith("national_id: 身分證字號檢查碼錯誤")
    [problem] = problems_of(lambda: person(national_id="a123456789"))
    assert problem.startswith("national_id: 身分證字號格式錯誤") and "NATIONAL_ID_FORMAT" in problem


def test_user_codes_are_unique_within_a_company_ignoring_case() -> None:
    users = (User("ADMIN003", "Passw0rd", Role.ADMINISTRATOR), User("admin003", "Passw0rd"))
    assert problems_of(lambda: company(3, users)) == [
        "users[1]: 使用者代號重複（不分大小寫） (duplicate user code (ignoring case))"
    ]


def test_customer_type_2_has_exactly_one_user() -> None:
    users = (User("only0001", "Passw0rd"), User("only0002", "Passw0rd"))
    [problem] = problems_of(lambda: company(2, users))
    assert problem.startswith("users: 客戶別 2 僅有一個使用者代號")


def test_customer_type_3_has_exactly_one_administrator() -> None:
    admin = User("ADMIN003", "Passw0rd", Role.ADMINISTRATOR)
    plain = User("USER0031", "Passw0rd")
    assert company(3, (admin, plain)).designated_user() == admin
    assert company(3, (admin,)).designated_user() == admin
    assert paths_of(lambda: company(3, (plain,))) == ["users"]
    assert paths_of(lambda: company(3, (admin, dataclasses.replace(admin, user_code="ADMIN004")))) == ["users"]
    clerk = User("CLERK003", "Passw0rd", Role.MANAGING_CLERK)
    assert paths_of(lambda: company(3, (admin, clerk))) == ["users[1].role"]


def test_customer_type_4_has_super001_a_managing_clerk_and_a_managing_supervisor() -> None:
    sup = User(SUPER_USER_CODE, "Super4pass", Role.SUPER)
    clerk = User("CLERK004", "Passw0rd", Role.MANAGING_CLERK)
    chief = User("CHIEF004", "Passw0rd", Role.MANAGING_SUPERVISOR)
    assert company(4, (sup, clerk, chief)).designated_user() == sup
    assert problems_of(lambda: company(4, (clerk, chief))) == [
        "users: 客戶別 4 須有恰好一位 SUPER001（super） (a type-4 customer has exactly one SUPER001)"
    ]
    assert problems_of(lambda: company(4, (sup, clerk))) == [
        "users: 客戶別 4 須有管理主管（managing_supervisor） (a type-4 customer has a managing_supervisor)"
    ]
    wrong_code = dataclasses.replace(sup, user_code="SUPER002")
    assert paths_of(lambda: company(4, (wrong_code, clerk, chief))) == ["users[0].user_code"]


def test_super001_is_reserved_for_customer_type_4() -> None:
    assert paths_of(lambda: company(2, (User("super001", "Passw0rd"),))) == ["users[0].user_code"]
    admin = User("ADMIN003", "Passw0rd", Role.ADMINISTRATOR)
    assert paths_of(lambda: company(3, (admin, User("SUPER001", "Passw0rd", Role.SUPER)))) == [
        "users[1].role"
    ]


def test_customer_types_the_manual_does_not_describe_have_plain_users_and_no_designated_user() -> None:
    for customer_type in (1, 5, 9):
        made = company(customer_type, (User("USER0011", "Passw0rd"), User("USER0012", "Passw0rd")))
        assert made.designated_user() is None
    admin = User("ADMIN001", "Passw0rd", Role.ADMINISTRATOR)
    assert paths_of(lambda: company(1, (admin,))) == ["users[0].role"]
    for bad in (0, 10, None, True):
        assert paths_of(lambda bad=bad: company(bad)) == ["customer_type"]


def test_an_eoi_company_has_no_customer_type() -> None:
    admin = User("EOIADMIN1", "Passw0rd", Role.ADMINISTRATOR)
    made = company(None, (admin,), system=System.EOI)
    assert made.designated_user() is None and made.customer_type_label == "EOI"
    assert paths_of(lambda: company(2, (admin,), system=System.EOI)) == ["customer_type"]
    assert paths_of(lambda: company(None, system=System.PERSONAL)) == ["system"]


RELATED = (
    RelationshipCustomer("虛構關係戶甲有限公司", "10458575", "104585750001"),
    RelationshipCustomer("虛構關係戶乙有限公司", "10458574", "104585740002"),
)


def test_a_shared_certificate_has_relationship_customers_with_12_digit_codes() -> None:
    made = company(shared_certificate=True, relationship_customers=RELATED)
    assert [r.customer_code for r in made.relationship_customers] == ["104585750001", "104585740002"]
    assert made.summary()["關係戶"] == "104585750001、104585740002"
    assert paths_of(lambda: company(shared_certificate=True)) == ["relationship_customers"]
    assert paths_of(lambda: company(relationship_customers=RELATED)) == ["relationship_customers"]


@pytest.mark.parametrize("code", ["10458575000", "1045857500012", "10458575000A", "\uff1104585750001"])
def test_a_relationship_code_has_12_digits(code: str) -> None:
    assert paths_of(lambda: RelationshipCustomer("虛構", "10458575", code)) == ["customer_code"]


def test_relationship_customers_are_distinct_and_other_companies() -> None:
    twice = (RELATED[0], dataclasses.replace(RELATED[1], customer_code=RELATED[0].customer_code))
    assert paths_of(lambda: company(shared_certificate=True, relationship_customers=twice)) == [
        "relationship_customers[1]"
    ]
    itself = (dataclasses.replace(RELATED[0], business_id="04595257"),)
    assert paths_of(lambda: company(shared_certificate=True, relationship_customers=itself)) == [
        "relationship_customers[0].business_id"
    ]
    assert paths_of(lambda: RelationshipCustomer("虛構", "10458576", "104585760001")) == ["business_id"]


def test_branches_accounts_and_certificates() -> None:
    assert paths_of(lambda: Branch("0070017", "他行")) == ["code"]
    assert paths_of(lambda: Branch("006001", "晴川分行")) == ["code"]
    assert paths_of(lambda: Account("00181234567890", "0060017")) == ["number"]
    assert paths_of(lambda: Account("0017123456789", "0060017")) == ["number"]
    assert paths_of(lambda: Certificate("20-15")) == ["cn_suffix"]
    assert paths_of(lambda: person(accounts=())) == ["accounts"]
    assert paths_of(lambda: person(accounts=(account(), account()))) == ["accounts[1]"]
    assert paths_of(lambda: person(certificates=(Certificate("2015"), Certificate("2015")))) == ["certificates[1]"]


@pytest.mark.parametrize(
    ("name", "ok"),
    [("王小明", True), ("<script>alert(1)</script>", True), ("\u202e虛構", True), ("🙂", True),
     ("", False), ("   ", False), ("王\x00明", False), ("王\n明", False), ("名" * 100, True), ("名" * 101, False)],
)
def test_names_take_any_printable_text_up_to_100_characters(name: str, ok: bool) -> None:
    if ok:
        assert person(name=name).name == name
    else:
        assert paths_of(lambda: person(name=name)) == ["name"]


def test_every_problem_of_a_customer_is_reported_at_once() -> None:
    assert sorted(paths_of(lambda: person(national_id="A123456788", name="", phone="x"))) == [
        "name", "national_id", "phone"
    ]


def test_enum_fields_take_their_values() -> None:
    made = company(None, (User("EOIADMIN1", "Passw0rd", "administrator"),), system="eoi")  # type: ignore[arg-type]
    assert made.system is System.EOI and made.users[0].role is Role.ADMINISTRATOR
    assert Certificate("2015", "小卡").carrier is Carrier.SMALL  # type: ignore[arg-type]
    assert Account("00170000000001", "0060017", "checking").kind is AccountKind.CHECKING  # type: ignore[arg-type]
    assert paths_of(lambda: User("tester01", "Passw0rd", "boss")) == ["role"]  # type: ignore[arg-type]
    assert paths_of(lambda: Certificate("2015", "中卡")) == ["carrier"]  # type: ignore[arg-type]


def test_lists_become_tuples_so_customers_stay_hashable() -> None:
    made = person(accounts=[account()], users=[User("tester01", "Passw0rd")])
    assert isinstance(made.accounts, tuple) and hash(made)


# -- the CA mapping ----------------------------------------------------------------------
def test_a_customer_owns_cns_named_by_its_id_number() -> None:
    made = company(certificates=(Certificate("2012"), Certificate("2015")))
    assert made.holder_id == "04595257"
    assert made.cns == ("04595257-00-2012", "04595257-00-2015")
    assert [dataclasses.asdict(r) for r in made.ca_registrations()] == [
        {"holder_id": "04595257", "name": "虛構測試股份有限公司", "cn_suffix": suffix,
         "branch_code": "0060000", "bank_name": "Taiwan Cooperative Bank"}
        for suffix in ("2012", "2015")
    ]


def test_every_persona_registers_at_the_ca_and_gets_certificates_with_its_cns(
    ca: CertificateAuthority, keys: KeyCache
) -> None:
    for item in load_personas().values():
        for registration in item.customer.ca_registrations():
            ca.ensure_holder(**dataclasses.asdict(registration))
        holder = ca.holder(item.customer.holder_id)
        assert holder.name == item.customer.name
        assert set(holder.cn_suffixes) == {c.cn_suffix for c in item.customer.certificates}
    eoi = persona("eoi").customer
    csr = make_csr(keys.rsa("persona-eoi"), ca.subject_for(eoi.holder_id, "2015"))
    issued = ca.apply("persona-eoi-1", eoi.holder_id, csr)
    assert issued.cn == "63880571-00-2015" == eoi.cns[1]


# -- JSON ------------------------------------------------------------------------------
def test_every_dataclass_round_trips_through_json() -> None:
    made = company(shared_certificate=True, relationship_customers=RELATED)
    assert Company.from_json(made.to_json()) == made
    assert customer_from_json(made.to_json()) == made
    assert Person.from_json(person().to_json()) == person()
    assert customer_from_json(person().to_json()) == person()
    assert Branch.from_json(BRANCH.to_json()) == BRANCH
    assert Account.from_json(account().to_json()) == account()
    user = User("tester01", "Passw0rd", Role.ADMINISTRATOR, "某人")
    assert User.from_json(user.to_json()) == user
    assert Certificate.from_json(Certificate("2015", Carrier.SMALL).to_json("A123456789")) == Certificate(
        "2015", Carrier.SMALL
    )
    assert RelationshipCustomer.from_json(RELATED[0].to_json()) == RELATED[0]
    item = persona("corporate-4")
    assert Persona.from_json(item.to_json()) == item


def test_json_shows_holder_id_and_cns_and_omits_nothing_a_bank_needs() -> None:
    data = company(certificates=(Certificate("2015"),)).to_json()
    assert data["holder_id"] == "04595257"
    assert data["certificates"] == [
        {"cn_suffix": "2015", "cn": "04595257-00-2015", "carrier": "大卡", "ca_branch_code": "0060000"}
    ]
    assert list(data) == [
        "kind", "system", "customer_type", "name", "business_id", "holder_id", "address", "phone", "branch",
        "accounts", "users", "certificates", "shared_certificate", "relationship_customers",
    ]


def test_holder_id_and_cn_are_optional_in_json_but_checked_when_present() -> None:
    data = person().to_json()
    del data["holder_id"]
    del data["certificates"][0]["cn"]
    assert Person.from_json(data) == person()
    data = person().to_json()
    data["holder_id"] = "B123456780"
    data["certificates"][0]["cn"] = "A123456789-00-2016"
    assert paths_of(lambda: Person.from_json(data)) == ["holder_id", "certificates[0].cn"]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d["customers"][2]["users"][0].update(user_code="ab"), "customers[2].users[0].user_code", "6 至 16"),
        (lambda d: d["customers"][1].update(extra=1), "customers[1].extra", "不認得的欄位"),
        (lambda d: d["customers"][3].update(business_id=4595257), "customers[3].business_id", "須為文字"),
        (lambda d: d["customers"][3].update(customer_type="3"), "customers[3].customer_type", "須為整數"),
        (lambda d: d["customers"][0].pop("national_id"), "customers[0].national_id", "缺少此欄位"),
        (lambda d: d["customers"][0].update(kind="robot"), "customers[0]", "kind 須為 person 或 company"),
        (lambda d: d["customers"][4]["users"][1].update(role="boss"), "customers[4].users[1].role", "允許範圍"),
        (lambda d: d["customers"][2]["accounts"][0].update(kind="gold"), "customers[2].accounts[0].kind", "允許範圍"),
        (lambda d: d["customers"][0]["certificates"][0].update(carrier="中卡"),
         "customers[0].certificates[0].carrier", "允許範圍"),
        (lambda d: d.update(version=2), "version", "允許範圍"),
        (lambda d: d.update(format="other"), "format", "允許範圍"),
        (lambda d: d["customers"][6].update(shared_certificate="yes"), "customers[6].shared_certificate", "true"),
        (lambda d: d["customers"][6]["relationship_customers"][0].update(customer_code="1"),
         "customers[6].relationship_customers[0].customer_code", "12 位數字"),
        (lambda d: d["customers"][1].update(national_id=d["customers"][0]["national_id"],
                                            holder_id=d["customers"][0]["national_id"],
                                            certificates=[{"cn_suffix": "2099"}]),
         "customers[1].national_id", "與 customers[0] 重複"),
    ],
)
def test_a_bad_customers_file_names_the_field_path(change: Any, path: str, words: str) -> None:
    data = generate_customers(3).to_json()
    change(data)
    with pytest.raises(CustomerDataError) as caught:
        CustomerSet.from_json(data)
    matching = [p for p in caught.value.problems if p.path == path]
    assert matching, [str(p) for p in caught.value.problems]
    assert words in matching[0].message
    assert f"{path}: " in str(caught.value) and caught.value.code == "CUSTOMER_DATA_INVALID"


def test_account_numbers_are_unique_across_the_bank() -> None:
    one = person()
    other = company()
    clash = dataclasses.replace(other, accounts=one.accounts)
    assert paths_of(lambda: CustomerSet((one, clash))) == ["customers[1].accounts[0].number"]


def test_a_customer_set_finds_customers_by_id_number() -> None:
    customers = CustomerSet((person(), company()))
    assert customers.get("04595257") == company()
    assert customers.persons == (person(),) and customers.companies == (company(),)
    with pytest.raises(UnknownCustomerError):
        customers.get("10458575")


def test_save_and_load(tmp_path: Path) -> None:
    customers = generate_customers(5)
    target = tmp_path / "customers.json"
    customers.save(target)
    assert CustomerSet.load(target) == customers
    text = target.read_text(encoding="utf-8")
    assert text.endswith("\n") and '"format": "fxmlsim-bank-customers"' in text
    assert customers.persons[0].name in text   # Chinese as itself, not \\u escapes
    assert [p.name for p in tmp_path.iterdir()] == ["customers.json"]


def test_invisible_characters_are_escaped_in_files_and_come_back_intact(tmp_path: Path) -> None:
    hostile = persona("hostile-name").customer
    text = dumps(hostile.to_json())
    assert "\u202e" not in text and "\\u202e" in text and "\\u200d" in text
    assert "🙂" in text and "<script>" in text
    assert customer_from_json(json.loads(text)) == hostile


def test_loading_a_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "fxmlsim-bank-customers",\n  "version": 1,\n  oops}', encoding="utf-8")
    with pytest.raises(CustomerDataError, match="第 3 行") as caught:
        CustomerSet.load(bad)
    assert str(bad) in str(caught.value)


# -- personas ----------------------------------------------------------------------------
def test_the_personas_are_the_ones_features_use() -> None:
    personas = load_personas()
    assert list(personas) == PERSONA_NAMES
    # package data (simulator/fixtures), which the checkout's fixtures/ links to
    assert DEFAULT_PERSONAS == REPO / "simulator" / "fixtures" / "bank" / "personas.json"
    assert (REPO / "fixtures" / "bank" / "personas.json").resolve() == DEFAULT_PERSONAS


def test_personas_load_by_name_or_title() -> None:
    assert persona("corporate-3") == persona("企業網路銀行客戶別 3")
    with pytest.raises(UnknownPersonaError, match="corporate-3") as caught:
        persona("corporate-5")
    assert "person (個人網路銀行客戶)" in caught.value.known


def test_personas_load_by_title_and_name_as_features_say_who_they_are() -> None:
    assert persona("EOI 企業客戶 虛構雲杉企業") == persona("eoi")
    assert persona("個人網路銀行客戶 王小明") == persona("person")
    assert persona("企業網路銀行客戶別 3 虛構松竹科技") == persona("corporate-3")
    for wrong in ("EOI 企業客戶 虛構松竹科技", "EOI 企業客戶 ", "虛構雲杉企業"):
        with pytest.raises(UnknownPersonaError):
            persona(wrong)


def test_the_person_persona_holds_the_personal_card_fixture() -> None:
    card = json.loads((REPO / "fixtures" / "cards" / "personal-small.json").read_text(encoding="utf-8"))
    customer = persona("person").customer
    assert isinstance(customer, Person) and customer.system is System.PERSONAL
    assert customer.holder_id == card["holder_id"] and customer.name == card["holder_name"]
    assert [(c.cn_suffix, c.carrier.value) for c in customer.certificates] == [
        (c["cn_suffix"], card["carrier"]) for c in card["certificates"]
    ]


def company_persona(name: str) -> Company:
    customer = persona(name).customer
    assert isinstance(customer, Company)
    return customer


def test_the_corporate_personas() -> None:
    two, three, four, one = (company_persona(n) for n in ("corporate-2", "corporate-3", "corporate-4", "corporate-1"))
    assert (two.system, two.customer_type, len(two.users)) == (System.CORPORATE, 2, 1)
    assert two.designated_user() == two.users[0]
    assert three.customer_type == 3
    admin = three.designated_user()
    assert admin is not None and admin.role is Role.ADMINISTRATOR and admin.user_code == "ADMIN003"
    assert [u.user_code for u in three.users if u.role is Role.USER] == ["USER0031"]
    assert four.customer_type == 4
    assert {u.role: u.user_code for u in four.users} == {
        Role.SUPER: "SUPER001", Role.MANAGING_CLERK: "CLERK004", Role.MANAGING_SUPERVISOR: "CHIEF004",
        Role.USER: "USER0041",
    }
    assert one.customer_type == 1 and one.designated_user() is None
    # the ID-number cases the personas carry for the bank's validators
    assert is_valid_business_id(two.business_id, rule=BusinessIdRule.LEGACY)
    assert not is_valid_business_id(three.business_id, rule=BusinessIdRule.LEGACY)


def test_the_eoi_and_shared_certificate_personas() -> None:
    eoi = company_persona("eoi")
    assert eoi.system is System.EOI and eoi.customer_type is None
    assert eoi.cns == ("63880571-00-2012", "63880571-00-2015")
    assert eoi.business_id[6] == "7" and not is_valid_business_id(eoi.business_id[:7] + "0")
    shared = company_persona("shared-certificate")
    assert shared.shared_certificate and len(shared.relationship_customers) == 2
    for relation in shared.relationship_customers:
        assert re.fullmatch(r"\d{12}", relation.customer_code) and is_valid_business_id(relation.business_id)


def test_the_hostile_persona_carries_every_kind_of_trouble() -> None:
    name = persona("hostile-name").customer.name
    for piece in ("<script>", '"', "'", "&amp;", "\u202e", "\u200d", "🙂", "{{7*7}}", "\\"):
        assert piece in name, piece


def test_the_personas_file_is_exactly_what_save_personas_writes(tmp_path: Path) -> None:
    copy = tmp_path / "personas.json"
    save_personas(copy, load_personas().values())
    assert copy.read_text(encoding="utf-8") == DEFAULT_PERSONAS.read_text(encoding="utf-8")


def test_the_personas_form_one_customer_set() -> None:
    customers = persona_customers()
    assert len(customers) == len(PERSONA_NAMES)
    assert customers.get("A123456789") == persona("person").customer


def bad_personas(tmp_path: Path, change: Any) -> Path:
    data = json.loads(DEFAULT_PERSONAS.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "bad-personas.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["personas"][2]["customer"]["users"][0].update(user_code="ab"),
         "personas[2].customer.users[0].user_code"),
        (lambda d: d["personas"][3]["customer"]["users"][0].update(user_code="SUPER002"),
         "personas[3].customer.users[0].user_code"),
        (lambda d: d["personas"][0]["customer"].update(national_id="A123456788"), "personas[0].customer.national_id"),
        (lambda d: d["personas"][1]["customer"].update(unexpected=True), "personas[1].customer.unexpected"),
        (lambda d: d["personas"][5]["customer"]["relationship_customers"][1].update(customer_code="12345"),
         "personas[5].customer.relationship_customers[1].customer_code"),
        (lambda d: d["personas"][4].update(name="corporate-2"), "personas[4]"),
        (lambda d: d["personas"][7]["customer"].update(business_id=d["personas"][1]["customer"]["business_id"],
                                                       holder_id=d["personas"][1]["customer"]["business_id"],
                                                       certificates=[{"cn_suffix": "2099"}]),
         "personas[7].customer.business_id"),
    ],
)
def test_a_bad_personas_file_is_refused_naming_the_field_path_and_nothing_is_written(
    tmp_path: Path, change: Any, path: str
) -> None:
    bad = bad_personas(tmp_path, change)
    store = tmp_path / "store"
    store.mkdir()
    target = store / "customers.json"
    generate_customers(1, persons=1, companies=()).save(target)
    before = target.read_bytes()
    with pytest.raises(CustomerDataError) as caught:
        add_to_file(target, (p.customer for p in load_personas(bad).values()))
    assert path in [p.path for p in caught.value.problems], [str(p) for p in caught.value.problems]
    assert str(bad) in str(caught.value) and f"{path}: " in str(caught.value)
    assert target.read_bytes() == before
    assert [p.name for p in store.iterdir()] == ["customers.json"]


def test_adding_customers_to_a_file_is_all_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "customers.json"
    added = add_to_file(target, (p.customer for p in load_personas().values()))
    assert CustomerSet.load(target) == added == persona_customers()
    before = target.read_bytes()
    fresh = generate_customers(2, persons=1, companies=())
    with pytest.raises(CustomerDataError) as caught:
        add_to_file(target, (*fresh, persona("eoi").customer))
    last = len(load_personas()) + 1  # the personas, the fresh customer, then the clash
    assert [p.path for p in caught.value.problems] == [f"customers[{last}].business_id",
                                                       f"customers[{last}].accounts[0].number"]
    assert str(target) in str(caught.value)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["customers.json"]


def test_summaries_for_a_listing() -> None:
    row = persona("corporate-3").customer.summary()
    assert row == {
        "系統": "企業網路銀行", "證號": "02209228", "名稱": "虛構松竹科技股份有限公司",
        "使用者代號": "ADMIN003、USER0031", "憑證": "02209228-00-2017", "申辦分行": "0060028 松竹分行",
        "客戶別": "客戶別 3",
    }
    assert BRANCHES[0].display == "0060000 營業部"
