"""Hostile input on every route of every app (issue 16), the routes enumerated from the apps
themselves (tests/support/walk.py), so that a route added later is walked too:

- **deep JSON**: ``[`` × 100,000 then ``]`` × 100,000 (as deep as the app's body limit allows) with
  everything the route needs to read its body (a signed-in session and its CSRF token, the
  platform's signature, a renewal token, the agent's Host and Origin): a 4xx with its code, never a
  500; a JSON route answers the code of a body it cannot read (it did read it), the bank with one
  audit line; nothing else changes;
- **Unicode digits in a URL's id**: a superscript two, an Arabic-Indic one, full-width one two in
  each path parameter of each route: refused as an id that names nothing (404 or the route's
  refusal), never a 500, never another record (the bank has faxes 1 to 12: none opens); nothing
  changes.

Routes that answer in their own protocol (the CA's OCSP: a DER answer saying malformedRequest) are
checked for no 5xx and no change only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from fxml.clock import FixedClock
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import KeyCache
from tests.support.bank import NOW
from tests.support.walk import (
    BODY_METHODS,
    Walked,
    code_of,
    deep_json,
    fill,
    params_of,
    walked_agent,
    walked_bank,
    walked_ca,
    walked_platform,
)

#: Digits that are not ASCII 0-9: a superscript two (str.isdigit() accepts it, int() does not), an
#: Arabic-Indic one and a full-width one two (int() reads them as 1 and 12).
UNICODE_DIGITS = ("\u00b2", "\u0661", "\uff11\uff12")


class Needs:
    """What an app's entry may ask of pytest's fixtures."""

    def __init__(self, tmp_path: Path, bank_seed: Path, ca: CertificateAuthority, keys: KeyCache, clock: FixedClock):
        self.tmp_path, self.bank_seed, self.ca, self.keys, self.clock = tmp_path, bank_seed, ca, keys, clock


#: Every app walked; one entry each.
APPS: dict[str, Callable[[Needs], AbstractContextManager[Walked]]] = {
    "bank": lambda n: walked_bank(n.bank_seed, n.tmp_path / "bank", n.ca, n.keys, n.clock),
    "platform": lambda n: walked_platform(n.tmp_path / "platform", n.clock),
    "agent": lambda n: walked_agent(),
    "ca": lambda n: walked_ca(n.tmp_path / "ca-walked", n.keys, n.clock),
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(params=sorted(APPS))
def app(request: pytest.FixtureRequest, tmp_path: Path, bank_seed: Path, ca: CertificateAuthority, keys: KeyCache,
        clock: FixedClock) -> Iterator[Walked]:
    with APPS[request.param](Needs(tmp_path, bank_seed, ca, keys, clock)) as walked:
        yield walked


def test_the_walk_knows_what_every_route_reads(app: Walked) -> None:
    """Each route with a body is a JSON route or a form route of its app's entry, and each route
    with an id in its path says what an id naming nothing gets: a route added without saying so
    fails here, and the entries name no route the app does not have."""
    routes = set(app.routes())
    with_body = {r for r in routes if r[0] in BODY_METHODS}
    unknown = with_body - set(app.unreadable) - app.forms - app.opaque
    assert unknown == set(), "routes with a body the walk does not know"
    assert set(app.unreadable) | app.forms <= routes, "the entry names routes the app does not have"
    assert not set(app.unreadable) & app.forms
    with_ids = {r for r in routes if params_of(r[1])}
    assert with_ids == set(app.missing), "routes with ids in their path the walk does not know"
    assert app.opaque <= routes


def test_deep_json_is_refused_with_a_code_on_every_route(app: Walked) -> None:
    body = deep_json(app.max_body)
    with pytest.raises(RecursionError):  # what json.loads makes of it: no ValueError
        json.loads(body)
    walked, failures = 0, []
    for method, path in app.routes():
        if method not in BODY_METHODS:
            continue
        url = fill(path, app.params)
        before, audit = app.state(), app.audit() if app.audit else []
        try:
            answer = app.client.request(method, url, content=body, headers=app.headers(method, url, body),
                                        follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a server error raised through the test client: reported below
            failures.append(f"{method} {url}: raised {exc!r}")
            continue
        walked += 1
        code = code_of(answer)
        expected = app.unreadable.get((method, path))
        if (method, path) in app.opaque:
            if answer.status_code >= 500:
                failures.append(f"{method} {url}: {answer.status_code} {answer.text[:200]!r}")
        elif not 400 <= answer.status_code < 500 or not code:
            failures.append(f"{method} {url}: {answer.status_code} {code!r} {answer.text[:200]!r}")
        elif expected is not None and (answer.status_code, code) != (400, expected):
            failures.append(f"{method} {url}: {answer.status_code} {code}, not 400 {expected} (the body was not read?)")
        if app.state() != before:
            failures.append(f"{method} {url}: the app's records changed")
        if app.audit is not None and expected is not None:
            new = app.audit()[len(audit):]
            if len(new) != 1 or new[0][1] != expected:
                failures.append(f"{method} {url}: audit lines {new}, not one line of {expected}")
    assert not failures, "\n".join(failures)
    assert walked == sum(1 for m, _ in app.routes() if m in BODY_METHODS) and walked >= len(app.unreadable)


@pytest.mark.parametrize("digits", UNICODE_DIGITS, ids=["superscript-two", "arabic-indic-one", "full-width-12"])
def test_unicode_digits_in_a_url_s_id_name_nothing(app: Walked, digits: str) -> None:
    walked, failures = 0, []
    for method, path in app.routes():
        for name in params_of(path):
            url = fill(path, app.params, **{name: digits})
            body = b"{}" if (method, path) in app.unreadable else b""
            headers = app.headers(method, url, body) if method != "GET" else {}
            form = app.form_fields(url) if (method, path) in app.forms else None
            before = app.state()
            try:
                if form is not None:
                    answer = app.client.request(method, url, data=form, follow_redirects=False)
                else:
                    answer = app.client.request(method, url, content=body or None, headers=headers,
                                                follow_redirects=False)
            except Exception as exc:  # noqa: BLE001 - a server error raised through the test client: reported below
                failures.append(f"{method} {url}: raised {exc!r}")
                continue
            walked += 1
            expected = app.missing_code((method, path), name)
            if (method, path) in app.opaque:
                if answer.status_code >= 500:
                    failures.append(f"{method} {url}: {answer.status_code} {answer.text[:160]!r}")
            elif not 400 <= answer.status_code < 500 or code_of(answer) != expected:
                failures.append(f"{method} {url}: {answer.status_code} {code_of(answer)!r}, not {expected}"
                                f" {answer.text[:160]!r}")
            if app.state() != before:
                failures.append(f"{method} {url}: the app's records changed")
    assert not failures, "\n".join(failures)
    assert walked >= len(app.missing)
