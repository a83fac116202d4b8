"""``python -m simulator.ca``: run the CA service, or prepare its state folder.

::

    python -m simulator.ca serve --state-dir DIR [--host 127.0.0.1] [--port 0] [--base-url URL] [--keys-dir DIR]
                                 [--allow-origin URL]
    python -m simulator.ca init  --state-dir DIR [--keys-dir DIR]
    python -m simulator.ca make-keys DIR

``serve`` prints exactly one line, ``READY http://127.0.0.1:<port>``, once it
listens, and stops cleanly on SIGTERM. It exits 2 (with the reason on
stderr) for a busy port, a non-loopback host or an unusable state folder.
The clock comes from ``FXMLSIM_CLOCK``. ``FXMLSIM_CA_FAULT=exit-after-commit``
makes the process die right after an issuance commits and before it answers
(for crash tests).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fxml import env
from fxml.clock import ClockError, from_env
from fxml.web.server import ListenError, bind, check_loopback, listen_fd_argument, port_argument, serve, url_of
from simulator.ca.app import Access, CaApp
from simulator.ca.config import ConfigError
from simulator.ca.errors import CaServiceError
from simulator.ca.hierarchy import Hierarchy
from simulator.ca.service import CertificateAuthority, IssuedCertificate, Operation
from simulator.ca.token import ensure_token

EXIT_FAILURE = 2
FAULT_ENV = env.CA_FAULT


def _workers(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text}: at least one worker thread is needed")
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator.ca", description="The simulated TWCA Financial User CA.")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    srv = sub.add_parser("serve", help="serve the HTTP API on a loopback address")
    srv.add_argument("--state-dir", type=Path, required=True)
    srv.add_argument("--host", default="127.0.0.1", help="loopback address only (default 127.0.0.1)")
    srv.add_argument("--port", type=port_argument, default=0, help="0: any free port (default)")
    srv.add_argument("--listen-fd", type=listen_fd_argument, default=None,
                     help="serve on this inherited listening socket (fxmlsim up binds the port first)")
    srv.add_argument("--base-url", help="URL certificates point at for CRL and AIA (default: the URL listened on)")
    srv.add_argument("--keys-dir", type=Path, help="on first start, copy the CA keys and certificates from here")
    srv.add_argument("--workers", type=_workers, default=8, help="worker threads for signing and writes (default 8)")
    srv.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                     help="let pages of this origin call the API (none by default: a web page may not)")
    init = sub.add_parser("init", help="create the state folder (keys, registry) and print where it is")
    init.add_argument("--state-dir", type=Path, required=True)
    init.add_argument("--keys-dir", type=Path)
    keys = sub.add_parser("make-keys", help="write a new root + issuing CA (four PEM files) for pinning in fixtures")
    keys.add_argument("directory", type=Path)
    return parser


def _fail(message: str) -> int:
    print(f"simulator.ca: {message}", file=sys.stderr, flush=True)
    return EXIT_FAILURE


def _crash_after_commit(operation: Operation, issued: IssuedCertificate) -> None:
    print(f"simulator.ca: {FAULT_ENV}: exiting after committing {issued.serial}", file=sys.stderr, flush=True)
    os._exit(70)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=max(logging.WARNING - 10 * args.verbose, 5), format="%(name)s: %(message)s")
    if args.command == "make-keys":
        Hierarchy.generate().save(args.directory)
        print(args.directory)
        return 0
    try:
        if args.command == "serve":
            host = check_loopback(args.host)
        clock = from_env()
        ca = CertificateAuthority.open(args.state_dir, clock=clock, keys_dir=args.keys_dir)
        token = ensure_token(args.state_dir)
    except (ValueError, ClockError, ConfigError, CaServiceError, OSError) as exc:
        return _fail(str(exc))
    with ca:
        if args.command == "init":
            print(f"{args.state_dir}\t{ca.issuer_certificate.subject.rfc4514_string()}")
            return 0
        if os.environ.get(FAULT_ENV) == "exit-after-commit":
            ca.after_commit = _crash_after_commit

        try:
            sock = bind(host, args.port, args.listen_fd)
        except ListenError as exc:
            return _fail(str(exc))
        try:
            url = url_of(sock)
            ca.set_base_url(args.base_url or url)
            access = Access.for_url(url, token, also=(ca.base_url,), origins=tuple(args.allow_origin))
        except (ConfigError, CaServiceError, ValueError) as exc:
            sock.close()
            return _fail(str(exc))

        def ready(url: str) -> None:
            print(f"READY {url}", flush=True)

        serve(CaApp(ca, access, workers=args.workers), sock, on_ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
