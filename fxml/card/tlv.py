"""BER-TLV as used by PIV (SP 800-73-4 part 2): multi-byte tags, definite lengths."""

from __future__ import annotations

from collections.abc import Iterator

from fxml.errors import FxmlError


class TlvError(FxmlError, ValueError):
    """Bytes that are not well-formed BER-TLV."""


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    if n <= 0xFFFFFF:
        return b"\x83" + n.to_bytes(3, "big")
    raise TlvError(f"length {n} too large")


def encode_tag(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def tlv(tag: int, value: bytes) -> bytes:
    """Encode one TLV."""
    return encode_tag(tag) + encode_length(len(value)) + bytes(value)


def _read_tag(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError("truncated tag")
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # multi-byte tag
        while True:
            if pos >= len(buf):
                raise TlvError("truncated multi-byte tag")
            b = buf[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if tag > 0xFFFFFFFF:
                raise TlvError("tag longer than 4 bytes")
    return tag, pos


def _read_length(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError("truncated length")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0 or count > 3:
        raise TlvError(f"unsupported length form {first:02X}")
    if pos + count > len(buf):
        raise TlvError("truncated length")
    return int.from_bytes(buf[pos : pos + count], "big"), pos + count


def iter_tlv(buf: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (tag, value) for each TLV at the top level of ``buf``."""
    pos = 0
    while pos < len(buf):
        tag, pos = _read_tag(buf, pos)
        length, pos = _read_length(buf, pos)
        if pos + length > len(buf):
            raise TlvError(f"value of tag {tag:X} runs {pos + length - len(buf)} bytes past the end")
        yield tag, bytes(buf[pos : pos + length])
        pos += length


def parse_tlv(buf: bytes) -> dict[int, bytes]:
    """Top-level TLVs as a dict (the last occurrence of a tag wins)."""
    return dict(iter_tlv(buf))


def unpack(tag: int, buf: bytes) -> bytes:
    """The value of ``buf`` which must be exactly one TLV with ``tag``."""
    items = list(iter_tlv(buf))
    if len(items) != 1 or items[0][0] != tag:
        found = ", ".join(f"{t:X}" for t, _ in items) or "nothing"
        raise TlvError(f"expected a single TLV with tag {tag:X}, found {found}")
    return items[0][1]
