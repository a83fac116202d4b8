"""The root of every error the engine (``fxml``) raises on purpose, and the one coded error.

A caller that drives the engine (the CLI, the card agent, the platform)
catches :class:`FxmlError` for anything that is the user's input or the
world's state (a card refused a PIN, the CA refused a renewal, a clock
setting is wrong) and treats everything else as a bug.

A refusal that crosses a wire, or that a person reads, is a :class:`CodedError`:
a stable ``code`` programs compare, the HTTP ``status`` it is answered with, the
zh-TW ``message`` a person reads and the ``details`` behind it. Every part keeps
its own codes (an enum) and, beside each code, its status and message as data
(the subclass's ``STATUS`` and ``MESSAGES``); the web layer makes the JSON answer
and the zh-TW page of every app from this alone (:mod:`fxml.web.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self, TypedDict


class FxmlError(Exception):
    """An error of the engine's that carries a message meant for a person."""


class ErrorJson(TypedDict):
    """The ``error`` object of the project's JSON error body (the wire shape every part answers)."""

    code: str
    status: int
    message: str
    details: dict[str, Any]


class CodedError(FxmlError):
    """A refusal with a stable code, an HTTP status, a zh-TW message and details.

    A subclass names its part's codes' statuses and messages (``STATUS``, ``MESSAGES``, keyed by
    code); a message may name ``{fields}`` of the details, filled in when the error is made. A
    code the tables do not name (another part's, passed on) gets ``default_status`` and
    ``default_message`` unless the caller gives its own. ``status`` 0 means no HTTP answer came
    (a client's own error: the other side could not be reached, or answered nonsense).
    """

    STATUS: ClassVar[Mapping[Any, int]] = {}
    MESSAGES: ClassVar[Mapping[Any, str]] = {}
    default_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "系統無法處理此請求。"

    def __init__(self, code: str, message: str | None = None, status: int | None = None, *,
                 details: Mapping[str, Any] | None = None):
        self.code = code
        self.details: dict[str, Any] = dict(details or {})
        self.status: int = self.STATUS.get(code, self.default_status) if status is None else status
        self.message: str = self.message_for(code, self.details) if message is None else message
        super().__init__(self.summary())

    @classmethod
    def message_for(cls, code: str, details: Mapping[str, Any] | None = None) -> str:
        """The zh-TW message of ``code``, its ``{fields}`` filled from ``details``."""
        template = cls.MESSAGES.get(code, cls.default_message)
        try:
            return template.format(**(details or {}))
        except (KeyError, IndexError, ValueError):
            return template

    def summary(self) -> str:
        """One line for a log or a command line: ``[CODE] message``."""
        return f"[{self.code}] {self.message}"

    def to_json(self) -> ErrorJson:
        """The error as the JSON answer's ``error`` object: code, status, message, details."""
        return {"code": str(self.code), "status": self.status, "message": self.message, "details": self.details}

    @classmethod
    def from_json(cls, data: Any, status: int = 0) -> Self | None:
        """The error a JSON answer ``{"error": {...}}`` carries (its own status, else ``status``),
        as this class, or None when ``data`` is no such answer. The code is kept as the answer
        spells it, whichever part's it is."""
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("code"), str):
            return None
        message, details, said = error.get("message"), error.get("details"), error.get("status")
        made = cls.__new__(cls)
        CodedError.__init__(made, error["code"], message if isinstance(message, str) else None,
                            said if isinstance(said, int) and said else status,
                            details=details if isinstance(details, dict) else {})
        return made
