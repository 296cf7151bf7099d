"""One WebSocket link speaking the hub's frame format ``{type, id?, timestamp, payload}``."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from .errors import HubApiError, LinkClosed

try:  # websockets >= 13: the new asyncio implementation
    from websockets.asyncio.client import connect as _ws_connect
    _HEADERS = "additional_headers"
except ImportError:  # websockets 10-12 (Debian 12 ships 10.4)
    from websockets.client import connect as _ws_connect  # type: ignore[no-redef]
    _HEADERS = "extra_headers"
from websockets.exceptions import ConnectionClosed

#: How long :meth:`Link.connect` waits for the ``welcome`` frame.
WELCOME_TIMEOUT = 10.0


def utc_now() -> str:
    """The current time as the hub writes it: ISO 8601 UTC with milliseconds and ``Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Frame(dict):  # type: ignore[type-arg]
    """A frame as received: ``frame["type"]``, ``frame.get("id")``, ``frame["payload"]``."""

    @property
    def type(self) -> str:
        return str(self["type"])

    @property
    def id(self) -> str | None:
        return self.get("id")

    @property
    def payload(self) -> Any:
        return self.get("payload")


class Link:
    """An open link: ``/ws/agents/{id}`` or ``/ws``. ``ack``/``error`` frames that answer a
    :meth:`request` complete it; every other frame comes out of :meth:`frames` in order. After the link
    closes, :attr:`close_code` and :attr:`close_reason` say why (see :mod:`kai_client.policy`)."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._incoming: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._closed = asyncio.get_running_loop().create_future()
        self._reader: asyncio.Task[None] | None = None
        self.welcome: dict[str, Any] = {}
        self.close_code: int | None = None
        self.close_reason: str | None = None

    @classmethod
    async def connect(cls, url: str, token: str, *, max_size: int = 64 * 1024 * 1024) -> "Link":
        """Connects with ``Authorization: Bearer`` and waits for ``welcome``; raises :class:`LinkClosed`
        when the hub closes the link instead (4003 bad token, 4001 not permitted, 4004, 1013)."""
        kwargs = {_HEADERS: {"Authorization": f"Bearer {token}"}, "max_size": max_size, "open_timeout": WELCOME_TIMEOUT}
        ws = await _ws_connect(url, **kwargs)
        link = cls(ws)
        link._reader = asyncio.create_task(link._read_loop())
        try:
            first = await asyncio.wait_for(link._incoming.get(), WELCOME_TIMEOUT)
        except asyncio.TimeoutError:
            await link.close()
            raise LinkClosed(link.close_code, "no welcome frame within 10 s") from None
        if first is None:
            await link.close()
            raise LinkClosed(link.close_code, link.close_reason)
        if first.type != "welcome":
            await link.close()
            raise LinkClosed(None, f"expected a welcome frame, got '{first.type}'")
        link.welcome = first.payload or {}
        return link

    @property
    def is_open(self) -> bool:
        return not self._closed.done()

    async def wait_closed(self) -> None:
        """Returns when the link has closed, by either side."""
        await asyncio.shield(self._closed)

    async def send(self, type: str, payload: Any, id: str | None = None) -> None:
        """Sends one frame; with an ``id`` the hub answers with ``ack`` or ``error`` (see :meth:`request`)."""
        frame: dict[str, Any] = {"type": type, "timestamp": utc_now(), "payload": payload if payload is not None else {}}
        if id is not None:
            frame["id"] = id
        try:
            await self._ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed as e:
            raise LinkClosed(self._code_of(e), self.close_reason) from None

    async def request(self, type: str, payload: Any, timeout: float = 30.0) -> dict[str, Any]:
        """Sends a frame with a fresh id and returns the payload of the hub's ``ack``.
        Raises :class:`HubApiError` for an ``error`` answer (status 0), :class:`LinkClosed` if the link
        closes first, ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        id = uuid.uuid4().hex
        answer: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[id] = answer
        try:
            await self.send(type, payload, id)
            frame = await asyncio.wait_for(answer, timeout)
        finally:
            self._pending.pop(id, None)
        if frame.type == "error":
            p = frame.payload or {}
            raise HubApiError(p.get("code", "ERROR"), p.get("message", ""), 0, p.get("details") or {})
        return frame.payload or {}

    async def frames(self) -> AsyncIterator[Frame]:
        """The frames that answer no request, in order, until the link closes."""
        while True:
            frame = await self._incoming.get()
            if frame is None:
                self._incoming.put_nowait(None)  # later readers see the end too
                return
            yield frame

    async def close(self, code: int = 1000, reason: str = "bye") -> None:
        """Closes the link (normal closure by default) and waits for the reader to finish."""
        try:
            await asyncio.wait_for(self._ws.close(code, reason), 5)
        except (asyncio.TimeoutError, ConnectionClosed, OSError):
            pass
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
            except asyncio.TimeoutError:
                self._reader.cancel()

    def abort(self) -> None:
        """Drops the TCP connection without a close handshake (as a network failure would)."""
        transport = getattr(self._ws, "transport", None)
        if transport is not None:
            transport.abort()

    def _code_of(self, e: ConnectionClosed) -> int | None:
        rcvd = getattr(e, "rcvd", None)
        if rcvd is not None:
            self.close_code, self.close_reason = rcvd.code, rcvd.reason
            return rcvd.code
        return self.close_code

    async def _read_loop(self) -> None:
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    continue
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                    continue
                frame = Frame(data)
                waiter = self._pending.get(frame.id) if frame.id is not None else None
                if waiter is not None and frame.type in ("ack", "error"):
                    if not waiter.done():
                        waiter.set_result(frame)
                    continue
                self._incoming.put_nowait(frame)
        except ConnectionClosed as e:
            self._code_of(e)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if self.close_code is None:
                # websockets reports 1006 (abnormal closure) when there was no close frame.
                code = getattr(self._ws, "close_code", None)
                self.close_code = None if code == 1006 else code
                self.close_reason = getattr(self._ws, "close_reason", None) or self.close_reason
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(LinkClosed(self.close_code, self.close_reason))
            self._incoming.put_nowait(None)
            if not self._closed.done():
                self._closed.set_result(None)
