"""The CA's measured goals: issuance rate, CRL generation, OCSP latency.

Measured in one run on a throw-away state folder, printed as one table:

- **issuance**: certificates per second from ready PKCS#10 requests (8
  RSA-2048 keys, each request a new request id), in process and through the
  HTTP API with 8 concurrent clients; every issuance is a committed
  transaction with ``synchronous=FULL``. Goal >= 200/s.
- **CRL**: signing a CRL over 100,000 revoked entries (rows inserted
  directly; issuing 100k real certificates would take minutes and measure
  issuance again). Cold: nothing cached. Goal < 2 s.
- **OCSP**: 50 concurrent clients on 127.0.0.1, each on its own keep-alive
  connection sending its next request as soon as the last answer arrived
  (closed loop), for a few seconds; latency per request. Requests without a
  nonce (RFC 5019 clients, browsers) may get a cached signed answer; with a
  nonce every answer is signed afresh. Goal p50 < 5 ms (without nonce).

The load generator runs in this process, the service in its own, so on a
2-core machine they share the two cores.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from benchmarks.common import Measured, ok, percentile, print_goal_table
from fxml import env
from fxml.ca.client import CaClient
from fxml.clock import Clock
from simulator.ca.registry import to_text
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, KeyCache, ServiceProcess, make_csr, open_test_ca

KEYS = 8
ISSUE_IN_PROCESS = 600
ISSUE_HTTP = 600
HTTP_CLIENTS = 8
CRL_ENTRIES = 100_000
OCSP_CLIENTS = 50
OCSP_SECONDS = 4.0
OCSP_CERTS = 100


def _csrs(ca: CertificateAuthority, keys: KeyCache) -> list[bytes]:
    subject = ca.subject_for(HOLDER_ID, CN_SUFFIX)
    return [make_csr(keys.rsa(f"bench-{i}"), subject) for i in range(KEYS)]


def bench_issuance_in_process(ca: CertificateAuthority, csrs: list[bytes]) -> float:
    for i in range(20):  # warm up
        ca.apply(f"warm-{i}", HOLDER_ID, csrs[i % KEYS])
    started = time.perf_counter()
    for i in range(ISSUE_IN_PROCESS):
        ca.apply(f"bench-{i}", HOLDER_ID, csrs[i % KEYS])
    return ISSUE_IN_PROCESS / (time.perf_counter() - started)


def bench_issuance_http(client: CaClient, csrs: list[bytes]) -> float:
    pems = [x509.load_der_x509_csr(c).public_bytes(serialization.Encoding.PEM) for c in csrs]
    for i in range(20):
        client.apply(f"http-warm-{i}", HOLDER_ID, pems[i % KEYS])

    def one(i: int) -> None:
        client.apply(f"http-{i}", HOLDER_ID, pems[i % KEYS])

    started = time.perf_counter()
    with ThreadPoolExecutor(HTTP_CLIENTS) as pool:
        list(pool.map(one, range(ISSUE_HTTP)))
    return ISSUE_HTTP / (time.perf_counter() - started)


def bench_crl(ca: CertificateAuthority) -> tuple[float, int, int]:
    now = ca.now()
    placeholder = b"\x30\x00"  # the CRL reads serials and dates, never the certificate
    with ca.registry.write() as tx:
        tx.conn.executemany(
            "INSERT INTO certificates(serial, holder_id, cn, not_before, not_after, der, issued_at, revoked_at,"
            " revocation_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (f"{secrets.randbits(126) | 1 << 126:X}", HOLDER_ID, f"{HOLDER_ID}-00-{CN_SUFFIX}", to_text(now),
                 to_text(now + timedelta(days=730)), placeholder, to_text(now), to_text(now),
                 ("keyCompromise", "superseded", "cessationOfOperation")[i % 3])
                for i in range(CRL_ENTRIES)
            ),
        )
        tx.bump_status_version()
    started = time.perf_counter()
    der = ca.crl_der()
    elapsed = time.perf_counter() - started
    return elapsed, len(x509.load_der_x509_crl(der)), len(der)


def _ocsp_requests(url: str, certs: list[x509.Certificate], issuer: x509.Certificate, nonce: bool) -> list[bytes]:
    out = []
    for cert in certs:
        builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 - OCSP's CertID (RFC 5019)
        if nonce:
            builder = builder.add_extension(x509.OCSPNonce(secrets.token_bytes(16)), critical=False)
        body = builder.build().public_bytes(serialization.Encoding.DER)
        host = url.split("//", 1)[1]
        out.append(
            f"POST /ocsp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/ocsp-request\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
    return out


async def _ocsp_load(url: str, requests: list[bytes], clients: int, seconds: float) -> tuple[list[float], int]:
    host, port = url.split("//", 1)[1].split(":")
    latencies: list[float] = []
    errors = 0

    async def client(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        deadline = time.perf_counter() + seconds
        i = index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                         .split(b":")[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or body[:1] != b"\x30":
                errors += 1
            i += clients
        writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, errors


def bench_ocsp(url: str, certs: list[x509.Certificate], issuer: x509.Certificate, nonce: bool
               ) -> tuple[list[float], int, float]:
    requests = _ocsp_requests(url, certs, issuer, nonce)
    asyncio.run(_ocsp_load(url, requests, OCSP_CLIENTS, 0.5))  # warm up (and fill the cache)
    started = time.perf_counter()
    latencies, errors = asyncio.run(_ocsp_load(url, requests, OCSP_CLIENTS, OCSP_SECONDS))
    return latencies, errors, len(latencies) / (time.perf_counter() - started)


def run() -> tuple[list[tuple[str, str, str, str]], list[Measured]]:
    """The table's rows and the goals' measures."""
    rows: list[tuple[str, str, str, str]] = []
    measured: list[Measured] = []

    def goal_row(label: str, measure: Measured, shown: str) -> None:
        measured.append(measure)
        rows.append((label, measure.goal.text(), shown, ok(measure)))

    with tempfile.TemporaryDirectory(prefix="fxmlsim-bench-ca-") as tmp:
        root = Path(tmp)
        keys = KeyCache(root / "keys")
        with open_test_ca(root / "inproc", keys, Clock()) as ca:
            csrs = _csrs(ca, keys)
            rate = bench_issuance_in_process(ca, csrs)
            goal_row("issuance, in process (certificates/s)", Measured("ca.issuance_in_process", rate), f"{rate:,.0f}")
            elapsed, entries, size = bench_crl(ca)
            if entries != CRL_ENTRIES:
                raise RuntimeError(f"the CRL lists {entries:,} entries, not {CRL_ENTRIES:,}")
            goal_row(f"CRL of {entries:,} revoked entries ({size / 1e6:.1f} MB), cold (s)",
                     Measured("ca.crl_cold", elapsed), f"{elapsed:.2f}")

        with open_test_ca(root / "served", keys, Clock()):
            pass
        with ServiceProcess(root / "served", env={env.CLOCK: "system"}) as service:
            rate = bench_issuance_http(service.admin_client(), csrs)
            goal_row(f"issuance, HTTP API, {HTTP_CLIENTS} clients (certificates/s)", Measured("ca.issuance_http", rate),
                     f"{rate:,.0f}")
            client = service.admin_client()
            certs = [r.certificate for r in client.query(holder_id=HOLDER_ID)[:OCSP_CERTS]]
            issuer = client.chain()[0]
            for nonce in (False, True):
                latencies, errors, throughput = bench_ocsp(service.url, certs, issuer, nonce)
                p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
                label = "with nonce, signed per request" if nonce else "no nonce"
                if nonce:
                    rows.append((f"OCSP p50, {OCSP_CLIENTS} clients, {label} (ms)", "-", f"{p50:.2f}", "-"))
                else:
                    goal_row(f"OCSP p50, {OCSP_CLIENTS} clients, {label} (ms)", Measured("ca.ocsp_p50", p50),
                             f"{p50:.2f}")
                    measured.append(Measured("ca.ocsp_errors", errors))
                rows.append(("  p99 / mean (ms); answers/s", "",
                             f"{p99:.1f} / {statistics.fmean(latencies) * 1000:.1f}; {throughput:,.0f}",
                             "" if errors == 0 else f"{errors} errors"))
    return rows, measured


def suite(quick: bool = False) -> list[Measured]:
    """``quick`` changes nothing: the CA's goals are absolute (the machine's speed), none a ratio."""
    print(f"CA benchmarks ({os.cpu_count()} CPUs):", flush=True)
    rows, measured = run()
    print_goal_table(rows)
    return measured


if __name__ == "__main__":
    suite()
