#!/usr/bin/env bash
# Shared by the example scripts: build once, a throwaway work and config directory, a hub (its own on a free port,
# or the one at $KAI_URL), the `kai` function, waiting for agent processes, and a cleanup trap that stops every
# process the script started (newest first, so agents close their links before the hub stops) and shows the logs
# of a failed run. Source it after setting EXAMPLE (a short name used for the temp directory and messages).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIGURATION="${CONFIGURATION:-Debug}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kai-$EXAMPLE.XXXXXX")"
PIDS=()

cleanup() {
  local status=$?
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  if [[ $status -ne 0 && -d "$WORK" ]]; then
    echo "$EXAMPLE failed (exit $status); logs:" >&2
    for log in "$WORK"/*.log; do
      [[ -f "$log" ]] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build the hub and the CLI"
dotnet build "$ROOT/src/Kai.Hub/Kai.Hub.csproj" -c "$CONFIGURATION" -v q -nologo >/dev/null
dotnet build "$ROOT/src/Kai.Cli/Kai.Cli.csproj" -c "$CONFIGURATION" -v q -nologo >/dev/null
HUB_DLL="$ROOT/src/Kai.Hub/bin/$CONFIGURATION/net10.0/Kai.Hub.dll"
KAI_DLL="$ROOT/src/Kai.Cli/bin/$CONFIGURATION/net10.0/kai.dll"
kai() { dotnet "$KAI_DLL" "$@"; }

# Everything the CLI saves (tokens, agent credentials) goes to a throwaway config directory.
export KAI_CONFIG_DIR="$WORK/config"

if [[ -z "${KAI_URL:-}" ]]; then
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  export KAI_URL="http://127.0.0.1:$PORT"
  step "start the hub on $KAI_URL (data in $WORK/data)"
  dotnet "$HUB_DLL" --urls "$KAI_URL" --Kai:DataDirectory="$WORK/data" --Logging:LogLevel:Default=Warning >"$WORK/hub.log" 2>&1 &
  PIDS+=($!)
else
  step "use the hub at $KAI_URL"
fi
for _ in $(seq 1 100); do
  curl -fsS "$KAI_URL/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$KAI_URL/health" >/dev/null || { echo "the hub at $KAI_URL did not become healthy" >&2; exit 1; }

# Waits until each named agent log says the agent connected (30 s at most each).
wait_for_agents() {
  local log
  for log in "$@"; do
    for _ in $(seq 1 150); do
      grep -q "connected to the hub" "$log" 2>/dev/null && break
      sleep 0.2
    done
    grep -q "connected to the hub" "$log" || { echo "an agent did not connect; see $log" >&2; exit 1; }
  done
}
