"""A server's listening socket handed over by its parent (``--listen-fd``, as ``fxmlsim up`` and the
tests' services start them): the port is bound before the child starts, so no other process can
take it in between; the child adopts only a TCP socket listening where its command line says."""

from __future__ import annotations

import os
import socket

import pytest

from fxml.web.server import ListenError, adopt, bind
from simulator.procs import StartError, listen


def test_a_listening_socket_on_loopback_is_adopted_as_it_is() -> None:
    parent = listen()
    port = parent.getsockname()[1]
    child = adopt(os.dup(parent.fileno()), "127.0.0.1", port)
    try:
        assert child.getsockname()[:2] == ("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            accepted, _ = child.accept()  # the adopted socket serves what the parent bound
            accepted.close()
    finally:
        child.close()
        parent.close()


@pytest.mark.parametrize("kind", ["bound, not listening", "another port", "another address"])
def test_anything_else_is_refused_and_left_open(kind: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if kind != "bound, not listening":
        sock.listen()
    host, wanted = {"bound, not listening": ("127.0.0.1", port), "another port": ("127.0.0.1", port + 1),
                    "another address": ("127.0.0.2", port)}[kind]
    with pytest.raises(ListenError, match="--listen-fd"):
        adopt(sock.fileno(), host, wanted)
    assert sock.fileno() >= 0 and sock.getsockname()[1] == port  # not closed by the refusal
    sock.close()


def test_bind_adopts_when_given_a_descriptor_and_binds_otherwise() -> None:
    parent = listen()
    port = parent.getsockname()[1]
    adopted = bind("127.0.0.1", 0, os.dup(parent.fileno()))
    assert adopted.getsockname()[1] == port
    adopted.close()
    with pytest.raises(ListenError, match="already in use"):
        bind("127.0.0.1", port)  # the parent still holds it
    parent.close()


def test_a_port_taken_is_said_when_the_parent_binds() -> None:
    taken = listen()
    with pytest.raises(StartError, match=r"port \d+ on 127\.0\.0\.1 is already in use"):
        listen(taken.getsockname()[1])
    taken.close()
