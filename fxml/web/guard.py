"""What a service on the loopback interface checks before it lets a request in.

A program on this machine is trusted as much as its user; a web page in that
user's browser is not, yet the browser sends it to ``127.0.0.1`` on request:

- **DNS rebinding**: a page on ``evil.example`` whose name an attacker points at
  127.0.0.1 sends ``Host: evil.example:<port>``. Only the service's own names
  (:func:`loopback_hosts`, plus any it is told of) pass the Host check.
- **Cross-site requests**: a browser sends ``Origin`` with every POST, DELETE and
  CORS request (``mode: 'no-cors'`` included), so any Origin the service was not
  told to allow is refused. A GET without Origin (an ``<img>`` tag, a navigation)
  from another site still says ``Sec-Fetch-Site: cross-site``; a page of another
  port on the same machine says ``same-site``.
- **Simple requests**: a form or a ``no-cors`` fetch can only send
  ``text/plain``, ``application/x-www-form-urlencoded`` or ``multipart/form-data``;
  a service that accepts only JSON bodies cannot be written to by them.

The card agent (:mod:`fxml.agent.guard`) and the simulated CA
(:mod:`simulator.ca.app`) both use :func:`check`; each turns a :class:`Refusal`
into its own error answer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import Scope

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: ``Sec-Fetch-Site`` values a browser sends for a request of the user's own
#: making (``none``: typed in the address bar, a bookmark) or of the service's
#: own pages (``same-origin``).
OWN_FETCH_SITES = frozenset({"none", "same-origin"})


class Refusal(enum.Enum):
    """Why :func:`check` refused a request."""

    #: Two Host or two Origin headers: which one would the service believe?
    DUPLICATE_HEADER = "duplicate header"
    #: Not one of the service's own host names (DNS rebinding, or no Host at all).
    HOST_NOT_ALLOWED = "host not allowed"
    #: An Origin the service was not told to allow (a web page's request).
    ORIGIN_NOT_ALLOWED = "origin not allowed"
    #: No Origin, but the browser says the request comes from another site.
    CROSS_SITE_REFUSED = "cross-site request"


@dataclass(frozen=True)
class Policy:
    """Who may reach a service."""

    #: ``Host`` header values (lowercase ``name:port``) the service answers to.
    hosts: frozenset[str]
    #: Origins (as :func:`normalize_origin` writes them) whose pages may call it.
    origins: frozenset[str] = frozenset()
    #: Also refuse ``Sec-Fetch-Site: same-site`` without an Origin (a page on another
    #: port of this machine); the CA does, the agent serves the platform's pages.
    refuse_same_site: bool = False


def normalize_origin(url: str) -> str:
    """The origin of ``url`` as a browser writes it in ``Origin``: scheme://host[:port],
    lowercase, default port left out, no path. ValueError if ``url`` has none."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}") from exc
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host header values of a service on ``port`` of the loopback interface."""
    return frozenset(f"{name}:{port}" for name in _LOOPBACK_NAMES)


def host_of(url: str) -> str:
    """The Host header a client of ``url`` sends (``name[:port]``, lowercase; the default port left out)."""
    return normalize_origin(url).split("://", 1)[1]


def request_headers(scope: Scope) -> tuple[dict[str, str], str | None]:
    """The request's headers by lowercase name (the last of a repeated one), and the
    name of a Host or Origin header that came twice (None when none did)."""
    headers: dict[str, str] = {}
    twice = None
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in headers and name in ("host", "origin"):
            twice = name
        headers[name] = raw_value.decode("latin-1")
    return headers, twice


def check(policy: Policy, headers: dict[str, str], twice: str | None) -> tuple[Refusal, dict[str, str]] | None:
    """Why ``policy`` refuses a request with ``headers`` (as :func:`request_headers`
    gives them, with the name of a doubled one), with details for the answer, or
    None when it may go on. Checks, in order: a doubled Host or Origin, the Host,
    the Origin, then ``Sec-Fetch-Site`` of a request without Origin."""
    if twice is not None:
        return Refusal.DUPLICATE_HEADER, {"reason": f"two {twice} headers"}
    host = headers.get("host", "").lower()
    if host not in policy.hosts:
        return Refusal.HOST_NOT_ALLOWED, {"host": host[:100]}
    origin = headers.get("origin")
    if origin is not None:
        if origin not in policy.origins:
            return Refusal.ORIGIN_NOT_ALLOWED, {"origin": origin[:100]}
        return None
    site = headers.get("sec-fetch-site")
    if site == "cross-site" or (policy.refuse_same_site and site is not None and site not in OWN_FETCH_SITES):
        return Refusal.CROSS_SITE_REFUSED, {"sec_fetch_site": site[:40]}
    return None


def is_json(content_type: str) -> bool:
    """Whether a Content-Type says JSON (parameters such as charset allowed)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def origins_of(urls: Iterable[str]) -> frozenset[str]:
    """The origins of ``urls`` (ValueError for one that has none)."""
    return frozenset(normalize_origin(url) for url in urls)
