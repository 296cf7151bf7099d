"""Errors raised by the client (docs/protocol.md, "Errors" and "Close codes")."""

from __future__ import annotations

from typing import Any


class HubApiError(Exception):
    """An error answer from the hub.

    Either a REST 4xx/5xx with the envelope
    ``{"error": {"code", "message", "details", "correlation_id", "timestamp"}}``, or an ``error`` frame
    ``{code, message, details?}`` on a WebSocket link (then ``status`` is 0 and ``correlation_id`` is None).
    """

    def __init__(self, code: str, message: str, status: int = 0,
                 details: dict[str, Any] | None = None, correlation_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        #: The stable code, e.g. ``AGENT_NOT_FOUND`` (see the error table of docs/protocol.md).
        self.code = code
        #: The hub's human-readable message.
        self.message = message
        #: The HTTP status, or 0 for an ``error`` frame.
        self.status = status
        #: Machine-readable details; for ``VALIDATION_ERROR`` each bad field maps to its problems.
        self.details: dict[str, Any] = details or {}
        #: The correlation id to quote when reporting the error (REST only).
        self.correlation_id = correlation_id


class LinkClosed(Exception):
    """The hub closed a WebSocket link, or refused to open it (``code`` is the close code, None when the
    connection broke without a close frame)."""

    def __init__(self, code: int | None, reason: str | None = None) -> None:
        super().__init__(f"link closed ({code if code is not None else 'no close code'}): {reason or ''}".rstrip(": "))
        self.code = code
        self.reason = reason
