/**
 * Settings of the tests that need a running hub, from environment variables (set by the .NET test
 * `Kai.Client.Tests.ForeignClients.TypeScriptClientTests`, or by hand against a hub of your own):
 * `KAI_HUB_URL`; `KAI_TEST_EMAIL` / `KAI_TEST_PASSWORD` (a user); `KAI_AGENT_ID` / `KAI_AGENT_SECRET` and `KAI_PEER_ID` /
 * `KAI_PEER_SECRET` (two agents of that user); `KAI_TEST_CONTROL_URL`: a `POST` with the body `close-events CODE` or
 * `close-agent ID CODE` makes the hub close those links with CODE and is answered `ok`.
 */

const env = process.env;
export const HUB_URL = env.KAI_HUB_URL ?? "";
export const EMAIL = env.KAI_TEST_EMAIL ?? "";
export const PASSWORD = env.KAI_TEST_PASSWORD ?? "";
export const AGENT_ID = env.KAI_AGENT_ID ?? "";
export const AGENT_SECRET = env.KAI_AGENT_SECRET ?? "";
export const PEER_ID = env.KAI_PEER_ID ?? "";
export const PEER_SECRET = env.KAI_PEER_SECRET ?? "";
export const CONTROL_URL = env.KAI_TEST_CONTROL_URL ?? "";

/** Why the hub tests skip, or false when they run. */
export const skipHub: string | false = HUB_URL && AGENT_SECRET && PEER_SECRET ? false : "set KAI_HUB_URL and the credentials (see test/hubenv.ts)";
export const skipControl: string | false = skipHub || (CONTROL_URL ? false : "needs KAI_TEST_CONTROL_URL");

/** Asks the parent process to act on the hub and waits for its `ok`. */
export async function control(line: string): Promise<void> {
  const answer = (await (await fetch(CONTROL_URL, { method: "POST", body: line })).text()).trim();
  if (answer !== "ok") throw new Error(`control '${line}' failed: ${answer}`);
}

/** Polls `condition` until it returns a truthy value; fails after `timeoutMs`. */
export async function until<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rejects after `ms` with `what`, else resolves as `p`. */
export function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms))),
  ]);
}
