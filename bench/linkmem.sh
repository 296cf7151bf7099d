#!/usr/bin/env bash
# Idle-link memory of the hub, from a heap dump (issue 16 item 1): for each N, a fresh Release hub (pinned to core 1) holds N idle
# agent links opened by Kai.Bench S1 (pinned to core 0); while they are held, dotnet-gcdump forces a full GC and dumps the heap.
# Prints, per N: links open, RSS per link (VmRSS, the idle hub's subtracted), live heap per link (the dump's total, idle hub
# included), GC committed, and the 15 biggest types per link. Needs dotnet-gcdump (installed as a global tool if missing).
#
#   bench/linkmem.sh                 # N = 1000 10000 19500
#   bench/linkmem.sh 10000           # one size
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@"); [[ ${#sizes[@]} -eq 0 ]] && sizes=(1000 10000 19500)
# shellcheck source=bench/common.sh
source bench/common.sh
ulimit -n "$(ulimit -Hn)" || true
gcdump=$(command -v dotnet-gcdump || echo "$HOME/.dotnet/tools/dotnet-gcdump")
[[ -x $gcdump ]] || dotnet tool install -g dotnet-gcdump >/dev/null
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench -c Release -v q -nologo >/dev/null
work=$(mktemp -d); data="$work/data"; mkdir -p "$data"
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
echo "| N | links open | RSS / link | live heap / link | GC committed | load |"
echo "| ---: | ---: | ---: | ---: | ---: | --- |"
for n in "${sizes[@]}"; do
  port=$(free_port)
  taskset -c 1 dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$port" --Kai:DataDirectory="$data" \
    --Kai:Auth:AccessTokenLifetime=12:00:00 --Logging:LogLevel:Default=Warning "${kai_limits[@]}" >>"$work/hub.log" 2>&1 &
  pid=$!
  wait_http "http://127.0.0.1:$port/health" "$pid"
  sleep 2
  base=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  KAI_BENCH_S1_HOLD_SECONDS=60 taskset -c 0 dotnet bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll run --target kai \
    --url "http://127.0.0.1:$port" --server-pid "$pid" --scenarios s1 --s1-sizes "$n" --runs 1 --state "$data/bench-agents.json" \
    --out /dev/null >"$work/gen.log" 2>&1 &
  gen=$!
  open=0
  for _ in $(seq 1 600); do
    grep -q "holding" "$work/gen.log" && break
    kill -0 "$gen" 2>/dev/null || break
    sleep 1
  done
  open=$(sed -n 's/.*holding \([0-9]*\) links.*/\1/p' "$work/gen.log" | tail -1)
  sleep 3
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  "$gcdump" collect -p "$pid" -o "$work/links-$n.gcdump" >/dev/null 2>&1
  "$gcdump" report "$work/links-$n.gcdump" >"$work/report-$n.txt" 2>/dev/null
  live=$(awk '/GC Heap bytes/ {gsub(",","",$1); print $1}' "$work/report-$n.txt")
  committed=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^dotnet_gc_last_collection_memory_committed_size_bytes/ {print $2}')
  python3 - "$n" "${open:-0}" "$base" "$rss" "$live" "${committed:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
n, open_, base, rss, live, committed, load = sys.argv[1:]
o = max(int(open_), 1)
print(f"| {n} | {open_} | {(int(rss) - int(base)) / o:.1f} KiB | {int(live) / o / 1024:.1f} KiB | {float(committed) / 1048576:.0f} MiB | {load} |")
PY
  wait "$gen" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
for n in "${sizes[@]}"; do
  echo; echo "biggest types at N=$n (bytes per link):"
  python3 - "$work/report-$n.txt" "$n" <<'PY'
import re, sys
rows = []
for line in open(sys.argv[1]):
    m = re.match(r'\s*([\d,]+)\s+([\d,]+)\s+(.*)', line)
    if m:
        size, count, name = int(m.group(1).replace(',', '')), int(m.group(2).replace(',', '')), m.group(3)
        rows.append((size if '(Bytes >' in name else size * count, count, name))
for total, count, name in sorted(rows, reverse=True)[:15]:
    print(f"  {total / int(sys.argv[2]):8.0f}  x{count:<8} {name[:110]}")
PY
done
