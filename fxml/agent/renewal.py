"""What the agent needs of the renewal engine, and how it makes one.

The agent runs a renewal on the card of a session, in that reader's worker
thread, through an :data:`EngineFactory`: given a :class:`RenewalContext`
(the session's card client with the PIN verified, the renewal's id and
token, the platform's URL, the CA's URL, the management key, the clock and
a progress callback) it returns something with ``run() -> RenewalRecord``.

The default factory, :func:`platform_engine`, is the real one:
:class:`~fxml.renewal.engine.RenewalEngine` over the platform's record
(:class:`~fxml.renewal.records.PlatformRecords`) and the CA's API.
``--engine module:callable`` names another factory (the tests' stand-in).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fxml.agent.api import AgentError, ErrorCode
from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.piv import Algorithm
from fxml.clock import Clock
from fxml.renewal.download import engine_for
from fxml.renewal.model import RenewalRecord, State
from fxml.renewal.records import PlatformRecords

#: What ``GET /v1/status`` names the default engine.
DEFAULT_ENGINE = "fxml.renewal.download:engine_for"

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
    """The real engine: the platform keeps the record, the CA issues. The record's kind picks the
    engine: 憑證更新 (RenewalEngine) or 憑證下載 (DownloadEngine, with the record's 授權碼: the agent
    never holds the CA's admin token)."""
    if not context.ca_url:
        raise AgentError(ErrorCode.ENGINE_UNAVAILABLE, details={"reason": "no CA URL (--ca-url or FXMLSIM_CA_URL)"})
    return engine_for(
        context.card,
        CaClient(context.ca_url),
        PlatformRecords(context.platform_url, context.renewal_token, context.renewal_id),
        context.management_key.key,
        context.management_key.algorithm,
        context.clock,
        context.on_progress,
    )


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
