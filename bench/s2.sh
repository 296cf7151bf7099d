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
start_pinned_hub
uptime
taskset -c 0 dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll run --target kai --url "http://127.0.0.1:$port" --server-pid $pid \
  --scenarios s2 --s2-rates 5000,10000 --runs 3 --duration 6 --state "$work/state" --out "$out/$label.jsonl" > "$out/$label.out" 2>&1
dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll report --in "$out/$label.jsonl"
