"""APDU round trips through the real pcscd + vpcd, and on-card RSA operations.

Starts a private stack, puts the TWCA card in one reader and the null card
(answers 9000 to everything) in another, and times SELECT of the PIV AID on
both, interleaved, in the same run; then times on-card RSA-2048 key
generation and signature through the same path (not in the quick run: they
have no goal). Prints a table; the goals (benchmarks/common.py: GOALS) are the
TWCA card within 1.5x of the null card and under 1 ms median.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from smartcard import scard

from benchmarks.common import CpuPressure, Measured, percentile, print_table
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.card.piv import PIV_AID, KeyRef
from simulator.card.image import save_image
from simulator.card.profile import blank_image, load_profile
from simulator.pcsc.stack import PcscStack

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "fixtures" / "cards" / "eoi-large.json"
SELECT = list(bytes([0x00, 0xA4, 0x04, 0x00, len(PIV_AID)]) + PIV_AID + b"\x00")


class RawReader:
    """The thinnest PC/SC client: one SCardTransmit per APDU, no Python layers."""

    def __init__(self, name: str):
        rc, self.ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert rc == scard.SCARD_S_SUCCESS
        rc, self.card, self.proto = scard.SCardConnect(
            self.ctx, name, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)

    def roundtrip(self, apdu: list[int]) -> float:
        t0 = time.perf_counter()
        rc, resp = scard.SCardTransmit(self.card, self.proto, apdu)
        elapsed = time.perf_counter() - t0
        if rc != scard.SCARD_S_SUCCESS or resp[-2:] != [0x90, 0x00]:
            raise RuntimeError(f"SELECT failed: rc={rc:x} resp={bytes(resp).hex()}")
        return elapsed

    def close(self) -> None:
        scard.SCardDisconnect(self.card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(self.ctx)


def run(rounds: int = 2000, rsa_rounds: int = 10) -> tuple[list[tuple[str, str, str]], list[Measured]]:
    """The table's rows and the goals' measures; ``rsa_rounds=0`` leaves the on-card RSA out."""
    with tempfile.TemporaryDirectory(prefix="fxb") as tmp:
        image = Path(tmp) / "card.json"
        profile = load_profile(PROFILE)
        save_image(blank_image(profile), image)
        stack = PcscStack(Path(tmp) / "run")
        stack.up(readers=2)
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(stack.down)
            cleanup.enter_context(mock.patch.dict(os.environ, stack.client_env()))  # this process's PC/SC client
            twca = stack.insert(image, 0)["name"]
            null = stack.insert("null", 1)["name"]
            readers = {"twca": RawReader(twca), "null": RawReader(null)}
            times: dict[str, list[float]] = {"twca": [], "null": []}
            for _ in range(50):  # warm up both paths
                for r in readers.values():
                    r.roundtrip(SELECT)
            pressure = CpuPressure()
            for _ in range(rounds):  # interleaved, so both see the same machine noise
                for key, r in readers.items():
                    times[key].append(r.roundtrip(SELECT))
            busy = pressure.share()
            for r in readers.values():
                r.close()

            gen: list[float] = []
            sig: list[float] = []
            with PcscConnection(twca) as conn:
                client = PivCardClient(conn)
                client.select()
                client.authenticate(profile.management_key)
                client.verify_pin(profile.pin)
                for _ in range(rsa_rounds):
                    t0 = time.perf_counter()
                    client.generate_key(KeyRef.SIGNATURE)
                    gen.append(time.perf_counter() - t0)
                    for _ in range(5):
                        t0 = time.perf_counter()
                        client.sign(KeyRef.SIGNATURE, b"fxmlsim benchmark")
                        sig.append(time.perf_counter() - t0)
                    client.remove_key(KeyRef.SIGNATURE)

    ms = 1000.0
    t_med = statistics.median(times["twca"]) * ms
    n_med = statistics.median(times["null"]) * ms
    t_p95 = percentile(times["twca"], 0.95) * ms
    n_p95 = percentile(times["null"], 0.95) * ms
    median = Measured("card.select_median", t_med)
    ratio = Measured("card.select_ratio", t_med / n_med)
    rows = [
        ("SELECT PIV AID, TWCA card (median)", f"{t_med:.3f} ms",
         f"p95 {t_p95:.3f} ms, n={rounds}; goal {median.goal.text()}"),
        ("SELECT, null card (median)", f"{n_med:.3f} ms", f"p95 {n_p95:.3f} ms, n={rounds}"),
        ("TWCA / null ratio", f"{ratio.value:.2f}x", f"goal {ratio.goal.text()}"),
    ]
    if busy is not None:
        rows.append(("  CPU pressure meanwhile (some)", f"{busy:.0%}", "the share of the time a task waited for a CPU"))
    if gen:
        rows += [
            ("on-card RSA-2048 key generation (median)", f"{statistics.median(gen) * ms:.1f} ms",
             f"n={len(gen)}, incl. APDUs + image write"),
            ("on-card RSA-2048 signature (median)", f"{statistics.median(sig) * ms:.2f} ms",
             f"n={len(sig)}, incl. PKCS#1 + APDUs"),
        ]
    return rows, [ratio, median]


def suite(quick: bool = False) -> list[Measured]:
    rows, measured = run(rsa_rounds=0 if quick else 10)
    print_table("Card through pcscd + vpcd" + (" (quick: no on-card RSA)" if quick else ""), rows)
    return measured


if __name__ == "__main__":
    suite()
