"""Waiting for pcscd's own view of a reader, by event, never by sleeping."""

from __future__ import annotations

import time

from smartcard import scard


class PcscWatcher:
    """Asks pcscd (the one PCSCLITE_CSOCK_NAME or /run/pcscd points at)."""

    def _context(self) -> int:
        rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if rc != scard.SCARD_S_SUCCESS:
            raise ConnectionError(f"cannot reach pcscd: {scard.SCardGetErrorMessage(rc)}")
        return int(ctx)

    def readers(self) -> list[str]:
        ctx = self._context()
        try:
            rc, names = scard.SCardListReaders(ctx, [])
            if rc == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if rc != scard.SCARD_S_SUCCESS:
                raise ConnectionError(f"cannot list readers: {scard.SCardGetErrorMessage(rc)}")
            return list(names)
        finally:
            scard.SCardReleaseContext(ctx)

    def wait(self, reader: str, *, present: bool, timeout: float, changed_from: int | None = None) -> int:
        """Return once pcscd reports a card present (or absent) in ``reader``;
        the reader's event counter then (the high 16 bits of its event state).

        With ``changed_from``, the state must also come from an event pcscd
        counted after that one. pcscd's polling thread counts every insertion
        and removal it sees; a command that finds the card gone marks the
        reader empty without counting, and that thread, which then never saw
        the removal, would take the next card put in for the old one still
        there. Blocks in SCardGetStatusChange, which pcscd wakes on each
        change of the reader's state; raises TimeoutError naming the reader
        otherwise.
        """
        ctx = self._context()
        deadline = time.monotonic() + timeout
        want = "present" if present else "absent"
        try:
            state = scard.SCARD_STATE_UNAWARE
            while True:
                left_ms = int((deadline - time.monotonic()) * 1000)
                if left_ms <= 0:
                    raise TimeoutError(f"pcscd did not report the card {want} in {reader!r} within {timeout:g} s")
                rc, states = scard.SCardGetStatusChange(ctx, left_ms, [(reader, state)])
                if rc == scard.SCARD_E_TIMEOUT:
                    continue
                if rc != scard.SCARD_S_SUCCESS:
                    raise ConnectionError(f"waiting on {reader!r}: {scard.SCardGetErrorMessage(rc)}")
                _, event, _atr = states[0]
                if event & scard.SCARD_STATE_UNKNOWN:
                    raise ConnectionError(f"pcscd has no reader {reader!r}")
                counter = (event >> 16) & 0xFFFF
                is_present = bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE
                if (
                    is_present == present
                    and not (present and not _atr)
                    and (changed_from is None or counter != changed_from)
                ):
                    return int(counter)
                state = event & ~scard.SCARD_STATE_CHANGED
        finally:
            scard.SCardReleaseContext(ctx)
