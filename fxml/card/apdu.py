"""ISO/IEC 7816-4 APDU layer shared by the card client and the simulated card.

This module knows bytes and status words only; it knows nothing of PIV or
TWCA. The client (``fxml.card.client``) and the card OS
(``simulator.card``) both build on it, so a status word means the same thing
on both sides of the reader.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fxml.errors import FxmlError

#: CLA bit 5 (ISO/IEC 7816-4, 5.4.1): more chunks of this command follow (command chaining).
CLA_CHAINING = 0x10


@enum.unique
class SW(enum.IntEnum):
    """Status words used by the TWCA card edge (ISO/IEC 7816-4, SP 800-73-4)."""

    OK = 0x9000
    # 61xx / 6Cxx / 63Cx are families; these constants are their bases.
    #: 61xx: xx more bytes of response wait for GET RESPONSE.
    MORE_DATA = 0x6100
    #: 6Cxx: wrong Le; send the command again with Le = xx.
    WRONG_LE = 0x6C00
    VERIFY_FAIL = 0x63C0
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    CHAINING_NOT_SUPPORTED = 0x6884
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    REFERENCE_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00

    @classmethod
    def describe(cls, sw: int) -> str:
        """A short English name for any status word, families included."""
        if sw & 0xFF00 == SW.MORE_DATA:
            return f"MORE_DATA({sw & 0xFF} bytes)"
        if sw & 0xFF00 == SW.WRONG_LE:
            return f"WRONG_LE({sw & 0xFF or 256} bytes)"
        if sw & 0xFFF0 == 0x63C0:
            return f"VERIFY_FAIL({sw & 0x0F} tries left)"
        try:
            return cls(sw).name
        except ValueError:
            return f"UNKNOWN({sw:04X})"


class ApduError(FxmlError):
    """A command that ended with a status word other than 9000."""

    def __init__(self, sw: int, message: str | None = None, data: bytes = b""):
        self.sw = int(sw)
        self.data = data
        super().__init__(message or f"card answered {self.sw:04X} ({SW.describe(self.sw)})")


class MalformedApduError(FxmlError, ValueError):
    """Bytes that do not form an ISO/IEC 7816-4 command APDU."""

    def __init__(self, message: str, sw: int = SW.WRONG_LENGTH):
        self.sw = int(sw)
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """A parsed command APDU. ``le`` is None when absent; 0 never means absent.

    ``le`` holds the decoded count: a short Le of 00 is 256, an extended Le of
    0000 is 65536.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    @property
    def chained(self) -> bool:
        """True for a command with more chunks to follow (CLA bit 5)."""
        return bool(self.cla & CLA_CHAINING)

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Decode the four ISO/IEC 7816-3 cases, short and extended."""
        n = len(raw)
        if n < 4:
            raise MalformedApduError(f"APDU of {n} bytes is shorter than its 4-byte header")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:  # case 1
            return cls(cla, ins, p1, p2)
        if len(body) == 1:  # case 2 short
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:  # short case 3 or 4
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1 : 1 + lc]), le=body[-1] or 256)
            raise MalformedApduError(f"Lc={lc} does not match the {len(body) - 1} bytes that follow it")
        # body[0] == 0 and more than one byte: extended length
        if len(body) == 3:  # case 2 extended
            le = (body[1] << 8) | body[2]
            return cls(cla, ins, p1, p2, le=le or 65536, extended=True)
        if len(body) < 3:
            raise MalformedApduError("truncated extended length field")
        lc = (body[1] << 8) | body[2]
        if lc == 0:
            raise MalformedApduError("extended Lc of zero")
        rest = body[3:]
        if len(rest) == lc:
            return cls(cla, ins, p1, p2, data=bytes(rest), extended=True)
        if len(rest) == lc + 2:
            le = (rest[-2] << 8) | rest[-1]
            return cls(cla, ins, p1, p2, data=bytes(rest[:lc]), le=le or 65536, extended=True)
        raise MalformedApduError(f"extended Lc={lc} does not match the {len(rest)} bytes that follow it")

    def to_bytes(self) -> bytes:
        """Encode; extended form is used when data or Le do not fit short form."""
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        ext = self.extended or len(self.data) > 255 or (self.le is not None and self.le > 256)
        out = bytearray(header)
        if ext:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = b"" if self.data else b"\x00"
                out += le + (self.le % 65536).to_bytes(2, "big")
        else:
            if self.data:
                out += bytes([len(self.data)]) + self.data
            if self.le is not None:
                out.append(self.le % 256)
        return bytes(out)


def split_response(raw: bytes) -> tuple[bytes, int]:
    """Split a response APDU into (data, SW1SW2)."""
    if len(raw) < 2:
        raise MalformedApduError(f"response of {len(raw)} bytes has no status word", SW.UNKNOWN)
    return bytes(raw[:-2]), (raw[-2] << 8) | raw[-1]


def response(data: bytes = b"", sw: int = SW.OK) -> bytes:
    """Encode a response APDU."""
    return bytes(data) + int(sw).to_bytes(2, "big")
