#!/usr/bin/env bash
# The long fuzz bench of issue 10: starts a Release hub on a fresh data directory and sends it --inputs malformed REST
# requests and WebSocket frames (bench/Kai.Fuzz). It fails when any 5xx other than a documented 503 is answered, the hub
# stops answering, or a link is dropped without a close frame. Results: bench/results/fuzz-<stamp>/ (summary.json, hub.log).
#
#   bench/fuzz.sh                      # 1,000,000 inputs (about 10-20 minutes on 2 cores)
#   bench/fuzz.sh --inputs 200000 --seed 7
#   bench/fuzz.sh --max-seconds 1800   # stop after 30 min and report what was reached (the run is then incomplete)
#   bench/fuzz.sh --smoke              # CI: 3,000 inputs; fails on the same findings as a long run
# Exit code: 0 when the whole budget was sent and the three figures are 0; 1 on a finding (5xx, crash, unhandled exception in
# the hub's log, a link the hub dropped without a close frame); 2 when the run did not complete (time limit, signal, driver error).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# shellcheck source=bench/common.sh
source bench/common.sh
n=1000000 seed=1 smoke=0 max=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --inputs) n="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --max-seconds) max="$2"; shift ;;
    --smoke) smoke=1; n=3000 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
ulimit -n "$(ulimit -Hn)" || true

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/results/fuzz-$stamp"
[[ $smoke == 1 ]] && out=$(mktemp -d)
mkdir -p "$out"
data=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; [[ -n "$pid" ]] && wait "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT INT TERM

echo "building (Release)..." >&2
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Fuzz -c Release -v q -nologo >/dev/null
port=$(free_port)
# Limits are lifted as for the benchmarks: a fuzzer throttled to 1,000 requests a minute would only measure the 429 path.
dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$port" --Kai:DataDirectory="$data" \
  --Logging:LogLevel:Default=Warning "${kai_limits[@]}" >"$out/hub.log" 2>&1 &
pid=$!
wait_http "http://127.0.0.1:$port/health" "$pid"
{ echo "commit: $(git rev-parse --short HEAD)"; echo "cpus: $(nproc)"; echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; } >"$out/machine.txt"

rc=0
dotnet bench/Kai.Fuzz/bin/Release/net10.0/Kai.Fuzz.dll --url "http://127.0.0.1:$port" --server-pid "$pid" \
  --inputs "$n" --seed "$seed" --max-seconds "$max" --out "$out/summary.json" || rc=$?
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
# Unhandled exceptions the hub logged count too, even when the client saw a clean answer.
unhandled=$(grep -c -E "Unhandled exception|An unhandled exception" "$out/hub.log" || true)
echo "hub log: $unhandled unhandled exceptions" >&2
[[ $unhandled -gt 0 ]] && { grep -m 5 -A 5 -E "Unhandled exception|An unhandled exception" "$out/hub.log" >&2; rc=1; }
echo "results: $out" >&2
if ! kill -0 "$pid" 2>/dev/null; then echo "fuzz: the hub is gone" >&2; rc=1; fi
[[ -s "$out/summary.json" ]] || { echo "fuzz: the driver ended without a summary (rc $rc)" >&2; [[ $rc == 0 ]] && rc=2; }
exit $rc
