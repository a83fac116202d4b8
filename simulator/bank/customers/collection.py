"""The bank's customers as one set: id numbers and account numbers unique across
it; its file, and adding customers to a file all or nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import model_validator

from simulator.bank.customers.errors import CustomerDataError, CustomerDataModel, UnknownCustomerError, said
from simulator.bank.customers.files import CUSTOMERS_FORMAT, FORMAT_VERSION, load, write_atomic
from simulator.bank.customers.model import Company, Customer, Person
from simulator.schema import Loc, field_path, model, refuse


def clashes(entries: Sequence[tuple[Loc, Customer]]) -> Iterator[tuple[Loc, str]]:
    """Customers (each at its path) that repeat an earlier one's id number or account number."""
    seen_ids: dict[str, str] = {}
    seen_accounts: dict[str, str] = {}
    for loc, customer in entries:
        path = field_path(loc)
        first = seen_ids.setdefault(customer.id_number, path)
        if first != path:
            yield (*loc, customer.id_field), said(
                f"{customer.id_label}與 {first} 重複",
                f"the same id number as {first}",
            )
        for index, account in enumerate(customer.accounts):
            where = f"{path}.accounts[{index}]"
            owner = seen_accounts.setdefault(account.number, where)
            if owner != where:
                yield (*loc, "accounts", index, "number"), said(
                    f"帳號與 {owner} 重複", f"the same account number as {owner}"
                )


@model
class CustomerSet(CustomerDataModel):
    """The bank's customers, in order: id numbers unique (so holder ids and
    CNs are too), account numbers unique across the bank."""

    customers: tuple[Customer, ...]

    @model_validator(mode="after")
    def _no_clashes(self) -> Self:
        refuse(clashes([(("customers", i), c) for i, c in enumerate(self.customers)]))
        return self

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
        """A customers file's JSON."""
        return CustomersFile(CUSTOMERS_FORMAT, FORMAT_VERSION, self.customers).to_json()

    @classmethod
    def from_json(cls, data: object) -> Self:
        """The set of a customers file's JSON."""
        return cls(CustomersFile.from_json(data).customers)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a customers file; :class:`CustomerDataError` names the file and the field paths."""
        return load(path, cls.from_json)

    def save(self, path: str | Path) -> None:
        """Write this set to ``path`` atomically: the file holds the old content or the new, whole."""
        data = self.to_json()
        if CustomerSet.from_json(data) != self:   # pragma: no cover - a bug in to_json/from_json
            raise AssertionError("customer set does not survive its own JSON")
        write_atomic(path, data)


@model
class CustomersFile(CustomerDataModel):
    """A customers file: its format and version, and the customers (a :class:`CustomerSet`'s)."""

    format: Literal["fxmlsim-bank-customers"]
    version: Literal[1]
    customers: tuple[Customer, ...]


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
