"""The agent itself, without HTTP: readers, card sessions, renewals, signatures, events.

Threads:

- the **event loop** owns every table (readers, sessions, jobs, the event
  hub); nothing else touches them;
- each **reader** has one worker thread (a one-thread executor): every card
  command of that reader runs there, one at a time, in the order asked, so
  two requests never interleave their APDUs on one card;
- the **PC/SC monitor** thread (:mod:`fxml.agent.monitor`) hands reader and
  card changes to the loop.

A session is one PC/SC connection, opened in exclusive mode so no other
program can use the card (and its verified PIN) meanwhile, on which the PIN
was verified. It ends by ``DELETE`` (the card is reset, which drops the PIN),
by the card's removal, after ``idle_seconds`` unused, or when the agent stops.
The PIN is passed to the card's VERIFY and not kept: no table, log line or
answer holds it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from cryptography.hazmat.primitives import serialization

from fxml.agent.api import (
    API_VERSION,
    DEFAULT_IDLE_SECONDS,
    SERVICE_NAME,
    SIGNATURE_ALGORITHM,
    AgentError,
    CardJson,
    ErrorCode,
    EventType,
    JobStatus,
    PinChangeJson,
    ProgressJson,
    ReaderJson,
    RenewalJson,
    SessionEnd,
    SessionJson,
    SignatureJson,
    StatusJson,
)
from fxml.agent.cards import check_pin_change, common_name, read_card, translate
from fxml.agent.events import Event, EventHub
from fxml.agent.guard import normalize_origin
from fxml.agent.monitor import PcscMonitor, ReaderChange, ReaderState, live_states
from fxml.agent.renewal import (
    DEFAULT_MANAGEMENT_KEY,
    EngineFactory,
    ManagementKey,
    Progress,
    RenewalContext,
    platform_engine,
)
from fxml.card.client import PivCardClient, check_pin_format
from fxml.card.errors import (
    CardError,
    InvalidPinFormatError,
    NotFoundError,
)
from fxml.card.pcsc import PcscConnection, PcscError
from fxml.card.piv import KeyRef
from fxml.clock import Clock
from fxml.renewal.model import RenewalRecord, State

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Finished renewals and ended sessions remembered for the pages that ask later.
KEEP_FINISHED = 200


@dataclass(frozen=True)
class AgentSettings:
    #: The origins whose pages may use the agent (normalized, e.g. ``http://127.0.0.1:8001``).
    origins: tuple[str, ...] = ()
    #: The port the agent listens on (the Host check needs it).
    port: int = 0
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    management_key: ManagementKey = DEFAULT_MANAGEMENT_KEY
    ca_url: str | None = None
    #: Where renewal records are kept when a request without Origin names none.
    platform_url: str | None = None
    engine: EngineFactory = platform_engine
    #: What ``engine`` is ("module:name"); None when there is no engine (renewals are refused).
    engine_name: str | None = None
    clock: Clock = field(default_factory=Clock)
    version: str = "0"


# -- readers, sessions, renewals --------------------------------------------------------------------
class ReaderSlot:
    """One reader: its last known state and the worker thread its card commands run on."""

    def __init__(self, state: ReaderState):
        self.name = state.name
        self.state = state
        self.session: Session | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reader {state.name}")

    @property
    def present(self) -> bool:
        return self.state.present

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on this reader's worker, after the commands asked before it."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)


@dataclass(eq=False)
class Session:
    id: str
    slot: ReaderSlot
    origin: str | None
    connection: PcscConnection
    client: PivCardClient
    card: CardJson
    #: The reader's event counter when the session was opened: the card it was opened on.
    counter: int
    closed: SessionEnd | None = None
    busy: int = 0
    job: Job | None = None
    timer: asyncio.TimerHandle | None = None

    @property
    def tag(self) -> str:
        """What the log calls the session (never its id)."""
        return f"session#{self.id[:6]}"


@dataclass(eq=False)
class Job:
    id: str
    session: str
    reader: str
    renewal_id: str
    origin: str | None
    status: JobStatus = JobStatus.RUNNING
    state: State | None = None
    progress: list[ProgressJson] = field(default_factory=list)
    record: RenewalRecord | None = None
    error: AgentError | None = None

    def to_json(self) -> RenewalJson:
        return {
            "job": self.id,
            "session": self.session,
            "reader": self.reader,
            "renewal_id": self.renewal_id,
            "status": self.status.value,
            "state": self.state.value if self.state else None,
            "label": self.state.label if self.state else None,
            "progress": list(self.progress),
            "record": self.record.to_json() if self.record else None,
            "error": self.error.to_json() if self.error else None,
        }


def _new_id() -> str:
    return secrets.token_urlsafe(24)


class CardAgent:
    """Everything the HTTP layer calls; every ``async`` method runs on the event loop."""

    def __init__(self, settings: AgentSettings):
        self.settings = settings
        self.hub = EventHub()
        self.slots: dict[str, ReaderSlot] = {}
        self.sessions: dict[str, Session] = {}
        #: Ended sessions: why, and for which origin (so a page learns "card removed", not "unknown").
        self.ended: dict[str, tuple[SessionEnd, str | None]] = {}
        self.jobs: dict[str, Job] = {}
        self.pcsc_available = False
        self.pcsc_message: str | None = "not started"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor: PcscMonitor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, *, monitor: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        if monitor:
            self._monitor = PcscMonitor(self._from_monitor)
            self._monitor.start()
            # The first snapshot comes at once (the daemon answers without blocking).
            await self._loop.run_in_executor(None, self._monitor.ready.wait, 10.0)
            # ... and reaches the loop's queue after this point: let it run.
            await asyncio.sleep(0)

    def stop_streams(self) -> None:
        """End every event stream (the server is shutting down and waits for open answers)."""
        self.hub.close()

    async def stop(self) -> None:
        self.hub.close()
        if self._monitor is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._monitor.stop)
        for session in list(self.sessions.values()):
            self._close(session, SessionEnd.SHUTDOWN)
        for slot in self.slots.values():
            await asyncio.get_running_loop().run_in_executor(None, functools.partial(slot.executor.shutdown, True))

    # -- PC/SC changes ------------------------------------------------------------------------
    def _from_monitor(self, change: ReaderChange) -> None:
        """Called on the monitor's thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._apply, change)

    def _apply(self, change: ReaderChange) -> None:
        if change.kind == "snapshot":
            self._snapshot(change.readers)
        elif change.kind == "pcsc":
            self._pcsc(change.available, change.message)
        elif change.reader is not None:
            self._reader_change(change.kind, change.reader)

    def _pcsc(self, available: bool, message: str | None) -> None:
        self.pcsc_available = available
        self.pcsc_message = None if available else message
        if not available:
            for session in list(self.sessions.values()):
                self._close(session, SessionEnd.CARD_REMOVED)
        self.hub.publish(Event(EventType.PCSC, {"available": available, "message": self.pcsc_message}))

    def _snapshot(self, readers: tuple[ReaderState, ...]) -> None:
        first = not self.pcsc_available and not self.slots
        self.pcsc_available, self.pcsc_message = True, None
        names = {r.name for r in readers}
        for gone in [n for n in self.slots if n not in names]:
            self._reader_change("reader_removed", self.slots[gone].state)
        for state in readers:
            slot = self.slots.get(state.name)
            if slot is None:
                if first:
                    self.slots[state.name] = ReaderSlot(state)
                else:
                    self._reader_change("reader_added", state)
                    if state.present:
                        self._reader_change("card_inserted", state)
                continue
            if slot.present and (not state.present or state.counter != slot.state.counter):
                self._reader_change("card_removed", state)
            if state.present and (not slot.present or state.counter != slot.state.counter):
                self._reader_change("card_inserted", state)
            slot.state = state

    def _reader_change(self, kind: str, state: ReaderState) -> None:
        name = state.name
        slot = self.slots.get(name)
        if kind == "reader_added":
            if slot is None:
                self.slots[name] = ReaderSlot(state)
            self.hub.publish(Event(EventType.READER_ADDED, {"reader": name}))
        elif kind == "reader_removed":
            if slot is not None:
                if slot.session is not None:
                    self._close(slot.session, SessionEnd.CARD_REMOVED)
                del self.slots[name]
                slot.executor.shutdown(wait=False)
            self.hub.publish(Event(EventType.READER_REMOVED, {"reader": name}))
        elif kind == "card_inserted":
            if slot is None:
                return
            slot.state = state
            log.info("card inserted in %r", name)
            self.hub.publish(Event(EventType.CARD_INSERTED, {"reader": name, "atr": state.atr.hex(" ").upper()}))
        elif kind == "card_removed":
            if slot is None:
                return
            slot.state = ReaderState(name, False, b"", state.counter)
            log.info("card removed from %r", name)
            self.hub.publish(Event(EventType.CARD_REMOVED, {"reader": name}))
            # A removal the daemon counted after the session's card went in ends it (a
            # late report of an earlier card's removal does not).
            if slot.session is not None and state.counter > slot.session.counter:
                self._close(slot.session, SessionEnd.CARD_REMOVED)

    # -- readers ------------------------------------------------------------------------------
    def _require_pcsc(self) -> None:
        if not self.pcsc_available:
            raise AgentError(ErrorCode.PCSC_UNAVAILABLE, details={"reason": self.pcsc_message or ""})

    async def _live(self) -> dict[str, ReaderState]:
        """The readers as the daemon sees them now (the monitor's events may lag behind)."""
        self._require_pcsc()
        try:
            states = await asyncio.get_running_loop().run_in_executor(None, live_states)
        except PcscError as exc:
            raise translate(exc) from exc
        return {s.name: s for s in states}

    async def readers(self) -> list[ReaderJson]:
        live = await self._live()
        slots = [s for s in self.slots.values() if s.name in live]
        return list(await asyncio.gather(*(self._reader_json(i, s, live[s.name]) for i, s in enumerate(slots))))

    async def _reader_json(self, index: int, slot: ReaderSlot, live: ReaderState) -> ReaderJson:
        answer: ReaderJson = {
            "name": slot.name, "index": index, "present": live.present, "in_session": slot.session is not None,
            "card": None, "error": None,
        }
        if slot.session is not None:
            answer["card"] = slot.session.card
        elif live.present:
            try:
                answer["card"] = await slot.run(functools.partial(self._read_reader, slot.name))
            except AgentError as exc:
                answer["error"] = exc.to_json()
            if slot.session is not None:  # a session opened meanwhile, and holds the card
                answer.update(card=slot.session.card, error=None, in_session=True)
        return answer

    @staticmethod
    def _read_reader(name: str) -> CardJson:
        try:
            with PcscConnection(name) as connection:
                return read_card(PivCardClient(connection), connection.atr)
        except Exception as exc:
            raise translate(exc) from exc

    async def _pick(self, reader: str | None) -> tuple[ReaderSlot, ReaderState]:
        """The reader named (which must hold a card), or the only one holding a card."""
        self._require_pcsc()
        if reader is not None and reader not in self.slots:
            raise AgentError(ErrorCode.READER_NOT_FOUND, details={"reader": reader, "readers": list(self.slots)})
        live = await self._live()
        if reader is not None:
            state = live.get(reader)
            if state is None or reader not in self.slots:
                raise AgentError(ErrorCode.READER_NOT_FOUND, details={"reader": reader, "readers": list(self.slots)})
            if not state.present:
                raise AgentError(ErrorCode.NO_CARD, details={"reader": reader})
            return self.slots[reader], state
        present = [s for s in live.values() if s.present and s.name in self.slots]
        if not present:
            raise AgentError(ErrorCode.NO_CARD)
        if len(present) > 1:
            raise AgentError(ErrorCode.MULTIPLE_CARDS, details={"readers": [s.name for s in present]})
        return self.slots[present[0].name], present[0]

    # -- sessions -----------------------------------------------------------------------------
    async def open_session(self, reader: str | None, pin: str, origin: str | None) -> SessionJson:
        try:
            check_pin_format(pin)
        except InvalidPinFormatError:
            raise AgentError(ErrorCode.PIN_FORMAT) from None
        slot, live = await self._pick(reader)
        self._take(slot, origin)
        counter = live.counter
        opened = await slot.run(functools.partial(self._connect_and_verify, slot.name, pin))
        del pin
        connection, client, card = opened
        if slot.session is not None or slot.state.counter > counter:
            # Another page got there first, or the monitor saw the card go while it was being read.
            slot.executor.submit(_disconnect, connection, True)
            if slot.session is not None:
                raise AgentError(ErrorCode.READER_IN_USE, details={"reader": slot.name})
            raise AgentError(ErrorCode.CARD_REMOVED, details={"reader": slot.name})
        session = Session(_new_id(), slot, origin, connection, client, card, counter)
        self.sessions[session.id] = session
        slot.session = session
        self._arm(session)
        log.info("%s opened on %r", session.tag, slot.name)
        return self._session_json(session)

    def _take(self, slot: ReaderSlot, origin: str | None) -> None:
        """Make room on ``slot`` for a command of ``origin``: a session of another origin holds the card
        (READER_IN_USE), one of the same origin at work too (SESSION_BUSY); an idle one of the same
        origin (a reload) is ended."""
        old = slot.session
        if old is not None:
            if old.origin != origin:
                raise AgentError(ErrorCode.READER_IN_USE, details={"reader": slot.name})
            if old.busy:
                raise AgentError(ErrorCode.SESSION_BUSY, details={"reader": slot.name})
            self._close(old, SessionEnd.REPLACED)

    def _connect_and_verify(self, reader: str, pin: str) -> tuple[PcscConnection, PivCardClient, CardJson]:
        """On the reader's worker: connect exclusively, VERIFY, read the card."""
        connection = PcscConnection(reader, exclusive=True)
        try:
            client = _selected(connection)
            client.verify_pin(pin)
            return connection, client, read_card(client, connection.atr)
        except BaseException as exc:
            connection.close(reset=True)
            if isinstance(exc, Exception):
                raise translate(exc) from exc
            raise

    def _session_json(self, session: Session) -> SessionJson:
        return {
            "session": session.id,
            "reader": session.slot.name,
            "origin": session.origin,
            "idle_timeout": self.settings.idle_seconds,
            "card": session.card,
        }

    def session(self, session_id: object, origin: str | None) -> Session:
        """The open session ``session_id`` of ``origin``; SESSION_* errors otherwise."""
        if not isinstance(session_id, str) or not session_id:
            raise AgentError(ErrorCode.FIELD_INVALID, details={"field": "session"})
        session = self.sessions.get(session_id)
        if session is None:
            ended = self.ended.get(session_id)
            if ended is not None and ended[1] == origin:
                raise AgentError(ErrorCode.SESSION_CLOSED, details={"reason": ended[0].value})
            raise AgentError(ErrorCode.SESSION_NOT_FOUND)
        if session.origin != origin:
            raise AgentError(ErrorCode.SESSION_ORIGIN_MISMATCH)
        return session

    def session_json(self, session_id: str, origin: str | None) -> SessionJson:
        return self._session_json(self.session(session_id, origin))

    async def close_session(self, session_id: str, origin: str | None) -> None:
        session = self.session(session_id, origin)
        if session.job is not None and session.job.status is JobStatus.RUNNING:
            raise AgentError(ErrorCode.SESSION_BUSY)
        self._close(session, SessionEnd.CLOSED)

    def _arm(self, session: Session) -> None:
        if session.timer is not None:
            session.timer.cancel()
        session.timer = None
        if session.closed is None and session.busy == 0 and self._loop is not None:
            session.timer = self._loop.call_later(self.settings.idle_seconds, self._idle, session)

    def _idle(self, session: Session) -> None:
        session.timer = None
        if session.busy == 0 and session.closed is None:
            self._close(session, SessionEnd.IDLE_TIMEOUT)

    def _close(self, session: Session, reason: SessionEnd) -> None:
        """End a session now; its connection is closed on the reader's worker after
        the command running there (a card reset drops the verified PIN)."""
        if session.closed is not None:
            return
        session.closed = reason
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        self.sessions.pop(session.id, None)
        self.ended[session.id] = (reason, session.origin)
        while len(self.ended) > KEEP_FINISHED:
            self.ended.pop(next(iter(self.ended)))
        if session.slot.session is session:
            session.slot.session = None
        reset = reason is not SessionEnd.CARD_REMOVED
        try:
            session.slot.executor.submit(_disconnect, session.connection, reset)
        except RuntimeError:  # the reader's worker is gone (reader removed, agent stopping)
            _disconnect(session.connection, reset)
        log.info("%s ended: %s", session.tag, reason.value)
        self.hub.publish(Event(
            EventType.SESSION_CLOSED,
            {"session": session.id, "reader": session.slot.name, "reason": reason.value},
            broadcast=False, origin=session.origin,
        ))

    async def _use(self, session: Session, work: Callable[[], T]) -> T:
        """Run ``work`` on the session's card, on its reader's worker."""
        if session.job is not None and session.job.status is JobStatus.RUNNING:
            raise AgentError(ErrorCode.SESSION_BUSY)
        session.busy += 1
        self._arm(session)
        try:
            return await session.slot.run(functools.partial(self._guarded, session, work))
        except AgentError as exc:
            if exc.code == ErrorCode.CARD_REMOVED:
                self._close(session, SessionEnd.CARD_REMOVED)
            raise
        finally:
            session.busy -= 1
            self._arm(session)

    @staticmethod
    def _guarded(session: Session, work: Callable[[], T]) -> T:
        if session.closed is not None:
            raise AgentError(ErrorCode.SESSION_CLOSED, details={"reason": session.closed.value})
        try:
            return work()
        except Exception as exc:
            raise translate(exc) from exc

    # -- 憑證載具密碼變更 --------------------------------------------------------------------------------
    async def change_pin(self, reader: str | None, old_pin: object, new_pin: object, origin: str | None
                         ) -> PinChangeJson:
        """CHANGE REFERENCE DATA on the card. Both PINs are checked against the card's rules first
        (nothing is sent for a refused one); the card then checks the old PIN itself, a wrong one
        counting a try on its counter as VERIFY's does. The card is held exclusively for the command
        only, then reset; no session stays open and no PIN is kept."""
        check_pin_change(old_pin, new_pin)
        assert isinstance(old_pin, str) and isinstance(new_pin, str)
        slot, _live = await self._pick(reader)
        self._take(slot, origin)
        card = await slot.run(functools.partial(self._connect_and_change, slot.name, old_pin, new_pin))
        del old_pin, new_pin
        log.info("PIN changed on the card in %r", slot.name)
        return {"reader": slot.name, "card": card}

    @staticmethod
    def _connect_and_change(reader: str, old_pin: str, new_pin: str) -> CardJson:
        """On the reader's worker: connect exclusively, CHANGE REFERENCE DATA, read the card, reset it."""
        connection = PcscConnection(reader, exclusive=True)
        try:
            client = _selected(connection)
            client.change_pin(old_pin, new_pin)
            return read_card(client, connection.atr)
        except Exception as exc:
            raise translate(exc) from exc
        finally:
            connection.close(reset=True)

    # -- signatures ------------------------------------------------------------------------------
    async def sign(self, session_id: str, origin: str | None, data: bytes, container: str | None) -> SignatureJson:
        session = self.session(session_id, origin)
        return await self._use(session, functools.partial(self._sign, session, data, container))

    @staticmethod
    def _sign(session: Session, data: bytes, container: str | None) -> SignatureJson:
        certificates = session.card["certificates"]
        if container is None:
            if not certificates:
                raise AgentError(ErrorCode.NO_CERTIFICATE)
            container = max(certificates, key=lambda c: datetime.fromisoformat(c["not_before"]))["container"]
        ref = KeyRef(int(container, 16))
        try:
            cert = session.client.certificate(ref)
        except NotFoundError:
            raise AgentError(ErrorCode.NO_CERTIFICATE, details={"container": container}) from None
        signature = session.client.sign(ref, data)
        return {
            "signature": base64.b64encode(signature).decode("ascii"),
            "algorithm": SIGNATURE_ALGORITHM,
            "container": f"{int(ref):02X}",
            "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "serial": f"{cert.serial_number:X}",
            "common_name": common_name(cert),
        }

    # -- renewals --------------------------------------------------------------------------------
    def _platform_url(self, given: str | None, origin: str | None) -> str:
        if given is None:
            if origin is not None:
                return origin
            if self.settings.platform_url:
                return self.settings.platform_url
            raise AgentError(ErrorCode.FIELD_INVALID, details={"field": "platform_url"})
        try:
            given_origin = normalize_origin(given)
        except ValueError:
            raise AgentError(ErrorCode.FIELD_INVALID, details={"field": "platform_url"}) from None
        if origin is not None and given_origin != origin:
            raise AgentError(ErrorCode.PLATFORM_URL_REFUSED, details={"platform_url": given[:200]})
        return given.rstrip("/")

    async def start_renewal(
        self, session_id: str, origin: str | None, renewal_id: str, token: str, platform_url: str | None
    ) -> RenewalJson:
        session = self.session(session_id, origin)
        if self.settings.engine_name is None:
            raise AgentError(ErrorCode.ENGINE_UNAVAILABLE)
        if session.busy or (session.job is not None and session.job.status is JobStatus.RUNNING):
            raise AgentError(ErrorCode.SESSION_BUSY)
        url = self._platform_url(platform_url, origin)
        job = Job(_new_id(), session.id, session.slot.name, renewal_id, origin)
        self.jobs[job.id] = job
        while len(self.jobs) > KEEP_FINISHED:
            oldest = next(iter(self.jobs.values()))
            if oldest.status is JobStatus.RUNNING:
                break
            self.jobs.pop(oldest.id)
        session.job = job
        session.busy += 1
        self._arm(session)
        loop = asyncio.get_running_loop()

        def progress(update: Progress) -> None:  # on the reader's worker
            loop.call_soon_threadsafe(self._progress, job, update)

        context = RenewalContext(
            card=session.client, renewal_id=renewal_id, renewal_token=token, platform_url=url,
            ca_url=self.settings.ca_url, management_key=self.settings.management_key, clock=self.settings.clock,
            on_progress=progress,
        )
        future = session.slot.run(functools.partial(self._guarded, session, functools.partial(self._renew, session,
                                                                                                 context)))
        task = asyncio.ensure_future(self._finish(session, job, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("renewal %s started on %s", renewal_id, session.tag)
        self._publish_job(job)
        return job.to_json()

    def _renew(self, session: Session, context: RenewalContext) -> RenewalRecord:
        record = self.settings.engine(context).run()
        try:  # the card now holds another certificate: what the pages show comes from it
            session.card = read_card(session.client, session.connection.atr)
        except (CardError, PcscError, AgentError) as exc:
            log.warning("%s: reading the card after the renewal failed: %s", session.tag, exc)
        return record

    def _progress(self, job: Job, update: Progress) -> None:
        state = update.state if isinstance(update, RenewalRecord) else State(update)
        if job.status is not JobStatus.RUNNING or state == job.state:
            return
        job.state = state
        job.progress.append({"state": state.value, "label": state.label,
                             "at": self.settings.clock.now_taiwan().isoformat()})
        self._publish_job(job)

    async def _finish(self, session: Session, job: Job, future: Awaitable[RenewalRecord]) -> None:
        try:
            record = await future
        except AgentError as exc:
            job.status, job.error = JobStatus.FAILED, exc
            log.info("renewal %s failed: %s", job.renewal_id, exc.code)
            if exc.code == ErrorCode.CARD_REMOVED:
                self._close(session, SessionEnd.CARD_REMOVED)
        except Exception as exc:  # noqa: BLE001 - translate() logs what it does not know
            job.status, job.error = JobStatus.FAILED, translate(exc)
        else:
            self._progress(job, record)
            job.status, job.record = JobStatus.DONE, record
            log.info("renewal %s done (%s)", job.renewal_id, record.state.value)
        finally:
            session.busy -= 1
            self._arm(session)
            self._publish_job(job)

    def _publish_job(self, job: Job) -> None:
        self.hub.publish(Event(EventType.RENEWAL, dict(job.to_json()), broadcast=False, origin=job.origin))

    def renewal(self, job_id: str, origin: str | None) -> RenewalJson:
        job = self.jobs.get(job_id)
        if job is None:
            raise AgentError(ErrorCode.RENEWAL_NOT_FOUND)
        if job.origin != origin:
            raise AgentError(ErrorCode.SESSION_ORIGIN_MISMATCH)
        return job.to_json()

    # -- status and events -------------------------------------------------------------------------
    async def status(self) -> StatusJson:
        readers, cards = len(self.slots), sum(1 for s in self.slots.values() if s.present)
        if self.pcsc_available:
            try:
                live = await self._live()
            except AgentError:
                pass  # the monitor will say what happened; the counts it has are the best known
            else:
                readers, cards = len(live), sum(1 for s in live.values() if s.present)
        return {
            "service": SERVICE_NAME,
            "version": self.settings.version,
            "api": API_VERSION,
            "pcsc": {"available": self.pcsc_available, "message": self.pcsc_message},
            "readers": readers,
            "cards": cards,
            "sessions": len(self.sessions),
            "renewals_running": sum(1 for j in self.jobs.values() if j.status is JobStatus.RUNNING),
            "allowed_origins": list(self.settings.origins),
            "engine": self.settings.engine_name,
            "idle_timeout": self.settings.idle_seconds,
        }

    async def hello(self) -> Event:
        """The first event of a stream: the readers as the daemon sees them now."""
        present = {s.name: s.present for s in self.slots.values()}
        if self.pcsc_available:
            with contextlib.suppress(AgentError):  # the monitor's view, then
                present = {name: state.present for name, state in (await self._live()).items()}
        return Event(EventType.HELLO, {
            "api": API_VERSION,
            "pcsc": {"available": self.pcsc_available, "message": self.pcsc_message},
            "readers": [{"reader": name, "present": value} for name, value in present.items()],
        })


def _selected(connection: PcscConnection) -> PivCardClient:
    """Connect, and select the PIV application (CARD_NOT_SUPPORTED: the card has none)."""
    connection.connect()
    client = PivCardClient(connection)
    try:
        client.select()
    except CardError as exc:
        raise AgentError(ErrorCode.CARD_NOT_SUPPORTED, details={"sw": f"{exc.sw:04X}"}) from exc
    return client


def _disconnect(connection: PcscConnection, reset: bool) -> None:
    # PC/SC's answer does not matter: a card or daemon that is gone ended the connection anyway.
    connection.close(reset=reset)
