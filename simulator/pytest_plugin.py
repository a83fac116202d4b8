"""fxmlsim's pytest plugin: the whole stack, cards in its readers, the bank's personas and the stack's clock
as fixtures, for any project's tests (docs/pytest.md).

Installed with the package (entry point ``pytest11``, ``fxmlsim``), it starts nothing by itself: the stack
starts when a test first asks for :func:`fxmlsim_stack` (directly or through another fixture of this
plugin) and stops at the end of the session, whatever happened. Under pytest-xdist each worker has a stack
of its own, in a home named after the worker (``PYTEST_XDIST_WORKER``); with ``fxmlsim_base_port`` set,
its services' ports are the worker's too.

Fixtures (every name starts with ``fxmlsim_``, so they cannot clash with a project's own):

``fxmlsim_stack`` (session)
    :class:`Stack`: a private home in a temporary folder and the stack ``fxmlsim up`` starts there
    (private pcscd and readers, the CA, the card agent, the FXML platform, the bank), its URLs, its
    ``PCSCLITE_CSOCK_NAME``. While it runs, the test process's environment has the variables ``up``
    exports, so pyscard and fxmlsim's clients reach this stack.
``fxmlsim_clock`` (function)
    :class:`StackClock`: the clock every process of the stack reads (a file clock), on real time unless
    the test is marked ``@pytest.mark.fxmlsim_clock("2023-04-17T11:13:42+08:00")`` or freezes it; back on
    real time after the test.
``fxmlsim_persona`` (function)
    A function: ``fxmlsim_persona("eoi")`` is :class:`PersonaLogin`, a persona of the bank the stack
    serves, by slug or zh-TW title, with its login.
``fxmlsim_card`` (function)
    A function: ``fxmlsim_card("eoi-golden")`` (a card profile of the package, or a profile's path, or a
    profile as a dict) or ``fxmlsim_card(persona="person")`` (the persona's card, as the features make it)
    makes a card image in the stack's home, inserts it into a free reader and returns :class:`Card`; every
    card it inserted is removed after the test.

Markers: ``fxmlsim`` (added to every test that uses the stack, for ``-m "not fxmlsim"``) and
``fxmlsim_clock(instant)``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fxml import env
from fxml.clock import FileClock, parse_instant

if TYPE_CHECKING:
    from simulator.bank.customers import Customer, Persona, User
    from simulator.home import Home

#: The fixtures that start the stack (directly or not): a test using one is marked ``fxmlsim``.
STACK_FIXTURES = ("fxmlsim_stack", "fxmlsim_clock", "fxmlsim_persona", "fxmlsim_card")
#: The worker's id when pytest-xdist runs the session, else this.
NO_WORKER = "main"
#: Readers of the stack unless the ini option ``fxmlsim_readers`` says otherwise.
READERS = 8


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("fxmlsim_readers", f"readers of the fxmlsim stack (default {READERS})", default=str(READERS))
    parser.addini("fxmlsim_base_port", "first port of the fxmlsim stack's services (each xdist worker gets the "
                  "next few); 0 or unset: ports the kernel picks", default="0")
    parser.addini("fxmlsim_keep_home", "keep the fxmlsim stack's home folder after the session (its logs)",
                  type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fxmlsim: uses the fxmlsim stack (set by the fxmlsim plugin)")
    config.addinivalue_line(
        "markers", "fxmlsim_clock(instant): the fxmlsim stack's clock is frozen at this ISO 8601 instant "
        "(Taiwan time if naive) for the test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in STACK_FIXTURES for name in getattr(item, "fixturenames", ())):
            item.add_marker("fxmlsim")


def worker_id() -> str:
    """pytest-xdist's worker (``gw0`` ...), else ``main``."""
    return os.environ.get("PYTEST_XDIST_WORKER") or NO_WORKER


def worker_ports(base: int, worker: str, names: list[str]) -> dict[str, int]:
    """The services' ports of a worker from ``base``: worker ``gwN`` gets ``len(names)`` ports after
    ``base + N * len(names)``; ``main`` the first ones."""
    found = re.fullmatch(r"gw(\d+)", worker)
    first = base + (int(found.group(1)) if found else 0) * len(names)
    return {name: first + i for i, name in enumerate(names)}


# -- the stack ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stack:
    """A running stack: its home, the environment a client needs, its clock file."""

    home: Home
    #: What ``fxmlsim up`` exports: the URLs, ``PCSCLITE_CSOCK_NAME``, the CA's token and the ticket key's files.
    env: dict[str, str]
    clock_file: Path
    worker: str

    @property
    def ca_url(self) -> str:
        return self.env[env.CA_URL]

    @property
    def bank_url(self) -> str:
        return self.env[env.BANK_URL]

    @property
    def platform_url(self) -> str:
        return self.env[env.PLATFORM_URL]

    @property
    def agent_url(self) -> str:
        return self.env[env.AGENT_URL]

    @property
    def pcsc_socket(self) -> str:
        """``PCSCLITE_CSOCK_NAME``: the socket of the stack's pcscd."""
        return self.env[env.PCSC_SOCKET]

    @property
    def urls(self) -> dict[str, str]:
        """The services' base URLs by name (``ca``, ``agent``, ``platform``, ``bank``)."""
        from simulator.services import SERVICES

        return {spec.name: self.env[spec.url_env] for spec in SERVICES}

    def processes(self) -> list[dict[str, Any]]:
        """Every process of the stack as recorded (``pid`` and ``start_time``): the PC/SC daemon, pcscd and
        each service."""
        found = [record for _, record in self.home.stack.processes(self.home.stack.state() or {})]
        found += [info for info in self.home.services().values() if isinstance(info, dict) and "pid" in info]
        return [{"pid": r["pid"], "start_time": r.get("start_time")} for r in found if r.get("pid")]

    def ca_client(self, actor: str = "pytest") -> Any:
        """The engine's CA client on this stack's CA (with its admin token)."""
        from fxml.ca.client import CaClient

        return CaClient.from_env(self.env, actor=actor)


def _start(home: Home, clock_file: Path, readers: int, base_port: int, worker: str) -> dict[str, str]:
    from simulator.home import private_files
    from simulator.services import SERVICES

    ports = worker_ports(base_port, worker, [s.name for s in SERVICES]) if base_port else None
    with private_files():
        FileClock(clock_file).write()
    return home.up(readers=readers, ports=ports)


@pytest.fixture(scope="session")
def fxmlsim_stack(pytestconfig: pytest.Config) -> Iterator[Stack]:
    """The whole fxmlsim stack in a private temporary home, for the session (or the xdist worker)."""
    worker = worker_id()
    readers = int(str(pytestconfig.getini("fxmlsim_readers")))
    base_port = int(str(pytestconfig.getini("fxmlsim_base_port")) or 0)
    keep = bool(pytestconfig.getini("fxmlsim_keep_home"))
    # Short (unix socket paths are at most 107 bytes), private (mkdtemp: 0700) and the worker's.
    home_dir = Path(tempfile.mkdtemp(prefix=f"fxmlsim-{worker}-"))
    clock_file = home_dir / "clock.json"
    home: Home | None = None
    try:
        with pytest.MonkeyPatch.context() as patch:  # session scope: pytest's monkeypatch is per test
            # Every process of the stack reads the clock from this file (docs/stack.md); up passes it on.
            patch.setenv(env.CLOCK, f"file:{clock_file}")
            patch.setenv(env.HOME, str(home_dir))
            from simulator.home import Home

            home = Home(home_dir)
            client_env = _start(home, clock_file, readers, base_port, worker)
            # pcsc-lite reads PCSCLITE_CSOCK_NAME at this process's first PC/SC call.
            for name, value in client_env.items():
                patch.setenv(name, value)
            yield Stack(home, dict(client_env), clock_file, worker)
    finally:
        try:
            if home is not None:
                home.down()
        finally:
            if not keep:
                shutil.rmtree(home_dir, ignore_errors=True)


# -- the clock ------------------------------------------------------------------------------------------------
@dataclass
class StackClock:
    """The clock of every process of the stack (and of the cards it issues), moved by the test."""

    file: FileClock

    def now(self) -> datetime:
        return self.file.now()

    def freeze(self, at: datetime | str) -> None:
        """Stop the clock at ``at`` (an aware datetime, or ISO 8601: Taiwan time if naive)."""
        self.file.write(fixed=parse_instant(at) if isinstance(at, str) else at)

    def advance(self, seconds: float) -> None:
        """Move the clock on; a clock on real time is first frozen at now."""
        self.file.write(fixed=self.file.now() + timedelta(seconds=seconds))

    def real(self) -> None:
        """Back to real time."""
        self.file.write()

    @property
    def setting(self) -> str:
        """``file:<path>``: the ``FXMLSIM_CLOCK`` of the stack's processes."""
        return self.file.describe()


@pytest.fixture
def fxmlsim_clock(request: pytest.FixtureRequest, fxmlsim_stack: Stack) -> Iterator[StackClock]:
    """The stack's clock for this test: frozen where ``@pytest.mark.fxmlsim_clock(instant)`` says, else real
    time; real time again after the test."""
    from simulator.home import private_files

    clock = StackClock(FileClock(fxmlsim_stack.clock_file))
    marker = request.node.get_closest_marker("fxmlsim_clock")
    with private_files():
        if marker is not None and marker.args:
            clock.freeze(marker.args[0])
        else:
            clock.real()
        try:
            yield clock
        finally:
            clock.real()


# -- personas -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonaLogin:
    """A persona of the bank the stack serves, with what its login needs."""

    persona: Persona
    bank_url: str
    platform_url: str

    @property
    def customer(self) -> Customer:
        return self.persona.customer

    @property
    def user(self) -> User:
        return self.persona.customer.users[0]

    @property
    def login_url(self) -> str:
        """The login page of the persona's system (個人網路銀行, 企業網路銀行 or the EOI 系統)."""
        from simulator.bank.systems import BY_SYSTEM

        return f"{self.bank_url}{BY_SYSTEM[self.customer.system].prefix}/login"

    def headless(self, user_code: str | None = None) -> Any:
        """fxmlsim's headless customer (``simulator.customer.Customer``: ``log_in()``, ``enter_platform()``,
        the platform's pages through their forms), with ``user_code`` or the persona's first."""
        from simulator.customer import Customer as AtTheKeyboard

        return AtTheKeyboard(self.customer, user_code or self.user.user_code, self.bank_url, self.platform_url)


@pytest.fixture
def fxmlsim_persona(fxmlsim_stack: Stack) -> Callable[[str], PersonaLogin]:
    """``fxmlsim_persona(name)``: a persona by slug (``eoi``) or zh-TW title (``EOI 企業客戶``)."""
    from simulator.bank.customers import persona

    def find(name: str) -> PersonaLogin:
        return PersonaLogin(persona(name), fxmlsim_stack.bank_url, fxmlsim_stack.platform_url)

    return find


# -- cards ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    """A card the test put into a reader of the stack."""

    name: str
    image: Path
    #: The PC/SC reader's name and the stack's index of it.
    reader: str
    index: int
    #: The 憑證載具密碼.
    pin: str
    #: What ``fxmlsim card show`` shows (its certificates' serials, subjects, dates ...).
    described: dict[str, Any] = field(repr=False)
    persona: PersonaLogin | None = None

    @property
    def serial(self) -> str:
        """The serial (hex) of the certificate in the card's first container."""
        return str(self.described["certificates"][0]["serial"])


class CardMaker:
    """What ``fxmlsim_card`` returns: call it for a card; every card it inserted is removed after the test."""

    def __init__(self, stack: Stack, clock: StackClock, persona: Callable[[str], PersonaLogin]):
        self.stack = stack
        self.clock = clock
        self.persona = persona
        self.inserted: list[Card] = []
        self.count = 0

    def __call__(self, profile: str | Path | dict[str, Any] | None = None, *, persona: str | None = None,
                 name: str | None = None, days_left: int | None = None, reader: int | str | None = None) -> Card:
        """A card made from ``profile`` (a profile of the package by name, a profile file, or a profile's
        JSON as a dict) or ``persona``'s card (its newest certificate, ``days_left`` days to go, 27 unless
        said), inserted into ``reader`` (a free one unless said)."""
        if (profile is None) == (persona is None):
            raise TypeError("fxmlsim_card: give a profile or a persona, not both")
        self.count += 1
        who = self.persona(persona) if persona is not None else None
        if who is not None:
            data = self._persona_profile(who, days_left)
            default_name = f"card-{who.customer.id_number}"
        elif isinstance(profile, dict):
            data, default_name = profile, f"card-{self.count}"
        else:
            path = self._profile_path(profile)
            data, default_name = json.loads(path.read_text(encoding="utf-8")), path.stem
        card_name = name or f"{default_name}-{os.getpid()}-{self.count}"
        home = self.stack.home
        from simulator.home import private_files

        with private_files():
            source = home.root / f"{card_name}.profile.json"
            source.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
            image = home.create_card(source, name=card_name, replace=True)
        described = home.describe_card(image)
        found = home.stack.insert(image, reader)
        card = Card(card_name, image, str(found["name"]), int(found["index"]), str(data["pin"]), described, who)
        self.inserted.append(card)
        return card

    @staticmethod
    def _profile_path(profile: str | Path | None) -> Path:
        from simulator.resources import CARD_PROFILES

        assert profile is not None
        path = Path(profile)
        if path.suffix == ".json" or os.sep in str(profile):
            return path
        packaged = CARD_PROFILES / f"{profile}.json"
        if not packaged.is_file():
            known = ", ".join(sorted(p.stem for p in CARD_PROFILES.glob("*.json")))
            raise FileNotFoundError(f"no card profile {profile!r} in fxmlsim (profiles: {known})")
        return packaged

    def _persona_profile(self, who: PersonaLogin, days_left: int | None) -> dict[str, Any]:
        """The persona's card profile, as the features make it (simulator.persona_cards): what earlier tests
        issued to the customer and left valid is revoked first (the bank replaced that card)."""
        from simulator.bank.cards import DAYS_LEFT
        from simulator.home import private_files
        from simulator.persona_cards import persona_card_profile

        with private_files():
            return persona_card_profile(self.stack.home, self.stack.ca_client(), who.customer, self.clock.now(),
                                        days_left=DAYS_LEFT if days_left is None else days_left)

    def remove_all(self) -> None:
        from simulator.pcsc.stack import StackError

        home = self.stack.home
        if not home.stack.running():
            return
        for card in reversed(self.inserted):
            with contextlib.suppress(StackError):  # a test may have removed it itself
                held = {r["index"]: r["card"] for r in home.stack.readers()}
                if held.get(card.index):
                    home.stack.remove(card.index)
        self.inserted.clear()


@pytest.fixture
def fxmlsim_card(fxmlsim_stack: Stack, fxmlsim_clock: StackClock,
                 fxmlsim_persona: Callable[[str], PersonaLogin]) -> Iterator[CardMaker]:
    """``fxmlsim_card(profile)`` or ``fxmlsim_card(persona=...)``: a card in a reader of the stack, removed
    after the test."""
    maker = CardMaker(fxmlsim_stack, fxmlsim_clock, fxmlsim_persona)
    try:
        yield maker
    finally:
        maker.remove_all()
