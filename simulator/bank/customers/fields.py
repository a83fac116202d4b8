"""The customer model's field types: each a string (never a number: a 統一編號 as a
JSON number would lose its leading zero) with the rule it keeps and the words it
refuses with."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Final

from pydantic import AfterValidator, Strict, WrapValidator

from fxml.platform.tickets import System
from simulator.bank.customers.errors import said
from simulator.bank.ids import IdNumberError, validate_business_id, validate_national_id
from simulator.card.image import Carrier
from simulator.schema import passes, refused_as, rule

#: Taiwan Cooperative Bank's 3-digit bank code: every branch code starts with it.
BANK_CODE: Final = "006"
#: The user code of a 客戶別 4 company that reaches the certificate platform.
SUPER_USER_CODE: Final = "SUPER001"
#: Longest name: the CA's limit on a holder's name.
NAME_MAX: Final = 100
ADDRESS_MAX: Final = 200

_USER_CODE = re.compile(r"[A-Za-z0-9]{6,16}")
_PASSWORD = re.compile(r"[A-Za-z0-9]{6,16}")
_BRANCH_CODE = re.compile(r"\d{7}", re.ASCII)
_ACCOUNT = re.compile(r"\d{14}", re.ASCII)
_CUSTOMER_CODE = re.compile(r"\d{12}", re.ASCII)
_CN_SUFFIX = re.compile(r"[A-Za-z0-9]{1,16}")
_PHONE = re.compile(r"[0-9()+ -]{7,20}")
_PERSONA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _matching(pattern: re.Pattern[str], zh: str, en: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise rule(said(zh, en))
        return value

    return AfterValidator(check)


def _text(label: str, limit: int) -> AfterValidator:
    """Any text (markup, quotes, bidi marks, emoji) but not blank, not longer than
    ``limit``, no control characters."""

    def check(value: str) -> str:
        if not value.strip():
            raise rule(said(f"{label}不可空白", "must not be blank"))
        if len(value) > limit:
            raise rule(said(f"{label}不得超過 {limit} 字，現為 {len(value)} 字", f"at most {limit} characters"))
        if any(unicodedata.category(c) == "Cc" for c in value):
            raise rule(said(f"{label}不可含控制字元", "must not contain control characters"))
        return value

    return AfterValidator(check)


def _id_number(validate: Callable[[object], str]) -> AfterValidator:
    return passes(validate, IdNumberError, said=lambda error: f"{error.message} ({error.reason}) [{error.code}]")


def choice(zh: str, en: str) -> WrapValidator:
    """An enumeration's field: anything but one of its members (or their values) refused in these words."""
    return refused_as(lambda _value: said(f"{zh}，值不在允許範圍內", en))


def _company_system(system: System) -> System:
    if system not in (System.CORPORATE, System.EOI):
        raise rule(_COMPANY_SYSTEM)
    return system


def _password(value: str) -> str:
    if not (_PASSWORD.fullmatch(value) and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        raise rule(said(
            "密碼須為 6 至 16 位英文字母與數字，且兩者皆有",
            "must be 6 to 16 letters and digits, with at least one of each",
        ))
    return value


def _branch_code(value: str) -> str:
    if not _BRANCH_CODE.fullmatch(value):
        raise rule(said(f"分行代號須為 7 位數字（{BANK_CODE} 開頭）", f"must be 7 digits starting with {BANK_CODE}"))
    if not value.startswith(BANK_CODE):
        raise rule(said(f"分行代號須以合作金庫銀行代碼 {BANK_CODE} 開頭", f"must start with {BANK_CODE}"))
    return value


def _phone(value: str) -> str:
    if not (_PHONE.fullmatch(value) and sum(c.isdigit() for c in value) >= 7):
        raise rule(said("電話號碼格式錯誤", "must be 7 to 20 digits, spaces, dashes, parentheses or +"))
    return value


_STR = Strict()
#: 使用者代號: 6 to 16 ASCII letters or digits.
UserCode = Annotated[str, _STR, _matching(_USER_CODE, "使用者代號須為 6 至 16 位英文字母或數字",
                                           "must be 6 to 16 letters or digits")]
#: The clear test password: 6 to 16 ASCII letters and digits, both present.
Password = Annotated[str, _STR, AfterValidator(_password)]
#: A branch of this bank: 7 digits starting with 006.
BranchCode = Annotated[str, _STR, AfterValidator(_branch_code)]
#: A branch code where any 7 digits will do (an account's, a certificate's OU).
SevenDigits = Annotated[str, _STR, _matching(_BRANCH_CODE, "分行代號須為 7 位數字", "must be 7 digits")]
AccountNumber = Annotated[str, _STR, _matching(_ACCOUNT, "帳號須為 14 位數字", "must be 14 digits")]
CnSuffix = Annotated[str, _STR, _matching(_CN_SUFFIX, "憑證名稱後綴須為 1 至 16 位英文字母或數字",
                                          "must be 1 to 16 letters or digits")]
#: A relationship customer's 用戶代碼: 12 digits.
CustomerCode = Annotated[str, _STR, _matching(_CUSTOMER_CODE, "關係戶用戶代碼須為 12 位數字", "must be 12 digits")]
Phone = Annotated[str, _STR, AfterValidator(_phone)]
PersonaName = Annotated[str, _STR, _matching(_PERSONA_NAME, "角色名稱須為小寫英文字母、數字與 -",
                                             "must be lowercase letters, digits and -, at most 40")]
NationalId = Annotated[str, _STR, _id_number(validate_national_id)]
BusinessId = Annotated[str, _STR, _id_number(validate_business_id)]
Name = Annotated[str, _STR, _text("名稱", NAME_MAX)]
Address = Annotated[str, _STR, _text("地址", ADDRESS_MAX)]
BranchName = Annotated[str, _STR, _text("分行名稱", 40)]
UserName = Annotated[str, _STR, _text("使用者姓名", NAME_MAX)]
RelationName = Annotated[str, _STR, _text("關係戶名稱", NAME_MAX)]
PersonaTitle = Annotated[str, _STR, _text("角色標題", 40)]
Purpose = Annotated[str, _STR, _text("用途說明", 400)]


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


RoleField = Annotated[Role, choice("使用者角色錯誤", f"must be one of {[r.value for r in Role]}")]
AccountKindField = Annotated[AccountKind, choice("存款種類錯誤", f"must be one of {[k.value for k in AccountKind]}")]
CarrierField = Annotated[Carrier, choice("憑證儲存媒體須為大卡或小卡", "must be 大卡 or 小卡")]
_COMPANY_SYSTEM = said("公司戶的系統須為 corporate 或 eoi，值不在允許範圍內", "a company's system is corporate or eoi")
CompanySystem = Annotated[System, refused_as(lambda _value: _COMPANY_SYSTEM), AfterValidator(_company_system)]
