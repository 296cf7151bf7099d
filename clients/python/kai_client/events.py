"""The event link ``/ws``: subscribe with patterns, filters and recovery; publish; resume after reconnects."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Union

from .errors import HubApiError, LinkClosed
from .link import Link
from .policy import Action, Backoff, action_for

if TYPE_CHECKING:
    from .client import HubClient

log = logging.getLogger("kai_client.events")


@dataclass
class Event:
    """An ``event`` frame: ``{id, timestamp, event_type, topic, source_agent?, target_agent?, correlation_id?, payload}``.
    ``id`` is ``"{epoch}-{offset}"``; pass it as ``since`` to resume after it."""

    id: str
    timestamp: str
    event_type: str
    topic: str
    payload: Any
    source_agent: str | None = None
    target_agent: str | None = None
    correlation_id: str | None = None

    @staticmethod
    def from_payload(p: dict[str, Any]) -> "Event":
        return Event(p["id"], p.get("timestamp", ""), p.get("event_type", ""), p.get("topic", ""), p.get("payload"),
                     p.get("source_agent"), p.get("target_agent"), p.get("correlation_id"))


@dataclass
class Gap:
    """A ``gap`` frame: history could not prove that nothing was lost after ``requested``
    (``reason``: ``history_trimmed`` or ``epoch_changed``). Re-read whatever state you derive from events."""

    requested: str
    epoch: str
    current: str
    reason: str
    first_available: str | None
    events: list[str]

    @staticmethod
    def from_payload(p: dict[str, Any]) -> "Gap":
        return Gap(p.get("requested", ""), p.get("epoch", ""), p.get("current", ""), p.get("reason", ""),
                   p.get("first_available"), list(p.get("events") or []))


Item = Union[Event, Gap]


class EventLink:
    """One open ``/ws`` link, no reconnects (:class:`EventSubscription` reconnects). ``welcome`` holds
    ``{principal_id, role, epoch, position, max_frame_bytes, max_patterns, max_publish_bytes}``."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.welcome = link.welcome
        #: The id of the last event read, or None.
        self.last_event_id: str | None = None

    async def subscribe(self, patterns: list[str], *, filters: dict[str, Any] | None = None,
                        since: str | None = None) -> dict[str, Any]:
        """``subscribe {events, filters?, since?}`` → ack ``{subscribed, epoch, position, recovered, replayed}``.
        Then come a ``gap`` if history does not reach back to ``since``, the replayed events, and live ones.
        :class:`HubApiError` ``VALIDATION_ERROR`` for a bad pattern, filter or position."""
        payload: dict[str, Any] = {"events": patterns}
        if filters:
            payload["filters"] = filters
        if since is not None:
            payload["since"] = since
        return await self.link.request("subscribe", payload)

    async def unsubscribe(self, patterns: list[str]) -> list[str]:
        """``unsubscribe {events}`` → the patterns that were subscribed."""
        ack = await self.link.request("unsubscribe", {"events": patterns})
        return list(ack.get("unsubscribed") or [])

    async def publish(self, topic: str, data: Any, *, correlation_id: str | None = None,
                      target_agent: str | None = None) -> dict[str, Any]:
        """``publish {topic, data, ...}`` → ack ``{id, topic}``; ``FORBIDDEN`` outside ``app.>``/``custom.>``."""
        payload: dict[str, Any] = {"topic": topic, "data": data}
        if correlation_id:
            payload["correlation_id"] = correlation_id
        if target_agent:
            payload["target_agent"] = target_agent
        return await self.link.request("publish", payload)

    async def items(self) -> AsyncIterator[Item]:
        """``event`` and ``gap`` frames in the order sent, until the link closes."""
        async for frame in self.link.frames():
            if frame.type == "event":
                event = Event.from_payload(frame.payload)
                self.last_event_id = event.id
                yield event
            elif frame.type == "gap":
                yield Gap.from_payload(frame.payload)

    def __aiter__(self) -> AsyncIterator[Item]:
        return self.items()

    async def close(self) -> None:
        await self.link.close()


class EventSubscription:
    """A subscription that survives link losses.

    Iterate it (``async for item in sub``) to get :class:`Event` and :class:`Gap` items. When the link
    drops (1001 hub restart, 4008 slow consumer, 4004, 1013, network), it reconnects with exponential
    backoff and jitter (after 4002 it renews the token and reconnects at once) and subscribes again with
    ``since`` = the last event id it yielded: nothing still in history is missed and nothing is yielded
    twice. If history cannot cover the loss, the hub's :class:`Gap` is yielded. 4001, 4003, 4006 and
    1009 end the iteration with :class:`LinkClosed`; a refused subscribe with :class:`HubApiError`.
    """

    def __init__(self, client: "HubClient", patterns: list[str], *, filters: dict[str, Any] | None = None,
                 since: str | None = None, backoff: Backoff | None = None) -> None:
        self.client = client
        self.patterns = patterns
        self.filters = filters
        self.last_event_id = since
        self.backoff = backoff or Backoff(maximum=15.0)
        #: How many links were opened and subscribed.
        self.connections = 0
        #: The current link (None between links); ``sub.link.link.abort()`` simulates a network failure.
        self.link: EventLink | None = None
        #: Called with each subscribe ack.
        self.on_subscribed: Callable[[dict[str, Any]], None] | None = None
        self._closed = False
        self._close_event = asyncio.Event()

    def close(self) -> None:
        """Ends the iteration after the current item (and any reconnect wait at once)."""
        self._closed = True
        self._close_event.set()
        if self.link is not None:
            asyncio.ensure_future(self.link.close())

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._run()

    async def _run(self) -> AsyncIterator[Item]:
        refreshed_once = False
        while not self._closed:
            code: int | None = None
            opened = time.monotonic()
            try:
                self.link = await self.client.connect_events()
                if self._closed:  # close() came while connecting; finally closes the link
                    return
                ack = await self.link.subscribe(self.patterns, filters=self.filters, since=self.last_event_id)
                self.connections += 1
                if self.on_subscribed:
                    self.on_subscribed(ack)
                async for item in self.link:
                    if isinstance(item, Event):
                        self.last_event_id = item.id
                        refreshed_once = False
                    yield item
                    if self._closed:
                        break
                code = self.link.link.close_code
            except LinkClosed as e:
                code = e.code
            except HubApiError as e:
                if e.status < 500:
                    raise
            except (OSError, asyncio.TimeoutError, ConnectionError) as e:
                log.warning("event link: %s", e)
            except Exception as e:  # handshake refusals and other transport errors
                if type(e).__module__.startswith("websockets") or isinstance(e, EOFError):
                    log.warning("event link: %s", e)
                else:
                    raise
            finally:
                if self.link is not None:
                    await self.link.close()
                    self.link = None
            if self._closed:
                return
            action = action_for(code)
            if action is Action.STOP:
                raise LinkClosed(code, "the hub refused this subscriber for good")
            if time.monotonic() - opened >= 5.0:
                self.backoff.reset()
            if action is Action.REFRESH:
                self.client.expire_token()
                if not refreshed_once:
                    refreshed_once = True
                    continue
            try:
                await asyncio.wait_for(self._close_event.wait(), self.backoff.next_delay(code))
            except asyncio.TimeoutError:
                pass
