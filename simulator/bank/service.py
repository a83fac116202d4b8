"""Opening the bank's state folder: its store, seeded with the personas on first start and with
the officers it lacks on every start."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fxml.clock import Clock
from simulator.bank import hashcache
from simulator.bank.auth import Logins, password_hasher
from simulator.bank.customers import Customer, persona_customers
from simulator.bank.officers import Officer, load_officers
from simulator.bank.store import STORE_FILE, BankStore, BankStoreError


def open_bank(state_dir: Path, clock: Clock, *, hash_profile: str = "default", seed: bool = True,
              lock_after: int = 3) -> tuple[BankStore, Logins]:
    """The bank of ``state_dir`` (made if new, 0700) and its login service; a bank without
    customers gets the personas of fixtures/bank/personas.json (in one transaction), and every
    open adds the officers of fixtures/bank/officers.json the bank lacks (never changing one it has)."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = BankStore(state / STORE_FILE)
    logins = Logins(store, clock, password_hasher(hash_profile), lock_after)
    try:
        if seed and store.count() == 0:
            seed_customers(logins, persona_customers())
        if seed:  # a new bank, one made before the officers (schema 1), one whose seeding was cut short
            add_missing_officers(logins, load_officers())
    except BaseException:
        store.close()
        raise
    return store, logins


def add_customer(logins: Logins, customer: Customer) -> None:
    """Store a customer, its users' passwords hashed with argon2."""
    hashes = {user.user_code: logins.hash(user.password) for user in customer.users}
    logins.store.add_customer(customer, hashes, logins.clock.now())


def seed_customers(logins: Logins, customers: Iterable[Customer]) -> bool:
    """Store customers in a bank that has none, in one transaction (all or none), their users'
    passwords hashed with argon2 first: a process killed while seeding leaves a bank with no
    customer, seeded again at the next start. False if the bank had customers (nothing added)."""
    customers = list(customers)
    # The fixtures' passwords: their hashes come from the cache of earlier banks (hashcache).
    known = hashcache.hashes(logins.hasher, (user.password for c in customers for user in c.users), logins.hash)
    entries = [(customer, {user.user_code: known[user.password] for user in customer.users})
               for customer in customers]
    return logins.store.add_customers(entries, logins.clock.now(), if_empty=True)


def add_missing_officers(logins: Logins, officers: Iterable[Officer]) -> int:
    """Store, in one transaction, each officer the bank does not have yet (by branch and officer
    code), the password hashed with argon2 (only theirs: an open of a complete bank hashes
    nothing); an officer already stored keeps its password and its lock. How many were added."""
    have = logins.store.officer_keys()
    missing = [o for o in officers if (o.branch.code, o.officer_code.upper()) not in have]
    if not missing:
        return 0
    # Hashed before the transaction: argon2 is slow, and the file's write lock is not held meanwhile.
    known = hashcache.hashes(logins.hasher, (o.password for o in missing), logins.hash)
    rows = [(o.branch.code, o.branch.name, o.officer_code, o.name, o.role.value, known[o.password])
            for o in missing]
    return logins.store.add_missing_officers(rows)


def add_officer(logins: Logins, officer: Officer) -> None:
    """Store a branch officer, the password hashed with argon2."""
    logins.store.add_officer(officer.branch.code, officer.branch.name, officer.officer_code, officer.name,
                             officer.role.value, logins.hash(officer.password))


__all__ = ["BankStoreError", "add_customer", "add_missing_officers", "add_officer", "open_bank",
           "seed_customers"]
