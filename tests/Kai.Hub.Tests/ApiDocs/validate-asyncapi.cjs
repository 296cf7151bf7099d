// Validates an AsyncAPI document with the official parser (@asyncapi/parser, which runs the spec's JSON Schema and
// Spectral rules). Usage: NODE_PATH=<prefix>/node_modules node validate-asyncapi.cjs docs/asyncapi.yaml
// Prints every diagnostic; exits 1 when any has severity "error" (0), or when the document does not parse.
const fs = require('fs');
const { Parser } = require('@asyncapi/parser');

(async () => {
  const file = process.argv[2];
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(file, 'utf8'), { source: file });
  const names = ['error', 'warning', 'info', 'hint'];
  for (const d of diagnostics) {
    console.log(`${names[d.severity] ?? d.severity} ${d.code} ${(d.path || []).join('.')}: ${d.message}`);
  }
  const errors = diagnostics.filter(d => d.severity === 0).length;
  console.log(`${errors} errors, ${diagnostics.length - errors} other diagnostics; parsed: ${document !== undefined}`);
  process.exit(errors === 0 && document !== undefined ? 0 : 1);
})().catch(e => { console.error(e); process.exit(2); });
