"""Running an agent: the live link with reconnect, heartbeats, commands, tasks and messages."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from .client import HubClient
from .errors import HubApiError, LinkClosed
from .link import Frame, Link, utc_now
from .policy import Action, Backoff, action_for

log = logging.getLogger("kai_client.agent")

#: A link that lived at least this long resets the backoff.
STABLE_LINK_SECONDS = 5.0
#: Results remembered per kind, to answer redelivered commands and tasks without running handlers twice.
RESULT_CACHE = 1024


@dataclass
class CommandContext:
    """A ``command`` frame: ``{command_id, command, parameters, priority, deadline, correlation_id?, traceparent?}``.
    The same ``command_id`` may arrive twice after a reconnect (at-least-once delivery)."""

    command_id: str
    command: str
    parameters: dict[str, Any]
    priority: str
    deadline: str
    correlation_id: str | None = None
    traceparent: str | None = None


@dataclass
class AgentMessage:
    """An ``agent_message`` delivery: ``{from_agent, message_type, content, requires_response, correlation_id?}``."""

    from_agent: str
    message_type: str
    content: Any
    requires_response: bool = False
    correlation_id: str | None = None


@dataclass
class TaskContext:
    """One attempt of a durable task (a ``task`` frame). Report with :meth:`progress`; the agent renews the
    lease by itself while the handler runs, and sends the completion with this attempt's fencing token."""

    task_id: str
    type: str
    input: dict[str, Any]
    attempt: int
    max_attempts: int
    fencing_token: int
    lease_expires_at: str
    deadline: str
    priority: str
    parent_workflow_id: str | None = None
    stage_name: str | None = None
    _agent: "Agent | None" = field(default=None, repr=False)

    async def progress(self, percent: int, output_data: Any = None) -> None:
        """Sends ``task_update {status: in_progress, progress, output_data?, fencing_token}``; this renews the lease."""
        assert self._agent is not None
        update: dict[str, Any] = {"task_id": self.task_id, "status": "in_progress", "progress": percent,
                                  "fencing_token": self.fencing_token, "attempt": self.attempt}
        if output_data is not None:
            update["output_data"] = output_data
        await self._agent._send_task_update(update)


CommandHandler = Callable[[CommandContext], Awaitable[Any]]
TaskHandler = Callable[[TaskContext], Awaitable[Any]]
MessageHandler = Callable[[AgentMessage], Awaitable[Any]]
FrameHandler = Callable[["Agent", Frame], Awaitable[None]]


def _seconds_until(iso: str) -> float:
    try:
        return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds()
    except ValueError:
        return 30.0


class Agent:
    """Hosts one agent process.

    It exchanges the client credentials for a token (and again before it expires), holds the live link
    ``/ws/agents/{id}``, sends heartbeats at the hub's interval, and reconnects with exponential backoff and
    jitter. Close codes are honoured as docs/protocol.md says: 4001, 4003, 4006 (replaced) and 1009 stop
    :meth:`run` with :class:`LinkClosed`; 4002 fetches a new token and reconnects at once; 4004 and 1013
    back off with a floor; 1001, 4008 and the rest reconnect with backoff.

    Handlers: :meth:`command` (answered with ``command_result``), :meth:`task` (``task_update`` with the
    fencing token; lease renewal while running), :meth:`message` (``agent_message``; a return value is
    the reply when the sender asked for one). Frame types without a built-in handler (the RPC and invocation
    frames to come) go to handlers registered with :meth:`on_frame`.
    """

    def __init__(self, hub_url: str, agent_id: str, client_secret: str, *, client_id: str | None = None,
                 backoff: Backoff | None = None, client: HubClient | None = None,
                 max_concurrent_commands: int = 16) -> None:
        self.agent_id = agent_id
        self.client_id = client_id or agent_id
        self._secret = client_secret
        self.client = client or HubClient(hub_url)
        self.backoff = backoff or Backoff()
        self._commands: dict[str, CommandHandler] = {}
        self._tasks: dict[str, TaskHandler] = {}
        self._message_handlers: dict[str, MessageHandler] = {}
        self._frame_handlers: dict[str, FrameHandler] = {}
        self._asks: dict[str, asyncio.Future[AgentMessage]] = {}
        self._command_results: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._task_results: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._running_commands: set[str] = set()
        self._running_tasks: dict[str, tuple[int, asyncio.Task[Any]]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._concurrency = asyncio.Semaphore(max_concurrent_commands)
        self._link: Link | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._stop_event = asyncio.Event()
        #: Messages no handler took and no :meth:`ask` waits for (the newest 1,024).
        self.messages: asyncio.Queue[AgentMessage] = asyncio.Queue(maxsize=1024)
        #: How many times the live link was opened.
        self.connections = 0
        #: The close codes of the links that ended, in order (None: no close frame).
        self.close_codes: list[int | None] = []
        self.on_connected: Callable[[], None] | None = None
        self.on_disconnected: Callable[[int | None, str | None], None] | None = None

    # ---- registration ---------------------------------------------------------------------------

    def command(self, name: str) -> Callable[[CommandHandler], CommandHandler]:
        """Decorator: handles the command ``name``; the return value (JSON) is the result, an exception fails it."""
        def register(handler: CommandHandler) -> CommandHandler:
            self._commands[name] = handler
            return handler
        return register

    def task(self, type: str) -> Callable[[TaskHandler], TaskHandler]:
        """Decorator: handles tasks of ``type``; the return value is the result, an exception fails the attempt
        (the hub retries per the task's policy). Cancelled when the hub sends ``task_cancel``."""
        def register(handler: TaskHandler) -> TaskHandler:
            self._tasks[type] = handler
            return handler
        return register

    def message(self, message_type: str) -> Callable[[MessageHandler], MessageHandler]:
        """Decorator: handles ``agent_message`` of ``message_type``. With ``requires_response`` the return value
        is sent back as ``{message_type}.result`` (an exception as ``{message_type}.error``) with the same
        ``correlation_id``."""
        def register(handler: MessageHandler) -> MessageHandler:
            self._message_handlers[message_type] = handler
            return handler
        return register

    def on_frame(self, frame_type: str, handler: FrameHandler) -> None:
        """The extension point: ``handler(agent, frame)`` runs for every frame of ``frame_type`` that the agent
        has no built-in handling for (for example the RPC and invocation frames the hub will add). Reply with
        :meth:`send_frame` / :meth:`request`."""
        self._frame_handlers[frame_type] = handler

    # ---- sending --------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._link is not None and self._link.is_open

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Waits until the live link is open."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    def _current(self) -> Link:
        if self._link is None or not self._link.is_open:
            raise RuntimeError(f"agent '{self.agent_id}' is not connected")
        return self._link

    async def send_frame(self, type: str, payload: Any, id: str | None = None) -> None:
        """Sends a raw frame on the live link."""
        await self._current().send(type, payload, id)

    async def request(self, type: str, payload: Any, timeout: float = 30.0) -> dict[str, Any]:
        """Sends a raw frame with an id and returns the ``ack`` payload (:class:`HubApiError` on ``error``)."""
        return await self._current().request(type, payload, timeout)

    async def send_message(self, to_agent: str, message_type: str, content: Any, *, requires_response: bool = False,
                           correlation_id: str | None = None) -> dict[str, Any]:
        """Sends ``agent_message`` and returns the ack ``{delivered, to_agent}``. At most once: raises
        :class:`HubApiError` ``AGENT_NOT_FOUND`` (unknown or another owner's) or ``AGENT_UNAVAILABLE`` (no live link)."""
        payload: dict[str, Any] = {"to_agent": to_agent, "message_type": message_type, "content": content,
                                   "requires_response": requires_response}
        if correlation_id is not None:
            payload["correlation_id"] = correlation_id
        return await self.request("agent_message", payload)

    async def ask(self, to_agent: str, message_type: str, content: Any, timeout: float = 30.0) -> AgentMessage:
        """Sends a message with ``requires_response`` and waits for the reply with the same correlation id."""
        correlation_id = uuid.uuid4().hex
        answer: asyncio.Future[AgentMessage] = asyncio.get_running_loop().create_future()
        self._asks[correlation_id] = answer
        try:
            await self.send_message(to_agent, message_type, content, requires_response=True, correlation_id=correlation_id)
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._asks.pop(correlation_id, None)

    async def log(self, level: str, message: str, component: str | None = None,
                  context: dict[str, Any] | None = None) -> None:
        """Sends a ``log`` frame (``debug``, ``info``, ``warn``, ``error``); dropped when not connected."""
        payload: dict[str, Any] = {"level": level, "message": message, "timestamp": utc_now()}
        if component:
            payload["component"] = component
        if context:
            payload["context"] = context
        try:
            await self.send_frame("log", payload)
        except (RuntimeError, LinkClosed):
            pass

    async def report_status(self, status: str, reason: str | None = None) -> None:
        """Sends ``status_update {status: active|idle|error, reason?}``."""
        await self.request("status_update", {"status": status, **({"reason": reason} if reason else {})})

    # ---- running --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Asks :meth:`run` to close the link and return."""
        self._stopping = True
        self._stop_event.set()
        if self._link is not None:
            self._spawn(self._link.close())

    async def run(self) -> None:
        """Connects and serves until :meth:`stop` (then returns), reconnecting after every loss. Raises
        :class:`HubApiError` when the credentials are refused, :class:`LinkClosed` for a terminal close code."""
        refreshed_once = False
        try:
            while not self._stopping:
                code: int | None
                opened = time.monotonic()
                try:
                    code = await self._serve_once()
                except LinkClosed as e:
                    code = e.code
                except HubApiError as e:
                    if e.code in ("AUTHENTICATION_FAILED", "VALIDATION_ERROR", "FORBIDDEN") or e.status in (401, 403, 404):
                        raise
                    code = None
                    log.warning("agent %s: %s", self.agent_id, e)
                except Exception as e:  # network failures, refused handshakes, timeouts: try again later
                    code = None
                    log.warning("agent %s: connect failed: %s", self.agent_id, e)
                if self._stopping:
                    return
                action = action_for(code)
                if action is Action.STOP:
                    raise LinkClosed(code, "the hub refused this agent for good")
                if time.monotonic() - opened >= STABLE_LINK_SECONDS:
                    self.backoff.reset()
                if action is Action.REFRESH:
                    self.client.expire_token()
                    if not refreshed_once:
                        refreshed_once = True
                        continue
                else:
                    refreshed_once = False
                delay = self.backoff.next_delay(code)
                log.info("agent %s: link closed (%s); reconnecting in %.2f s", self.agent_id, code, delay)
                try:  # a stop() during the wait ends it at once
                    await asyncio.wait_for(self._stop_event.wait(), delay)
                except asyncio.TimeoutError:
                    pass
        finally:
            for task in list(self._background):
                task.cancel()

    async def _serve_once(self) -> int | None:
        if self.client.access_token is None:
            await self.client.login_agent(self.client_id, self._secret)
        else:
            await self.client.ensure_token()
        link = await self.client.connect_agent_link(self.agent_id)
        if self._stopping:  # stop() came while connecting
            await link.close()
            return link.close_code
        self._link = link
        self.connections += 1
        self._connected.set()
        if self.on_connected:
            self.on_connected()
        interval = max(1.0, float(link.welcome.get("heartbeat_interval", 30)))
        heartbeat = asyncio.create_task(self._heartbeats(link, interval))
        try:
            async for frame in link.frames():
                self._dispatch(link, frame)
        finally:
            heartbeat.cancel()
            self._connected.clear()
            self._link = None
            self.close_codes.append(link.close_code)
            if self.on_disconnected:
                self.on_disconnected(link.close_code, link.close_reason)
        return link.close_code

    async def _heartbeats(self, link: Link, interval: float) -> None:
        try:
            while link.is_open:
                await asyncio.sleep(interval)
                # Renew the token ahead of its expiry, so a reconnect never waits for it (and the hub's
                # 4002 at expiry is answered by a fresh exchange).
                await self.client.ensure_token()
                await link.send("heartbeat", {"agent_id": self.agent_id, "client_timestamp": utc_now(),
                                              "current_tasks": len(self._running_tasks)})
        except (LinkClosed, HubApiError, OSError, asyncio.CancelledError):
            pass

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _dispatch(self, link: Link, frame: Frame) -> None:
        p = frame.payload or {}
        if frame.type == "command":
            self._spawn(self._run_command(link, p))
        elif frame.type == "task":
            self._spawn(self._run_task(p))
        elif frame.type == "task_cancel":
            running = self._running_tasks.get(p.get("task_id", ""))
            if running is not None and running[0] == p.get("fencing_token"):
                running[1].cancel()
        elif frame.type == "agent_message":
            message = AgentMessage(p.get("from_agent", ""), p.get("message_type", ""), p.get("content"),
                                   bool(p.get("requires_response")), p.get("correlation_id"))
            ask = self._asks.get(message.correlation_id or "") if not message.requires_response else None
            if ask is not None and not ask.done():
                ask.set_result(message)
            elif message.message_type in self._message_handlers:
                self._spawn(self._run_message(message, self._message_handlers[message.message_type]))
            else:
                if self.messages.full():
                    self.messages.get_nowait()
                self.messages.put_nowait(message)
        elif frame.type in self._frame_handlers:
            self._spawn(self._frame_handlers[frame.type](self, frame))
        elif frame.type == "error":
            log.warning("agent %s: hub error frame: %s", self.agent_id, p)

    async def _run_command(self, link: Link, p: dict[str, Any]) -> None:
        command_id = p.get("command_id", "")
        cached = self._command_results.get(command_id)
        if cached is not None:
            await self._send_result(cached)
            return
        if command_id in self._running_commands:
            return
        self._running_commands.add(command_id)
        try:
            async with self._concurrency:
                handler = self._commands.get(p.get("command", ""))
                if handler is None:
                    result: dict[str, Any] = {
                        "command_id": command_id, "status": "failed",
                        "error": f"unknown command '{p.get('command')}'; this agent handles: {', '.join(sorted(self._commands))}"}
                else:
                    context = CommandContext(command_id, p.get("command", ""), p.get("parameters") or {},
                                             p.get("priority", "normal"), p.get("deadline", ""),
                                             p.get("correlation_id"), p.get("traceparent"))
                    try:
                        value = await handler(context)
                        result = {"command_id": command_id, "status": "completed", "result": value}
                    except asyncio.CancelledError:
                        raise
                    except Exception as e:  # the handler's failure is the command's result
                        result = {"command_id": command_id, "status": "failed", "error": str(e) or type(e).__name__}
        finally:
            self._running_commands.discard(command_id)
        self._remember(self._command_results, command_id, result)
        await self._send_result(result)

    async def _send_result(self, result: dict[str, Any]) -> None:
        try:
            await self.request("command_result", result)
        except (LinkClosed, RuntimeError, asyncio.TimeoutError, HubApiError) as e:
            # The hub redelivers the command after a reconnect; the cached result answers it then.
            log.warning("agent %s: result of %s not sent: %s", self.agent_id, result["command_id"], e)

    @staticmethod
    def _remember(cache: "collections.OrderedDict[str, dict[str, Any]]", key: str, value: dict[str, Any]) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > RESULT_CACHE:
            cache.popitem(last=False)

    async def _run_task(self, p: dict[str, Any]) -> None:
        task_id = p.get("task_id", "")
        token = int(p.get("fencing_token", 0))
        attempt = int(p.get("attempt", 1))
        done = self._task_results.get(task_id)
        if done is not None:
            # Finished here before (the hub did not record it): the same outcome, with this attempt's token.
            await self._send_task_update({**done, "fencing_token": token, "attempt": attempt})
            return
        if task_id in self._running_tasks:
            return
        context = TaskContext(task_id, p.get("type", ""), p.get("input_data") or {}, attempt,
                              int(p.get("max_attempts", 1)), token, p.get("lease_expires_at", ""),
                              p.get("deadline", ""), p.get("priority", "normal"), p.get("parent_workflow_id"),
                              p.get("stage_name"), self)
        handler = self._tasks.get(context.type)
        work = asyncio.ensure_future(handler(context) if handler else self._no_task_handler(context))
        self._running_tasks[task_id] = (token, work)
        renew = asyncio.ensure_future(self._renew_lease(context))
        try:
            value = await work
            outcome: dict[str, Any] = {"task_id": task_id, "status": "completed", "progress": 100, "result": value,
                                       "fencing_token": token, "attempt": attempt}
        except asyncio.CancelledError:
            if self._stopping or not work.cancelled():
                raise
            return  # task_cancel from the hub: it already knows; nothing to report
        except Exception as e:  # the handler's failure fails this attempt
            outcome = {"task_id": task_id, "status": "failed", "error": str(e) or type(e).__name__,
                       "fencing_token": token, "attempt": attempt}
        finally:
            renew.cancel()
            self._running_tasks.pop(task_id, None)
        if outcome["status"] == "completed":
            self._remember(self._task_results, task_id, outcome)
        await self._send_task_update(outcome)

    async def _no_task_handler(self, context: TaskContext) -> Any:
        raise RuntimeError(f"no handler for task type '{context.type}' on agent '{self.agent_id}'")

    async def _renew_lease(self, context: TaskContext) -> None:
        """``task_update in_progress`` every third of the lease, so long work is not redelivered."""
        every = max(1.0, _seconds_until(context.lease_expires_at) / 3)
        try:
            while True:
                await asyncio.sleep(every)
                await self._send_task_update({"task_id": context.task_id, "status": "in_progress",
                                              "fencing_token": context.fencing_token, "attempt": context.attempt})
        except asyncio.CancelledError:
            pass

    async def _send_task_update(self, update: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self.request("task_update", update)
        except HubApiError as e:
            if e.code == "CONFLICT":
                # A newer attempt owns the task (our lease expired, or it was canceled): our word no longer counts.
                log.info("agent %s: task %s superseded: %s", self.agent_id, update["task_id"], e.message)
            else:
                log.warning("agent %s: task_update %s refused: %s", self.agent_id, update["task_id"], e)
        except (LinkClosed, RuntimeError, asyncio.TimeoutError) as e:
            log.warning("agent %s: task_update %s not sent: %s", self.agent_id, update["task_id"], e)
        return None

    async def _run_message(self, message: AgentMessage, handler: MessageHandler) -> None:
        try:
            reply: Any = await handler(message)
            reply_type = message.message_type + ".result"
        except asyncio.CancelledError:
            raise
        except Exception as e:
            reply, reply_type = {"error": str(e)}, message.message_type + ".error"
        if not message.requires_response:
            return
        try:
            await self.send_message(message.from_agent, reply_type, reply, correlation_id=message.correlation_id)
        except (HubApiError, LinkClosed, RuntimeError, asyncio.TimeoutError) as e:
            log.warning("agent %s: reply to %s not sent: %s", self.agent_id, message.from_agent, e)

    async def aclose(self) -> None:
        """Stops and releases the HTTP client."""
        self.stop()
        await self.client.aclose()
