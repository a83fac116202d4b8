"""``python -m fxml.agent``: the local card agent, or a look at a running one.

::

    python -m fxml.agent serve [--host 127.0.0.1] [--port 61081] [--allow-origin URL]...
                               [--platform-url URL] [--ca-url URL] [--management-key-file FILE]
                               [--idle-timeout SECONDS] [--engine MODULE:CALLABLE]
                               [--log-level LEVEL] [--trace]
    python -m fxml.agent status  [--url URL]
    python -m fxml.agent readers [--url URL]

``serve`` prints ``READY <url>`` once it listens and stops cleanly on SIGTERM;
it exits 2 with a reason for a busy port, a non-loopback host, a bad origin
or an unusable management-key file. The pages it answers are those of
``--allow-origin`` (repeatable), else of ``FXMLSIM_PLATFORM_URL``; with
neither it answers local programs only (requests without ``Origin``). The
readers are those of the pcscd that ``PCSCLITE_CSOCK_NAME`` names (the
system's when unset); the CA's URL comes from ``--ca-url`` or
``FXMLSIM_CA_URL``, the clock from ``FXMLSIM_CLOCK``.

The management-key file is JSON, ``{"algorithm": "3DES", "key": "<hex>"}``
(``3DES``: 24 bytes, ``AES128``: 16, ``AES256``: 32), as in the card
profiles; without it the PIV default 3DES key (``0102…08`` three times) is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from fxml import env
from fxml.agent.api import DEFAULT_HOST, DEFAULT_IDLE_SECONDS, DEFAULT_PORT, AgentError
from fxml.agent.app import agent_app
from fxml.agent.client import AgentClient
from fxml.agent.core import AgentSettings, CardAgent
from fxml.agent.guard import normalize_origin
from fxml.agent.renewal import (
    DEFAULT_ENGINE,
    DEFAULT_MANAGEMENT_KEY,
    ManagementKey,
    load_factory,
    platform_engine,
)
from fxml.card.connection import TRAFFIC
from fxml.card.piv import Algorithm
from fxml.clock import ClockError, from_env
from fxml.web.server import ListenError, bind, check_loopback, listen_fd_argument, port_argument, serve

EXIT_FAILURE = 2

_ALGORITHMS = {"3DES": (Algorithm.TDEA_3KEY, 24), "AES128": (Algorithm.AES_128, 16), "AES256": (Algorithm.AES_256, 32)}


def load_management_key(path: Path) -> ManagementKey:
    """The key in ``path`` (JSON ``{"algorithm": ..., "key": hex}``); ValueError saying what is wrong.
    The message never contains the key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"management key file {path}: {exc.strerror}") from None
    except ValueError:
        raise ValueError(f"management key file {path}: not JSON") from None
    if not isinstance(data, dict) or set(data) != {"algorithm", "key"}:
        raise ValueError(f'management key file {path}: expected {{"algorithm": "3DES", "key": "<hex>"}}')
    algorithm = _ALGORITHMS.get(str(data["algorithm"]))
    if algorithm is None:
        raise ValueError(f"management key file {path}: algorithm must be one of {', '.join(_ALGORITHMS)}")
    try:
        key = bytes.fromhex(str(data["key"]))
    except ValueError:
        raise ValueError(f"management key file {path}: the key is not hex") from None
    if len(key) != algorithm[1]:
        raise ValueError(f"management key file {path}: a {data['algorithm']} key has {algorithm[1]} bytes")
    return ManagementKey(algorithm[0], key)


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text}: give 0 < seconds <= 86400")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fxml.agent", description="The local card agent (憑證元件).")
    sub = parser.add_subparsers(dest="command", required=True)
    srv = sub.add_parser("serve", help="serve the agent's API on a loopback address")
    srv.add_argument("--host", default=DEFAULT_HOST, help=f"loopback address only (default {DEFAULT_HOST})")
    srv.add_argument("--port", type=port_argument, default=DEFAULT_PORT,
                     help=f"default {DEFAULT_PORT}; 0: any free port")
    srv.add_argument("--listen-fd", type=listen_fd_argument, default=None,
                     help="serve on this inherited listening socket (fxmlsim up binds the port first)")
    srv.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                     help=f"an origin whose pages may use the agent (repeatable; default: ${env.PLATFORM_URL})")
    srv.add_argument("--platform-url", help=f"the platform's URL for renewal records (default: ${env.PLATFORM_URL})")
    srv.add_argument("--ca-url", help=f"the CA's URL (default: ${env.CA_URL})")
    srv.add_argument("--management-key-file", type=Path, help="JSON {algorithm, key}; default: the PIV default key")
    srv.add_argument("--idle-timeout", type=_seconds, default=DEFAULT_IDLE_SECONDS,
                     help=f"seconds an unused card session stays open (default {DEFAULT_IDLE_SECONDS:g})")
    srv.add_argument("--engine", default=None, metavar="MODULE:CALLABLE",
                     help=f"the renewal engine factory (default: {DEFAULT_ENGINE})")
    srv.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    srv.add_argument("--trace", action="store_true", help="log every APDU (PIN and keys redacted)")
    for name in ("status", "readers"):
        cmd = sub.add_parser(name, help=f"print the running agent's {name} (JSON)")
        cmd.add_argument("--url", help=f"the agent's URL (default: ${env.AGENT_URL}, else port {DEFAULT_PORT})")
    return parser


def _fail(message: str) -> int:
    print(f"fxml.agent: {message}", file=sys.stderr, flush=True)
    return EXIT_FAILURE


def _version() -> str:
    try:
        return metadata.version("fxmlsim")
    except metadata.PackageNotFoundError:
        return "0"


def _settings(args: argparse.Namespace, port: int) -> AgentSettings:
    platform_url = args.platform_url or os.environ.get(env.PLATFORM_URL) or None
    origins = args.allow_origin or ([platform_url] if platform_url else [])
    normalized = tuple(dict.fromkeys(normalize_origin(o) for o in origins))
    key = load_management_key(args.management_key_file) if args.management_key_file else DEFAULT_MANAGEMENT_KEY
    if args.engine:
        engine, engine_name = load_factory(args.engine), args.engine
    else:
        engine, engine_name = platform_engine, DEFAULT_ENGINE
    return AgentSettings(
        origins=normalized, port=port, idle_seconds=args.idle_timeout, management_key=key,
        ca_url=args.ca_url or os.environ.get(env.CA_URL) or None,
        platform_url=platform_url.rstrip("/") if platform_url else None,
        engine=engine, engine_name=engine_name, clock=from_env(), version=_version(),
    )


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(threadName)s %(name)s %(levelname)s: %(message)s")
    if args.trace:
        logging.getLogger("fxml.card.connection").setLevel(TRAFFIC)
    try:
        host = check_loopback(args.host)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        sock = bind(host, args.port, args.listen_fd)
    except ListenError as exc:
        return _fail(str(exc))
    try:
        settings = _settings(args, sock.getsockname()[1])
    except (ValueError, ClockError) as exc:
        sock.close()
        return _fail(str(exc))
    log = logging.getLogger("fxml.agent")
    if not settings.origins:
        log.warning("no platform origin (--allow-origin or %s): every page is refused", env.PLATFORM_URL)
    agent = CardAgent(settings)
    loop_holder: list[asyncio.AbstractEventLoop] = []

    def ready(url: str) -> None:
        loop_holder.append(asyncio.get_running_loop())
        log.info("serving %s for %s", url, ", ".join(settings.origins) or "local programs only")
        print(f"READY {url}", flush=True)

    def stopping() -> None:  # in the signal handler: hand the work to the loop
        if loop_holder:
            loop_holder[0].call_soon_threadsafe(agent.stop_streams)

    serve(agent_app(agent), sock, on_ready=ready, on_exit=stopping)
    return 0


def _look(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get(env.AGENT_URL) or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    client = AgentClient(url)
    try:
        data: object = client.status() if args.command == "status" else client.readers()
    except AgentError as exc:
        return _fail(f"{exc.code}: {exc.message}")
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _look(args)


if __name__ == "__main__":
    sys.exit(main())
