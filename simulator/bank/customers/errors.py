"""How customer data is refused: :class:`CustomerDataError`, listing every problem
with its field path and a zh-TW message (the English in brackets), and the
lookups that find no customer or persona."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final, TypeAlias

from simulator.errors import SimulatorError
from simulator.schema import RULE, Loc, Model, Refusal, field_path


@dataclass(frozen=True)
class Problem:
    """One thing wrong in customer data: where (a field path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


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


#: Problems a rule finds: each a field path (pydantic's) and its message.
Problems: TypeAlias = Iterator[tuple[Loc, str]]


def said(zh: str, en: str) -> str:
    """A problem's message: the zh-TW, then the English in brackets."""
    return f"{zh} ({en})"


def repeated(name: str, keys: Sequence[str], zh: str, en: str) -> Problems:
    """Each item of the list ``name`` whose key an earlier item has."""
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            yield (name, index), said(zh, en)
        seen.add(key)


#: A discriminated union's tags in pydantic's paths: no fields of the data.
TAGS: Final = frozenset({"person", "company"})
#: pydantic's own refusals (a file's shape: missing, unknown or mistyped fields) in our words.
SHAPE_MESSAGES: Final = {
    "missing": ("缺少此欄位", "field required"),
    "missing_argument": ("缺少此欄位", "field required"),
    "missing_keyword_only_argument": ("缺少此欄位", "field required"),
    "extra_forbidden": ("不認得的欄位", "unknown field"),
    "unexpected_keyword_argument": ("不認得的欄位", "unknown field"),
    "string_type": ("須為文字", "must be a string"),
    "int_type": ("須為整數", "must be an integer"),
    "bool_type": ("須為 true 或 false", "must be a boolean"),
    "list_type": ("須為清單", "must be a list"),
    "tuple_type": ("須為清單", "must be a list"),
    "dataclass_type": ("須為物件", "must be an object"),
    "dataclass_exact_type": ("須為物件", "must be an object"),
    "model_type": ("須為物件", "must be an object"),
    "model_attributes_type": ("須為物件", "must be an object"),
    "dict_type": ("須為物件", "must be an object"),
    "union_tag_not_found": ("缺少 kind（person 或 company）", "missing kind: person or company"),
    "union_tag_invalid": ("kind 須為 person 或 company", "kind must be person or company"),
    "enum": ("值不在允許範圍內", ""),
    "literal_error": ("值不在允許範圍內", ""),
}


def problem(refusal: Refusal) -> Problem:
    """A refusal as a :class:`Problem`: our rules' messages as they are, pydantic's in our words."""
    path = field_path(refusal.loc, TAGS)
    if refusal.type == RULE:
        return Problem(path, refusal.message)
    zh, en = SHAPE_MESSAGES.get(refusal.type, ("格式錯誤", ""))
    return Problem(path, said(zh, en or refusal.message))


class CustomerDataModel(Model):
    """A model of customer data: refused as one :class:`CustomerDataError`."""

    @classmethod
    def refused(cls, refusals: list[Refusal]) -> Exception:
        return CustomerDataError([problem(r) for r in refusals])
