"""What the agent needs of the renewal engine, and how it finds one.

The agent runs a renewal on the card of a session, in that reader's worker
thread, through an :data:`EngineFactory`: given a :class:`RenewalContext`
(the session's card client with the PIN verified, the renewal's id and
token, the platform's URL, the CA's URL, the management key, the clock and
a progress callback) it returns something with ``run() -> RenewalRecord``.

The default factory builds ``fxml.renewal.engine.RenewalEngine`` with
``fxml.renewal.records.PlatformRecords`` as its record store, looked up when
the first renewal starts, so the agent runs (and says ``ENGINE_UNAVAILABLE``
for renewals) on a tree without the engine. ``--engine module:callable``
names another factory (the tests' stand-in).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fxml.agent.api import AgentError, ErrorCode
from fxml.card.client import PivCardClient
from fxml.card.piv import Algorithm
from fxml.clock import Clock
from fxml.renewal.model import RenewalRecord, State

#: The engine's module and class, and the record store over HTTP (issue 9, branch ``engine``).
ENGINE_MODULE = "fxml.renewal.engine"
ENGINE_CLASS = "RenewalEngine"
RECORDS_MODULE = "fxml.renewal.records"
RECORDS_CLASS = "PlatformRecords"
DEFAULT_ENGINE = f"{ENGINE_MODULE}:{ENGINE_CLASS}"

#: What the engine reports as it goes: the record it just wrote, or the state it reached.
Progress = RenewalRecord | State


@dataclass(frozen=True)
class ManagementKey:
    """The card administration key the engine authenticates with for GENERATE and PUT DATA."""

    algorithm: Algorithm
    key: bytes = field(repr=False)


#: The PIV default management key (3-key TDEA 0102...08 three times), which the
#: fixture cards use (fixtures/cards/*.json). A real bank's cards have their own.
DEFAULT_MANAGEMENT_KEY = ManagementKey(Algorithm.TDEA_3KEY, bytes.fromhex("0102030405060708" * 3))


class Renewal(Protocol):
    """One renewal, ready to run."""

    def run(self) -> RenewalRecord:
        """Take the renewal from where its record is to DONE; the final record.

        Raises for a refusal: an exception with ``code`` and ``message``
        (the engine's, the CA's :class:`~fxml.ca.client.CaError`, the
        platform's :class:`~fxml.renewal.model.RecordError`), a card error,
        or a PC/SC error (the card was removed).
        """
        ...


@dataclass(frozen=True)
class RenewalContext:
    """Everything a renewal run gets from the agent."""

    card: PivCardClient
    renewal_id: str
    renewal_token: str = field(repr=False)
    platform_url: str
    ca_url: str | None
    management_key: ManagementKey
    clock: Clock
    on_progress: Callable[[Progress], None]


EngineFactory = Callable[[RenewalContext], Renewal]


def platform_engine(context: RenewalContext) -> Renewal:
    """The real engine over the platform's records and the CA's API."""
    try:
        engine_module = importlib.import_module(ENGINE_MODULE)
        records_module = importlib.import_module(RECORDS_MODULE)
        engine_class: Any = getattr(engine_module, ENGINE_CLASS)
        records_class: Any = getattr(records_module, RECORDS_CLASS)
    except (ImportError, AttributeError) as exc:
        raise AgentError(ErrorCode.ENGINE_UNAVAILABLE, details={"reason": str(exc)}) from None
    from fxml.ca.client import CaClient

    if not context.ca_url:
        raise AgentError(ErrorCode.ENGINE_UNAVAILABLE, details={"reason": "no CA URL (--ca-url or FXMLSIM_CA_URL)"})
    engine: Renewal = engine_class(
        context.card,
        CaClient(context.ca_url),
        records_class(context.platform_url, context.renewal_token),
        context.management_key.key,
        context.management_key.algorithm,
        context.clock,
        context.on_progress,
    )
    return engine


def engine_available() -> bool:
    return importlib.util.find_spec(ENGINE_MODULE) is not None


def load_factory(spec: str) -> EngineFactory:
    """The factory ``module:callable`` names; ValueError if it cannot be found."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--engine takes module:callable, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load the renewal engine {spec!r}: {exc}") from exc
    if not callable(factory):
        raise ValueError(f"{spec!r} is not callable")
    loaded: EngineFactory = factory
    return loaded
