"""The one web stack's HTTP layer (fxml.web.server), as a real process on 127.0.0.1:
deadlines for slow clients, the head's size, the connection cap, half-closed
clients, chunked bodies, JSON protocol errors, a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from fxml.web.server import GuardedProtocol, Limits, ListenError, bind

APP = textwrap.dedent("""
    import asyncio
    import sys
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route
    from fxml.web.server import Limits, bind, serve

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"length": len(body), "method": request.method})

    async def hold(request: Request) -> StreamingResponse:
        # Busy with the request, its answer begun, until the client goes away.
        async def body():
            yield b"{"
            while not await request.is_disconnected():
                await asyncio.sleep(0.05)
            yield b"}"
        return StreamingResponse(body(), media_type="application/json")

    async def hasty(request: Request) -> JSONResponse:
        return JSONResponse({"read": False})  # answers without reading the body

    app = Starlette(routes=[Route("/", echo, methods=["GET", "POST"]), Route("/hold", hold),
                            Route("/hasty", hasty, methods=["POST"])])
    limits = Limits(head_seconds=float(sys.argv[1]), body_seconds=float(sys.argv[1]), max_connections=int(sys.argv[2]))
    serve(app, bind("127.0.0.1", 0), limits=limits, on_ready=lambda url: print("READY", url, flush=True))
""")


class Server:
    def __init__(self, head_seconds: float = 1.0, max_connections: int = 2048):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", APP, str(head_seconds), str(max_connections)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        assert line.startswith("READY "), self.proc.stderr.read().decode() if self.proc.stderr else line
        self.port = int(line.rsplit(":", 1)[1])
        self.errors = b""

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def get(self) -> bytes:
        with self.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return read_all(sock)

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        if self.proc.stderr and not self.proc.stderr.closed:
            self.errors = self.proc.stderr.read()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return code


def read_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def status_and_body(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    try:
        yield srv
    finally:
        assert srv.stop() == 0


def test_a_slow_client_is_cut_off_and_others_are_answered_meanwhile(server: Server) -> None:
    slow = server.connect()
    try:
        started = time.monotonic()
        for byte in b"GET / HTT":  # one byte at a time, never a whole head
            slow.sendall(bytes([byte]))
            assert status_and_body(server.get())[0] == 200  # the server answers others meanwhile
            time.sleep(0.05)
        status, body = status_and_body(read_all(slow))
        assert status == 408 and body["error"]["code"] == "REQUEST_TIMEOUT"  # type: ignore[index]
        # each byte re-arms nothing: the deadline counts from the head's first byte
        assert time.monotonic() - started < 5
    finally:
        slow.close()


def test_a_body_that_never_ends_is_cut_off(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        answer = read_all(sock)
    assert answer == b"" or status_and_body(answer)[0] == 408


def test_an_endless_head_is_refused_before_it_is_buffered(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Long: " + b"y" * 100_000)
        status, body = status_and_body(read_all(sock))
    assert (status, body["error"]["code"]) == (400, "BAD_REQUEST")  # type: ignore[index]
    assert body["error"]["message"] == "請求標頭過大。"  # type: ignore[index]


@pytest.mark.parametrize("data", [
    b"garbage\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
])
def test_protocol_errors_are_json(server: Server, data: bytes) -> None:
    with server.connect() as sock:
        sock.sendall(data)
        status, body = status_and_body(read_all(sock))
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST"  # type: ignore[index]


def test_chunked_bodies_and_half_closed_clients(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        status, body = status_and_body(read_all(sock))
    assert (status, body) == (200, {"length": 5, "method": "POST"})


def test_connections_over_the_cap_are_answered_503() -> None:
    """When every connection is busy with a request, a new one is refused at once."""
    srv = Server(head_seconds=10, max_connections=3)
    held = [srv.connect() for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:  # the request is in: its answer has begun
                answer += sock.recv(4096)
        with srv.connect() as extra:
            status, body = status_and_body(read_all(extra))
        assert (status, body["error"]["code"]) == (503, "BUSY")  # type: ignore[index]
    finally:
        for sock in held:
            sock.close()
        assert srv.stop() == 0
    assert srv.proc.returncode == 0


def test_over_the_cap_the_longest_waiting_connection_makes_room() -> None:
    """Connections still sending their head (slow clients) or idle between
    requests give way to a new one, the longest-waiting first."""
    srv = Server(head_seconds=10, max_connections=3)
    held = [srv.connect() for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(b"GET / HT")  # a head that is slow to come
        started = time.monotonic()
        assert status_and_body(srv.get())[0] == 200  # served, at once
        assert time.monotonic() - started < 2
        status, body = status_and_body(read_all(held[0]))  # the oldest made room
        assert (status, body["error"]["code"]) == (408, "REQUEST_TIMEOUT")  # type: ignore[index]
        held[1].sendall(b"TP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # the others still get answers
        assert status_and_body(read_all(held[1]))[0] == 200
    finally:
        for sock in held:
            sock.close()
        assert srv.stop() == 0


def test_accepted_sockets_get_tcp_nodelay() -> None:
    async def check() -> int:
        loop = asyncio.get_running_loop()
        listener = socket.create_server(("127.0.0.1", 0))
        accepted: asyncio.Future[int] = loop.create_future()

        class Probe(GuardedProtocol):
            limits = Limits()

            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        from uvicorn import Config
        from uvicorn.server import ServerState

        config = Config(app=lambda *a: None, lifespan="off")
        config.load()
        state = ServerState()
        server = await loop.create_server(lambda: Probe(config, state, {}), sock=listener)
        client = socket.create_connection(listener.getsockname())
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            client.close()
            server.close()

    assert asyncio.run(check()) != 0


def test_an_answer_given_before_the_body_is_in_is_not_followed_by_a_second(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /hasty HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
        answer = read_all(sock)  # the body deadline (1 s here) passes, then the connection closes
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert status_and_body(answer) == (200, {"read": False})


def test_a_broken_chunked_body_is_answered_once_and_logs_no_traceback(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n")
        answer = read_all(sock)
    assert status_and_body(answer)[0] == 400 and answer.count(b"HTTP/1.1 ") == 1
    assert server.stop() == 0
    assert server.proc.stderr is None or b"Traceback" not in server.errors


def test_bind_says_in_one_line_why_it_cannot_listen() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as busy:
            bind("127.0.0.1", port)
    assert busy.value.errno == errno.EADDRINUSE
    assert str(busy.value) == f"port {port} on 127.0.0.1 is already in use (埠號已被使用)"
