"""A fxmlsim home: card images, CA state and the running stack, in one folder.

::

    <home>/cards/<name>.json   card images (see docs/card.md)
    <home>/ca/                 the simulated CA's keys and registry
    <home>/run/                the running PC/SC stack (see simulator.pcsc.layout)
    <home>/run/services.json   process ids and URLs of the services 'up' started
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from fxml.clock import parse as parse_clock
from simulator.pcsc.stack import PcscStack
from simulator.procs import StartError, pid_alive, spawn_ready, stop_pid

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ENV_HOME = "FXMLSIM_HOME"


class HomeError(RuntimeError):
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
            return json.loads(self.services_file.read_text())
        except FileNotFoundError:
            return {}

    def clock_setting(self) -> str:
        """The clock of this home: the one its running stack was started with
        (``fxmlsim up --clock``), else $FXMLSIM_CLOCK, else the system's."""
        services = self.services()
        ca = services.get("ca")
        if ca and pid_alive(int(ca["pid"])) and services.get("clock"):
            return str(services["clock"])
        return os.environ.get("FXMLSIM_CLOCK", "system")

    def up(
        self, readers: int = 8, trace: bool = False, ca_port: int = 0, reader_prefix: str | None = None
    ) -> dict[str, str]:
        """Start the PC/SC stack and the CA service; return the client environment."""
        stack = self.stack
        stack.up(readers=readers, trace=trace, reader_prefix=reader_prefix)
        try:
            ca_pid, ca_url = self._start_ca(ca_port)
        except Exception:
            stack.down()
            raise
        services = {
            "ca": {"pid": ca_pid, "url": ca_url},
            "clock": os.environ.get("FXMLSIM_CLOCK", "system"),
        }
        self.services_file.write_text(json.dumps(services, indent=2))
        return {**stack.client_env(), "FXMLSIM_CA_URL": ca_url}

    def _start_ca(self, port: int) -> tuple[int, str]:
        self.ca_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "simulator.ca", "serve",
            "--state-dir", str(self.ca_dir), "--host", "127.0.0.1", "--port", str(port),
        ]
        try:
            return spawn_ready(cmd, self.run_dir / "ca.log", what="the CA service")
        except StartError as exc:
            raise HomeError(str(exc)) from exc

    def down(self) -> bool:
        services = self.services()
        ca = services.get("ca")
        if ca:
            stop_pid(int(ca["pid"]), "simulator.ca")
        self.services_file.unlink(missing_ok=True)
        return self.stack.down() or bool(ca)

    def status(self) -> dict[str, Any]:
        stack = self.stack
        services = self.services()
        ca = services.get("ca")
        running = stack.running()
        return {
            "home": str(self.root),
            "stack": {
                "running": running,
                **({"env": stack.client_env(), "readers": stack.readers()} if running else {}),
            },
            "ca": {**ca, "running": pid_alive(int(ca["pid"]))} if ca else {"running": False},
            "clock": self.clock_setting(),
        }

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
