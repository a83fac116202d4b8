"""The record API's wire contract, once: paths, header, JSON shapes, status codes.

The platform keeps the authoritative record of every renewal
(:mod:`fxml.platform.renewals`); the engine, where the card is, reads and
moves it over HTTP (:mod:`fxml.renewal.records`). Both import this module.

================================================  =========================================
``GET  /api/renewals/{renewal_id}``               the record: ``{"renewal": {...}}``
``POST /api/renewals/{renewal_id}/advance``       ``{"expected", "to", "fields"}`` → ``{"renewal"}``
``POST /api/renewals/{renewal_id}/fail``          ``{"code", "message"}`` → ``{"renewal"}``
================================================  =========================================

Every call carries ``Authorization: Bearer <renewal token>``: a token the
platform signed for this renewal and its holder (audience
:data:`TOKEN_AUDIENCE`, valid :data:`TOKEN_MAX_AGE` seconds) and handed to the
page, which hands it to the card agent. A refusal is the project's JSON error
``{"error": {"code", "status", "message", "details", "renewal"?}}`` with the HTTP
status of :data:`STATUS`; ``renewal`` is the record as it is when the refusal is
``RENEWAL_STALE`` (or another move refused on a known record).
"""

from __future__ import annotations

from typing import Final, TypedDict

from itsdangerous import BadData, URLSafeTimedSerializer

from fxml.renewal.model import RECORD_STATUS, RecordErrorJson

#: Who a renewal token is for.
TOKEN_AUDIENCE: Final = "fxml-renewal"  # noqa: S105 - an audience name, not a secret
#: Seconds a renewal token stays valid after the platform signed it.
TOKEN_MAX_AGE: Final = 20 * 60

HEADER: Final = "Authorization"
SCHEME: Final = "Bearer"
JSON_TYPE: Final = "application/json; charset=utf-8"
#: The largest body the record API reads (a record with its certificate and chain is a few KB).
MAX_BODY: Final = 64 * 1024


class Paths:
    """``{renewal_id}`` is one path segment (letters, digits, ``-``, ``_``)."""

    RENEWAL: Final = "/api/renewals/{renewal_id}"
    ADVANCE: Final = "/api/renewals/{renewal_id}/advance"
    FAIL: Final = "/api/renewals/{renewal_id}/fail"


#: A refusal's ``error`` object.
ErrorJson = RecordErrorJson
#: The HTTP status of each refusal.
STATUS: Final = RECORD_STATUS


class AdvanceJson(TypedDict):
    expected: str
    to: str
    fields: dict[str, str]


class FailJson(TypedDict):
    code: str
    message: str


def bearer(token: str) -> str:
    """The ``Authorization`` header's value for ``token``."""
    return f"{SCHEME} {token}"


def token_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not token.strip():
        return None
    return token.strip()


def renewal_id_of(token: str) -> str | None:
    """The renewal id a token names, read without checking its signature.

    The engine's side cannot check the signature (only the platform holds
    the key) and need not: the platform checks it on every call. This only
    saves the caller from passing the id next to the token.
    """
    try:
        _, payload = URLSafeTimedSerializer(b"").loads_unsafe(token)
    except (BadData, ValueError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("rid"), str):
        return str(payload["rid"])
    return None
