"""The bank's file (simulator/bank/store.py) across its schemas: a file of schema 1 or 2 opens and is
upgraded in place to schema 3, whose nonces of the platform's API expire at a Unix time (schema 2
kept ISO texts, which do not compare as instants when their UTC offsets differ); nothing else in
the file changes; a file of a schema this fxmlsim does not know is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fxml.clock import TAIWAN
from simulator.bank.customers import persona
from simulator.bank.store import SCHEMA_VERSION, STORE_FILE, TABLES, BankStore, BankStoreError
from tests.support.bank import seeded_bank

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=TAIWAN)
#: Tables schema 2 added to schema 1.
STEP_9 = ("officers", "faxes", "filings", "bindings", "renewal_notices", "transfers", "api_nonces")


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


def as_schema(path: Path, version: str, nonces: Sequence[tuple[str, str]] = ()) -> None:
    """Turn a bank file of this fxmlsim into one of an older schema: schema 2's ``api_nonces`` (ISO
    text expiries, ``nonces``), or schema 1 (none of the tables of step 9 and the transfers)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        if version == "1":
            for table in STEP_9:
                conn.execute(f"DROP TABLE {table}")
        else:
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


def test_a_new_bank_is_of_schema_3_with_nonces_expiring_at_a_unix_time(bank_file: Path) -> None:
    assert SCHEMA_VERSION == 3
    assert raw_dump(bank_file)["meta"] == [("schema", "3")]
    assert expires_type(bank_file) == "INTEGER"


def test_a_schema_2_file_opens_and_its_nonces_are_converted_to_unix_time(bank_file: Path) -> None:
    kept = NOW + timedelta(seconds=100)                      # written by a clock in +08:00
    also = (NOW + timedelta(seconds=30)).astimezone(UTC)     # written by a clock in UTC
    gone = NOW - timedelta(seconds=5)
    as_schema(bank_file, "2", [("a" * 32, kept.isoformat()), ("b" * 32, also.isoformat()),
                               ("c" * 32, gone.isoformat()), ("d" * 32, "not a time")])
    before = raw_dump(bank_file)
    store = BankStore(bank_file)
    try:
        after = store.dump()
        assert after["meta"] == [("schema", "3")]
        assert after["api_nonces"] == [("a" * 32, int(kept.timestamp())), ("b" * 32, int(also.timestamp())),
                                       ("c" * 32, int(gone.timestamp()))]
        assert {t: rows for t, rows in after.items() if t not in ("meta", "api_nonces")} == \
            {t: rows for t, rows in before.items() if t in TABLES and t not in ("meta", "api_nonces")}
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
        assert again.dump()["meta"] == [("schema", "3")] and len(again.dump()["api_nonces"]) == 2
    finally:
        again.close()


def test_a_schema_1_file_opens_with_the_tables_of_schema_3(bank_file: Path) -> None:
    as_schema(bank_file, "1")
    before = raw_dump(bank_file)
    assert "api_nonces" not in before
    store = BankStore(bank_file)
    try:
        after = store.dump()
        assert after["meta"] == [("schema", "3")] and all(after[t] == [] for t in STEP_9)
        assert {t: after[t] for t in ("customers", "users", "audit")} == \
            {t: before[t] for t in ("customers", "users", "audit")}
        assert expires_type(bank_file) == "INTEGER"
    finally:
        store.close()


def test_a_file_of_an_unknown_schema_is_refused_and_left_alone(bank_file: Path) -> None:
    conn = sqlite3.connect(bank_file)
    with conn:
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    conn.close()
    before = raw_dump(bank_file)
    with pytest.raises(BankStoreError, match="schema 4, this fxmlsim reads 3"):
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
