"""Opening the bank's state folder: its store, seeded with the personas on first start."""

from __future__ import annotations

from pathlib import Path

from fxml.clock import Clock
from simulator.bank.auth import Logins, password_hasher
from simulator.bank.customers import Customer, persona_customers
from simulator.bank.officers import Officer, load_officers
from simulator.bank.store import STORE_FILE, BankStore, BankStoreError


def open_bank(state_dir: Path, clock: Clock, *, hash_profile: str = "default", seed: bool = True,
              lock_after: int = 3) -> tuple[BankStore, Logins]:
    """The bank of ``state_dir`` (made if new, 0700) and its login service; a new bank
    gets the personas of fixtures/bank/personas.json and the officers of fixtures/bank/officers.json."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = BankStore(state / STORE_FILE)
    logins = Logins(store, clock, password_hasher(hash_profile), lock_after)
    try:
        if seed and store.count() == 0:
            for customer in persona_customers():
                add_customer(logins, customer)
        if seed and store.officer_count() == 0:  # a new bank, or one made before the officers (schema 1)
            for officer in load_officers():
                add_officer(logins, officer)
    except BaseException:
        store.close()
        raise
    return store, logins


def add_customer(logins: Logins, customer: Customer) -> None:
    """Store a customer, its users' passwords hashed with argon2."""
    hashes = {user.user_code: logins.hash(user.password) for user in customer.users}
    logins.store.add_customer(customer, hashes, logins.clock.now())


def add_officer(logins: Logins, officer: Officer) -> None:
    """Store a branch officer, the password hashed with argon2."""
    logins.store.add_officer(officer.branch.code, officer.branch.name, officer.officer_code, officer.name,
                             officer.role.value, logins.hash(officer.password))


__all__ = ["BankStoreError", "add_customer", "add_officer", "open_bank"]
