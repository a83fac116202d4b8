"""``python -m fxml.platform serve``: the FXML platform on a loopback port.

::

    python -m fxml.platform serve --state-dir DIR --ticket-key FILE [--host 127.0.0.1] [--port 0]

Prints ``READY <url>`` once it listens; exits 2 with a reason for a busy
port, a non-loopback host, or an unreadable ticket key. The clock comes from
``FXMLSIM_CLOCK``, the card agent's URL (for the pages) from
``FXMLSIM_AGENT_URL``, the CA's from ``FXMLSIM_CA_URL`` (and its admin token, for 憑證暫禁, from
the file ``FXMLSIM_CA_TOKEN_FILE`` names), the bank's (where proof sheets
are faxed and renewal notices go) from ``FXMLSIM_BANK_URL``.
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
from fxml.platform.app import Platform, PlatformSettings
from fxml.platform.tickets import load_key
from fxml.web.server import ListenError, bind, check_loopback, listen_fd_argument, port_argument, serve

EXIT_FAILURE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fxml.platform", description="The FXML 憑證管理 platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    srv = sub.add_parser("serve", help="serve the platform on a loopback address")
    srv.add_argument("--state-dir", type=Path, required=True)
    srv.add_argument("--ticket-key", type=Path, default=None,
                     help=f"the key shared with the bank's systems (default: ${env.TICKET_KEY_FILE})")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=port_argument, default=0, help="0: any free port (default)")
    srv.add_argument("--listen-fd", type=listen_fd_argument, default=None,
                     help="serve on this inherited listening socket (fxmlsim up binds the port first)")
    return parser


def _fail(message: str) -> int:
    print(f"fxml.platform: {message}", file=sys.stderr, flush=True)
    return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    key_path = args.ticket_key or (Path(os.environ[env.TICKET_KEY_FILE]) if os.environ.get(env.TICKET_KEY_FILE)
                                   else None)
    if key_path is None:
        return _fail(f"no ticket key: give --ticket-key or set {env.TICKET_KEY_FILE}")
    try:
        host = check_loopback(args.host)
        key = load_key(key_path)
        clock = from_env()
    except (ValueError, ClockError, FxmlError, OSError) as exc:
        return _fail(str(exc))
    try:
        sock = bind(host, args.port, args.listen_fd)
    except ListenError as exc:
        return _fail(str(exc))
    agent = os.environ.get(env.AGENT_URL)
    try:
        # The platform opens its store and the record of every renewal (fxml/renewal/api.py).
        platform = Platform(PlatformSettings(
            state_dir=args.state_dir, ticket_key=key, clock=clock,
            agent_origin=agent.rstrip("/") if agent else None, ca_url=os.environ.get(env.CA_URL),
            bank_url=os.environ.get(env.BANK_URL) or None,
            bank_origins=(os.environ[env.BANK_URL].rstrip("/"),) if os.environ.get(env.BANK_URL) else (),
            ca_token_file=Path(os.environ[env.CA_TOKEN_FILE]) if os.environ.get(env.CA_TOKEN_FILE) else None,
        ))
    except (ValueError, OSError, FxmlError) as exc:
        return _fail(str(exc))
    serve(platform.app(), sock, on_ready=lambda url: print(f"READY {url}", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
