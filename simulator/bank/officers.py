"""The branches' officers: the 電金經辦 and EOI經辦 of step 9 who perform 憑證展期建檔.

``fixtures/bank/officers.json`` names them, branch by branch, with clear test
passwords; the bank stores argon2 hashes (:mod:`simulator.bank.store`). An
officer logs in to the branch back office (``/branch``) with the branch's
code, the officer's code (員工代號) and the password, and sees only the inbox
of that branch.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from simulator.bank.customers import Branch, CustomerDataError
from simulator.errors import SimulatorError
from simulator.resources import OFFICERS

OFFICERS_FORMAT: Final = "fxmlsim-bank-officers"
DEFAULT_OFFICERS: Final = OFFICERS
OFFICER_CODE: Final = re.compile(r"[A-Za-z0-9]{6,16}")
_PASSWORD: Final = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9]{6,16}")


class OfficerDataError(SimulatorError, ValueError):
    """An officers file that cannot be used; the message lists what is wrong."""


@enum.unique
class OfficerRole(enum.StrEnum):
    E_BANKING = "e_banking"
    EOI = "eoi"

    @property
    def label(self) -> str:
        return {"e_banking": "電金經辦", "eoi": "EOI經辦"}[self.value]


@dataclass(frozen=True)
class Officer:
    branch: Branch
    officer_code: str
    name: str
    role: OfficerRole
    password: str

    def __repr__(self) -> str:  # never the password
        return f"Officer({self.branch.code}, {self.officer_code!r}, {self.name!r}, {self.role.value})"

    @property
    def actor(self) -> str:
        return f"{self.branch.code}:{self.officer_code}"


def officer_from_json(data: Any, where: str) -> Officer:
    if not isinstance(data, dict) or set(data) != {"branch", "officer_code", "name", "role", "password"}:
        raise OfficerDataError(f"{where}: an officer has exactly branch, officer_code, name, role, password")
    try:
        branch = Branch.from_json(data["branch"])
    except CustomerDataError as exc:
        raise OfficerDataError(f"{where}.branch: {exc}") from None
    code, name, password = data["officer_code"], data["name"], data["password"]
    if not isinstance(code, str) or not OFFICER_CODE.fullmatch(code):
        raise OfficerDataError(f"{where}.officer_code: 員工代號須為 6 至 16 位英文字母或數字")
    if not isinstance(name, str) or not name.strip() or len(name) > 40:
        raise OfficerDataError(f"{where}.name: 姓名不可空白，最多 40 字")
    if not isinstance(password, str) or not _PASSWORD.fullmatch(password) or password.upper() == code.upper():
        raise OfficerDataError(f"{where}.password: 密碼須為 6 至 16 位英文字母與數字（兩者皆有），且不同於員工代號")
    try:
        role = OfficerRole(data["role"])
    except ValueError:
        raise OfficerDataError(f"{where}.role: 須為 {', '.join(r.value for r in OfficerRole)}") from None
    return Officer(branch, code, name, role, password)


def load_officers(path: Path | None = None) -> list[Officer]:
    """The officers of ``path`` (default fixtures/bank/officers.json), in file order."""
    source = DEFAULT_OFFICERS if path is None else Path(path)
    data = json.loads(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != OFFICERS_FORMAT or data.get("version") != 1:
        raise OfficerDataError(f"{source}: not an officers file ({OFFICERS_FORMAT}, version 1)")
    items = data.get("officers")
    if not isinstance(items, list) or not items:
        raise OfficerDataError(f"{source}: no officers")
    officers = [officer_from_json(item, f"{source}: officers[{i}]") for i, item in enumerate(items)]
    seen: set[tuple[str, str]] = set()
    names: dict[str, str] = {}
    for officer in officers:
        key = (officer.branch.code, officer.officer_code.upper())
        if key in seen:
            raise OfficerDataError(f"{source}: officer {officer.officer_code} twice at {officer.branch.code}")
        seen.add(key)
        if names.setdefault(officer.branch.code, officer.branch.name) != officer.branch.name:
            raise OfficerDataError(f"{source}: branch {officer.branch.code} has two names")
    return officers


def officer(branch_code: str, officer_code: str, path: Path | None = None) -> Officer:
    """One officer of the fixtures, by branch and code (for tests and features)."""
    for item in load_officers(path):
        if item.branch.code == branch_code and item.officer_code.upper() == officer_code.upper():
            return item
    raise KeyError(f"no officer {officer_code} at branch {branch_code}")


def officer_of(branch_name: str, role: OfficerRole | None = None, path: Path | None = None) -> Officer:
    """The first officer of the branch called ``branch_name`` (雲杉分行), of ``role`` if given."""
    for item in load_officers(path):
        if item.branch.name == branch_name and (role is None or item.role is role):
            return item
    raise KeyError(f"no officer at {branch_name}")
