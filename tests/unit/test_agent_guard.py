"""The agent's front door in process (fxml.agent.guard.Guard): the Host check, the
Origin check and CORS, requests without Origin, JSON only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from fxml.agent.api import ErrorCode
from fxml.agent.guard import Guard, normalize_origin

PORT = 61081
PLATFORM = "http://127.0.0.1:8001"
HOST = {"Host": f"127.0.0.1:{PORT}"}


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"method": request.method, "body": (await request.body()).decode()})


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/v1/x", echo, methods=["GET", "POST", "DELETE"])])
    return TestClient(Guard(app, origins=[PLATFORM + "/"], port=PORT), base_url=f"http://127.0.0.1:{PORT}")


def code(response: Any) -> str:
    return str(json.loads(response.content)["error"]["code"])


@pytest.mark.parametrize(("url", "origin"), [
    ("http://127.0.0.1:8001/", "http://127.0.0.1:8001"),
    ("HTTP://LocalHost:8001/path?q", "http://localhost:8001"),
    ("http://127.0.0.1:80", "http://127.0.0.1"),
    ("https://bank.example:443/", "https://bank.example"),
    ("http://[::1]:9000", "http://[::1]:9000"),
])
def test_origins_are_compared_as_browsers_write_them(url: str, origin: str) -> None:
    assert normalize_origin(url) == origin


@pytest.mark.parametrize("url", ["127.0.0.1:8001", "ftp://127.0.0.1", "http://", "http://h:99999"])
def test_what_is_not_an_origin_is_refused(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the reason
        normalize_origin(url)


@pytest.mark.parametrize("host", [f"localhost:{PORT}", f"[::1]:{PORT}", f"127.0.0.1:{PORT}"])
def test_loopback_hosts_with_the_agent_s_port_are_served(client: TestClient, host: str) -> None:
    assert client.get("/v1/x", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", f"attacker.example:{PORT}", "127.0.0.1", "localhost:80",
                                  f"127.0.0.2:{PORT}", ""])
def test_other_hosts_are_refused_before_anything_else(client: TestClient, host: str) -> None:
    response = client.options("/v1/x", headers={"Host": host, "Origin": PLATFORM,
                                                "Access-Control-Request-Method": "POST"})
    assert response.status_code == 403 and code(response) == ErrorCode.HOST_NOT_ALLOWED
    assert "access-control-allow-origin" not in response.headers


def test_the_platform_s_preflight_and_answers_carry_cors(client: TestClient) -> None:
    pre = client.options("/v1/x", headers={**HOST, "Origin": PLATFORM, "Access-Control-Request-Method": "DELETE"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == PLATFORM
    assert pre.headers["access-control-allow-methods"] == "GET, POST, DELETE"
    assert "access-control-allow-private-network" not in pre.headers
    assert "access-control-allow-credentials" not in pre.headers
    got = client.post("/v1/x", headers={**HOST, "Origin": PLATFORM, "Content-Type": "application/json"}, content=b"{}")
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == PLATFORM
    assert got.headers["vary"] == "Origin"


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8002", "https://127.0.0.1:8001",
                                    "http://localhost:8001", "http://127.0.0.1:8001/"])
def test_any_other_origin_is_refused_without_cors_headers(client: TestClient, origin: str) -> None:
    for response in (
        client.get("/v1/x", headers={**HOST, "Origin": origin}),
        client.options("/v1/x", headers={**HOST, "Origin": origin, "Access-Control-Request-Method": "POST"}),
        client.post("/v1/x", headers={**HOST, "Origin": origin, "Content-Type": "application/json"}, content=b"{}"),
    ):
        assert response.status_code == 403 and code(response) == ErrorCode.ORIGIN_NOT_ALLOWED
        assert not any(name.startswith("access-control-") for name in response.headers)


def test_two_origin_headers_are_refused(client: TestClient) -> None:
    response = client.get("/v1/x", headers=[("Host", f"127.0.0.1:{PORT}"), ("Origin", PLATFORM),
                                            ("Origin", "http://evil.example")])
    assert response.status_code == 400 and code(response) == ErrorCode.BAD_REQUEST


def test_without_origin_local_programs_are_served_but_not_another_site_s_tags(client: TestClient) -> None:
    assert client.get("/v1/x", headers=HOST).status_code == 200
    assert client.get("/v1/x", headers={**HOST, "Sec-Fetch-Site": "same-site"}).status_code == 200
    tag = client.get("/v1/x", headers={**HOST, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
    assert tag.status_code == 403 and code(tag) == ErrorCode.CROSS_SITE_REFUSED


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None,
                                  "application/jsonx", "text/json"])
def test_posts_must_be_json(client: TestClient, kind: str | None) -> None:
    for origin in (PLATFORM, None):
        headers = {**HOST, **({"Content-Type": kind} if kind else {}), **({"Origin": origin} if origin else {})}
        response = client.post("/v1/x", headers=headers, content=b"{}")
        assert response.status_code == 415 and code(response) == ErrorCode.UNSUPPORTED_MEDIA_TYPE
        assert response.headers.get("access-control-allow-origin") == origin  # the page may read why


def test_json_with_a_charset_passes(client: TestClient) -> None:
    response = client.post("/v1/x", headers={**HOST, "Content-Type": "Application/JSON; charset=utf-8"},
                           content=b'{"a": 1}')
    assert response.status_code == 200 and response.json()["body"] == '{"a": 1}'


def test_chrome_s_private_network_preflight_is_answered_for_the_platform_only(client: TestClient) -> None:
    ask = {**HOST, "Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"}
    assert client.options("/v1/x", headers={**ask, "Origin": PLATFORM}).headers[
        "access-control-allow-private-network"] == "true"
    assert client.options("/v1/x", headers={**ask, "Origin": "http://evil.example"}).status_code == 403
