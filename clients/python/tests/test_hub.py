"""The Python client against a real hub: the quick-start scenario and the link's close-code handling."""

from __future__ import annotations

import asyncio
import contextlib
import unittest
import uuid
from typing import Any, AsyncIterator

from kai_client import (Agent, AgentMessage, Backoff, CommandContext, Event, Gap, HubApiError, HubClient,
                        LinkClosed, TaskContext)

from .hubenv import (AGENT_ID, AGENT_SECRET, EMAIL, HUB_URL, PASSWORD, PEER_ID, PEER_SECRET, control,
                     needs_control, needs_hub, until)


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, maximum=0.5, throttle_floor=0.1)


@contextlib.asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[asyncio.Task[None]]:
    """Runs the agent until the block ends, then stops it and waits for run() to return."""
    run = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.wait_connected(), 15)
        yield run
    finally:
        agent.stop()
        with contextlib.suppress(LinkClosed, HubApiError):
            await asyncio.wait_for(run, 15)
        await agent.client.aclose()


@needs_hub
class UserAndErrorTests(unittest.IsolatedAsyncioTestCase):
    async def test_login_session_refresh_and_the_error_envelope_as_a_typed_error(self) -> None:
        now = [1_000_000_000.0]
        async with HubClient(HUB_URL, clock=lambda: now[0] + 0) as owner:
            profile = await owner.login(EMAIL, PASSWORD)
            self.assertEqual(profile["user_profile"]["email"], EMAIL)
            session = await owner.get_session()
            self.assertEqual(session["role"], "user")
            self.assertIn("agent.create", session["permissions"])

            # Close to the access token's expiry the client refreshes by itself; the refresh token rotates.
            first_refresh = owner.refresh_token
            now[0] += profile["expires_in"] - 10
            self.assertEqual((await owner.get_session())["user_id"], session["user_id"])
            self.assertNotEqual(owner.refresh_token, first_refresh)
            self.assertEqual(owner.token_fetches, 2)

            with self.assertRaises(HubApiError) as missing:
                await owner.get_agent("no-such-agent")
            e = missing.exception
            self.assertEqual((e.code, e.status), ("AGENT_NOT_FOUND", 404))
            self.assertEqual(e.details.get("agent_id"), "no-such-agent")
            self.assertTrue(e.correlation_id)

            with self.assertRaises(HubApiError) as invalid:
                await owner.create_task("", {"n": 1}, priority="whenever")
            self.assertEqual((invalid.exception.code, invalid.exception.status), ("VALIDATION_ERROR", 400))
            self.assertTrue(invalid.exception.details)

        async with HubClient(HUB_URL) as stranger:
            with self.assertRaises(HubApiError) as refused:
                await stranger.login(EMAIL, PASSWORD + "-wrong")
            self.assertEqual((refused.exception.code, refused.exception.status), ("AUTHENTICATION_FAILED", 401))

    async def test_agent_credentials_are_exchanged_again_before_the_token_expires(self) -> None:
        now = [1_000_000_000.0]
        async with HubClient(HUB_URL, clock=lambda: now[0]) as client:
            token = await client.login_agent(AGENT_ID, AGENT_SECRET)
            self.assertEqual(token["agent_id"], AGENT_ID)
            self.assertEqual(token["token_type"].lower(), "bearer")
            self.assertEqual((await client.heartbeat(AGENT_ID, status="idle"))["agent_id"], AGENT_ID)
            self.assertEqual(client.token_fetches, 1)
            now[0] += token["expires_in"] - 5  # inside the renewal margin
            self.assertEqual((await client.heartbeat(AGENT_ID))["agent_id"], AGENT_ID)
            self.assertEqual(client.token_fetches, 2)

        async with HubClient(HUB_URL) as wrong:
            with self.assertRaises(HubApiError) as refused:
                await wrong.login_agent(AGENT_ID, "kas_not-the-secret")
            self.assertEqual(refused.exception.code, "AUTHENTICATION_FAILED")
            self.assertEqual(refused.exception.details.get("oauth_error"), "invalid_client")


@needs_hub
class QuickStartTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.owner = HubClient(HUB_URL)
        await self.owner.login(EMAIL, PASSWORD)

    async def asyncTearDown(self) -> None:
        await self.owner.aclose()

    async def test_an_agent_answers_commands_completes_tasks_and_talks_to_another_agent(self) -> None:
        worker = Agent(HUB_URL, AGENT_ID, AGENT_SECRET, backoff=fast_backoff())
        peer = Agent(HUB_URL, PEER_ID, PEER_SECRET, backoff=fast_backoff())
        seen_tokens: list[int] = []

        @worker.command("add")
        async def add(ctx: CommandContext) -> Any:
            return {"sum": ctx.parameters["a"] + ctx.parameters["b"]}

        @worker.command("explode")
        async def explode(ctx: CommandContext) -> Any:
            raise ValueError("boom")

        @worker.task("double")
        async def double(task: TaskContext) -> Any:
            seen_tokens.append(task.fencing_token)
            await task.progress(50, {"halfway": True})
            return {"value": task.input["n"] * 2}

        @peer.message("upper")
        async def upper(message: AgentMessage) -> Any:
            return str(message.content).upper()

        async with running(worker), running(peer):
            # A command sent over REST by the owner, answered with command_result.
            ok = await self.owner.send_command(AGENT_ID, "add", {"a": 40, "b": 2}, timeout=15)
            self.assertEqual((ok["status"], ok["result"]), ("completed", {"sum": 42}))
            failed = await self.owner.send_command(AGENT_ID, "explode", timeout=15)
            self.assertEqual((failed["status"], failed["error"]), ("failed", "boom"))
            unknown = await self.owner.send_command(AGENT_ID, "dance", timeout=15)
            self.assertIn("unknown command 'dance'", unknown["error"])

            # A task, completed with its fencing token.
            task = await self.owner.create_task("double", {"n": 21}, assigned_agent=AGENT_ID,
                                                idempotency_key=uuid.uuid4().hex)

            async def completed() -> Any:
                t = await self.owner.get_task(task["task_id"])
                return t if t["status"] == "completed" else None
            done = await until(completed, "the task to complete")
            self.assertEqual(done["result"], {"value": 42})
            self.assertEqual(done["attempts"], 1)
            self.assertEqual(len(seen_tokens), 1)
            # The hub took the completion because it carried the attempt's fencing token; any other token is refused.
            with self.assertRaises(HubApiError) as stale:
                await worker.request("task_update", {"task_id": task["task_id"], "status": "completed",
                                                     "result": {}, "fencing_token": seen_tokens[0] + 1})
            self.assertEqual(stale.exception.code, "CONFLICT")

            # agent_message between two agents: ask/answer, and a plain message to the peer's queue.
            reply = await worker.ask(PEER_ID, "upper", "hello", timeout=15)
            self.assertEqual((reply.from_agent, reply.message_type, reply.content), (PEER_ID, "upper.result", "HELLO"))
            ack = await worker.send_message(PEER_ID, "note", {"text": "fyi"})
            self.assertEqual(ack.get("to_agent"), PEER_ID)
            note = await asyncio.wait_for(peer.messages.get(), 15)
            self.assertEqual((note.from_agent, note.message_type, note.content), (AGENT_ID, "note", {"text": "fyi"}))
            with self.assertRaises(HubApiError) as nobody:
                await worker.send_message("nobody-here", "x", 1)
            self.assertEqual(nobody.exception.code, "AGENT_NOT_FOUND")

    async def test_a_second_link_for_the_same_agent_replaces_the_first_which_stops_with_4006(self) -> None:
        first = Agent(HUB_URL, AGENT_ID, AGENT_SECRET, backoff=fast_backoff())
        first_run = asyncio.create_task(first.run())
        await asyncio.wait_for(first.wait_connected(), 15)
        async with running(Agent(HUB_URL, AGENT_ID, AGENT_SECRET, backoff=fast_backoff())):
            with self.assertRaises(LinkClosed) as stopped:
                await asyncio.wait_for(first_run, 15)
            self.assertEqual(stopped.exception.code, 4006)
        await first.client.aclose()

    @needs_control
    async def test_the_agent_reconnects_after_1001_and_takes_a_fresh_token_after_4002(self) -> None:
        worker = Agent(HUB_URL, AGENT_ID, AGENT_SECRET, backoff=fast_backoff())

        @worker.command("ping")
        async def ping(ctx: CommandContext) -> Any:
            return "pong"

        async with running(worker):
            await control(f"close-agent {AGENT_ID} 1001")
            await until(lambda: _ready(worker, 2), "a second connection")
            self.assertEqual(worker.close_codes[0], 1001)
            fetches = worker.client.token_fetches
            await control(f"close-agent {AGENT_ID} 4002")
            await until(lambda: _ready(worker, 3), "a third connection")
            self.assertEqual(worker.close_codes[1], 4002)
            self.assertEqual(worker.client.token_fetches, fetches + 1)
            answer = await self.owner.send_command(AGENT_ID, "ping", timeout=15)
            self.assertEqual(answer["result"], "pong")


async def _ready(agent: Agent, connections: int) -> bool:
    return agent.connections >= connections and agent.is_connected


@needs_hub
class EventTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.user = HubClient(HUB_URL)
        await self.user.login(EMAIL, PASSWORD)

    async def asyncTearDown(self) -> None:
        await self.user.aclose()

    async def test_patterns_and_filters_on_one_link(self) -> None:
        link = await self.user.connect_events()
        try:
            self.assertEqual(link.welcome["role"], "user")
            ack = await link.subscribe(["app.orders.*"], filters={"priority": ["high", "critical"]})
            self.assertEqual(ack["subscribed"], ["app.orders.*"])
            await link.publish("app.orders.created", {"priority": "low", "n": 1})
            high = await link.publish("app.orders.created", {"priority": "high", "n": 2})
            await link.publish("app.other.created", {"priority": "high", "n": 3})
            rest = await self.user.publish_event("app.orders.shipped", {"priority": "critical", "n": 4})
            got: list[Event] = []
            async for item in link:
                assert isinstance(item, Event)
                got.append(item)
                if len(got) == 2:
                    break
            self.assertEqual([e.id for e in got], [high["id"], rest["id"]])
            self.assertEqual(link.last_event_id, rest["id"])
            with self.assertRaises(HubApiError) as bad:
                await link.subscribe(["task.>.x"])
            self.assertEqual(bad.exception.code, "VALIDATION_ERROR")
            with self.assertRaises(HubApiError) as forbidden:
                await link.publish("task.x.completed", {})
            self.assertEqual(forbidden.exception.code, "FORBIDDEN")
        finally:
            await link.close()

    async def test_a_subscription_resumes_after_a_reconnect_with_since(self) -> None:
        topic = "app.resume." + uuid.uuid4().hex[:8]
        sub = self.user.subscribe([topic], backoff=fast_backoff())
        acks: list[dict[str, Any]] = []
        sub.on_subscribed = acks.append
        items = sub.__aiter__()
        subscribed = asyncio.ensure_future(items.__anext__())
        await until(lambda: _true(len(acks) == 1), "the first subscribe")
        first = await self.user.publish_event(topic, {"n": 1})
        item = await asyncio.wait_for(subscribed, 15)
        assert isinstance(item, Event)
        self.assertEqual(item.id, first["id"])

        # While the consumer holds event 1 the link is lost; 2 and 3 are published while no link is open.
        if _control_available():
            await control("close-events 4008")
        else:
            assert sub.link is not None
            sub.link.link.abort()
        await self.user.publish_event(topic, {"n": 2})
        await self.user.publish_event(topic, {"n": 3})
        received = []
        for _ in range(2):
            nxt = await asyncio.wait_for(items.__anext__(), 15)
            assert isinstance(nxt, Event)
            received.append(nxt.payload["n"])
        self.assertEqual(received, [2, 3])
        self.assertEqual(sub.connections, 2)
        self.assertEqual((acks[1]["recovered"], acks[1]["replayed"]), (True, 2))
        await self.user.publish_event(topic, {"n": 4})
        live = await asyncio.wait_for(items.__anext__(), 15)
        assert isinstance(live, Event)
        self.assertEqual(live.payload["n"], 4)
        self.assertEqual(sub.last_event_id, live.id)
        sub.close()
        await items.aclose()  # type: ignore[attr-defined]

    async def test_a_position_from_another_run_of_the_hub_is_a_gap(self) -> None:
        sub = self.user.subscribe(["app.gap"], since="0123456789ab-3", backoff=fast_backoff())
        items = sub.__aiter__()
        gap = await asyncio.wait_for(items.__anext__(), 15)
        assert isinstance(gap, Gap)
        self.assertEqual((gap.reason, gap.requested), ("epoch_changed", "0123456789ab-3"))
        after = await self.user.publish_event("app.gap", {"n": 1})
        event = await asyncio.wait_for(items.__anext__(), 15)
        assert isinstance(event, Event)
        self.assertEqual(event.id, after["id"])
        sub.close()
        await items.aclose()  # type: ignore[attr-defined]


async def _true(value: bool) -> bool:
    return value


def _control_available() -> bool:
    from .hubenv import CONTROL
    return CONTROL


if __name__ == "__main__":
    unittest.main()
