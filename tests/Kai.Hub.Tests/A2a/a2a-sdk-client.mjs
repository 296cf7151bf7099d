// Drives the hub's A2A endpoint with the real @a2a-js/sdk client (A2A 1.0, and its 0.3 transport).
// Usage: node a2a-sdk-client.mjs <sdk-dir> <hub-base-url> <agent-id> <bearer-token>
// Prints one JSON object with what each step saw; the C# test (A2aSdkTests) asserts on it.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [sdkDir, hub, agentId, token] = process.argv.slice(2);
const sdk = (p) => import(pathToFileURL(join(sdkDir, 'node_modules/@a2a-js/sdk/dist', p)).href);
const { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory, Client, createAuthenticatingFetchWithRetry } = await sdk('client/index.js');
const { LegacyJsonRpcTransport } = await sdk('compat/v0_3/client/index.js');

const authFetch = createAuthenticatingFetchWithRetry(fetch, {
  headers: async () => ({ Authorization: `Bearer ${token}` }),
  shouldRetryWithHeaders: async () => undefined,
});
const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
  transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch })],
  preferredTransports: ['JSONRPC'],
}));

let n = 0;
const message = (text, metadata) => ({
  messageId: `msg-${++n}`, contextId: '', taskId: '', role: 1, extensions: [], referenceTaskIds: [], metadata,
  parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
});
const request = (text, metadata, configuration) => ({ tenant: '', message: message(text, metadata), configuration, metadata: undefined });
const texts = (parts) => (parts ?? []).filter((p) => p.content?.$case === 'text').map((p) => p.content.value);
const summary = (t) => ({
  id: t.id, contextId: t.contextId, state: t.status?.state, artifacts: (t.artifacts ?? []).map((a) => texts(a.parts)),
  history: (t.history ?? []).map((m) => texts(m.parts)),
});
const errorOf = async (fn) => { try { await fn(); return null; } catch (e) { return { name: e?.constructor?.name, message: String(e?.message ?? e) }; } };
const out = {};

// 1. The agent's card, fetched by the SDK's resolver, and a client built from it.
const agentClient = await factory.createFromUrl(`${hub}/a2a/agents/${agentId}/`);
const card = await agentClient.getAgentCard();
out.card = { name: card.name, skills: card.skills.map((s) => s.id), url: card.supportedInterfaces[0]?.url, streaming: card.capabilities?.streaming,
  schemes: Object.keys(card.securitySchemes ?? {}), protocolVersion: agentClient.protocolVersion };

// 2. A blocking send: the agent answers, the result is the artifact.
const sent = await agentClient.sendMessage(request('hello'));
out.send = summary(sent);

// 3. A stream: the task, its status updates, the artifact, the final status.
out.stream = [];
for await (const event of agentClient.sendMessageStream(request('stream me'))) {
  const p = event.payload;
  out.stream.push(p.$case === 'task' ? { kind: 'task', id: p.value.id, state: p.value.status?.state }
    : p.$case === 'statusUpdate' ? { kind: 'status', id: p.value.taskId, state: p.value.status?.state }
    : p.$case === 'artifactUpdate' ? { kind: 'artifact', id: p.value.taskId, texts: texts(p.value.artifact?.parts) }
    : { kind: p.$case });
}

// 4. GetTask of the first task.
out.get = summary(await agentClient.getTask({ tenant: '', id: sent.id, historyLength: 5 }));

// 5. A non-blocking send the agent keeps working on, then CancelTask.
const held = await agentClient.sendMessage({ ...request('hold'), configuration: { acceptedOutputModes: [], returnImmediately: true } });
out.held = summary(held);
out.canceled = summary(await agentClient.cancelTask({ tenant: '', id: held.id, metadata: undefined }));
out.cancelAgain = await errorOf(() => agentClient.cancelTask({ tenant: '', id: held.id, metadata: undefined }));

// 6. ListTasks sees them all.
const listed = await agentClient.listTasks({ tenant: '', contextId: '', status: 0, pageSize: 50, pageToken: '', historyLength: 0 });
out.list = { ids: listed.tasks.map((t) => t.id), total: listed.totalSize };

// 7. Unknown task: the SDK's TaskNotFound error.
out.unknown = await errorOf(() => agentClient.getTask({ tenant: '', id: 'tsk_does_not_exist' }));

// 8. The hub's card and endpoint: the skill names the capability.
const hubClient = await factory.createFromUrl(`${hub}/`);
const hubCard = await hubClient.getAgentCard();
out.hubCard = { name: hubCard.name, skills: hubCard.skills.map((s) => s.id), url: hubCard.supportedInterfaces[0]?.url };
out.hubSend = summary(await hubClient.sendMessage(request('via hub', { skill: 'text.upper' })));

// 9. The same agent through the SDK's A2A 0.3 transport (message/send, tasks/get, message/stream).
const legacy = new Client(new LegacyJsonRpcTransport({ endpoint: `${hub}/a2a/agents/${agentId}`, fetchImpl: authFetch }), card);
const legacySent = await legacy.sendMessage(request('old protocol'));
out.legacySend = summary(legacySent);
out.legacyGet = summary(await legacy.getTask({ tenant: '', id: legacySent.id, historyLength: 5 }));
out.legacyStream = [];
for await (const event of legacy.sendMessageStream(request('old stream'))) {
  out.legacyStream.push({ kind: event.payload.$case, state: event.payload.value.status?.state });
}
out.legacyUnknown = await errorOf(() => legacy.getTask({ tenant: '', id: 'tsk_does_not_exist' }));

console.log(JSON.stringify(out));
