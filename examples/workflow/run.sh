#!/usr/bin/env bash
# Kai Hub workflow example: two agent processes run a three-stage workflow over this repository's files:
# the stats of README.md and docs/protocol.md in parallel, then a merge stage that joins them.
# Usage: examples/workflow/run.sh            (starts its own hub on a free port with a temporary data directory)
#        KAI_URL=http://127.0.0.1:8000 examples/workflow/run.sh   (uses a hub you already run)
EXAMPLE=workflow
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

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
wait_for_agents "$WORK/agent-a.log" "$WORK/agent-b.log"

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
