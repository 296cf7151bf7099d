# Sourced by .ci/run (as root, on a clean Debian machine with the .NET SDK and npm): what the Python and TypeScript clients'
# suites need. Kai.Client.Tests.ForeignClients runs them against a real hub; in CI a missing piece fails those tests.
#   Python:     /usr/bin/python3 with Debian's python3-websockets and python3-httpx (override the interpreter: KAI_PYTHON)
#   TypeScript: node and clients/typescript/node_modules from package-lock.json (npm ci), compiled once here with its tsc
#               (the test compiles again, so it always runs the current source). Override the folder: KAI_TS_CLIENT_DIR.
# Idempotent: installs only what is missing.

_kai_clients_setup() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if ! /usr/bin/python3 -c 'import websockets, httpx' >/dev/null 2>&1; then
    echo "installing python3-websockets python3-httpx (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-websockets python3-httpx; } >/dev/null 2>&1 ||
      echo "warning: could not install python3-websockets/python3-httpx; the Python client tests will fail" >&2
  fi
  local ts="$root/clients/typescript"
  if [[ ! -d "$ts/node_modules/ws" || ! -f "$ts/node_modules/typescript/bin/tsc" ]]; then
    echo "installing the TypeScript client's npm modules (npm ci)"
    (cd "$ts" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
      echo "warning: npm ci failed in clients/typescript; the TypeScript client tests will fail" >&2
  fi
  if [[ -f "$ts/node_modules/typescript/bin/tsc" ]]; then
    (cd "$ts" && node node_modules/typescript/bin/tsc -p .) || echo "warning: tsc failed in clients/typescript" >&2
  fi
  export KAI_TS_CLIENT_DIR="$ts"
}
_kai_clients_setup
unset -f _kai_clients_setup
