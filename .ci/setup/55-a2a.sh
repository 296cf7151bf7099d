# Sourced by .ci/run (as root, before the tests). Installs the A2A JavaScript SDK the A2A tests drive as the real client
# (tests/Kai.Hub.Tests/A2a/a2a-sdk-client.mjs): npm's @a2a-js/sdk, pinned, into a fixed directory outside the repository.
# Idempotent. Tests find it through KAI_A2A_SDK_DIR (default /opt/kai-ci/a2a-js) and need `node` (>= 20) on PATH.
KAI_A2A_SDK_DIR="${KAI_A2A_SDK_DIR:-/opt/kai-ci/a2a-js}"
KAI_A2A_SDK_VERSION="1.3.0"
if ! grep -q "\"version\": \"$KAI_A2A_SDK_VERSION\"" "$KAI_A2A_SDK_DIR/node_modules/@a2a-js/sdk/package.json" 2>/dev/null; then
  echo "installing @a2a-js/sdk@$KAI_A2A_SDK_VERSION into $KAI_A2A_SDK_DIR"
  mkdir -p "$KAI_A2A_SDK_DIR"
  (cd "$KAI_A2A_SDK_DIR" && npm install --no-audit --no-fund --silent "@a2a-js/sdk@$KAI_A2A_SDK_VERSION") ||
    echo "warning: could not install @a2a-js/sdk; the A2A SDK test will fail" >&2
fi
export KAI_A2A_SDK_DIR
