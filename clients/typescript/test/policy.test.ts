// The reconnect policy without a hub: close codes and backoff.
import assert from "node:assert/strict";
import { test } from "node:test";
import { actionFor, Backoff } from "../src/index.js";

test("terminal close codes stop", () => {
  for (const code of [4001, 4003, 4006, 1009]) assert.equal(actionFor(code), "stop", String(code));
});

test("4002 refreshes the token, then reconnects", () => {
  assert.equal(actionFor(4002), "refresh");
});

test("everything else backs off", () => {
  for (const code of [null, 1000, 1001, 1011, 1013, 4000, 4004, 4005, 4008]) assert.equal(actionFor(code), "backoff", String(code));
});

test("delays double up to the cap within the jitter", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const b = new Backoff({ initialMs: 500, maxMs: 4000, jitter: 0.2, random });
  for (const base of [500, 1000, 2000, 4000, 4000, 4000]) {
    const d = b.nextDelay();
    assert.ok(d >= base * 0.8 && d <= base * 1.2, `${d} not within 20 % of ${base}`);
  }
});

test("jitter spreads clients apart", () => {
  const firsts = new Set(Array.from({ length: 20 }, () => new Backoff().nextDelay()));
  assert.ok(firsts.size > 10);
});

test("reset starts over", () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 60_000, jitter: 0 });
  for (let i = 0; i < 5; i++) b.nextDelay();
  b.reset();
  assert.equal(b.nextDelay(), 1000);
});

test("rate limited and node full wait at least the floor", () => {
  for (const code of [4004, 1013]) assert.equal(new Backoff({ initialMs: 50, jitter: 0, throttleFloorMs: 2000 }).nextDelay(code), 2000);
  assert.equal(new Backoff({ initialMs: 50, jitter: 0 }).nextDelay(4008), 50);
});
