"""The bank's file (simulator/bank/store.py) across its schemas: a file of schema 1, 2 or 3 opens and
is upgraded in place to schema 4, whose nonces of the platform's API expire at a Unix time (schema 2
kept ISO texts, which do not compare as instants when their UTC offsets differ) and whose lockout
is a table of its own (schema 3 kept a count and a lock in each user's and officer's row: they
become the shared records of ``lockouts``); nothing else in the file changes; a file of a schema
this fxmlsim does not know is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from fxml import env
from fxml.clock import FixedClock
from simulator.bank.auth import Logins, password_hasher
from simulator.bank.customers import persona, persona_customers
from simulator.bank.officers import load_officers
from simulator.bank.service import open_bank
from simulator.bank.store import ANY_CLIENT, SCHEMA_VERSION, STORE_FILE, TABLES, BankStore, BankStoreError, Realm
from tests.support.bank import NOW, seeded_bank

#: Tables schema 2 added to schema 1.
STEP_9 = ("officers", "faxes", "filings", "bindings", "renewal_notices", "transfers", "api_nonces")
#: Tables schema 4 added to schema 3.
LOCKOUT = ("lockouts", "devices")


def raw_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table there is, read without BankStore (which would upgrade the file)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in names}  # noqa: S608
    finally:
        conn.close()


def expires_type(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT type FROM pragma_table_info('api_nonces') WHERE name = 'expires'")
                   .fetchone()[0])
    finally:
        conn.close()


def as_schema(path: Path, version: str, nonces: Sequence[tuple[str, str]] = (),
              counts: Sequence[tuple[str, str, str, int, str | None]] = ()) -> None:
    """Turn a bank file of this fxmlsim into one of an older schema: schema 3's lockout in the
    accounts' rows (``failed_logins`` and ``locked_at`` added last; ``counts``: table, owner, code,
    count, lock), schema 2's ``api_nonces`` (ISO text expiries, ``nonces``), or schema 1 (none of
    the tables of step 9 and the transfers)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for table in LOCKOUT:
            conn.execute(f"DROP TABLE {table}")
        for table in ("users", "officers"):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0")
            conn.execute(f"ALTER TABLE {table} ADD COLUMN locked_at TEXT")
        for table, owner, code, failed, locked in counts:
            key = ("id_number", "user_code_key") if table == "users" else ("branch_code", "officer_code_key")
            conn.execute(f"UPDATE {table} SET failed_logins = ?, locked_at = ? WHERE {key[0]} = ?"  # noqa: S608
                         f" AND {key[1]} = ?", (failed, locked, owner, code.upper()))
        if version == "1":
            for table in STEP_9:
                conn.execute(f"DROP TABLE {table}")
        elif version == "2":
            conn.execute("DROP TABLE api_nonces")
            conn.execute("CREATE TABLE api_nonces (nonce TEXT PRIMARY KEY, expires TEXT NOT NULL)")
            conn.executemany("INSERT INTO api_nonces(nonce, expires) VALUES (?, ?)", nonces)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (version,))
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def bank_file(tmp_path: Path) -> Path:
    seeded_bank(tmp_path, NOW)
    return tmp_path / STORE_FILE


def columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def test_a_new_bank_is_of_schema_4_with_nonces_expiring_at_a_unix_time(bank_file: Path) -> None:
    assert SCHEMA_VERSION == 4
    assert raw_dump(bank_file)["meta"] == [("schema", "4")]
    assert expires_type(bank_file) == "INTEGER"
    assert "failed_logins" not in columns(bank_file, "users") and "locked_at" not in columns(bank_file, "officers")
    assert raw_dump(bank_file)["lockouts"] == [] and raw_dump(bank_file)["devices"] == []


def without_lockout_columns(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of ``users`` or ``officers`` made by :func:`as_schema` without the two columns it added last."""
    return [r[:-2] for r in rows]


def test_a_schema_3_file_opens_with_its_counts_and_locks_in_lockouts(bank_file: Path) -> None:
    """A user locked and one counting, an officer counting: their records become the shared ones
    (every client without a device) of their codes, the columns go, the lock still holds."""
    person, eoi = persona("person").customer, persona("eoi").customer
    officer = load_officers()[0]
    at = NOW.isoformat()
    as_schema(bank_file, "3", counts=[("users", person.id_number, person.users[0].user_code, 3, at),
                                      ("users", eoi.id_number, eoi.users[1].user_code, 1, None),
                                      ("officers", officer.branch.code, officer.officer_code, 2, None)])
    before = raw_dump(bank_file)
    store, logins = open_bank(bank_file.parent, FixedClock(NOW), hash_profile="cheapest")
    try:
        after = store.dump()
        assert after["meta"] == [("schema", "4")]
        assert sorted(after["lockouts"]) == sorted([
            ("user", person.id_number, person.users[0].user_code.upper(), ANY_CLIENT, 3, at),
            ("user", eoi.id_number, eoi.users[1].user_code.upper(), ANY_CLIENT, 1, None),
            ("officer", officer.branch.code, officer.officer_code.upper(), ANY_CLIENT, 2, None)])
        for table in ("users", "officers"):
            assert after[table] == without_lockout_columns(before[table])
            assert "failed_logins" not in columns(bank_file, table)
        assert {t: after[t] for t in TABLES if t not in ("meta", "users", "officers", *LOCKOUT)} == \
            {t: before[t] for t in TABLES if t not in ("meta", "users", "officers", *LOCKOUT)}
        row = store.user(person.id_number, person.users[0].user_code)
        assert row is not None and row.locked and row.failed_logins == 3
        assert store.reserve(Realm.USER, person.id_number, person.users[0].user_code, ANY_CLIENT, 3, NOW) is None
        assert logins.lock_after == 3
    finally:
        store.close()


def test_a_schema_2_file_opens_and_its_nonces_are_converted_to_unix_time(bank_file: Path) -> None:
    kept = NOW + timedelta(seconds=100)                      # written by a clock in +08:00
    also = (NOW + timedelta(seconds=30)).astimezone(UTC)     # written by a clock in UTC
    gone = NOW - timedelta(seconds=5)
    as_schema(bank_file, "2", [("a" * 32, kept.isoformat()), ("b" * 32, also.isoformat()),
                               ("c" * 32, gone.isoformat()), ("d" * 32, "not a time")])
    before = raw_dump(bank_file)
    before.update({t: without_lockout_columns(before[t]) for t in ("users", "officers")})
    store = BankStore(bank_file)
    try:
        after = store.dump()
        assert after["meta"] == [("schema", "4")]
        assert after["api_nonces"] == [("a" * 32, int(kept.timestamp())), ("b" * 32, int(also.timestamp())),
                                       ("c" * 32, int(gone.timestamp()))]
        assert {t: rows for t, rows in after.items() if t not in ("meta", "api_nonces", *LOCKOUT)} == \
            {t: rows for t, rows in before.items() if t in TABLES and t not in ("meta", "api_nonces", *LOCKOUT)}
        assert all(after[t] == [] for t in LOCKOUT)
        assert expires_type(bank_file) == "INTEGER"
        # The converted nonces still stop replays, and expire at their instant.
        now = (NOW + timedelta(seconds=1)).astimezone(UTC)
        assert not store.first_use_nonce("a" * 32, now + timedelta(seconds=120), now)
        assert not store.first_use_nonce("b" * 32, now + timedelta(seconds=120), now)
        assert [n for n, _ in store.dump()["api_nonces"]] == ["a" * 32, "b" * 32]  # c was swept
    finally:
        store.close()
    again = BankStore(bank_file)  # opening an upgraded file changes nothing
    try:
        assert again.dump()["meta"] == [("schema", "4")] and len(again.dump()["api_nonces"]) == 2
    finally:
        again.close()


def test_a_schema_1_file_opens_with_the_tables_of_schema_4(bank_file: Path) -> None:
    as_schema(bank_file, "1")
    before = raw_dump(bank_file)
    assert "api_nonces" not in before
    store = BankStore(bank_file)
    try:
        after = store.dump()
        assert after["meta"] == [("schema", "4")] and all(after[t] == [] for t in (*STEP_9, *LOCKOUT))
        assert {t: after[t] for t in ("customers", "audit")} == {t: before[t] for t in ("customers", "audit")}
        assert after["users"] == without_lockout_columns(before["users"])
        assert expires_type(bank_file) == "INTEGER"
    finally:
        store.close()


def test_a_file_of_an_unknown_schema_is_refused_and_left_alone(bank_file: Path) -> None:
    conn = sqlite3.connect(bank_file)
    with conn:
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema'")
    conn.close()
    before = raw_dump(bank_file)
    with pytest.raises(BankStoreError, match="schema 5, this fxmlsim reads 4"):
        BankStore(bank_file)
    assert raw_dump(bank_file) == before


def test_customers_are_listed_by_the_instant_they_were_added_whatever_the_utc_offset(tmp_path: Path) -> None:
    store = BankStore(tmp_path / STORE_FILE)
    try:
        made = [(persona("person").customer, NOW),                                 # 10:00:00+08:00
                (persona("eoi").customer, (NOW + timedelta(minutes=1)).astimezone(UTC)),  # 02:01:00+00:00
                (persona("corporate-2").customer, NOW - timedelta(minutes=1))]     # 09:59:00+08:00, added last
        for customer, at in made:
            store.add_customer(customer, {u.user_code: "$argon2id$not-a-hash" for u in customer.users}, at)
        assert [c.id_number for c in store.customers()] == [made[2][0].id_number, made[0][0].id_number,
                                                            made[1][0].id_number]
    finally:
        store.close()


# -- seeding: the personas and the officers, whatever cut a start short ----------------------------------------
def officer_rows(dump: dict[str, list[tuple[Any, ...]]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(r[0], r[3]): r for r in dump["officers"]}


def test_officers_missing_from_a_bank_are_added_at_the_next_open_and_the_others_left_alone(
        bank_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file a start killed while seeding officers one by one left behind (three of nine, the
    third locked and with a password of its own since): the next open adds the six, in one go,
    and leaves the three (hash, count, lock, last login) and everything else as they were."""
    officers = load_officers()
    kept = officers[:3]
    hasher = password_hasher("cheapest")
    conn = sqlite3.connect(bank_file)
    with conn:
        for o in officers[3:]:
            conn.execute("DELETE FROM officers WHERE branch_code = ? AND officer_code_key = ?",
                         (o.branch.code, o.officer_code.upper()))
        conn.execute("UPDATE officers SET password_hash = ?, last_login_at = ? WHERE branch_code = ? AND"
                     " officer_code_key = ?", (hasher.hash("Changed99"), NOW.isoformat(), kept[2].branch.code,
                                               kept[2].officer_code.upper()))
        conn.execute("INSERT INTO lockouts(realm, owner, code_key, client, failed, locked_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     ("officer", kept[2].branch.code, kept[2].officer_code.upper(), ANY_CLIENT, 3, NOW.isoformat()))
    conn.close()
    before = BankStore(bank_file)
    try:
        old = before.dump()
    finally:
        before.close()
    assert len(old["officers"]) == 3
    store, _ = open_bank(bank_file.parent, FixedClock(NOW), hash_profile="cheapest")
    try:
        new = store.dump()
    finally:
        store.close()
    rows = officer_rows(new)
    assert set(rows) == {(o.branch.code, o.officer_code.upper()) for o in officers}
    for key, row in officer_rows(old).items():
        assert rows[key] == row  # its password, count, lock and last login untouched
    for o in officers[3:]:
        row = rows[(o.branch.code, o.officer_code.upper())]
        assert row[1:3] == (o.branch.name, o.officer_code) and row[4:6] == (o.name, o.role.value)
        assert hasher.verify(row[6], o.password) and row[7:] == (None,)  # never logged in
    assert {t: r for t, r in new.items() if t != "officers"} == {t: r for t, r in old.items() if t != "officers"}
    # A complete bank: the next open adds nothing, and hashes nothing.
    monkeypatch.setattr(Logins, "hash", lambda *_: pytest.fail("a complete bank hashed a password"))
    store, _ = open_bank(bank_file.parent, FixedClock(NOW), hash_profile="cheapest")
    try:
        assert store.dump() == new
    finally:
        store.close()


def persona_user_count() -> int:
    return sum(len(c.users) for c in persona_customers())


@pytest.mark.parametrize("where", ["hashing customers", "storing customers", "hashing officers"])
def test_a_start_killed_while_seeding_leaves_no_half_seeded_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 where: str) -> None:
    """Killed (KeyboardInterrupt stands for it) while the personas' passwords are hashed, while they
    are stored, or while the officers' are hashed: the file holds all of a kind or none of it, and
    the next open makes the same bank as a start that was never interrupted."""
    real_hash, real_insert, calls = Logins.hash, BankStore._insert_customer, [0]
    kill_hash_at = {"hashing customers": 3, "hashing officers": persona_user_count() + 3}.get(where)

    def killed_hash(self: Logins, password: str) -> str:
        calls[0] += 1
        if calls[0] == kill_hash_at:
            raise KeyboardInterrupt
        return real_hash(self, password)

    def killed_insert(self: BankStore, *args: Any) -> None:
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt
        real_insert(self, *args)

    monkeypatch.setenv(env.HASH_CACHE, "off")  # every password hashed here, none from the cache
    if where == "storing customers":
        monkeypatch.setattr(BankStore, "_insert_customer", killed_insert)
    else:
        monkeypatch.setattr(Logins, "hash", killed_hash)
    state = tmp_path / "bank"
    with pytest.raises(KeyboardInterrupt):
        open_bank(state, FixedClock(NOW), hash_profile="cheapest")
    monkeypatch.undo()
    left = BankStore(state / STORE_FILE)
    try:
        assert left.count() == (len(persona_customers()) if where == "hashing officers" else 0)
        assert left.officer_count() == 0
        assert left.dump()["users"] == [] or where == "hashing officers"
    finally:
        left.close()
    store, _ = open_bank(state, FixedClock(NOW), hash_profile="cheapest")
    seeded_bank(tmp_path / "clean", NOW)
    clean = BankStore(tmp_path / "clean" / STORE_FILE)
    try:
        got, want = store.dump(), clean.dump()
        assert [c.id_number for c in store.customers()] == [c.id_number for c in clean.customers()]
        assert set(officer_rows(got)) == set(officer_rows(want)) and len(got["officers"]) == len(load_officers())
        # Equal but for the salts of the password hashes.
        assert [r[:4] + r[5:] for r in got["users"]] == [r[:4] + r[5:] for r in want["users"]]
        assert got["customers"] == want["customers"]
    finally:
        store.close()
        clean.close()
