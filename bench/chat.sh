#!/usr/bin/env bash
# Chat benchmarks (issue 12): a chat turn's latency through the hub beside the LLM server's own, and the memory of idle chat
# sessions beside idle event links. Starts scripted-llm.js (tests/Kai.Hub.Tests/Hosting) and a Release hub per part on loopback,
# the hub pinned to core 1 and the driver (bench/Kai.Bench.Chat) to core 0 when there are two cores. Needs node.
#   bench/chat.sh                # 300 turns, 1,000 sessions and 1,000 links
#   bench/chat.sh --smoke        # CI: 5 turns, 20 sessions, 20 links; exits 0 when every part ran (no timing assertions)
#   TURNS=1000 COUNT=2000 bench/chat.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# shellcheck source=bench/common.sh
source bench/common.sh
turns="${TURNS:-300}" count="${COUNT:-1000}"
[[ "${1:-}" == "--smoke" ]] && turns=5 count=20
ulimit -n "$(ulimit -Hn)" || true
pin_server="" pin_gen=""
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then pin_server="taskset -c 1"; pin_gen="taskset -c 0"; fi
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench.Chat -c Release -v q -nologo >/dev/null
# scripted-llm.js exits when its stdin closes: keep a pipe open for it.
mkfifo "$work/llm.in"; sleep infinity >"$work/llm.in" & pids+=($!)
PORT=0 node tests/Kai.Hub.Tests/Hosting/scripted-llm.js <"$work/llm.in" >"$work/llm.out" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/llm.out" 2>/dev/null && break; sleep 0.1; done
llm="http://127.0.0.1:$(awk '/listening/ {print $2}' "$work/llm.out")/v1"

hub_pid="" hub_url=""
start_hub() { # a fresh hub and data directory: a hub that held and dropped links does not hand its memory back
  local port; port=$(free_port)
  rm -rf "$work/data"
  $pin_server dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$port" --Kai:DataDirectory="$work/data" \
    --Logging:LogLevel:Default=Warning "${kai_limits[@]}" --Kai:Security:RateLimits:SessionCreate=1000000 \
    --Kai:Security:RateLimits:SessionQuery=1000000 --Kai:Chat:MessagesPerMinute=100000 \
    --Kai:Providers:bench:base_url="$llm" --Kai:Providers:bench:models:0=m1 >>"$work/hub.log" 2>&1 &
  hub_pid=$!; pids+=("$hub_pid"); hub_url="http://127.0.0.1:$port"
  wait_http "$hub_url/health" "$hub_pid"
}
stop_hub() { kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; }
drive() { $pin_gen dotnet bench/Kai.Bench.Chat/bin/Release/net10.0/Kai.Bench.Chat.dll --hub "$hub_url" --llm "$llm" --pid "$hub_pid" "$@"; }

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load: $(cut -d' ' -f1-3 /proc/loadavg); nproc: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); dotnet $(dotnet --version)"
echo
start_hub; drive --part latency --turns "$turns" || { tail -20 "$work/hub.log" >&2; exit 1; }; stop_hub
echo
echo "| held | open | RSS | managed heap |"
echo "| --- | --- | --- | --- |"
start_hub; drive --part links --count "$count" || { tail -20 "$work/hub.log" >&2; exit 1; }; stop_hub
start_hub; drive --part sessions --count "$count" || { tail -20 "$work/hub.log" >&2; exit 1; }; stop_hub
