"""APDU processors of the card OS: command chaining in, 61xx response chaining out.

They sit between the transport and the applet (as yubikit's processors do on
the host side), so the applet only ever sees whole commands and returns whole
responses.
"""

from __future__ import annotations

from fxml.card.apdu import CLA_CHAINING, SW, ApduError, CommandApdu

#: The largest command the card assembles from chained chunks.
MAX_COMMAND_SIZE = 4096
#: What the card sends at most when the command had no Le or a short one.
SHORT_RESPONSE_MAX = 256


class CommandChainer:
    """ISO/IEC 7816-4 command chaining: chunks with CLA bit 5 set accumulate
    until a chunk without it completes the command."""

    def __init__(self, limit: int = MAX_COMMAND_SIZE):
        self.limit = limit
        self._header: tuple[int, int, int] | None = None
        self._data = bytearray()

    @property
    def pending(self) -> bool:
        return self._header is not None

    def reset(self) -> None:
        self._header = None
        self._data = bytearray()

    def feed(self, cmd: CommandApdu) -> CommandApdu | None:
        """The whole command once complete; None for an accepted chunk.

        Raises 6883 for a chunk whose INS/P1/P2 differ from the chain's and
        6A84 when the assembled command would exceed :attr:`limit`; either
        discards the chain.
        """
        header = (cmd.ins, cmd.p1, cmd.p2)
        if self._header is None and not cmd.chained:
            return cmd
        if self._header is not None and header != self._header:
            self.reset()
            raise ApduError(SW.LAST_COMMAND_OF_CHAIN_EXPECTED, "chained command interrupted by another command")
        if len(self._data) + len(cmd.data) > self.limit:
            self.reset()
            raise ApduError(SW.NOT_ENOUGH_MEMORY, f"chained command longer than {self.limit} bytes")
        self._header = header
        self._data += cmd.data
        if cmd.chained:
            return None
        whole = CommandApdu(cmd.cla & ~CLA_CHAINING, cmd.ins, cmd.p1, cmd.p2, bytes(self._data), cmd.le, cmd.extended)
        self.reset()
        return whole


class ResponseChainer:
    """ISO/IEC 7816-4 response chaining: a response longer than Le is sent in
    parts, each ending in 61xx, and fetched with GET RESPONSE."""

    def __init__(self) -> None:
        self._rest = b""

    @property
    def pending(self) -> bool:
        return bool(self._rest)

    def reset(self) -> None:
        self._rest = b""

    def respond(self, data: bytes, cmd: CommandApdu) -> bytes:
        """The response APDU for ``data``, or its first part if Le is too small."""
        limit = SHORT_RESPONSE_MAX if cmd.le is None else cmd.le
        if len(data) <= limit:
            self._rest = b""
            return data + b"\x90\x00"
        return self._part(data, limit)

    def get_response(self, cmd: CommandApdu) -> bytes:
        """Answer GET RESPONSE (00 C0 00 00 Le)."""
        if cmd.p1 or cmd.p2:
            raise ApduError(SW.INCORRECT_P1P2)
        if cmd.data:
            raise ApduError(SW.WRONG_LENGTH, "GET RESPONSE carries no data")
        if not self._rest:
            raise ApduError(SW.CONDITIONS_NOT_SATISFIED, "no response data pending")
        return self._part(self._rest, SHORT_RESPONSE_MAX if cmd.le is None else cmd.le)

    def _part(self, data: bytes, size: int) -> bytes:
        head, self._rest = data[:size], data[size:]
        if not self._rest:
            return head + b"\x90\x00"
        left = len(self._rest)
        return head + bytes([0x61, left if left < 256 else 0])
