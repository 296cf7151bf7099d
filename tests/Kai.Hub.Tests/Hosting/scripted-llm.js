// A scripted OpenAI-compatible chat completions server for the hosted-agent tests, run as its own process:
//   node scripted-llm.js   (PORT=0 picks a free port; the first stdout line is "listening <port>")
// It answers POST /v1/chat/completions by the last message's content:
//   "fail429:<n>[:<retry-after>]"  the first n requests with this content get 429 (Retry-After: <retry-after>, default 1)
//   "fail503:<n>"                   the first n requests with this content get 503
//   "sleep:<ms>"                    waits <ms> before answering
//   "fixed:<n>"                     answers n characters of "x" (a fixed-size answer for bench/chat.sh)
//   anything else                   echoes, as the assistant's content, JSON of what it received:
//                                   {messages, model, temperature, max_tokens, max_completion_tokens, authorization_sha256, attempt}
// With "stream": true the content goes out as SSE chunks of 5 characters. mock-llm (npm) cannot send Retry-After,
// delay, or echo text with quotes or newlines (its templates are pasted into JSON unescaped), hence this file.
const http = require('http');
const crypto = require('crypto');
const seen = new Map();

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', c => (raw += c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'healthy' });
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) return send(res, 404, { error: { message: 'not found' } });
    let body;
    try { body = JSON.parse(raw); } catch { return send(res, 400, { error: { message: 'bad json' } }); }
    const last = String(body.messages?.[body.messages.length - 1]?.content ?? '');
    const count = (seen.get(last) ?? 0) + 1;
    seen.set(last, count);
    let m;
    if ((m = /^fail429:(\d+)(?::(\d+))?/.exec(last)) && count <= Number(m[1])) {
      return send(res, 429, { error: { message: 'rate limited', type: 'rate_limit' } }, { 'retry-after': m[2] ?? '1' });
    }
    if ((m = /^fail503:(\d+)/.exec(last)) && count <= Number(m[1])) {
      return send(res, 503, { error: { message: 'overloaded' } });
    }
    const delay = (m = /^sleep:(\d+)/.exec(last)) ? Number(m[1]) : 0;
    const fixed = /^fixed:(\d+)$/.exec(last);
    const content = fixed ? 'x'.repeat(Math.min(Number(fixed[1]), 1000000)) : JSON.stringify({
      messages: body.messages, model: body.model, temperature: body.temperature ?? null,
      max_tokens: body.max_tokens ?? null, max_completion_tokens: body.max_completion_tokens ?? null,
      // A digest, not the header: the answer is stored by the hub (command results), and a test proves keys are not.
      authorization_sha256: req.headers.authorization ? crypto.createHash('sha256').update(req.headers.authorization).digest('hex') : null,
      attempt: count,
    });
    setTimeout(() => {
      if (res.destroyed) return;
      if (!body.stream) {
        return send(res, 200, {
          id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < content.length; i += 5) {
        const delta = i === 0 ? { role: 'assistant', content: content.slice(i, i + 5) } : { content: content.slice(i, i + 5) };
        res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    }, delay);
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.stdin.on('end', () => process.exit(0)); // exits with its parent
process.stdin.resume();
