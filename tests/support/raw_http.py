"""A bare HTTP server on a socket, for tests of what a client does when an answer is lost:
one request per connection, handed to a function that says what to answer, or None to close
the connection without a word."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

#: What the server does with one request: the bytes to answer, or None to close without a word.
Handler = Callable[[bytes], bytes | None]


def read_request(sock: socket.socket) -> bytes:
    """One request, head and body (by its Content-Length), as it came."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


class RawServer:
    """On 127.0.0.1 and a free port; every request is kept in ``requests``, in order."""

    def __init__(self, handle: Handler):
        self.handle = handle
        self.requests: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with client:
                request = read_request(client)
                self.requests.append(request)
                reply = self.handle(request)
                if reply is not None:
                    client.sendall(reply)

    def header(self, index: int, name: str) -> str | None:
        """The value of the header ``name`` (lowercase) of the request ``index``."""
        head = self.requests[index].partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
        return next((line.split(":", 1)[1].strip() for line in head if line.lower().startswith(name + ":")), None)

    def close(self) -> None:
        self.server.close()
