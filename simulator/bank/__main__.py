"""``python -m simulator.bank serve``: the bank's three systems on a loopback port.

::

    python -m simulator.bank serve --state-dir DIR [--ticket-key FILE] [--platform-url URL]
                                   [--host 127.0.0.1] [--port 0] [--hash-profile default|cheapest]

Prints ``READY <url>`` once it listens. A new state folder gets the personas
(fixtures/bank/personas.json) and the branches' officers (fixtures/bank/officers.json).
The platform's URL comes from ``FXMLSIM_PLATFORM_URL`` unless given, the ticket
key from ``FXMLSIM_TICKET_KEY_FILE``, the clock from ``FXMLSIM_CLOCK``, the CA
(transfers, 憑證展期建檔) from ``FXMLSIM_CA_URL``, the card agent the transfer
pages sign through from ``FXMLSIM_AGENT_URL``, the CA's admin token (the branch's
解除暫禁, and its approval of an application: the 授權碼) from the file
``FXMLSIM_CA_TOKEN_FILE`` names. Exits 2 with a
reason for a busy port, a non-loopback host, a missing key or platform URL.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fxml import env
from fxml.clock import ClockError, from_env
from fxml.errors import FxmlError
from fxml.platform.tickets import load_key
from fxml.web.server import ListenError, bind, check_loopback, listen_fd_argument, port_argument, serve
from simulator.bank.app import BankApp, BankSettings
from simulator.bank.service import open_bank
from simulator.errors import SimulatorError

EXIT_FAILURE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator.bank", description="The bank's three systems.")
    sub = parser.add_subparsers(dest="command", required=True)
    srv = sub.add_parser("serve", help="serve 個人網路銀行, 企業網路銀行 and the EOI 系統 on a loopback address")
    srv.add_argument("--state-dir", type=Path, required=True)
    srv.add_argument("--ticket-key", type=Path, help=f"default: ${env.TICKET_KEY_FILE}")
    srv.add_argument("--platform-url", help=f"default: ${env.PLATFORM_URL}")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=port_argument, default=0, help="0: any free port (default)")
    srv.add_argument("--listen-fd", type=listen_fd_argument, default=None,
                     help="serve on this inherited listening socket (fxmlsim up binds the port first)")
    srv.add_argument("--lock-after", type=int, default=3, help="consecutive wrong passwords that lock a user (3)")
    srv.add_argument("--hash-profile", choices=("default", "cheapest"), default="default",
                     help="argon2 parameters for new hashes (cheapest: tests only)")
    return parser


def _fail(message: str) -> int:
    print(f"simulator.bank: {message}", file=sys.stderr, flush=True)
    return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    key_file = args.ticket_key or os.environ.get(env.TICKET_KEY_FILE)
    platform_url = args.platform_url or os.environ.get(env.PLATFORM_URL)
    if not key_file:
        return _fail(f"no ticket key: give --ticket-key or set {env.TICKET_KEY_FILE}")
    if not platform_url:
        return _fail(f"no platform URL: give --platform-url or set {env.PLATFORM_URL}")
    try:
        host = check_loopback(args.host)
        key = load_key(Path(key_file))
        clock = from_env()
        if args.lock_after < 1:
            raise ValueError(f"--lock-after must be at least 1, not {args.lock_after}")
        store, logins = open_bank(args.state_dir, clock, hash_profile=args.hash_profile, lock_after=args.lock_after)
    except (ValueError, ClockError, FxmlError, SimulatorError, OSError) as exc:
        return _fail(str(exc))
    try:
        sock = bind(host, args.port, args.listen_fd)
    except ListenError as exc:
        store.close()
        return _fail(str(exc))
    settings = BankSettings(state_dir=args.state_dir, ticket_key=key, clock=clock, platform_url=platform_url,
                            public_url=os.environ.get(env.BANK_URL),
                            hash_profile=args.hash_profile, lock_after=args.lock_after,
                            ca_url=os.environ.get(env.CA_URL) or None, agent_url=os.environ.get(env.AGENT_URL) or None,
                            ca_token_file=Path(os.environ[env.CA_TOKEN_FILE]) if os.environ.get(env.CA_TOKEN_FILE)
                            else None)
    try:
        app = BankApp(settings, store, logins).app()
    except FxmlError as exc:  # the CA's admin token cannot be read
        store.close()
        return _fail(str(exc))
    serve(app, sock, on_ready=lambda url: print(f"READY {url}", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
