#!/usr/bin/env bash
# Kai Hub quick start: a hub, a user, two agent processes that talk to each other, and commands from the CLI.
# Usage: examples/quickstart/run.sh            (starts its own hub on a free port with a temporary data directory)
#        KAI_URL=http://127.0.0.1:8000 examples/quickstart/run.sh   (uses a hub you already run)
EXAMPLE=quickstart
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

step "create a user and log in"
EMAIL="quickstart-$(date +%s)-$RANDOM@example.com"
PASSWORD="quickstart-$RANDOM-$RANDOM"
kai register --email "$EMAIL" --password "$PASSWORD" --name "Quick Start"
# The password can also come from stdin (or be typed without echo when interactive).
printf '%s\n' "$PASSWORD" | kai login --email "$EMAIL"

step "create two agents (credentials are saved to \$KAI_CONFIG_DIR/agents/)"
SUFFIX="$RANDOM"
A="stats-a-$SUFFIX"
B="stats-b-$SUFFIX"
kai agents create --id "$A" --name stats-a --type text_stats --capability text.stats
kai agents create --id "$B" --name stats-b --type text_stats --capability text.stats

step "start two agent processes"
# Started as dotnet itself (not through the kai function), so $! is the process to stop at the end.
dotnet "$KAI_DLL" agent run --id "$A" --allow-shell uname --allow-shell wc --shell-timeout 5 >"$WORK/agent-a.log" 2>&1 &
PIDS+=($!)
dotnet "$KAI_DLL" agent run --id "$B" >"$WORK/agent-b.log" 2>&1 &
PIDS+=($!)
wait_for_agents "$WORK/agent-a.log" "$WORK/agent-b.log"
kai agents list --capability text.stats

step "agent A asks agent B (agent_message) for the stats of this repository's docs"
FILES=()
[[ -f "$ROOT/README.md" ]] && FILES+=("$ROOT/README.md")
for f in "$ROOT"/docs/*.md; do [[ -f "$f" ]] && FILES+=("$f"); done
[[ ${#FILES[@]} -eq 0 ]] && FILES+=("$ROOT/examples/quickstart/README.md")
PATHS_JSON="$(printf '%s\n' "${FILES[@]}" | python3 -c 'import json, sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')"
kai send "$A" ask --json "{\"to\": \"$B\", \"paths\": $PATHS_JSON, \"top\": 5}" >"$WORK/ask.json"
python3 - "$WORK/ask.json" <<'PY'
import json, os, sys
answer = json.load(open(sys.argv[1]))
print(f"{'FILE':32} {'LINES':>6} {'WORDS':>7} {'CHARS':>8}  TOP TERMS (asked {answer['asked']})")
for a in answer["answers"]:
    c = a["content"]
    if a.get("error"):
        print(f"{os.path.basename(a['path']):32} error: {a['error']}")
        continue
    terms = ", ".join(f"{t['term']}({t['count']})" for t in c["top_terms"])
    print(f"{os.path.relpath(a['path']):32} {c['lines']:>6} {c['words']:>7} {c['characters']:>8}  {terms}  [from {a['from_agent']}]")
PY

step "send text.stats from the CLI to agent B"
kai send "$B" text.stats --param "path=${FILES[0]}" --param top=3

step "send shell commands from the CLI to agent A (allow-list: uname, wc)"
kai send "$A" shell --json '{"command": "uname", "args": ["-sr"]}'
kai send "$A" shell --json "{\"command\": \"wc\", \"args\": [\"-l\", \"${FILES[0]}\"]}"
echo "a program outside the allow-list is refused:"
if kai send "$A" shell --json '{"command": "rm", "args": ["-rf", "/tmp/nothing"]}'; then
  echo "expected the refusal" >&2
  exit 1
fi

step "ping agent B"
kai send "$B" ping

step "done: two agent processes exchanged messages and answered commands over real sockets"
