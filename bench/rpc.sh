#!/usr/bin/env bash
# S6 alone (issue 11): RPC round trips through the hub beside agent_message round trips at the same rate, in one run. Builds the
# Release hub and generator of this tree, pins the hub to core 1 and the generator to core 0 (as bench/s2.sh), and runs S6 at
# RATES round trips per second (default 1000,5000), RUNS runs (3) of DURATION seconds (6), with bench/common.sh's limits. The
# report (medians) goes to stdout, the raw results and the generator's log to <out dir>/rpc.jsonl and rpc.out.
#
#   bench/rpc.sh /tmp/rpc
set -euo pipefail
out=$(mkdir -p "${1:-bench/results/rpc}" && cd "${1:-bench/results/rpc}" && pwd)
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
start_pinned_hub
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo ' (with local changes)'); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load before: $(uptime)"
taskset -c 0 dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll run --target kai --url "http://127.0.0.1:$port" --server-pid $pid \
  --scenarios s6 --s6-rates "${RATES:-1000,5000}" --runs "${RUNS:-3}" --duration "${DURATION:-6}" --state "$work/state" \
  --out "$out/rpc.jsonl" > "$out/rpc.out" 2>&1
echo "load after: $(uptime)"
dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll report --in "$out/rpc.jsonl"
