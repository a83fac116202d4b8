"""The ``fxmlsim`` command: one ``main()`` that maps errors to exit codes.

Every command works on one *home* folder (``--home``, ``FXMLSIM_HOME``, or
``~/.fxmlsim``) that holds the card images (``cards/``), the CA's state
(``ca/``) and the running stack (``run/``). Two homes give two independent
stacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fxml import env
from simulator import home as home_mod
from simulator.bank.cli import register as register_bank
from simulator.pin_input import RefuseCodeOption, RefusePinOption, read_pin
from simulator.services import BANK, SERVICES

log = logging.getLogger(__name__)

#: Exceptions that carry a message meant for the user: print it, exit non-zero.
EXIT_USER_ERROR = 1
EXIT_USAGE = 2


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input or the machine's state, not a bug: the
    engine's root and the simulator's. Reported as one line, exit status 1."""
    from fxml.errors import FxmlError
    from simulator.errors import SimulatorError

    return (FxmlError, SimulatorError)


# -- stack --------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    if args.clock:
        from fxml.clock import parse as parse_clock

        parse_clock(args.clock)  # refuse a bad setting before anything starts
        os.environ[env.CLOCK] = args.clock
    ports = dict(args.port or [])
    if args.ca_port:
        ports["ca"] = args.ca_port
    started = home.up(readers=args.readers, trace=args.trace, ports=ports, reader_prefix=args.reader_prefix)
    for key, value in started.items():
        print(f"export {key}={value}")
    count = len(home.stack.readers())  # vpcd gives readers in pairs: 3 asked, 4 made
    print(f"fxmlsim: stack up in {home.run_dir} ({count} readers)", file=sys.stderr)
    for spec in SERVICES:
        print(f"fxmlsim: {spec.title}: {started[spec.url_env]}", file=sys.stderr)
    return 0


def _service_port(text: str) -> tuple[str, int]:
    name, sep, port = text.partition("=")
    names = [spec.name for spec in SERVICES]
    if not sep or name not in names or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: give SERVICE=PORT with SERVICE one of {', '.join(names)}")
    return name, int(port)


def cmd_doctor(args: argparse.Namespace) -> int:
    """One line per thing the Debian side must provide; exit 1 when something is missing."""
    from simulator.doctor import missing_packages, run_checks

    results = run_checks()
    for result in results:
        print(result.line())
    if all(result.ok for result in results):
        print("fxmlsim doctor: everything fxmlsim needs is there")
        return 0
    packages = missing_packages(results)
    if packages:
        print(f"fxmlsim doctor: all at once, as root: apt-get install {' '.join(packages)}")
    return EXIT_USER_ERROR


def cmd_down(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    stopped = home.down()
    print("fxmlsim: stopped" if stopped else "fxmlsim: nothing was running", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    print(json.dumps(home.status(), ensure_ascii=False, indent=2))
    return 0


# -- cards --------------------------------------------------------------------
def card_profile_path(text: str) -> Path:
    """A card profile: a file, or the name of one the package carries (``eoi-golden``: its
    ``fixtures/cards/eoi-golden.json``, there from an installed wheel too)."""
    from simulator.resources import CARD_PROFILES

    path = Path(text)
    packaged = CARD_PROFILES / f"{text}.json"
    if not path.exists() and home_mod.CARD_NAME.fullmatch(text) and packaged.is_file():
        return packaged
    return path


def cmd_card_create(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    path = home.create_card(card_profile_path(args.profile), name=args.name, replace=args.replace, blank=args.blank)
    print(path)
    return 0


def cmd_card_insert(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    reader = home.stack.insert(home.card_path(args.card), _reader_arg(args.reader))
    print(f"{reader['name']}\t{reader['card']}")
    return 0


def cmd_card_remove(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    which = _reader_arg(args.reader)
    if args.card is not None:
        if which is not None:
            raise home_mod.HomeError("give a card or --reader, not both")
        image = str(home.card_path(args.card))
        holding = [r for r in home.stack.readers() if r["card"] == image]
        if not holding:
            raise home_mod.HomeError(f"card {args.card!r} is in no reader")
        which = holding[0]["index"]
    reader = home.stack.remove(which)
    print(reader["name"])
    return 0


def cmd_card_list(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    inserted = {}
    if home.stack.running():
        inserted = {r["card"]: r["name"] for r in home.stack.readers() if r["card"]}
    for path in home.card_files():
        print(f"{path.stem}\t{inserted.pop(str(path), '-')}\t{path}")
    for card, reader in inserted.items():  # the null card, images from elsewhere
        print(f"{Path(card).stem if card != 'null' else card}\t{reader}\t{card}")
    return 0


def cmd_card_show(args: argparse.Namespace) -> int:
    home = home_mod.Home.from_args(args)
    print(json.dumps(home.describe_card(home.card_path(args.card)), ensure_ascii=False, indent=2))
    return 0


def _reader_arg(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


# -- demo ---------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from simulator.demo import run_demo

    home = home_mod.Home(args.home) if args.home else None  # default: a throw-away home
    return run_demo(home, wait=not args.no_wait)


def _running(home: home_mod.Home) -> dict[str, str]:
    """The URLs of the running stack's services (the CLI's environment gets its client settings)."""
    started = home.services()
    urls = {name: str(info.get("url")) for name, info in started.items() if isinstance(info, dict) and info.get("url")}
    if not all(urls.get(name) for name in ("ca", "platform", "bank")):
        raise home_mod.HomeError(f"no stack is running in {home.root} (fxmlsim up first)")
    os.environ.update(home.stack.client_env())
    return urls


def _customer_in_platform(args: argparse.Namespace, urls: dict[str, str]) -> Any:
    """The persona's customer, logged in with its user code (the one the manual sends) and in the platform."""
    from simulator.bank.customers import Company, persona
    from simulator.customer import Customer

    customer = persona(args.persona).customer
    designated = customer.designated_user() if isinstance(customer, Company) else None
    user_code = args.user or (designated or customer.users[0]).user_code
    who = Customer(customer, str(user_code), urls["bank"], urls["platform"])
    who.log_in()
    who.enter_platform()
    return who


def cmd_apply(args: argparse.Namespace) -> int:
    """憑證申請 for a persona, headless: the application goes to its 申辦分行."""
    from simulator.applying import apply

    urls = _running(home_mod.Home.from_args(args))
    applied = apply(_customer_in_platform(args, urls), args.cn_suffix, args.carrier, print)
    print(applied.application_id, file=sys.stderr)
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """A branch officer approves an application; the 授權碼 alone on standard output (the rest on stderr)."""
    from simulator.applying import Officer
    from simulator.bank.officers import load_officers

    urls = _running(home_mod.Home.from_args(args))
    found = [o for o in load_officers() if o.officer_code.upper() == args.officer.upper()
             and (args.branch is None or o.branch.code == args.branch)]
    if len(found) != 1:
        raise home_mod.HomeError(f"no officer {args.officer!r} in fixtures/bank/officers.json"
                                 + (" (give --branch)" if found else ""))
    officer = Officer(found[0], urls["bank"])
    officer.log_in()
    application = args.application
    if application is None:
        pending = officer.pending()
        if len(pending) != 1:
            listed = ", ".join(f"{n} ({cn})" for n, cn in pending) or "none"
            raise home_mod.HomeError(f"which application? give --application N; awaiting {found[0].branch.display}:"
                                     f" {listed}")
        application = pending[0][0]
    code, until = officer.approve(str(application))
    print(f"fxmlsim: {found[0].role.label} {found[0].name} approved application {application};"
          f" the 授權碼 may be used until {until}", file=sys.stderr)
    print(code)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """憑證下載 for a persona, headless: the 授權碼 and the PIN (never on the command line) onto the card."""
    from fxml.clock import from_env
    from simulator.applying import download
    from simulator.pin_input import read_code

    home = home_mod.Home.from_args(args)
    urls = _running(home)
    reader = _renew_reader(home, args)
    code = read_code(args.code_file)
    pin = read_pin(args.pin_file)
    who = _customer_in_platform(args, urls)
    download(who, code, reader, pin, urls["ca"], from_env(), print)
    return 0


def cmd_renew(args: argparse.Namespace) -> int:
    """A headless renewal for a persona and the card in a reader, through the running stack."""
    from fxml.clock import from_env
    from simulator.customer import print_proof, renew

    home = home_mod.Home.from_args(args)
    urls = _running(home)
    reader = _renew_reader(home, args)
    pin = read_pin(args.pin_file)
    who = _customer_in_platform(args, urls)
    print(f"步驟1、登入{who.system.title}，點選{who.system.platform_path}，進入憑證管理平台")
    done = renew(who, reader, pin, urls["ca"], from_env(), print)
    if args.proof:
        print_proof(who, done.new_serial, Path(args.proof), print)
    return 0


def _renew_reader(home: home_mod.Home, args: argparse.Namespace) -> str:
    readers = home.stack.readers()
    if args.reader is not None:
        for reader in readers:
            if args.reader in (str(reader["index"]), reader["name"]):
                return str(reader["name"])
        raise home_mod.HomeError(f"no reader {args.reader!r}")
    with_cards = [r for r in readers if r["card"]]
    if args.card:
        with_cards = [r for r in with_cards if Path(r["card"]).stem == args.card]
    if len(with_cards) != 1:
        raise home_mod.HomeError("which card? insert exactly one, or give --reader or --card"
                                 f" ({len(with_cards)} cards inserted)")
    return str(with_cards[0]["name"])


# -- the documents of a run of the features ----------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    """The features' report (HTML and PDF) from the last run's results."""
    from simulator.reporting.report import write_report

    reports = Path(args.reports)
    html = Path(args.out) if args.out else reports / "features.html"
    done = write_report(reports / "features.json", reports / "screenshots", html,
                        None if args.no_pdf else html.with_suffix(".pdf"))
    made = f"{done.html}" + (f" and {done.pdf}" if done.pdf else "")
    print(f"fxmlsim: the report of {done.scenarios} scenarios and {done.shots} screenshots: {made}"
          f" ({done.seconds:.1f} s)", file=sys.stderr)
    return 0


def cmd_manual(args: argparse.Namespace) -> int:
    """The living manual (HTML and PDF per path) from the last run's results; 1 if a path lacks a screen."""
    from simulator.reporting.manual import write_manual

    reports = Path(args.reports)
    done = write_manual(reports / "features.json", reports / "screenshots",
                        Path(args.out) if args.out else reports / "manual", pdf=not args.no_pdf)
    print(f"fxmlsim: the living manual, {len(done.documents)} documents in {done.folder}"
          f" ({done.seconds:.1f} s)", file=sys.stderr)
    for problem in done.problems:
        print(f"fxmlsim: {problem}", file=sys.stderr)
    return EXIT_USER_ERROR if done.problems else 0


def _add_stack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``up``, ``down``, ``status``: the private PC/SC stack and the services."""
    up = sub.add_parser("up", help="start the private PC/SC stack and the CA service")
    up.add_argument("--readers", type=int, default=8, help="number of virtual readers (default 8)")
    up.add_argument("--trace", action="store_true", help="log every APDU to run/apdu.log (secrets redacted)")
    up.add_argument("--clock", help="clock setting for every process: system | fixed:ISO | offset:S | file:PATH")
    up.add_argument("--port", action="append", type=_service_port, metavar="SERVICE=PORT",
                    help="loopback port of a service (default: any free port); repeatable")
    up.add_argument("--ca-port", type=int, default=0, help="the same as --port ca=PORT")
    up.add_argument(
        "--reader-prefix",
        help='reader names start with this instead of "fxmlsim TWCA Reader" (docs/card.md: ykcs11 2.2 needs "Yubico")',
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything 'up' started").set_defaults(func=cmd_down)
    doctor = sub.add_parser("doctor", help="check the Debian side fxmlsim needs; apt-get commands for what is missing")
    doctor.set_defaults(func=cmd_doctor)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)


def _add_cards(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``card create|insert|remove|list|show``: the virtual TWCA chip cards."""
    card = sub.add_parser("card", help="virtual TWCA chip cards").add_subparsers(
        dest="card_command", required=True, metavar="CARD_COMMAND"
    )
    create = card.add_parser("create", help="make a card image from a profile (a JSON file like fixtures/cards')")
    create.add_argument("profile", help="a profile's file, or the name of one of fixtures/cards (eoi-golden, ...)")
    create.add_argument("--name", help="card name (default: the profile's file name)")
    create.add_argument("--replace", action="store_true", help="overwrite an existing card of that name")
    create.add_argument("--blank", action="store_true",
                        help="a blank card: the profile's holder, PIN and keys' access, no key and no certificate "
                             "(for 憑證下載; fixtures/cards/personal-blank.json is one)")
    create.set_defaults(func=cmd_card_create)
    insert = card.add_parser("insert", help="insert a card into a reader; returns once pcscd sees it")
    insert.add_argument("card", help="card name, image path, or 'null' (a card that answers 9000)")
    insert.add_argument("--reader", help="reader index or name (default: the first empty reader)")
    insert.set_defaults(func=cmd_card_insert)
    remove = card.add_parser("remove", help="remove a card; returns once pcscd sees the reader empty")
    remove.add_argument("card", nargs="?", help="the card's name or image (default: the card in --reader)")
    remove.add_argument("--reader", help="reader index or name (default: the first reader with a card)")
    remove.set_defaults(func=cmd_card_remove)
    card.add_parser("list", help="card images and the readers they are in").set_defaults(func=cmd_card_list)
    show = card.add_parser("show", help="what a card holds (no secrets)")
    show.add_argument("card")
    show.set_defaults(func=cmd_card_show)


def _add_apply_download(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``apply``, ``approve``, ``download``: 憑證申請, the branch's approval, 憑證下載 (beyond the manual)."""
    apply = sub.add_parser("apply", help="憑證申請 as a persona, headless: the application goes to its 申辦分行")
    apply.add_argument("--persona", required=True, help="a persona of fixtures/bank/personas.json (name or title)")
    apply.add_argument("--user", help="its user code (default: the one the manual sends to the platform)")
    apply.add_argument("--cn-suffix", required=True, help="the certificate's name: its Common Name's last part")
    apply.add_argument("--carrier", choices=("大卡", "小卡"), default="大卡", help="憑證儲存媒體 (default 大卡)")
    apply.set_defaults(func=cmd_apply)
    approve = sub.add_parser("approve", help="a branch officer approves an application: prints the 授權碼")
    approve.add_argument("--officer", required=True, help="the officer's 員工代號 (fixtures/bank/officers.json)")
    approve.add_argument("--branch", help="the officer's branch code, when the code is not unique")
    approve.add_argument("--application", help="the application's number at the branch (default: the one awaiting)")
    approve.set_defaults(func=cmd_approve)
    download = sub.add_parser("download", help="憑證下載 as a persona, headless, with the 授權碼, onto the card")
    download.add_argument("--persona", required=True, help="a persona of fixtures/bank/personas.json (name or title)")
    download.add_argument("--user", help="its user code (default: the one the manual sends to the platform)")
    download.add_argument("--reader", help="reader index or name (default: the one reader with a card)")
    download.add_argument("--card", help="the card's name (picks its reader)")
    download.add_argument("--code-file", metavar="FILE",
                          help="read the 授權碼 from this file's first line ('-': standard input; default: the "
                               "terminal, else standard input's first line, before the PIN's)")
    download.add_argument("--code", nargs="?", action=RefuseCodeOption, help=argparse.SUPPRESS)
    download.add_argument("--pin-file", metavar="FILE",
                          help=f"read the 憑證載具密碼 from this file ('-': standard input; default: ${env.PIN_FILE}, "
                               "else the terminal, else standard input)")
    download.add_argument("--pin", nargs="?", action=RefusePinOption, help=argparse.SUPPRESS)
    download.set_defaults(func=cmd_download)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fxmlsim",
        description="Virtual TWCA chip cards, a simulated TWCA CA and the FXML renewal harness.",
    )
    parser.add_argument("--home", type=Path, help="state folder (default: $FXMLSIM_HOME or ~/.fxmlsim)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_stack(sub)
    _add_cards(sub)

    try:
        from simulator.ca.cli import register as register_ca
    except ImportError:
        pass
    else:
        register_ca(sub, lambda args: home_mod.Home.from_args(args).ca_dir)
    register_bank(sub, lambda args: home_mod.Home.from_args(args).root / str(BANK.state_dir))

    demo = sub.add_parser("demo", help="the whole stack; a customer renews a card and prints the proof sheet")
    demo.add_argument("--no-wait", action="store_true", help="exit when done (default: leave it up for a browser)")
    demo.set_defaults(func=cmd_demo)

    renew = sub.add_parser("renew", help="renew the certificate on a card, headless, as a persona (steps 1-7)")
    renew.add_argument("--persona", required=True, help="a persona of fixtures/bank/personas.json (name or title)")
    renew.add_argument("--user", help="its user code (default: the one the manual sends to the platform)")
    renew.add_argument("--reader", help="reader index or name (default: the one reader with a card)")
    renew.add_argument("--card", help="the card's name (picks its reader)")
    renew.add_argument("--pin-file", metavar="FILE",
                       help="read the 憑證載具密碼 from this file's first line ('-': standard input; default: "
                            f"${env.PIN_FILE}, else the terminal, else standard input)")
    renew.add_argument("--pin", nargs="?", action=RefusePinOption, help=argparse.SUPPRESS)
    renew.add_argument("--proof", help="also print the 憑證證明單 (step 8) to this PDF file")
    renew.set_defaults(func=cmd_renew)
    _add_apply_download(sub)

    for name, func, what in (
        ("report", cmd_report, "the features' report for the bank's staff (HTML and PDF) from the last run"),
        ("manual", cmd_manual, "the living manual: the bank's procedure with the golden run's screens, per path"),
    ):
        doc = sub.add_parser(name, help=what)
        doc.add_argument("--reports", default="reports",
                         help="the run's folder: features.json and screenshots/ (default: reports)")
        doc.add_argument("--out", help="where to write (default: reports/features.html, reports/manual/)")
        doc.add_argument("--no-pdf", action="store_true", help="HTML only")
        doc.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, 5), format="%(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    # Everything fxmlsim writes (card images, keys, the CA's registry, the
    # stack's sockets and logs) is its owner's alone.
    umask = os.umask(0o077)
    try:
        return func(args)
    except _user_errors() as exc:
        print(f"fxmlsim: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        # The machine's state, not a bug: a path that is a file, a read-only or
        # virtual file system, a name too long. One line: the path and the reason.
        log.debug("%s failed", args.command, exc_info=True)
        print(f"fxmlsim: {_os_error(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


if __name__ == "__main__":
    sys.exit(main())
