// The TypeScript client against a real hub: the quick-start scenario and the link's close-code handling.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { Agent, Backoff, HubApiError, HubClient, LinkClosed, type EventItem, type SubscribeAck } from "../src/index.js";
import { AGENT_ID, AGENT_SECRET, control, EMAIL, HUB_URL, PASSWORD, PEER_ID, PEER_SECRET, skipControl, skipHub, until, within } from "./hubenv.js";

const fastBackoff = () => new Backoff({ initialMs: 50, maxMs: 500, throttleFloorMs: 100 });

function agent(id = AGENT_ID, secret = AGENT_SECRET): Agent {
  return new Agent({ hubUrl: HUB_URL, agentId: id, clientSecret: secret, backoff: fastBackoff() });
}

/** Runs the agents for the body, then stops them and waits for their run() to end. */
async function running<T>(agents: Agent[], body: () => Promise<T>): Promise<T> {
  const runs = agents.map((a) => a.run().catch((e) => e));
  try {
    await within(Promise.all(agents.map((a) => a.waitConnected())), "the agents to connect");
    return await body();
  } finally {
    for (const a of agents) a.stop();
    await within(Promise.all(runs), "the agents to stop");
  }
}

async function owner(): Promise<HubClient> {
  const c = new HubClient(HUB_URL);
  await c.login(EMAIL, PASSWORD);
  return c;
}

async function rejectsWith(p: Promise<unknown>, code: string, status?: number): Promise<HubApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HubApiError, `expected HubApiError ${code}, got ${e}`);
    assert.equal(e.code, code);
    if (status !== undefined) assert.equal(e.status, status);
    return e;
  }
  assert.fail(`expected HubApiError ${code}`);
}

describe("users, agents' credentials and errors", { skip: skipHub }, () => {
  test("login, session, refresh before expiry, and the error envelope as a typed error", async () => {
    let now = 1_000_000_000_000;
    const c = new HubClient(HUB_URL, { clock: () => now });
    const tokens = await c.login(EMAIL, PASSWORD);
    assert.equal(tokens.user_profile.email, EMAIL);
    const session = await c.getSession();
    assert.equal(session.role, "user");
    assert.ok(session.permissions.includes("agent.create"));

    const firstRefresh = c.refreshToken;
    now += (tokens.expires_in - 10) * 1000;
    assert.equal((await c.getSession()).user_id, session.user_id);
    assert.notEqual(c.refreshToken, firstRefresh);
    assert.equal(c.tokenFetches, 2);

    const missing = await rejectsWith(c.getAgent("no-such-agent"), "AGENT_NOT_FOUND", 404);
    assert.equal(missing.details.agent_id, "no-such-agent");
    assert.ok(missing.correlationId);
    const invalid = await rejectsWith(c.createTask({ type: "", priority: "whenever" }), "VALIDATION_ERROR", 400);
    assert.ok(Object.keys(invalid.details).length > 0);
    await rejectsWith(new HubClient(HUB_URL).login(EMAIL, PASSWORD + "-wrong"), "AUTHENTICATION_FAILED", 401);
  });

  test("agent credentials are exchanged again before the token expires", async () => {
    let now = 1_000_000_000_000;
    const c = new HubClient(HUB_URL, { clock: () => now });
    const token = await c.loginAgent(AGENT_ID, AGENT_SECRET);
    assert.equal(token.agent_id, AGENT_ID);
    assert.equal((await c.heartbeat(AGENT_ID, { status: "idle" })).agent_id, AGENT_ID);
    assert.equal(c.tokenFetches, 1);
    now += (token.expires_in - 5) * 1000;
    assert.equal((await c.heartbeat(AGENT_ID)).agent_id, AGENT_ID);
    assert.equal(c.tokenFetches, 2);
    const refused = await rejectsWith(new HubClient(HUB_URL).loginAgent(AGENT_ID, "kas_not-the-secret"), "AUTHENTICATION_FAILED", 401);
    assert.equal(refused.details.oauth_error, "invalid_client");
  });
});

describe("the quick start", { skip: skipHub }, () => {
  test("an agent answers commands, completes a task with its fencing token, and talks to another agent", async () => {
    const hub = await owner();
    const worker = agent();
    const peer = agent(PEER_ID, PEER_SECRET);
    const tokens: number[] = [];
    worker
      .onCommand("add", (c) => ({ sum: c.parameters.a + c.parameters.b }))
      .onCommand("explode", () => {
        throw new Error("boom");
      })
      .onTask("double", async (t) => {
        tokens.push(t.fencing_token);
        await t.progress(50, { halfway: true });
        return { value: t.input.n * 2 };
      });
    peer.onMessage("upper", (m) => String(m.content).toUpperCase());

    await running([worker, peer], async () => {
      const ok = await hub.sendCommand(AGENT_ID, "add", { a: 40, b: 2 }, { timeout: 15 });
      assert.deepEqual([ok.status, ok.result], ["completed", { sum: 42 }]);
      const failed = await hub.sendCommand(AGENT_ID, "explode", undefined, { timeout: 15 });
      assert.deepEqual([failed.status, failed.error], ["failed", "boom"]);
      const unknown = await hub.sendCommand(AGENT_ID, "dance", undefined, { timeout: 15 });
      assert.match(unknown.error ?? "", /unknown command 'dance'/);

      const task = await hub.createTask({ type: "double", input_data: { n: 21 }, assigned_agent: AGENT_ID }, randomUUID());
      const done = await until(async () => {
        const t = await hub.getTask(task.task_id);
        return t.status === "completed" ? t : undefined;
      }, "the task to complete");
      assert.deepEqual(done.result, { value: 42 });
      assert.equal(done.attempts, 1);
      assert.equal(tokens.length, 1);
      // The hub took the completion because it carried the attempt's fencing token; any other token is refused.
      await rejectsWith(worker.request("task_update", { task_id: task.task_id, status: "completed", result: {}, fencing_token: tokens[0]! + 1 }), "CONFLICT");

      const reply = await worker.ask(PEER_ID, "upper", "hello", 15_000);
      assert.deepEqual([reply.from_agent, reply.message_type, reply.content], [PEER_ID, "upper.result", "HELLO"]);
      const ack = await worker.sendMessage(PEER_ID, "note", { text: "fyi" });
      assert.equal(ack.to_agent, PEER_ID);
      const note = await within(peer.nextMessage(), "the note");
      assert.deepEqual([note.from_agent, note.message_type, note.content], [AGENT_ID, "note", { text: "fyi" }]);
      await rejectsWith(worker.sendMessage("nobody-here", "x", 1), "AGENT_NOT_FOUND");
    });
  });

  test("a second link for the same agent replaces the first, which stops with 4006", async () => {
    const first = agent();
    const firstRun = first.run().then(
      () => undefined,
      (e) => e,
    );
    await within(first.waitConnected(), "the first link");
    await running([agent()], async () => {
      const stopped = await within(firstRun, "the first agent to stop");
      assert.ok(stopped instanceof LinkClosed, `expected LinkClosed, got ${stopped}`);
      assert.equal(stopped.code, 4006);
    });
  });

  test("the agent reconnects after 1001 and takes a fresh token after 4002", { skip: skipControl }, async () => {
    const hub = await owner();
    const worker = agent().onCommand("ping", () => "pong");
    await running([worker], async () => {
      await control(`close-agent ${AGENT_ID} 1001`);
      await until(() => worker.connections >= 2 && worker.isConnected, "a second connection");
      assert.equal(worker.closeCodes[0], 1001);
      const fetches = worker.client.tokenFetches;
      await control(`close-agent ${AGENT_ID} 4002`);
      await until(() => worker.connections >= 3 && worker.isConnected, "a third connection");
      assert.equal(worker.closeCodes[1], 4002);
      assert.equal(worker.client.tokenFetches, fetches + 1);
      assert.equal((await hub.sendCommand(AGENT_ID, "ping", undefined, { timeout: 15 })).result, "pong");
    });
  });
});

describe("events", { skip: skipHub }, () => {
  test("patterns and filters on one link", async () => {
    const user = await owner();
    const link = await user.connectEvents();
    try {
      assert.equal(link.welcome.role, "user");
      const ack = await link.subscribe(["app.orders.*"], { filters: { priority: ["high", "critical"] } });
      assert.deepEqual(ack.subscribed, ["app.orders.*"]);
      await link.publish("app.orders.created", { priority: "low", n: 1 });
      const high = await link.publish("app.orders.created", { priority: "high", n: 2 });
      await link.publish("app.other.created", { priority: "high", n: 3 });
      const rest = await user.publishEvent("app.orders.shipped", { priority: "critical", n: 4 });
      const got: string[] = [];
      for await (const item of link) {
        assert.equal(item.kind, "event");
        if (item.kind === "event") got.push(item.id);
        if (got.length === 2) break;
      }
      assert.deepEqual(got, [high.id, rest.id]);
      assert.equal(link.lastEventId, rest.id);
      await rejectsWith(link.subscribe(["task.>.x"]), "VALIDATION_ERROR");
      await rejectsWith(link.publish("task.x.completed", {}), "FORBIDDEN");
    } finally {
      await link.close();
    }
  });

  test("a subscription resumes after a reconnect with since", async () => {
    const user = await owner();
    const topic = `app.resume.${randomUUID().slice(0, 8)}`;
    const acks: SubscribeAck[] = [];
    const sub = user.subscribe([topic], { backoff: fastBackoff(), onSubscribed: (a) => acks.push(a) });
    const items = sub[Symbol.asyncIterator]();
    const firstItem = items.next();
    await until(() => acks.length === 1, "the first subscribe");
    const first = await user.publishEvent(topic, { n: 1 });
    const one = (await within(firstItem, "event 1")).value as EventItem;
    assert.equal(one.kind === "event" && one.id, first.id);

    // While the consumer holds event 1 the link is lost; 2 and 3 are published while no link is open.
    if (!skipControl) await control("close-events 4008");
    else sub.link!.link.abort();
    await user.publishEvent(topic, { n: 2 });
    await user.publishEvent(topic, { n: 3 });
    const received: number[] = [];
    for (let i = 0; i < 2; i++) {
      const item = (await within(items.next(), "a replayed event")).value as EventItem;
      assert.equal(item.kind, "event");
      if (item.kind === "event") received.push(item.payload.n);
    }
    assert.deepEqual(received, [2, 3]);
    assert.equal(sub.connections, 2);
    assert.deepEqual([acks[1]!.recovered, acks[1]!.replayed], [true, 2]);
    await user.publishEvent(topic, { n: 4 });
    const live = (await within(items.next(), "event 4")).value as EventItem;
    assert.equal(live.kind === "event" && live.payload.n, 4);
    assert.equal(live.kind === "event" && sub.lastEventId, live.kind === "event" && live.id);
    sub.close();
    await items.return(undefined);
  });

  test("a position from another run of the hub is a gap", async () => {
    const user = await owner();
    const sub = user.subscribe(["app.gap"], { since: "0123456789ab-3", backoff: fastBackoff() });
    const items = sub[Symbol.asyncIterator]();
    const gap = (await within(items.next(), "the gap")).value as EventItem;
    assert.equal(gap.kind, "gap");
    if (gap.kind === "gap") assert.deepEqual([gap.reason, gap.requested], ["epoch_changed", "0123456789ab-3"]);
    const after = await user.publishEvent("app.gap", { n: 1 });
    const event = (await within(items.next(), "the event after the gap")).value as EventItem;
    assert.equal(event.kind === "event" && event.id, after.id);
    sub.close();
    await items.return(undefined);
  });
});
