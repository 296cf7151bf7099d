// Drives multi-turn (input-required) tasks and the push-notification config methods with the real @a2a-js/sdk client
// (A2A 1.0, and its 0.3 transport). Usage: node a2a-sdk-turns.mjs <sdk-dir> <hub-base-url> <agent-id> <bearer-token> <receiver-url>
// Prints one JSON object with what each step saw; the C# test (A2aSdkTests) asserts on it.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [sdkDir, hub, agentId, token, receiver] = process.argv.slice(2);
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
const message = (text, taskId = '', contextId = '') => ({
  messageId: `turn-${++n}`, contextId, taskId, role: 1, extensions: [], referenceTaskIds: [], metadata: undefined,
  parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
});
const request = (text, taskId, contextId) => ({ tenant: '', message: message(text, taskId, contextId), configuration: undefined, metadata: undefined });
const texts = (parts) => (parts ?? []).filter((p) => p.content?.$case === 'text').map((p) => p.content.value);
const summary = (t) => ({
  id: t.id, contextId: t.contextId, state: t.status?.state, question: texts(t.status?.message?.parts),
  artifacts: (t.artifacts ?? []).map((a) => texts(a.parts)), history: (t.history ?? []).map((m) => ({ role: m.role, texts: texts(m.parts) })),
});
const errorOf = async (fn) => { try { await fn(); return null; } catch (e) { return { name: e?.constructor?.name, message: String(e?.message ?? e) }; } };
const events = async (iterable) => {
  const seen = [];
  for await (const event of iterable) {
    const p = event.payload;
    seen.push(p.$case === 'task' ? { kind: 'task', id: p.value.id, state: p.value.status?.state }
      : p.$case === 'statusUpdate' ? { kind: 'status', id: p.value.taskId, state: p.value.status?.state, texts: texts(p.value.status?.message?.parts) }
      : p.$case === 'artifactUpdate' ? { kind: 'artifact', id: p.value.taskId, texts: texts(p.value.artifact?.parts) }
      : { kind: p.$case });
  }
  return seen;
};
const out = {};
const client = await factory.createFromUrl(`${hub}/a2a/agents/${agentId}/`);
const card = await client.getAgentCard();
out.pushCapability = card.capabilities?.pushNotifications;

// 1. Blocking: the agent asks for input; the follow-up (same task and context) completes the same task.
const asked = await client.sendMessage(request('ask me'));
out.asked = summary(asked);
const answered = await client.sendMessage(request('paris', asked.id, asked.contextId));
out.answered = summary(answered);
out.answeredGet = summary(await client.getTask({ tenant: '', id: asked.id, historyLength: 10 }));
out.afterEnd = await errorOf(() => client.sendMessage(request('again', asked.id, asked.contextId)));
out.wrongContext = await errorOf(() => client.sendMessage(request('x', asked.id, 'ctx_other')));

// 2. Streaming: the first stream closes at input-required; the follow-up stream runs to completion.
out.streamAsk = await events(client.sendMessageStream(request('ask by stream')));
const streamTaskId = out.streamAsk[0].id;
const streamTask = await client.getTask({ tenant: '', id: streamTaskId });
out.streamAnswer = await events(client.sendMessageStream(request('rome', streamTaskId, streamTask.contextId)));

// 3. Canceling a task that waits for input.
const waiting = await client.sendMessage(request('ask then cancel'));
out.cancelWaiting = summary(await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined }));
out.afterCancel = await errorOf(() => client.sendMessage(request('too late', waiting.id, waiting.contextId)));

// 4. Push-notification configs (1.0): create on a task waiting for input, get, list; the follow-up's states are pushed; delete.
const pushed = await client.sendMessage(request('ask with push'));
const created = await client.createTaskPushNotificationConfig({
  tenant: '', id: 'cfg-1', taskId: pushed.id, url: `${receiver}/v1`, token: 'tok-1', authentication: { scheme: 'Bearer', credentials: 'push-secret' },
});
out.pushCreated = { id: created.id, taskId: created.taskId, url: created.url, token: created.token, scheme: created.authentication?.scheme };
const got = await client.getTaskPushNotificationConfig({ tenant: '', taskId: pushed.id, id: 'cfg-1' });
out.pushGot = { id: got.id, url: got.url, credentials: got.authentication?.credentials };
out.pushList = (await client.listTaskPushNotificationConfig({ tenant: '', taskId: pushed.id, pageSize: 10, pageToken: '' })).configs.map((c) => c.id);
out.pushTaskId = pushed.id;
out.pushAnswered = summary(await client.sendMessage(request('oslo', pushed.id, pushed.contextId)));
out.pushUnknownTask = await errorOf(() => client.createTaskPushNotificationConfig({ tenant: '', id: '', taskId: 'tsk_nope', url: `${receiver}/v1`, token: '', authentication: undefined }));

// 5. The 0.3 transport: the same turns, and the push methods under their 0.3 names.
const legacy = new Client(new LegacyJsonRpcTransport({ endpoint: `${hub}/a2a/agents/${agentId}`, fetchImpl: authFetch }), card);
const legacyAsked = await legacy.sendMessage(request('ask old'));
out.legacyAsked = summary(legacyAsked);
const legacyCfg = await legacy.createTaskPushNotificationConfig({
  tenant: '', id: 'cfg-old', taskId: legacyAsked.id, url: `${receiver}/v03`, token: 'tok-old', authentication: { scheme: 'Basic', credentials: 'dXNlcjpwdw==' },
});
out.legacyPushCreated = { id: legacyCfg.id, url: legacyCfg.url, scheme: legacyCfg.authentication?.scheme };
out.legacyPushGot = (await legacy.getTaskPushNotificationConfig({ tenant: '', taskId: legacyAsked.id, id: 'cfg-old' })).token;
out.legacyPushList = (await legacy.listTaskPushNotificationConfig({ tenant: '', taskId: legacyAsked.id, pageSize: 10, pageToken: '' })).configs.map((c) => c.id);
out.legacyTaskId = legacyAsked.id;
out.legacyAnswered = summary(await legacy.sendMessage(request('lima', legacyAsked.id, legacyAsked.contextId)));
out.legacyStreamAsk = await events(legacy.sendMessageStream(request('ask old stream')));
const legacyStreamId = out.legacyStreamAsk[0].id;
const legacyStreamTask = await legacy.getTask({ tenant: '', id: legacyStreamId });
out.legacyStreamAnswer = await events(legacy.sendMessageStream(request('cairo', legacyStreamId, legacyStreamTask.contextId)));
await legacy.deleteTaskPushNotificationConfig({ tenant: '', taskId: legacyAsked.id, id: 'cfg-old' });
out.legacyPushAfterDelete = (await legacy.listTaskPushNotificationConfig({ tenant: '', taskId: legacyAsked.id, pageSize: 10, pageToken: '' })).configs.length;

await client.deleteTaskPushNotificationConfig({ tenant: '', taskId: pushed.id, id: 'cfg-1' });
out.pushAfterDelete = (await client.listTaskPushNotificationConfig({ tenant: '', taskId: pushed.id, pageSize: 10, pageToken: '' })).configs.length;
out.pushGetDeleted = await errorOf(() => client.getTaskPushNotificationConfig({ tenant: '', taskId: pushed.id, id: 'cfg-1' }));

console.log(JSON.stringify(out));
