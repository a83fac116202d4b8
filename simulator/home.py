"""A fxmlsim home: card images, CA state and the running stack, in one folder.

::

    <home>/cards/<name>.json   card images (see docs/card.md)
    <home>/ca/                 the simulated CA's keys and registry
    <home>/run/                the running PC/SC stack (see simulator.pcsc.layout)
    <home>/run/services.json   pids, start times and URLs of the services 'up' started
    <home>/run/home.lock       held while 'up' or 'down' runs
    <home>/<service>/          a service's own state (simulator.services)

The home holds card images (PINs, private keys), the CA's keys and the card
readers' socket: it is private to its owner. Folders are made 0700 and files
0600; ``up`` and ``card create`` make an existing home so, and refuse one another
user owns or may write to (docs/stack.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fxml import env
from fxml.clock import parse as parse_clock
from fxml.platform.tickets import make_key
from simulator.ca.token import ensure_token, token_path
from simulator.errors import SimulatorError
from simulator.pcsc.stack import PcscStack, StackError
from simulator.procs import (
    LockError,
    StartError,
    exclusive,
    identify,
    listen,
    record_running,
    spawn_ready,
    stop_record,
)
from simulator.services import SERVICES, ServiceSpec

log = logging.getLogger(__name__)

ENV_HOME = env.HOME
#: A card's name: its image is ``<home>/cards/<name>.json``. Letters, digits,
#: '-', '_' and '.', not starting with '.', at most 64 characters: never a path.
CARD_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
#: The name of the baseline card, which has no image.
NULL_CARD = "null"


class HomeError(SimulatorError, RuntimeError):
    """A request about the home folder that cannot be met; the message says why."""


def _shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a one-line message, cut short if long."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files and folders made meanwhile are their owner's alone (umask 077),
    whoever calls (the CLI sets the same umask for all it does)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def check_card_name(name: str) -> str:
    """``name`` if it may name a card (:data:`CARD_NAME`, not 'null'); HomeError otherwise."""
    if name == NULL_CARD:
        raise HomeError("'null' is the null card's name: give the card another name")
    if not CARD_NAME.fullmatch(name):
        raise HomeError(
            f"{_shown(name)} is not a card name: 1 to 64 letters, digits, '-', '_' and '.', not starting with '.'"
        )
    return name


def _timed(call: Any, **kwargs: Any) -> float:
    """``call(**kwargs)``, then the monotonic time it returned."""
    call(**kwargs)
    return time.monotonic()


class Home:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    @classmethod
    def from_args(cls, args: Any) -> Home:
        root = getattr(args, "home", None) or os.environ.get(ENV_HOME) or Path.home() / ".fxmlsim"
        home = cls(Path(root))
        home.check_folder()
        return home

    def check_folder(self) -> None:
        """HomeError unless the home is a folder or does not exist yet."""
        try:
            is_folder = self.root.is_dir()
            exists = is_folder or self.root.exists()
        except OSError as exc:
            raise HomeError(f"{self.root}: {exc.strerror}") from exc
        if exists and not is_folder:
            raise HomeError(f"{self.root}: not a folder (the home, from --home or ${ENV_HOME}, must be a folder)")

    def make_private(self) -> None:
        """Create the home and its run folder (0700) if missing, and keep the
        home its owner's alone.

        HomeError if the home is shared: another user owns it or anything in
        it, or other users could write to it or to anything in it (what they
        may have put there cannot be trusted). What other users could only
        read or enter is made private (folders 0700, files 0600), with a
        warning: a home made by a default ``mkdir``, or by an older fxmlsim.
        """
        self.check_folder()
        for folder in (self.root, self.run_dir):
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise HomeError(f"{exc.filename or folder}: cannot create the home: {exc.strerror}") from exc
        tightened = self._tighten()
        if tightened:
            first, mode = tightened[0]
            log.warning("%s: other users could read or enter %d of its entries (%s was mode %04o); "
                        "made them private (folders 0700, files 0600)", self.root, len(tightened), first, mode)

    def _tighten(self) -> list[tuple[Path, int]]:
        """Make every folder and file of the home private; the entries changed,
        with their modes before. HomeError for a shared home (see make_private)."""
        me = os.geteuid()
        changed: list[tuple[Path, int]] = []

        def check(path: Path, info: os.stat_result) -> None:
            mode = stat.S_IMODE(info.st_mode)
            if info.st_uid != me:
                raise HomeError(
                    f"{path}: belongs to uid {info.st_uid}, not to you (uid {me}); the home holds card PINs, "
                    "keys and the card readers' socket: use a home of your own"
                )
            if mode & 0o022:
                raise HomeError(
                    f"{path}: other users may write to it (mode {mode:04o}), so the home cannot be trusted: "
                    "use another home"
                )
            if mode & 0o077:
                os.chmod(path, 0o700 if stat.S_ISDIR(info.st_mode) else 0o600, follow_symlinks=False)
                changed.append((path, mode))

        check(self.root, self.root.stat())
        for folder, dirs, files in os.walk(self.root):
            for name in [*dirs, *files]:
                path = Path(folder) / name
                try:
                    info = path.lstat()
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                    check(path, info)
                # Sockets (pcscd makes its own 0666) are reached only through
                # these folders; symbolic links have no permissions of their own.
        return changed

    @contextlib.contextmanager
    def _lock(self, what: str) -> Iterator[None]:
        """'up' and 'down' of one home take turns (see simulator.procs.exclusive)."""
        try:
            with exclusive(self.run_dir / "home.lock", what=what):
                yield
        except LockError as exc:
            raise HomeError(str(exc)) from exc

    @property
    def cards_dir(self) -> Path:
        return self.root / "cards"

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def services_file(self) -> Path:
        return self.run_dir / "services.json"

    @property
    def stack(self) -> PcscStack:
        return PcscStack(self.run_dir)

    # -- services --------------------------------------------------------
    def services(self) -> dict[str, Any]:
        try:
            data = json.loads(self.services_file.read_text())
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write_services(self, record: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".services.", suffix=".tmp", dir=self.run_dir)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(record, ensure_ascii=False, indent=2))
            os.replace(tmp, self.services_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clock_setting(self) -> str:
        """The clock of this home: the one its running stack was started with
        (``fxmlsim up --clock``), else $FXMLSIM_CLOCK, else the system's."""
        services = self.services()
        if services.get("clock") and any(record_running(info) for info in services.values()):
            return str(services["clock"])
        return os.environ.get(env.CLOCK, "system")

    def running(self) -> bool:
        """Whether the whole stack runs: the PC/SC stack and every service of
        the registry, each the very process recorded (pid and start time)."""
        services = self.services()
        return self.stack.running() and all(record_running(services.get(spec.name)) for spec in SERVICES)

    def up(
        self, readers: int = 8, trace: bool = False, ports: dict[str, int] | None = None,
        reader_prefix: str | None = None,
    ) -> dict[str, str]:
        """Start the PC/SC stack and every service of the registry; return the client environment.

        One ``up`` at a time per home (a lock); a second one finds the first's
        stack running and says so. What is left of a stack that is no longer
        whole (a process killed) is stopped first, by pid and start time.
        """
        self.make_private()
        with private_files(), self._lock("starting the stack"):
            if self.running():
                raise StackError(f"a stack is already running in {self.root} (fxmlsim down first)")
            self._stop_all()
            return self._up(readers, trace, ports, reader_prefix)

    def _start_after(self, pcsc: Future[Any] | None, spec: ServiceSpec, *args: Any) -> Any:
        """A service that talks to the readers (the card agent) starts once pcscd answers with its
        readers: its first look at PC/SC then finds them, and ``up`` returns with them seen. The
        others do not wait for it."""
        if pcsc is not None:
            pcsc.result()
        return self._start_service(spec, *args)

    def _up(
        self, readers: int, trace: bool, ports: dict[str, int] | None, reader_prefix: str | None
    ) -> dict[str, str]:
        """The PC/SC stack and every service start at once, each in a thread that waits for its
        READY line (no fixed wait, no polling; the card agent once pcscd has answered): what each
        needs of the others is known before any starts (the URLs from the ports chosen, pcscd's
        socket from the run folder's layout, the CA's admin token made here), so the stack is up
        when its slowest part is."""
        stack = self.stack
        client_env = stack.client_env()
        clock = os.environ.get(env.CLOCK, "system")
        record: dict[str, Any] = {"clock": clock}
        recorded = threading.Lock()
        sockets: dict[str, socket.socket] = {}
        try:
            # Every URL is known before the first service starts: the platform
            # and the card agent each need the other's origin.
            # Each port is bound here and its socket handed to its service (no other process can
            # take it in between, as a port only chosen could be: many stacks start at once in tests).
            sockets.update({spec.name: listen((ports or {}).get(spec.name) or 0) for spec in SERVICES})
            chosen = {name: int(sock.getsockname()[1]) for name, sock in sockets.items()}
            for spec in SERVICES:
                client_env[spec.url_env] = f"http://127.0.0.1:{chosen[spec.name]}"
            client_env[env.TICKET_KEY_FILE] = str(self._ticket_key())
            # The CA's admin token (0600), made before the CA and the bank (its registration
            # authority, which reads it as it starts) both start.
            self.ca_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            ensure_token(self.ca_dir)
            client_env[env.CA_TOKEN_FILE] = str(token_path(self.ca_dir))
            with ThreadPoolExecutor(max_workers=1 + len(SERVICES), thread_name_prefix="fxmlsim-up") as pool:
                began = time.monotonic()
                pcsc = pool.submit(_timed, stack.up, readers=readers, trace=trace, reader_prefix=reader_prefix)
                starts = {spec.name: pool.submit(self._start_after, pcsc if spec.needs_pcsc else None, spec,
                                                 chosen[spec.name], dict(client_env), clock, record, recorded,
                                                 sockets[spec.name].fileno())
                          for spec in SERVICES}
                futures: list[Future[Any]] = [pcsc, *starts.values()]
                failures = [exc for exc in (f.exception() for f in futures) if exc is not None]
            if failures:
                raise failures[0]
            # When each part was ready, in seconds after the start (bash scripts/run bench suite shows them).
            record["pcsc_ready_seconds"] = round(pcsc.result() - began, 3)
            for spec in SERVICES:
                url = starts[spec.name].result()[1]
                record[spec.name]["url"] = url
                record[spec.name]["ready_seconds"] = round(record[spec.name].pop("ready_at") - began, 3)
                client_env[spec.url_env] = url
            self._write_services(record)
        except BaseException:  # Ctrl-C too: nothing half-started stays
            with recorded:
                self._stop_services(record)
            self.services_file.unlink(missing_ok=True)
            stack.down()
            raise
        finally:  # the services hold their own copies
            for sock in sockets.values():
                sock.close()
        return client_env

    def _ticket_key(self) -> Path:
        """The key the bank signs platform tickets with, new for each ``up`` (0600)."""
        path = self.run_dir / "ticket.key"
        make_key(path)
        return path

    def _start_service(
        self, spec: ServiceSpec, port: int, client_env: dict[str, str], clock: str, record: dict[str, Any],
        recorded: threading.Lock, listen_fd: int,
    ) -> tuple[int, str]:
        if spec.state_dir is not None:
            (self.root / spec.state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        environ = {**os.environ, **client_env, env.CLOCK: clock}
        if not spec.needs_pcsc:
            environ.pop(env.PCSC_SOCKET, None)

        def started(pid: int) -> None:
            # On record (pid and start time) before it is even ready, so that
            # an 'up' killed meanwhile leaves no process 'down' cannot find.
            with recorded:
                record[spec.name] = {**identify(pid), "url": None, "title": spec.title}
                self._write_services(record)

        try:
            answer = spawn_ready(spec.command(self.root, port, client_env, listen_fd=listen_fd),
                                 self.run_dir / f"{spec.name}.log", what=spec.title, env=environ, on_start=started,
                                 pass_fds=(listen_fd,))
            with recorded:
                record[spec.name]["ready_at"] = time.monotonic()
            return answer
        except StartError as exc:
            raise HomeError(str(exc)) from exc

    def _stop_services(self, record: dict[str, Any]) -> bool:
        """Stop every process the record names, all at once (each by pid and start time, each
        waited for by its pidfd); True if there was any."""
        modules = {spec.name: spec.module for spec in SERVICES}
        named = [(name, info) for name, info in record.items() if isinstance(info, dict) and "pid" in info]
        if named:
            with ThreadPoolExecutor(max_workers=len(named), thread_name_prefix="fxmlsim-down") as pool:
                for done in [pool.submit(stop_record, info, modules.get(name, "")) for name, info in named]:
                    done.result()
        return bool(named)

    def _stop_all(self) -> bool:
        """The services and the PC/SC stack stop at once (nothing of a stack outlives its stop)."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fxmlsim-down-pcsc") as pool:
            pcsc = pool.submit(self.stack.down)
            stopped = self._stop_services(self.services())
            self.services_file.unlink(missing_ok=True)
            return pcsc.result() or stopped

    def down(self) -> bool:
        """Stop everything 'up' started in this home, whole or not; True if there was anything."""
        self.check_folder()
        if not self.run_dir.is_dir():
            return False
        with self._lock("stopping the stack"):
            return self._stop_all()

    def status(self) -> dict[str, Any]:
        stack = self.stack
        services = self.services()
        running = stack.running()
        answer: dict[str, Any] = {
            "home": str(self.root),
            "stack": {
                "running": running,
                **({"env": stack.client_env(), "readers": stack.readers()} if running else {}),
            },
        }
        for spec in SERVICES:
            info = services.get(spec.name)
            answer[spec.name] = {**info, "running": record_running(info)} if info else {"running": False}
        answer["clock"] = self.clock_setting()
        return answer

    # -- cards -----------------------------------------------------------
    def card_files(self) -> list[Path]:
        return sorted(self.cards_dir.glob("*.json")) if self.cards_dir.exists() else []

    def card_path(self, name: str) -> Path | str:
        """A card name, an image path, or 'null' (the baseline card)."""
        if name == NULL_CARD:
            return name
        as_path = Path(name)
        if as_path.suffix == ".json":
            try:
                if as_path.is_file():
                    return as_path.resolve()
            except OSError as exc:
                raise HomeError(f"{_shown(name)}: {exc.strerror}") from exc
        if "/" in name:
            raise HomeError(f"{_shown(name)}: no card image there (an image is a .json file fxmlsim card create made)")
        check_card_name(name)
        candidate = self.cards_dir / f"{name}.json"
        if candidate.exists():
            return candidate
        known = ", ".join(p.stem for p in self.card_files()) or "none yet (fxmlsim card create)"
        raise HomeError(f"no card {name!r} in {self.cards_dir}; cards: {known}")

    def create_card(self, profile: Path, name: str | None = None, replace: bool = False, blank: bool = False) -> Path:
        from simulator.personalize import personalize

        name = check_card_name(profile.stem if name is None else name)
        target = self.cards_dir / f"{name}.json"
        self.make_private()
        if target.exists() and not replace:
            raise HomeError(f"card {name!r} already exists at {target} (use --replace)")
        self.cards_dir.mkdir(mode=0o700, exist_ok=True)
        # The card's certificates are issued on the clock every other process
        # of a running stack uses.
        with private_files():
            personalize(profile, target, ca_dir=self.ca_dir, clock=parse_clock(self.clock_setting()), blank=blank)
        return target

    def describe_card(self, path: Path | str) -> dict[str, Any]:
        from simulator.personalize import describe_image

        if path == "null":
            raise HomeError("the null card has no image")
        return describe_image(Path(path))
