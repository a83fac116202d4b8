"""The running bank's records, as the steps read them (its SQLite file; never through its pages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from behave.runner import Context

from simulator.bank.store import STORE_FILE, BankStore
from simulator.home import Home
from simulator.services import BANK


@contextmanager
def bank_store(context: Context) -> Iterator[BankStore]:
    home: Home = context.home
    store = BankStore(home.root / str(BANK.state_dir) / STORE_FILE)
    try:
        yield store
    finally:
        store.close()


def bank_dump(context: Context) -> dict[str, list[tuple[Any, ...]]]:
    with bank_store(context) as store:
        return store.dump()


def remember_bank(context: Context) -> None:
    """Keep the bank's records as they are before an action the bank may refuse."""
    context.bank_before = bank_dump(context)


def as_customer(context: Context) -> Any:
    """The customer's page (the scenario's own browser), after a step acted in another."""
    page = getattr(context, "customer_page", None)
    if page is not None:
        context.page = page
    return context.page
