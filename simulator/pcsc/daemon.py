"""The stack daemon: a private pcscd, its vpcd readers and the cards in them.

Started by :mod:`simulator.pcsc.stack` as
``unshare -m -n --propagation private python -m simulator.pcsc.daemon RUN_DIR``
so that it lives in its own mount and network namespace: vpcd's ports exist
only on that namespace's loopback, and the run directory's ``pcscd/`` folder is
bound over ``/run/pcscd`` so that pcscd's fixed socket path lands there.
Clients outside reach pcscd through ``PCSCLITE_CSOCK_NAME``; the CLI reaches
this daemon through ``control.sock``. The card links must live here, in the
same network namespace as vpcd.

Control protocol: one JSON object per line in each direction. Requests have
an ``op`` (``ping``, ``list``, ``insert``, ``remove``, ``shutdown``); answers
are ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout
from .events import PcscWatcher
from .stack import StackError
from .vicc import VirtualCardLink

log = logging.getLogger(__name__)

#: How long pcscd may take to report an insertion or removal (it polls vpcd
#: every 400 ms); a wait that outlasts this is reported as an error.
EVENT_TIMEOUT = 10.0


@dataclass
class Reader:
    index: int
    name: str
    port: int
    link: VirtualCardLink | None = None
    card: str | None = None  # image path, or "null"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "card": self.card}


def _open_card(image: str) -> Any:
    # Imported here: the card layer is only needed once a card goes in.
    from simulator.card.os import NullCardOS, TwcaCardOS

    if image == "null":
        return NullCardOS()
    return TwcaCardOS.open(Path(image))


class StackDaemon:
    def __init__(self, run_dir: Path, readers: int, reader_prefix: str = layout.READER_PREFIX):
        if not 1 <= readers <= layout.MAX_READERS:
            raise StackError(f"readers must be between 1 and {layout.MAX_READERS}, not {readers}")
        if not layout.valid_reader_prefix(reader_prefix):
            raise StackError(f"invalid reader name prefix {reader_prefix!r}")
        self.reader_prefix = reader_prefix
        self.layout = layout.RunLayout(run_dir)
        self.reader_count = layout.entry_count(readers) * layout.SLOTS_PER_ENTRY
        self.readers: list[Reader] = []
        self.pcscd: subprocess.Popen[bytes] | None = None
        self.server: socketserver.ThreadingUnixStreamServer | None = None
        self.watcher: PcscWatcher | None = None
        self._stopped = threading.Event()
        self._claims = threading.Lock()

    # -- start -----------------------------------------------------------
    def isolate(self) -> None:
        """Bind our pcscd folder over /run/pcscd and bring loopback up."""
        lay = self.layout
        lay.pcscd_dir.mkdir(parents=True, exist_ok=True)
        Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
        for cmd in (
            ["mount", "--make-rprivate", "/"],
            ["mount", "--bind", str(lay.pcscd_dir), "/run/pcscd"],
            ["ip", "link", "set", "lo", "up"],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")

    def start_pcscd(self) -> None:
        lay = self.layout
        lay.conf_dir.mkdir(parents=True, exist_ok=True)
        layout.install_drivers(self.reader_count, lay)
        (lay.conf_dir / "vpcd").write_text(layout.reader_conf(self.reader_count, lay, self.reader_prefix))
        env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(lay.pcscd_socket))
        self.pcscd = subprocess.Popen(
            [str(layout.PCSCD), "--foreground", "--info", "--config", str(lay.conf_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump_pcscd_log, args=(ready,), daemon=True).start()
        if not ready.wait(EVENT_TIMEOUT) or self.pcscd.poll() is not None:
            raise StackError(f"pcscd did not become ready; see {lay.pcscd_log}")

    def _pump_pcscd_log(self, ready: threading.Event) -> None:
        assert self.pcscd is not None and self.pcscd.stdout is not None
        with open(self.layout.pcscd_log, "ab", buffering=0) as out:
            for line in self.pcscd.stdout:
                out.write(line)
                if b"daemon ready" in line:
                    ready.set()
        ready.set()  # pcscd ended: let start_pcscd notice

    def discover_readers(self) -> None:
        self.watcher = PcscWatcher()
        # pcscd logs "daemon ready" as it opens its socket; on a loaded machine
        # the first connection can still lose that race, so allow a few tries.
        for attempt in range(50):
            try:
                names = self.watcher.readers()
                break
            except ConnectionError:
                if attempt == 49 or (self.pcscd is not None and self.pcscd.poll() is not None):
                    raise StackError(f"pcscd does not answer; see {self.layout.pcscd_log}") from None
                time.sleep(0.05)
        by_index = {layout.reader_index(n, self.reader_prefix): n for n in names}
        missing = [i for i in range(self.reader_count) if i not in by_index]
        if missing:
            raise StackError(f"pcscd did not create readers {missing}; it has {names}")
        self.readers = [
            Reader(i, by_index[i], layout.reader_port(i)) for i in range(self.reader_count)
        ]

    def serve_control(self) -> None:
        daemon = self
        sock_path = self.layout.control_socket
        sock_path.unlink(missing_ok=True)

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for raw in self.rfile:
                    try:
                        answer = daemon.dispatch(json.loads(raw))
                    except StackError as exc:
                        answer = {"ok": False, "error": str(exc)}
                    except Exception as exc:  # a bug: report it, keep serving
                        log.exception("control request failed")
                        answer = {"ok": False, "error": f"internal error: {exc!r}"}
                    self.wfile.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
                    self.wfile.flush()
                    if answer.get("bye"):
                        daemon.stop()
                        return

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self.server = Server(str(sock_path), Handler)
        os.chmod(sock_path, 0o600)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def write_state(self) -> None:
        assert self.pcscd is not None
        state = {
            "daemon_pid": os.getpid(),
            "pcscd_pid": self.pcscd.pid,
            "pcscd_socket": str(self.layout.pcscd_socket),
            "readers": [r.describe() for r in self.readers],
        }
        tmp = self.layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2))
        os.replace(tmp, self.layout.state_file)

    # -- requests --------------------------------------------------------
    def dispatch(self, req: Any) -> dict[str, Any]:
        if not isinstance(req, dict) or "op" not in req:
            raise StackError("a request is a JSON object with an 'op'")
        op = req["op"]
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op == "list":
            return {"ok": True, "readers": [r.describe() for r in self.readers]}
        if op == "insert":
            reader = self.insert(req.get("image"), req.get("reader"))
            return {"ok": True, "reader": reader.describe()}
        if op == "remove":
            reader = self.remove(req.get("reader"))
            return {"ok": True, "reader": reader.describe()}
        if op == "shutdown":
            return {"ok": True, "bye": True}
        raise StackError(f"unknown op {op!r}")

    def _reader(self, which: Any, *, empty: bool | None = None) -> Reader:
        if which is None:
            candidates = [r for r in self.readers if empty is None or (r.card is None) == empty]
            if not candidates:
                raise StackError("every reader already holds a card" if empty else "no reader holds a card")
            return candidates[0]
        for r in self.readers:
            if which in (r.index, r.name) or str(which) == str(r.index):
                return r
        raise StackError(f"no reader {which!r}; readers are 0..{len(self.readers) - 1}")

    def insert(self, image: Any, which: Any = None) -> Reader:
        if not isinstance(image, str) or not image:
            raise StackError("insert needs the path of a card image (or 'null')")
        reader = self._reader(which, empty=True)
        with self._claims:  # the reader and the image are claimed together
            if reader.card is not None:
                raise StackError(f"reader {reader.index} already holds {reader.card}")
            # Two card OSes on one image would each overwrite the other's writes.
            holder = next((r for r in self.readers if image != "null" and r.card == image), None)
            if holder is not None:
                raise StackError(f"{image} is already in reader {holder.index} ({holder.name})")
            reader.card = image
        with reader.lock:
            try:
                reader.link = self._plug(reader, image)
            except BaseException:
                reader.card = None
                raise
        self.write_state()
        log.info("inserted %s into %s", image, reader.name)
        return reader

    def _plug(self, reader: Reader, image: str) -> VirtualCardLink:
        """Open the card, connect it to the reader's vpcd slot and return once
        pcscd reports it present; StackError (and nothing left plugged) otherwise."""
        assert self.watcher is not None
        try:
            card = _open_card(image)
        except Exception as exc:  # the card layer's own error says what is wrong
            raise StackError(str(exc)) from exc
        link = VirtualCardLink(card, reader.port)
        try:
            link.connect()
            self.watcher.wait(reader.name, present=True, timeout=EVENT_TIMEOUT)
        except (TimeoutError, ConnectionError) as exc:  # LinkError is a ConnectionError
            link.close()
            raise StackError(str(exc)) from exc
        return link

    def remove(self, which: Any = None) -> Reader:
        assert self.watcher is not None
        reader = self._reader(which, empty=False)
        with reader.lock:
            if reader.link is None:
                raise StackError(f"reader {reader.index} is empty")
            reader.link.close()
            reader.link = None
            reader.card = None
            try:
                self.watcher.wait(reader.name, present=False, timeout=EVENT_TIMEOUT)
            except (TimeoutError, ConnectionError) as exc:
                raise StackError(str(exc)) from exc
        self.write_state()
        log.info("removed the card from %s", reader.name)
        return reader

    # -- stop ------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for r in self.readers:
            if r.link is not None:
                r.link.close()
        if self.pcscd is not None and self.pcscd.poll() is None:
            self.pcscd.terminate()
            try:
                self.pcscd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.pcscd.kill()
                self.pcscd.wait()
        if self.server is not None:
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def wait(self) -> None:
        self._stopped.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.pcsc.daemon")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--trace", action="store_true", help="log APDUs (secrets redacted)")
    parser.add_argument("--reader-prefix", default=layout.READER_PREFIX, help="reader names start with this")
    args = parser.parse_args(argv)

    run_dir: Path = args.run_dir.resolve()
    lay = layout.RunLayout(run_dir)
    # The daemon's own PC/SC client (the watcher) must talk to this stack's
    # pcscd, never to one an inherited PCSCLITE_CSOCK_NAME names.
    os.environ["PCSCLITE_CSOCK_NAME"] = str(lay.pcscd_socket)
    logging.basicConfig(
        filename=lay.daemon_log,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.trace:
        from simulator.card import trace

        handler = logging.FileHandler(lay.apdu_log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        trace.log.addHandler(handler)
        trace.log.setLevel(trace.TRAFFIC)
        trace.log.propagate = False

    daemon = StackDaemon(run_dir, args.readers, args.reader_prefix)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.stop())
    try:
        daemon.isolate()
        daemon.start_pcscd()
        daemon.discover_readers()
        daemon.serve_control()
        daemon.write_state()
    except StackError as exc:
        daemon.stop()
        print(f"ERROR {exc}", flush=True)
        return 1
    print(f"READY {lay.pcscd_socket}", flush=True)
    # Detach from the starter's pipe so it may go away.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    daemon.wait()
    log.info("stack stopped")
    return 0


if __name__ == "__main__":
    # ``python -m`` runs this file as __main__; the main() of the module under
    # its own name logs as simulator.pcsc.daemon (log = getLogger(__name__)).
    from simulator.pcsc.daemon import main as daemon_main

    sys.exit(daemon_main())
