"""The card OS of the virtual TWCA chip card, on virtualsmartcard's SmartcardOS.

:class:`TwcaCardOS` is what vpcd talks to (through the stack's card link) and
what in-process tests talk to (through :class:`InProcessConnection`). It owns
the transport-level concerns: class byte checks, command chaining and 61xx
response chaining (:mod:`simulator.card.chaining`), APDU tracing
(:mod:`simulator.card.trace`), power events, and turning every error into a
status word. The PIV application itself is :class:`PivApplet`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from fxml.card.apdu import CLA_CHAINING, SW, ApduError, CommandApdu, MalformedApduError, response
from fxml.card.piv import INS
from simulator.card import trace
from simulator.card.applet import PivApplet
from simulator.card.chaining import CommandChainer, ResponseChainer
from simulator.card.image import CardImage, Carrier, load_image, save_image
from simulator.card.keys import KeyFactory, generate_rsa_key
from simulator.card.vsc import SmartcardOS

log = logging.getLogger(__name__)


def _atr(last_historical: bytes) -> bytes:
    """3B (direct), T0 = 8K (TD1 and K historical bytes), TD1 = 80 (TD2; T=0),
    TD2 = 01 (T=1), historical bytes in compact-TLV (category 80): card
    capabilities 73 80 01 C0 (select by DF name; command chaining and
    extended Lc/Le), card issuer's data 55 'TWCA' + form factor; then TCK."""
    hist = bytes.fromhex("80 738001C0") + b"\x55TWCA" + last_historical
    body = bytes([0x3B, 0x80 | len(hist), 0x80, 0x01]) + hist
    tck = 0
    for b in body[1:]:
        tck ^= b
    return body + bytes([tck])


#: ATR of each carrier. They differ only in the last historical byte ('L'/'S')
#: and match no ATR table of OpenSC's drivers, so OpenSC finds the card by
#: its PIV application.
ATRS: dict[Carrier, bytes] = {Carrier.LARGE: _atr(b"L"), Carrier.SMALL: _atr(b"S")}

#: ATR of the null card: T=0 and T=1, no historical bytes.
NULL_ATR = bytes.fromhex("3B80800101")

_OK = b"\x90\x00"


class CardOs(Protocol):
    """What the reader side asks of a card OS: virtualsmartcard's ``SmartcardOS``
    interface, typed (the package itself has no annotations)."""

    def getATR(self) -> bytes: ...  # noqa: N802 - SmartcardOS interface
    def powerUp(self) -> None: ...  # noqa: N802 - SmartcardOS interface
    def powerDown(self) -> None: ...  # noqa: N802 - SmartcardOS interface
    def reset(self) -> None: ...
    def execute(self, msg: bytes) -> bytes: ...


class TwcaCardOS(SmartcardOS):
    """A TWCA chip card: PIV card edge plus the TWCA card-information object.

    ``execute`` never raises: malformed input, unknown commands and bugs all
    end in a status word (a bug in 6F00, logged with its traceback).
    """

    def __init__(
        self,
        image: CardImage,
        *,
        persist: Callable[[CardImage], None] | None = None,
        image_path: Path | None = None,
        key_factory: KeyFactory = generate_rsa_key,
        random: Callable[[int], bytes] | None = None,
    ):
        if persist is None:
            if image_path is None:
                raise TypeError("a card needs image_path or a persist callback")
            persist = self._save
        self.image_path = image_path
        self._key_factory = key_factory
        kwargs = {} if random is None else {"random": random}
        self.applet = PivApplet(image, persist, key_factory=key_factory, **kwargs)
        self._commands = CommandChainer()
        self._responses = ResponseChainer()
        self._lock = threading.Lock()
        # For the trace: whether the pending response parts belong to a secret exchange.
        self._secret_response = False

    @classmethod
    def open(cls, image_path: Path | str, *, key_factory: KeyFactory = generate_rsa_key) -> TwcaCardOS:
        """The card whose image is at ``image_path``; CardImageError if unusable."""
        path = Path(image_path)
        return cls(load_image(path), image_path=path, key_factory=key_factory)

    def _save(self, image: CardImage) -> None:
        assert self.image_path is not None
        save_image(image, self.image_path)

    @property
    def image(self) -> CardImage:
        """The card's current state (as last written to its image)."""
        return self.applet.image

    @property
    def key_factory(self) -> KeyFactory:
        return self._key_factory

    def reload(self) -> None:
        """Read the image file again (as after a power cycle): session state is lost."""
        if self.image_path is None:
            raise ValueError("this card has no image file to reload")
        image = load_image(self.image_path)
        with self._lock:
            self.applet.replace_image(image)
            self._clear_session()

    # -- SmartcardOS -----------------------------------------------------------
    def getATR(self) -> bytes:  # noqa: N802 - SmartcardOS interface
        return ATRS[self.applet.image.carrier]

    def powerUp(self) -> None:  # noqa: N802 - SmartcardOS interface
        with self._lock:
            self._clear_session()

    def powerDown(self) -> None:  # noqa: N802 - SmartcardOS interface
        with self._lock:
            self._clear_session()

    def reset(self) -> None:
        with self._lock:
            self._clear_session()

    def _clear_session(self) -> None:
        self.applet.reset_session()
        self._commands.reset()
        self._responses.reset()
        self._secret_response = False

    def execute(self, msg: bytes) -> bytes:
        """Answer one command APDU with one response APDU."""
        raw = bytes(msg)
        tracing = trace.enabled()
        if tracing:
            trace.log_send(raw)
        with self._lock:
            answer = self._answer(raw)
            secret = tracing and self._response_is_secret(raw)
        if tracing:
            trace.log_recv(answer, secret)
        return answer

    def _answer(self, raw: bytes) -> bytes:
        try:
            return self._execute(raw)
        except ApduError as exc:
            return response(exc.data, exc.sw)
        except Exception:
            log.exception("card OS failed on a command (answered 6F00)")
            self._commands.reset()
            self._responses.reset()
            return response(b"", SW.UNKNOWN)

    def _response_is_secret(self, raw: bytes) -> bool:
        if len(raw) < 4:
            return False
        if raw[1] == INS.GET_RESPONSE:  # a later part of an earlier answer
            return self._secret_response
        return trace.command_is_secret(raw[1], raw[3])

    def _execute(self, raw: bytes) -> bytes:
        try:
            cmd = CommandApdu.parse(raw)
        except MalformedApduError as exc:
            self._commands.reset()
            self._responses.reset()
            raise ApduError(exc.sw, str(exc)) from exc
        cla = cmd.cla & ~CLA_CHAINING
        if cla:
            self._commands.reset()
            self._responses.reset()
            raise ApduError(SW.LOGICAL_CHANNEL_NOT_SUPPORTED if cla <= 0x03 else SW.CLA_NOT_SUPPORTED)
        if cmd.ins != INS.GET_RESPONSE or cmd.chained:
            self._responses.reset()
        whole = self._commands.feed(cmd)
        if whole is None:
            return _OK
        if whole.ins == INS.GET_RESPONSE:
            return self._responses.get_response(whole)
        self._secret_response = trace.command_is_secret(whole.ins, whole.p2)
        return self._responses.respond(self.applet.process(whole), whole)


class NullCardOS(SmartcardOS):
    """A card that answers 9000 to every command: the benchmark's baseline."""

    def getATR(self) -> bytes:  # noqa: N802 - SmartcardOS interface
        return NULL_ATR

    def execute(self, msg: bytes) -> bytes:
        return _OK


class InProcessConnection:
    """The narrow connection the card client uses, wired straight to a card OS.

    It does not power the card up: a TwcaCardOS is ready once opened.
    """

    def __init__(self, card: CardOs):
        self.card = card

    @property
    def atr(self) -> bytes:
        return bytes(self.card.getATR())

    def transmit(self, apdu: bytes) -> bytes:
        return bytes(self.card.execute(bytes(apdu)))

    def close(self) -> None:
        """Nothing to release; present for symmetry with the PC/SC connection."""

    def __enter__(self) -> InProcessConnection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
