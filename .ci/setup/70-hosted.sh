# Sourced by .ci/run (as root, before the tests). Installs the scripted OpenAI-compatible server the hosted-agent tests
# run as a separate process: npm's @dwmkerr/mock-llm, pinned, into a fixed directory. Idempotent.
# Tests find it through KAI_MOCK_LLM_DIR (default /opt/kai-ci/mock-llm) and need `node` on PATH; the repository's own
# scripted server (tests/Kai.Hub.Tests/Hosting/scripted-llm.js, for 429/5xx/timeouts) needs only node.
KAI_MOCK_LLM_DIR="${KAI_MOCK_LLM_DIR:-/opt/kai-ci/mock-llm}"
KAI_MOCK_LLM_VERSION="0.1.29"
if [[ ! -f "$KAI_MOCK_LLM_DIR/node_modules/@dwmkerr/mock-llm/dist/main.js" ]] ||
   ! grep -q "\"version\": \"$KAI_MOCK_LLM_VERSION\"" "$KAI_MOCK_LLM_DIR/node_modules/@dwmkerr/mock-llm/package.json" 2>/dev/null; then
  echo "installing @dwmkerr/mock-llm@$KAI_MOCK_LLM_VERSION into $KAI_MOCK_LLM_DIR"
  mkdir -p "$KAI_MOCK_LLM_DIR"
  (cd "$KAI_MOCK_LLM_DIR" && npm install --no-audit --no-fund --silent "@dwmkerr/mock-llm@$KAI_MOCK_LLM_VERSION") ||
    echo "warning: could not install @dwmkerr/mock-llm; the hosted-agent tests will fail" >&2
fi
export KAI_MOCK_LLM_DIR
