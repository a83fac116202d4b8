"""The personas: named customers the features and tests use (fixtures/bank/personas.json)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal, Self

from pydantic import StrictStr, model_validator

from simulator.bank.customers.collection import CustomerSet, clashes
from simulator.bank.customers.errors import CustomerDataModel, UnknownPersonaError, repeated
from simulator.bank.customers.fields import PersonaName, PersonaTitle, Purpose
from simulator.bank.customers.files import FORMAT_VERSION, PERSONAS_FORMAT, load, write_atomic
from simulator.bank.customers.model import Customer
from simulator.resources import PERSONAS
from simulator.schema import model, refuse

#: The personas the features use.
DEFAULT_PERSONAS: Final = PERSONAS
#: The note every personas file carries.
PERSONAS_NOTE: Final = (
    "Test data only: fictional customers of the fxmlsim simulation; passwords are clear test passwords "
    "(the bank stores argon2 hashes). 測試資料：虛構客戶，密碼為明文測試密碼。"
)


@model
class Persona(CustomerDataModel):
    """A named customer that features and tests use: ``name`` is an ASCII
    slug (``corporate-3``), ``title`` the zh-TW name a feature may use
    instead (企業網路銀行客戶別 3), ``purpose`` what it is for."""

    name: PersonaName
    title: PersonaTitle
    purpose: Purpose
    customer: Customer


@model(kw_only=True)
class PersonasFile(CustomerDataModel):
    """A personas file: names and titles unique, the customers one set (no id or account twice)."""

    format: Literal["fxmlsim-bank-personas"]
    version: Literal[1]
    note: StrictStr = PERSONAS_NOTE
    personas: tuple[Persona, ...]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        refuse([
            *repeated("personas", [p.name for p in self.personas], "角色名稱重複", "duplicate persona name"),
            *repeated("personas", [p.title for p in self.personas], "角色標題重複", "duplicate persona title"),
            *clashes([(("personas", i, "customer"), p.customer) for i, p in enumerate(self.personas)]),
        ])
        return self


def personas_to_json(personas: Iterable[Persona]) -> dict[str, Any]:
    """A personas file's JSON."""
    return PersonasFile(format=PERSONAS_FORMAT, version=FORMAT_VERSION, personas=tuple(personas)).to_json()


def personas_from_json(data: object) -> dict[str, Persona]:
    """Personas by name, in file order, from a personas file's JSON."""
    return {p.name: p for p in PersonasFile.from_json(data).personas}


def load_personas(path: str | Path | None = None) -> dict[str, Persona]:
    """The personas of ``path`` (default ``fixtures/bank/personas.json``) by name, in file order."""
    return load(DEFAULT_PERSONAS if path is None else path, personas_from_json)


def save_personas(path: str | Path, personas: Iterable[Persona]) -> None:
    """Write a personas file atomically, after checking it loads back the same."""
    items = list(personas)
    data = personas_to_json(items)
    if list(personas_from_json(data).values()) != items:   # pragma: no cover - a bug in to_json/from_json
        raise AssertionError("personas do not survive their own JSON")
    write_atomic(path, data)


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
