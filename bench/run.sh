#!/usr/bin/env bash
# Kai Hub benchmark: builds Release, starts each server pinned to core 1 (taskset -c 1) and drives it with the load
# generator pinned to core 0, for Kai Hub, the SignalR baseline and (when installed) nats-server. Every figure is the
# median of --runs runs; the markdown table goes to bench/results/<stamp>/results.md.
#
#   bench/run.sh                 # the full run (about 15-25 minutes on 2 cores)
#   bench/run.sh --smoke         # CI: tiny N, one short run per scenario, no timing assertions; exits 0 when all ran
#   bench/run.sh --only kai      # one target (kai | signalr | nats)
#   BENCH_ARGS="--duration 3" bench/run.sh   # extra arguments for every `Kai.Bench run` (not --runs: run.sh sets it)
#
# Loopback only; every server this script starts is stopped by the trap, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
smoke=0
only=""
part=all
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --only) only="$2"; shift ;;
    --part) part="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# shellcheck source=bench/common.sh
source bench/common.sh

# Links need file descriptors on both sides; this sandbox's hard limit is 20,000 (so 20k links cannot fit: see docs).
ulimit -n "$(ulimit -Hn)" || true

pin_server="" pin_gen=""
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
  pin_server="taskset -c 1"
  pin_gen="taskset -c 0"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/results/$stamp"
[[ $smoke == 1 ]] && out=$(mktemp -d)
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "building (Release)..." >&2
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench.SignalR -c Release -v q -nologo >/dev/null
hub_dll=src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll
sr_dll=bench/Kai.Bench.SignalR/bin/Release/net10.0/Kai.Bench.SignalR.dll
gen_dll=bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll

gc_mode() { # runtimeconfig.json -> "Server|Workstation, Concurrent on|off" (environment overrides win)
  python3 - "$1" <<'PY'
import json, os, sys
cfg = json.load(open(sys.argv[1])).get("runtimeOptions", {}).get("configProperties", {})
server = cfg.get("System.GC.Server", False)
conc = cfg.get("System.GC.Concurrent", True)
if os.environ.get("DOTNET_gcServer") is not None: server = os.environ["DOTNET_gcServer"] == "1"
if os.environ.get("DOTNET_gcConcurrent") is not None: conc = os.environ["DOTNET_gcConcurrent"] == "1"
print(f"{'Server' if server else 'Workstation'} GC, concurrent {'on' if conc else 'off'}")
PY
}

if [[ $smoke == 1 ]]; then
  common=(--smoke)
else
  # S1 reconnects every link each run; three runs keep the whole suite bounded (see bench/README.md).
  common=(--duration 6 ${BENCH_ARGS:-})
fi
results="$out/results.jsonl"
: > "$results"

gen() { $pin_gen dotnet "$gen_dll" run --out "$results" "${common[@]}" "$@"; }

rest_args=()
s1_sizes=(20)
s1_runs=1
if [[ $smoke == 0 ]]; then
  rest_args=(--runs 5)
  s1_sizes=(10000 19500)
  s1_runs=3
fi

# Each target: start_<t> sets $pid and $url; S1 runs on a fresh server for every (N, run), because a server that
# has held and dropped N links does not hand its memory back, which would spoil the next baseline.
kai_data="$work/kai-data"
start_kai() {
  local port; port=$(free_port); mkdir -p "$kai_data"
  # Agent tokens are cached between invocations (--state), so they live longer than the default 15 minutes.
  $pin_server dotnet "$hub_dll" --urls "http://127.0.0.1:$port" --Kai:DataDirectory="$kai_data" \
    --Kai:Auth:AccessTokenLifetime=12:00:00 --Logging:LogLevel:Default=Warning "${kai_limits[@]}" >>"$out/kai.log" 2>&1 &
  pid=$!; pids+=("$pid"); url="http://127.0.0.1:$port"
  wait_http "$url/health" "$pid"
  mode="$(gc_mode src/Kai.Hub/bin/Release/net10.0/Kai.Hub.runtimeconfig.json)"
  target_args=(--target kai --url "$url" --server-pid "$pid" --state "$kai_data/bench-agents.json")
  # S6 (RPC beside agent_message) is Kai's only: the baselines have no request/response RPC.
  rest="s2,s3,s4,s5,s6"
}
start_signalr() {
  local port; port=$(free_port)
  $pin_server dotnet "$sr_dll" --urls "http://127.0.0.1:$port" >>"$out/signalr.log" 2>&1 &
  pid=$!; pids+=("$pid"); url="http://127.0.0.1:$port"
  wait_http "$url/heap" "$pid"
  mode="$(gc_mode bench/Kai.Bench.SignalR/bin/Release/net10.0/Kai.Bench.SignalR.runtimeconfig.json)"
  target_args=(--target signalr --url "$url" --server-pid "$pid")
  rest="s2,s3,s4,s5"
}
start_nats() {
  local port; port=$(free_port)
  $pin_server nats-server -a 127.0.0.1 -p "$port" >>"$out/nats.log" 2>&1 &
  pid=$!; pids+=("$pid"); url="nats://127.0.0.1:$port"
  sleep 0.5
  kill -0 "$pid" 2>/dev/null || { echo "nats-server did not start: $(cat "$out/nats.log")" >&2; return 1; }
  mode="$(nats-server --version)"
  target_args=(--target nats --url "$url" --server-pid "$pid")
  rest="s2,s3"
}
stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }

run_target() { # t
  local t=$1
  if [[ $t == nats ]] && ! command -v nats-server >/dev/null; then
    echo "nats-server not installed (apt-get install -y nats-server): skipping the NATS ceiling" >&2
    return 0
  fi
  if [[ $part != rest ]]; then
    for n in "${s1_sizes[@]}"; do
      for _ in $(seq 1 "$s1_runs"); do
        "start_$t"
        gen "${target_args[@]}" --scenarios s1 --s1-sizes "$n" --runs 1
        stop_server
      done
    done
  fi
  if [[ $part != s1 ]]; then
    "start_$t"
    gen "${target_args[@]}" --scenarios "$rest" "${rest_args[@]}"
    stop_server
  fi
  echo "$t: $mode" >> "$out/servers.txt"
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load before: $(uptime)"
} > "$out/machine.txt"

for t in kai signalr nats; do
  [[ -n $only && $only != "$t" ]] && continue
  echo "== $t ==" >&2
  echo "load before $t: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
  run_target "$t"
done
echo "load after: $(uptime)" >> "$out/machine.txt"

{
  echo "# Kai Hub benchmark run $stamp"
  echo
  echo '```'
  cat "$out/machine.txt"
  echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); memory: $(free -g | awk '/Mem:/{print $2}') GiB; kernel: $(uname -r); dotnet: $(dotnet --version)"
  cat "$out/servers.txt"
  echo '```'
  echo
  dotnet "$gen_dll" report --in "$results"
} > "$out/results.md"
cat "$out/results.md"
if [[ $smoke == 1 ]]; then
  rm -rf "$out"
  # The fuzz bench too (bench/fuzz.sh --smoke: 3,000 inputs), so it cannot rot either. It fails the smoke on a 5xx other than a
  # documented 503, a crash or unhandled exception, a link the hub dropped without a close frame, or a driver that did not
  # finish its budget.
  bash bench/fuzz.sh --smoke >&2
  # The chat benchmark (bench/chat.sh --smoke: 5 turns, 20 sessions, 20 links), for the same reason.
  bash bench/chat.sh --smoke >&2
  echo "bench smoke: every scenario ran" >&2
fi
