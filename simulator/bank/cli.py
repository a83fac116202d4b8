"""``fxmlsim bank ...``: the bank's customers from the command line.

::

    fxmlsim bank list [--json]                      # every customer, one line each
    fxmlsim bank show ID [--json]                   # one customer, its users' login state
    fxmlsim bank create [--kind KIND] [--count N] [--seed S] [--persona NAME]
    fxmlsim bank unlock ID USER_CODE                # what the branch does for a locked user
    fxmlsim bank unlock-officer BRANCH OFFICER_CODE # the same for a branch officer (分行經辦)
    fxmlsim bank inbox BRANCH                       # the faxed proof sheets in a branch's inbox

Works on the bank's file in the home (``<home>/bank/bank.sqlite3``), whether
the stack runs or not. ``create`` prints each new customer's logins with the
clear passwords once (they are test data; the bank keeps only argon2 hashes).
KIND is one of ``person``, ``corporate-2``, ``corporate-3``, ``corporate-4``,
``eoi``, ``shared``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxml.platform.tickets import System
from simulator.errors import SimulatorError

if TYPE_CHECKING:  # the bank's modules are imported by the commands that use them: every fxmlsim command
    # builds this parser, and the bank's customers model costs half a second to import
    from simulator.bank.customers import Customer
    from simulator.bank.store import BankStore

EXIT_REFUSED = 1


class BankCliError(SimulatorError):
    """A request of ``fxmlsim bank`` that names nothing the bank has."""
KINDS: dict[str, tuple[System, int | None, bool]] = {
    "corporate-2": (System.CORPORATE, 2, False),
    "corporate-3": (System.CORPORATE, 3, False),
    "corporate-4": (System.CORPORATE, 4, False),
    "eoi": (System.EOI, None, False),
    "shared": (System.EOI, None, True),
}


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    state_dir: Callable[[argparse.Namespace], Path],
) -> None:
    """Add the ``bank`` command group; ``state_dir`` gives the bank's folder (the home's ``bank/``)."""
    bank = subparsers.add_parser("bank", help="the bank's customers (個人網路銀行, 企業網路銀行, EOI 系統)")
    bank.set_defaults(bank_dir=state_dir)
    sub = bank.add_subparsers(dest="bank_command", required=True, metavar="BANK_COMMAND")
    p = sub.add_parser("list", help="every customer, one line each")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_command(cmd_list))
    p = sub.add_parser("show", help="one customer and its users' login state (no passwords)")
    p.add_argument("id_number", help="身分證字號 or 統一編號")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_command(cmd_show))
    p = sub.add_parser("create", help="add generated customers (faker zh_TW) or a persona")
    p.add_argument("--kind", choices=["person", *KINDS], default="person")
    p.add_argument("--count", type=_positive, default=1)
    p.add_argument("--seed", type=int, help="the same seed gives the same customers (default: random)")
    p.add_argument("--persona", help="add the named persona of fixtures/bank/personas.json instead")
    p.set_defaults(func=_command(cmd_create))
    p = sub.add_parser("unlock", help="reset every count of wrong passwords of a user code (every browser)")
    p.add_argument("id_number")
    p.add_argument("user_code")
    p.set_defaults(func=_command(cmd_unlock))
    p = sub.add_parser("unlock-officer", help="the same for a branch officer (分行經辦)")
    p.add_argument("branch_code")
    p.add_argument("officer_code")
    p.set_defaults(func=_command(cmd_unlock_officer))
    p = sub.add_parser("inbox", help="the proof sheets faxed to a branch (step 9)")
    p.add_argument("branch_code")
    p.set_defaults(func=_command(cmd_inbox))


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text}: give 1 to 10000")
    return value


def _command(body: Callable[[argparse.Namespace, BankStore, Any], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from fxml.clock import from_env
        from simulator.bank.service import open_bank

        try:
            store, logins = open_bank(args.bank_dir(args), from_env())
        except (SimulatorError, OSError, ValueError) as exc:
            print(f"fxmlsim bank: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        try:
            return body(args, store, logins)
        except (SimulatorError, ValueError) as exc:
            print(f"fxmlsim bank: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        finally:
            store.close()

    run.__name__ = body.__name__
    return run


def _row(customer: Customer) -> str:
    from simulator.bank.customers import Company

    kind = customer.system.label
    if isinstance(customer, Company) and customer.customer_type is not None:
        kind += f" 客戶別 {customer.customer_type}"
    users = ",".join(u.user_code for u in customer.users)
    return f"{customer.id_number}\t{kind}\t{customer.name}\t{users}\t{customer.branch.display}"


def _public(customer: Customer) -> dict[str, Any]:
    data = customer.to_json()
    for user in data.get("users", []):
        user.pop("password", None)
    return data


def cmd_list(args: argparse.Namespace, store: BankStore, logins: Any) -> int:
    customers = store.customers()
    if args.json:
        print(json.dumps([_public(c) for c in customers], ensure_ascii=False, indent=1))
    else:
        for customer in customers:
            print(_row(customer))
    return 0


def cmd_show(args: argparse.Namespace, store: BankStore, logins: Any) -> int:
    customer = store.customer(args.id_number)
    if customer is None:
        raise BankCliError(f"查無此客戶：{args.id_number}")
    data = _public(customer)
    for user in data.get("users", []):
        row = store.user(customer.id_number, user["user_code"])
        if row is not None:
            user["failed_logins"] = row.failed_logins
            user["locked_at"] = row.locked_at
            user["last_login_at"] = row.last_login_at
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    print(_row(customer))
    for user in data.get("users", []):
        state = "已暫停使用" if user.get("locked_at") else f"密碼錯誤 {user.get('failed_logins', 0)} 次"
        print(f"  {user['user_code']}\t{user['role']}\t{state}")
    return 0


def cmd_create(args: argparse.Namespace, store: BankStore, logins: Any) -> int:
    from simulator.bank.customers import CustomerGenerator, persona
    from simulator.bank.service import add_customer

    if args.persona:
        made = [persona(args.persona).customer]
    else:
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
        generator = CustomerGenerator(seed)
        if args.kind == "person":
            made = [generator.person() for _ in range(args.count)]
        else:
            system, kind, shared = KINDS[args.kind]
            made = [generator.company(system, kind, shared_certificate=shared) for _ in range(args.count)]
    for customer in made:
        add_customer(logins, customer)
        print(_row(customer))
        for user in customer.users:
            print(f"  {user.user_code}\t{user.password}")
    return 0


def cmd_unlock(args: argparse.Namespace, store: BankStore, logins: Any) -> int:
    if store.user(args.id_number, args.user_code) is None:
        raise BankCliError(f"查無此使用者：{args.id_number} {args.user_code}")
    store.unlock(args.id_number, args.user_code)
    print(f"{args.id_number} {args.user_code}: 已解除暫停")
    return 0


def cmd_unlock_officer(args: argparse.Namespace, store: BankStore, logins: Any) -> int:
    if store.officer(args.branch_code, args.officer_code) is None:
        raise BankCliError(f"查無此分行經辦：{args.branch_code} {args.officer_code}")
    store.unlock_officer(args.branch_code, args.officer_code)
    print(f"{args.branch_code} {args.officer_code}: 已解除暫停")
    return 0


def cmd_inbox(args: argparse.Namespace, store: BankStore, logins: Any) -> int:
    rows = store.connection().execute(
        "SELECT f.id, f.received_at, f.id_number, f.customer_name, f.serial, g.filing_id FROM faxes f"
        " LEFT JOIN filings g ON g.serial = f.serial WHERE f.branch_code = ? ORDER BY f.id", (args.branch_code,),
    ).fetchall()
    for fax, received, id_number, name, serial, filing in rows:
        print(f"{fax}\t{received}\t{id_number}\t{name}\t{serial}\t{'已建檔 ' + filing if filing else '待處理'}")
    return 0
