#!/usr/bin/env bash
# Kai Hub workflow example: two agent processes run a three-stage workflow over this repository's files:
# the stats of README.md and docs/protocol.md in parallel, then a merge stage that joins them.
# Usage: examples/workflow/run.sh            (starts its own hub on a free port with a temporary data directory)
#        KAI_URL=http://127.0.0.1:8000 examples/workflow/run.sh   (uses a hub you already run)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIGURATION="${CONFIGURATION:-Debug}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kai-workflow.XXXXXX")"
PIDS=()

cleanup() {
  local status=$?
  # Newest first: the agents close their links, then the hub has nothing left to wait for.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  if [[ $status -ne 0 && -d "$WORK" ]]; then
    echo "workflow example failed (exit $status); logs:" >&2
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

step "create a user"
EMAIL="workflow-$(date +%s)-$RANDOM@example.com"
kai register --email "$EMAIL" --password "workflow-$RANDOM-$RANDOM" --name "Workflow Example"

step "create and start the two quick-start agents (they take text.stats and text.merge tasks)"
SUFFIX="$RANDOM"
A="stats-a-$SUFFIX"
B="stats-b-$SUFFIX"
for id in "$A" "$B"; do
  kai agents create --id "$id" --name "$id" --type text_stats --capability text.stats --capability text.merge >/dev/null
done
# The agents run in the repository root, so the relative paths in workflow.json (README.md, docs/protocol.md) resolve there.
# Started as dotnet itself (not through the kai function), so $! is the process to stop at the end.
(cd "$ROOT" && exec dotnet "$KAI_DLL" agent run --id "$A") >"$WORK/agent-a.log" 2>&1 &
PIDS+=($!)
(cd "$ROOT" && exec dotnet "$KAI_DLL" agent run --id "$B") >"$WORK/agent-b.log" 2>&1 &
PIDS+=($!)
for log in "$WORK/agent-a.log" "$WORK/agent-b.log"; do
  for _ in $(seq 1 150); do
    grep -q "connected to the hub" "$log" 2>/dev/null && break
    sleep 0.2
  done
  grep -q "connected to the hub" "$log" || { echo "an agent did not connect; see $log" >&2; exit 1; }
done

step "follow the task and workflow events in the background (kai events tail)"
dotnet "$KAI_DLL" events tail 'task.*.completed' 'workflow.>' >"$WORK/events.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  grep -q "subscribed to" "$WORK/events.log" 2>/dev/null && break
  sleep 0.1
done

step "run the workflow: readme and protocol in parallel, then merge"
kai workflow run "$ROOT/examples/workflow/workflow.json" | tee "$WORK/run.out"
ID="$(sed -n 's/^workflow \(wf_[^ ]*\) completed.*/\1/p' "$WORK/run.out")"

step "the run as the hub keeps it (kai workflow status $ID)"
kai workflow status "$ID" --json-output >"$WORK/status.json"
python3 - "$WORK/status.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
for s in run["stages"]:
    r = s.get("result") or {}
    what = f"{r.get('source', '')}: {r.get('lines')} lines, {r.get('words')} words" if "lines" in r else r.get("summary", "")
    print(f"{s['name']:9} {s['status']:10} on {s.get('assigned_agent', '-'):16} {what}")
merge = next(s for s in run["stages"] if s["name"] == "merge")["result"]
print("\nmerged top terms: " + ", ".join(f"{t['term']}({t['count']})" for t in merge["top_terms"]))
PY

step "the events kai events tail saw"
cat "$WORK/events.log"

step "done: a three-stage workflow ran over real files on two agent processes"
