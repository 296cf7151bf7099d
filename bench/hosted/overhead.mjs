// Overhead of the hosted-agent path over calling the LLM server directly (issue 11 "Benchmarks").
//   node bench/hosted/overhead.mjs <hub-url> <llm-base-url> <n>
// Sequential calls, one at a time, so the figure is latency added per call, not throughput:
//   direct: POST {llm}/chat/completions
//   hosted: POST {hub}/api/v1/agents/{id}/command {command: "chat"} (REST -> command store -> router -> hosted agent ->
//           OpenAI SDK -> LLM server -> command_result -> store -> REST answer)
//   invocation: POST {hub}/api/v1/invocations, a KAIL AgentInvocation (intent "chat") to the same agent (nonce and log row
//           stored, the try routed to the hosted agent, its invocation_result answered)
//   rpc:    POST {hub}/api/v1/rpc, an AMRI request (method "llm.chat", destination the agent; nothing stored)
// Prints a markdown table with p50/p99/mean in milliseconds.
const [hub, llm, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 200);
const json = (r) => r.json();
const post = (url, body, token) => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

const email = `bench-${Date.now()}@example.com`;
await post(`${hub}/api/v1/auth/register`, { email, password: 'correct-horse-battery', display_name: 'bench', terms_accepted: true });
const { access_token: token } = await post(`${hub}/api/v1/auth/login`, { email, password: 'correct-horse-battery' }).then(json);
const created = await post(`${hub}/api/v1/agents`, { name: 'bench', type: 'llm', auto_start: true, config: { provider: 'bench' } }, token).then(json);
const agent = created.agent_id;
if (!agent) throw new Error('could not create the hosted agent: ' + JSON.stringify(created));

async function measure(call) {
  for (let i = 0; i < Math.min(20, n); i++) await call(i); // warm-up
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await call(i);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return { p50: q(0.5), p99: q(0.99), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

const direct = await measure(async (i) => {
  const r = await post(`${llm}/chat/completions`, { model: 'm1', messages: [{ role: 'user', content: `hello ${i}` }] });
  if (!r.ok) throw new Error(`direct call: ${r.status}`);
  await r.json();
});
const hosted = await measure(async (i) => {
  const r = await post(`${hub}/api/v1/agents/${agent}/command`, { command: 'chat', parameters: { prompt: `hello ${i}` }, timeout: 30 }, token).then(json);
  if (r.status !== 'completed') throw new Error('hosted call: ' + JSON.stringify(r));
});
const invoked = await measure(async (i) => {
  const r = await post(`${hub}/api/v1/invocations`, {
    type: 'AgentInvocation', version: '1.0', id: crypto.randomUUID(), target: `kah:agent.local.${agent}`, intent: 'chat',
    payload: { input: `hello ${i}` }, context: { timestamp: new Date().toISOString() },
  }, token);
  const body = await r.json();
  if (!r.ok || body.status !== 'completed') throw new Error('invocation: ' + JSON.stringify(body));
});
const rpc = await measure(async (i) => {
  const r = await post(`${hub}/api/v1/rpc`, {
    id: crypto.randomUUID(), destination: agent, method: 'llm.chat', params: { prompt: `hello ${i}` },
  }, token);
  const body = await r.json();
  if (!r.ok || body.error !== null || typeof body.result?.text !== 'string') throw new Error('rpc: ' + JSON.stringify(body));
});
const f = (x) => x.toFixed(2);
console.log(`| path (n=${n}, sequential) | p50 ms | p99 ms | mean ms |`);
console.log('| --- | --- | --- | --- |');
console.log(`| LLM server directly | ${f(direct.p50)} | ${f(direct.p99)} | ${f(direct.mean)} |`);
console.log(`| hosted agent via REST command | ${f(hosted.p50)} | ${f(hosted.p99)} | ${f(hosted.mean)} |`);
console.log(`| overhead | ${f(hosted.p50 - direct.p50)} | ${f(hosted.p99 - direct.p99)} | ${f(hosted.mean - direct.mean)} |`);
console.log(`| hosted agent via POST /api/v1/invocations | ${f(invoked.p50)} | ${f(invoked.p99)} | ${f(invoked.mean)} |`);
console.log(`| overhead | ${f(invoked.p50 - direct.p50)} | ${f(invoked.p99 - direct.p99)} | ${f(invoked.mean - direct.mean)} |`);
console.log(`| hosted agent via POST /api/v1/rpc (llm.chat) | ${f(rpc.p50)} | ${f(rpc.p99)} | ${f(rpc.mean)} |`);
console.log(`| overhead | ${f(rpc.p50 - direct.p50)} | ${f(rpc.p99 - direct.p99)} | ${f(rpc.mean - direct.mean)} |`);
