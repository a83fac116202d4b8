"""Opening the bank's state folder: its store, seeded with the personas on first start."""

from __future__ import annotations

from pathlib import Path

from fxml.clock import Clock
from simulator.bank.auth import Logins, password_hasher
from simulator.bank.customers import Customer, persona_customers
from simulator.bank.store import STORE_FILE, BankStore, BankStoreError


def open_bank(state_dir: Path, clock: Clock, *, hash_profile: str = "default", seed: bool = True,
              lock_after: int = 3) -> tuple[BankStore, Logins]:
    """The bank of ``state_dir`` (made if new, 0700) and its login service; a new bank
    gets the personas of fixtures/bank/personas.json."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = BankStore(state / STORE_FILE)
    logins = Logins(store, clock, password_hasher(hash_profile), lock_after)
    if seed and store.count() == 0:
        try:
            for customer in persona_customers():
                add_customer(logins, customer)
        except BaseException:
            store.close()
            raise
    return store, logins


def add_customer(logins: Logins, customer: Customer) -> None:
    """Store a customer, its users' passwords hashed with argon2."""
    hashes = {user.user_code: logins.hash(user.password) for user in customer.users}
    logins.store.add_customer(customer, hashes, logins.clock.now())


__all__ = ["BankStoreError", "add_customer", "open_bank"]
