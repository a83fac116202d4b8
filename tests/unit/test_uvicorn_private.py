"""fxml/web/server.py's GuardedProtocol subclasses uvicorn's private HttpToolsProtocol
and uses its internals. uvicorn may change them in any release; requirements.lock pins
uvicorn, and these tests fail loudly on a release GuardedProtocol was not tested with,
and on any private name it relies on that is gone or has another signature.

To move to a new uvicorn: bash scripts/lock.sh --upgrade-package uvicorn, read the new
uvicorn/protocols/http/httptools_impl.py against the names below, run
tests/integration/test_web_server.py, then add the release to TESTED_UVICORN."""

from __future__ import annotations

import ast
import asyncio
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import httptools
import pytest
import uvicorn
from uvicorn.protocols.http import httptools_impl
from uvicorn.server import ServerState

from fxml.web.server import TESTED_UVICORN, GuardedProtocol

#: HttpToolsProtocol's methods GuardedProtocol overrides and calls through super(), with
#: the parameters it expects them to take.
OVERRIDDEN = {
    "__init__": ["self", "config", "server_state", "app_state", "_loop"],
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "eof_received": ["self"],
    "data_received": ["self", "data"],
    "on_message_begin": ["self"],
    "on_url": ["self", "url"],
    "on_header": ["self", "name", "value"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
    "on_response_complete": ["self"],
    "send_400_response": ["self", "msg"],
}
#: HttpToolsProtocol's attributes GuardedProtocol reads (set in its __init__).
PROTOCOL_ATTRIBUTES = ["connections", "transport", "cycle", "pipeline", "loop", "parser"]
#: RequestResponseCycle's attributes GuardedProtocol reads (self.cycle).
CYCLE_ATTRIBUTES = ["more_body", "response_started", "response_complete"]
#: uvicorn.Server's methods server.py's _Server overrides, and the attributes it reads.
SERVER_METHODS = {"startup": ["self", "sockets"], "handle_exit": ["self", "sig", "frame"]}
SERVER_ATTRIBUTES = ["started", "should_exit"]


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def assigned_in_init(cls: type) -> set[str]:
    """The ``self.X = ...`` names of ``cls.__init__``, read from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))  # type: ignore[misc]
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name) and node.value.id == "self"}


def test_uvicorn_is_a_release_guarded_protocol_was_tested_with() -> None:
    assert uvicorn.__version__ in TESTED_UVICORN, (
        f"uvicorn {uvicorn.__version__} is installed; fxml/web/server.py's GuardedProtocol subclasses its "
        f"private uvicorn.protocols.http.httptools_impl.HttpToolsProtocol and was tested with "
        f"{', '.join(TESTED_UVICORN)} only. Check the new release's HttpToolsProtocol ({', '.join(OVERRIDDEN)}; "
        f"attributes {', '.join(PROTOCOL_ATTRIBUTES)}) and RequestResponseCycle ({', '.join(CYCLE_ATTRIBUTES)}), "
        "run tests/integration/test_web_server.py, then add it to TESTED_UVICORN (or pin the tested one "
        "again in requirements.lock: bash scripts/lock.sh)"
    )


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_overridden_method_is_there_with_the_same_parameters(name: str) -> None:
    base = httptools_impl.HttpToolsProtocol
    assert name in vars(base), f"uvicorn's HttpToolsProtocol no longer defines {name}"
    assert parameters(getattr(base, name)) == OVERRIDDEN[name], (
        f"HttpToolsProtocol.{name}{inspect.signature(getattr(base, name))}: GuardedProtocol.{name} expects "
        f"({', '.join(OVERRIDDEN[name])})")
    assert name in vars(GuardedProtocol), f"the list is stale: GuardedProtocol does not override {name}"


def test_the_protocol_and_cycle_attributes_read_are_set_by_uvicorn() -> None:
    protocol_attributes = assigned_in_init(httptools_impl.HttpToolsProtocol)
    assert set(PROTOCOL_ATTRIBUTES) <= protocol_attributes, set(PROTOCOL_ATTRIBUTES) - protocol_attributes
    cycle_attributes = assigned_in_init(httptools_impl.RequestResponseCycle)
    assert set(CYCLE_ATTRIBUTES) <= cycle_attributes, set(CYCLE_ATTRIBUTES) - cycle_attributes
    # ... and an instance made as uvicorn makes it has them.
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app=lambda *a: None, lifespan="off")
        protocol = GuardedProtocol(config, ServerState(), {}, _loop=loop)
        for name in PROTOCOL_ATTRIBUTES:
            assert hasattr(protocol, name), name
    finally:
        loop.close()


def test_parser_errors_still_become_send_400_response() -> None:
    """A head over the limit stops httptools by raising from on_headers_complete: httptools
    wraps that in HttpParserCallbackError (an HttpParserError), and uvicorn's data_received
    turns an HttpParserError into send_400_response, which GuardedProtocol answers in JSON."""
    assert issubclass(httptools.HttpParserCallbackError, httptools.HttpParserError)
    source = inspect.getsource(httptools_impl.HttpToolsProtocol.data_received)
    assert "except httptools.HttpParserError" in source and "self.send_400_response(" in source, source


def test_the_server_methods_overridden_are_there() -> None:
    for name, expected in SERVER_METHODS.items():
        assert parameters(getattr(uvicorn.Server, name)) == expected, name
    assert set(SERVER_ATTRIBUTES) <= assigned_in_init(uvicorn.Server)
    assert "http" in inspect.signature(uvicorn.Config).parameters  # a protocol class is given as http=
