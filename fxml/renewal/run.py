"""``python -m fxml.renewal.run``: one renewal or download, headless, through PC/SC (an internal runner).

::

    echo '{"pin": "...", "token": "..."}' | python -m fxml.renewal.run --reader NAME \\
        [--platform-url URL] [--ca-url URL] [--management-key HEX] [--management-algorithm 3DES]

Reads one JSON line on stdin (the 憑證載具密碼 and the renewal token: neither
goes on the command line, where ``ps`` shows it), connects to the card in
the reader, verifies the PIN (unless ``pin`` is null) and runs the engine
against the platform's record (:class:`~fxml.renewal.records.PlatformRecords`)
and the CA. Prints ``STATE <state>`` after every move, then one JSON line:
``{"ok": true, "renewal": {...}}`` or ``{"ok": false, "error": {code, message,
retryable, details}}``. The token names the record; its kind (renewal or
download) picks the engine (:func:`fxml.renewal.download.engine_for`). Exit 0 when
done, 1 when the renewal stopped, 2 for bad arguments. URLs default to
``FXMLSIM_PLATFORM_URL`` and ``FXMLSIM_CA_URL``.

This is what the crash tests run and kill. ``FXMLSIM_RENEWAL_FAULT`` makes
it stop at a move of the record, ``<action>-<when>:<state>``:

``kill-before:<state>``   SIGKILL itself just before the record moves to ``<state>``
                          (the step's work is done, the record does not say so)
``kill-after:<state>``    SIGKILL itself just after the record moved to ``<state>``
``pause-before:<state>``, ``pause-after:<state>``
                          print ``PAUSED <when>:<state>`` and wait for a line on
                          stdin (the test pulls the card or stops a service meanwhile)

``fxmlsim renew`` and ``fxmlsim download`` are the customer's commands on top of the same engines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from fxml import env
from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.connection import TransportError
from fxml.card.errors import CardError, InvalidPinFormatError
from fxml.card.pcsc import PcscConnection
from fxml.card.piv import Algorithm
from fxml.clock import from_env
from fxml.renewal.download import engine_for
from fxml.renewal.errors import RenewalError
from fxml.renewal.model import RecordError, RecordStore, RenewalRecord, State
from fxml.renewal.records import PlatformRecords

log = logging.getLogger(__name__)

EXIT_DONE, EXIT_STOPPED, EXIT_USAGE = 0, 1, 2
#: 3-key TDEA 01 02 ... 08 three times: the PIV default and the simulated cards' key.
DEFAULT_MANAGEMENT_KEY = bytes(range(1, 9)) * 3
_ALGORITHMS = {"3DES": Algorithm.TDEA_3KEY, "AES128": Algorithm.AES_128, "AES256": Algorithm.AES_256}


@dataclass(frozen=True)
class Fault:
    """Where ``FXMLSIM_RENEWAL_FAULT`` says to stop."""

    action: str  # kill | pause
    when: str  # before | after
    state: State

    @classmethod
    def parse(cls, text: str | None) -> Fault | None:
        if not text:
            return None
        head, _, state = text.partition(":")
        action, _, when = head.partition("-")
        if action not in ("kill", "pause") or when not in ("before", "after"):
            raise ValueError(f"{env.RENEWAL_FAULT}: expected kill|pause-before|after:<state>, got {text!r}")
        return cls(action, when, State(state))

    def hit(self, when: str, state: State, out: TextIO, inp: TextIO) -> None:
        if (when, state) != (self.when, self.state):
            return
        if self.action == "kill":
            out.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        print(f"PAUSED {when}:{state}", file=out, flush=True)
        inp.readline()


class FaultyRecords:
    """A RecordStore that stops at the fault's move (before or after the platform records it)."""

    def __init__(self, inner: RecordStore, fault: Fault, out: TextIO, inp: TextIO):
        self.inner, self.fault, self.out, self.inp = inner, fault, out, inp

    def get(self) -> RenewalRecord:
        return self.inner.get()

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        self.fault.hit("before", to, self.out, self.inp)
        moved = self.inner.advance(expected, to, **fields)
        self.fault.hit("after", to, self.out, self.inp)
        return moved

    def fail(self, code: str, message: str) -> RenewalRecord:
        return self.inner.fail(code, message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fxml.renewal.run", description="Run one renewal through PC/SC.")
    parser.add_argument("--reader", required=True, help="the reader's name, or a unique part of it")
    parser.add_argument("--platform-url", default=os.environ.get(env.PLATFORM_URL))
    parser.add_argument("--ca-url", default=os.environ.get(env.CA_URL))
    parser.add_argument("--management-key", default=DEFAULT_MANAGEMENT_KEY.hex())
    parser.add_argument("--management-algorithm", default="3DES", choices=sorted(_ALGORITHMS))
    return parser


def _emit(out: TextIO, data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=False), file=out, flush=True)


def main(argv: Sequence[str] | None = None, *, inp: TextIO | None = None, out: TextIO | None = None) -> int:
    inp = inp or sys.stdin
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        secrets = json.loads(inp.readline())
        pin, token = secrets.get("pin"), secrets["token"]
        fault = Fault.parse(os.environ.get(env.RENEWAL_FAULT))
        key = bytes.fromhex(args.management_key)
        if not args.platform_url or not args.ca_url:
            raise ValueError(f"give --platform-url and --ca-url (or {env.PLATFORM_URL} and {env.CA_URL})")
        records: RecordStore = PlatformRecords(args.platform_url, str(token))
    except (ValueError, KeyError, TypeError, AttributeError, RecordError) as exc:
        print(f"fxml.renewal.run: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    if fault is not None:
        records = FaultyRecords(records, fault, out, inp)

    def progress(record: RenewalRecord) -> None:
        print(f"STATE {record.state}", file=out, flush=True)

    try:
        with PcscConnection(args.reader) as connection:
            card = PivCardClient(connection)
            card.select()
            if pin is not None:
                card.verify_pin(str(pin))
            engine = engine_for(card, CaClient(args.ca_url), records, key, _ALGORITHMS[args.management_algorithm],
                                clock=from_env(), on_progress=progress)
            done = engine.run()
    except RenewalError as exc:
        _emit(out, {"ok": False, "error": exc.to_json()})
        return EXIT_STOPPED
    except (TransportError, CardError, InvalidPinFormatError) as exc:
        # Before the engine: connecting, selecting, verifying the PIN.
        _emit(out, {"ok": False, "error": {"code": type(exc).__name__, "message": str(exc), "retryable": True}})
        return EXIT_STOPPED
    _emit(out, {"ok": True, "renewal": done.to_json()})
    return EXIT_DONE


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(main())
