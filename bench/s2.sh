#!/usr/bin/env bash
# S2 alone, for a before/after pair on the agent_message hot path: builds the Release hub of <repo dir> (a worktree of
# the commit to compare), pins it to core 1 and the generator to core 0, and runs S2 at 5,000 and 10,000 msg/s,
# 3 runs of 6 s each, with bench/common.sh's limits. The report (medians, bytes allocated per routed message) goes
# to stdout, the raw results to <out dir>/<label>.jsonl.
#
#   git worktree add /tmp/base <commit>
#   bench/s2.sh /tmp/base base /tmp/s2 && bench/s2.sh "$PWD" head /tmp/s2
set -euo pipefail
repo=$(cd "$1" && pwd); label=$2; out=$(mkdir -p "$3" && cd "$3" && pwd)
cd "$repo"
# shellcheck source=bench/common.sh
source bench/common.sh
ulimit -n "$(ulimit -Hn)" || true
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench -c Release -v q -nologo >/dev/null
work=$(mktemp -d); port=$(free_port)
taskset -c 1 dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$port" --Kai:DataDirectory="$work/data" \
  --Kai:Auth:AccessTokenLifetime=12:00:00 --Logging:LogLevel:Default=Warning "${kai_limits[@]}" > "$work/hub.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
wait_http "http://127.0.0.1:$port/health" $pid
uptime
taskset -c 0 dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll run --target kai --url "http://127.0.0.1:$port" --server-pid $pid \
  --scenarios s2 --s2-rates 5000,10000 --runs 3 --duration 6 --state "$work/state" --out "$out/$label.jsonl" > "$out/$label.out" 2>&1
dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll report --in "$out/$label.jsonl"
