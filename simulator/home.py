"""A fxmlsim home: card images, CA state and the running stack, in one folder.

::

    <home>/cards/<name>.json   card images (see docs/card.md)
    <home>/ca/                 the simulated CA's keys and registry
    <home>/run/                the running PC/SC stack (see simulator.pcsc.layout)
    <home>/run/services.json   process ids and URLs of the services 'up' started
    <home>/<service>/          a service's own state (simulator.services)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fxml import env
from fxml.clock import parse as parse_clock
from fxml.platform.tickets import make_key
from simulator.errors import SimulatorError
from simulator.pcsc.stack import PcscStack
from simulator.procs import StartError, free_port, pid_alive, spawn_ready, stop_pid
from simulator.services import SERVICES, ServiceSpec

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ENV_HOME = env.HOME


class HomeError(SimulatorError, RuntimeError):
    """A request about the home folder that cannot be met; the message says why."""


class Home:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    @classmethod
    def from_args(cls, args: Any) -> Home:
        root = getattr(args, "home", None) or os.environ.get(ENV_HOME) or Path.home() / ".fxmlsim"
        return cls(Path(root))

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

    def clock_setting(self) -> str:
        """The clock of this home: the one its running stack was started with
        (``fxmlsim up --clock``), else $FXMLSIM_CLOCK, else the system's."""
        services = self.services()
        if services.get("clock") and any(
            pid_alive(int(info["pid"])) for name, info in services.items() if isinstance(info, dict) and "pid" in info
        ):
            return str(services["clock"])
        return os.environ.get(env.CLOCK, "system")

    def up(
        self, readers: int = 8, trace: bool = False, ports: dict[str, int] | None = None,
        reader_prefix: str | None = None,
    ) -> dict[str, str]:
        """Start the PC/SC stack and every service of the registry; return the client environment."""
        stack = self.stack
        stack.up(readers=readers, trace=trace, reader_prefix=reader_prefix)
        client_env = stack.client_env()
        clock = os.environ.get(env.CLOCK, "system")
        record: dict[str, Any] = {"clock": clock}
        try:
            # Every URL is known before the first service starts: the platform
            # and the card agent each need the other's origin.
            chosen = {spec.name: (ports or {}).get(spec.name) or free_port() for spec in SERVICES}
            for spec in SERVICES:
                client_env[spec.url_env] = f"http://127.0.0.1:{chosen[spec.name]}"
            client_env[env.TICKET_KEY_FILE] = str(self._ticket_key())
            for spec in SERVICES:
                pid, url = self._start_service(spec, chosen[spec.name], client_env, clock)
                record[spec.name] = {"pid": pid, "url": url, "title": spec.title}
                client_env[spec.url_env] = url
                self.services_file.write_text(json.dumps(record, ensure_ascii=False, indent=2))
        except Exception:
            self._stop_services(record)
            self.services_file.unlink(missing_ok=True)
            stack.down()
            raise
        return client_env

    def _ticket_key(self) -> Path:
        """The key the bank signs platform tickets with, new for each ``up`` (0600)."""
        path = self.run_dir / "ticket.key"
        make_key(path)
        return path

    def _start_service(self, spec: ServiceSpec, port: int, client_env: dict[str, str], clock: str) -> tuple[int, str]:
        if spec.state_dir is not None:
            (self.root / spec.state_dir).mkdir(parents=True, exist_ok=True)
        environ = {**os.environ, **client_env, env.CLOCK: clock}
        if not spec.needs_pcsc:
            environ.pop(env.PCSC_SOCKET, None)
        try:
            return spawn_ready(spec.command(self.root, port), self.run_dir / f"{spec.name}.log",
                               what=spec.title, env=environ)
        except StartError as exc:
            raise HomeError(str(exc)) from exc

    def _stop_services(self, record: dict[str, Any]) -> bool:
        stopped = False
        for spec in reversed(SERVICES):
            info = record.get(spec.name)
            if isinstance(info, dict) and "pid" in info:
                stop_pid(int(info["pid"]), spec.module)
                stopped = True
        return stopped

    def down(self) -> bool:
        stopped = self._stop_services(self.services())
        self.services_file.unlink(missing_ok=True)
        return self.stack.down() or stopped

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
            answer[spec.name] = {**info, "running": pid_alive(int(info["pid"]))} if info else {"running": False}
        answer["clock"] = self.clock_setting()
        return answer

    # -- cards -----------------------------------------------------------
    def card_files(self) -> list[Path]:
        return sorted(self.cards_dir.glob("*.json")) if self.cards_dir.exists() else []

    def card_path(self, name: str) -> Path | str:
        """A card name, an image path, or 'null' (the baseline card)."""
        if name == "null":
            return name
        as_path = Path(name)
        if as_path.suffix == ".json" and as_path.exists():
            return as_path.resolve()
        candidate = self.cards_dir / f"{name}.json"
        if candidate.exists():
            return candidate
        known = ", ".join(p.stem for p in self.card_files()) or "none yet (fxmlsim card create)"
        raise HomeError(f"no card {name!r} in {self.cards_dir}; cards: {known}")

    def create_card(self, profile: Path, name: str | None = None, replace: bool = False) -> Path:
        from simulator.personalize import personalize

        name = name or profile.stem
        target = self.cards_dir / f"{name}.json"
        if target.exists() and not replace:
            raise HomeError(f"card {name!r} already exists at {target} (use --replace)")
        self.cards_dir.mkdir(parents=True, exist_ok=True)
        # The card's certificates are issued on the clock every other process
        # of a running stack uses.
        personalize(profile, target, ca_dir=self.ca_dir, clock=parse_clock(self.clock_setting()))
        return target

    def describe_card(self, path: Path | str) -> dict[str, Any]:
        from simulator.personalize import describe_image

        if path == "null":
            raise HomeError("the null card has no image")
        return describe_image(Path(path))
