#!/usr/bin/env bash
# Files benchmark (issue 13): upload and download of one 1 GiB file through the hub, beside the same transfers against a plain
# ASP.NET Core server (bench/Kai.Bench.StaticFiles: UseStaticFiles + a streaming multipart endpoint) in the same run; the hub's
# RSS sampled every 100 ms during each transfer (growth over its RSS before the transfer must stay under 64 MiB); and 100
# concurrent 10 MiB uploads to the hub. Both servers are Release builds pinned to core 1; curl (the client) runs on core 0.
# Everything lives under one temporary directory that is removed at the end (about 3.5 GiB at the peak).
#
#   bench/files.sh              # 1 GiB file, 100 x 10 MiB
#   SIZE_MIB=256 bench/files.sh # a smaller run
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
size_mib=${SIZE_MIB:-1024}
concurrent=${CONCURRENT:-100}
small_mib=${SMALL_MIB:-10}
need_mib=$(( size_mib * 4 + concurrent * small_mib * 2 + 512 ))
avail_mib=$(df -Pm "${TMPDIR:-/tmp}" | awk 'NR==2 {print $4}')
(( avail_mib > need_mib )) || { echo "need ${need_mib} MiB free under ${TMPDIR:-/tmp}, have ${avail_mib}" >&2; exit 1; }
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench.StaticFiles -c Release -v q -nologo >/dev/null
work=$(mktemp -d); mkdir -p "$work/hub" "$work/static" "$work/small"
hub=""; static=""; sampler=""
cleanup() { for p in $sampler $hub $static; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

head -c "$((size_mib * 1048576))" /dev/urandom >"$work/big.bin"
for i in $(seq 1 "$concurrent"); do head -c "$((small_mib * 1048576))" /dev/urandom >"$work/small/$i.bin"; done
sha=$(sha256sum "$work/big.bin" | cut -d' ' -f1)

hub_port=$(free_port)
taskset -c 1 dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$hub_port" --Kai:DataDirectory="$work/hub" \
  --Kai:Auth:AccessTokenLifetime=12:00:00 --Kai:Files:StorageLimitBytes=$(( (size_mib + concurrent * small_mib) * 2 * 1048576 )) \
  --Logging:LogLevel:Default=Warning "${kai_limits[@]}" >"$work/hub.log" 2>&1 &
hub=$!
static_port=$(free_port)
taskset -c 1 dotnet bench/Kai.Bench.StaticFiles/bin/Release/net10.0/Kai.Bench.StaticFiles.dll --urls "http://127.0.0.1:$static_port" \
  --root "$work/static" >"$work/static.log" 2>&1 &
static=$!
H="http://127.0.0.1:$hub_port"; S="http://127.0.0.1:$static_port"
wait_http "$H/health" "$hub"; wait_http "$S/upload" "$static" 2>/dev/null || true
curl -fs -o /dev/null -X POST "$H/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"bench-files@example.com","password":"bench-files-password-1","display_name":"Bench","terms_accepted":true}'
token=$(curl -fs -X POST "$H/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"bench-files@example.com","password":"bench-files-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
auth=(-H "Authorization: Bearer $token")

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
sample_start() { # pid -> samples into $work/rss
  : >"$work/rss"
  ( while kill -0 "$1" 2>/dev/null; do rss_kib "$1" >>"$work/rss"; sleep 0.1; done ) &
  sampler=$!
}
sample_stop() { kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""; sort -n "$work/rss" | tail -1; }
mibps() { python3 -c "import sys; print(f'{float(sys.argv[1]) / 1048576:.0f}')" "$1"; }

# Warm both servers (JIT, first connection) with one small transfer each, so the figures are steady-state.
curl -fs -o /dev/null "${auth[@]}" -F "file=@$work/small/1.bin" "$H/api/v1/files/upload"
curl -fs -o /dev/null -F "file=@$work/small/1.bin" "$S/upload"
sleep 1

echo "| transfer | server | MiB/s | seconds | hub RSS before | hub RSS peak | growth |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
before=$(rss_kib "$hub"); sample_start "$hub"
out=$(curl -fs "${auth[@]}" -F "file=@$work/big.bin;type=application/octet-stream" -w '\n%{speed_upload} %{time_total}' "$H/api/v1/files/upload")
peak=$(sample_stop)
file_id=$(head -1 <<<"$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["file_id"]); assert d["sha256"]=="'"$sha"'", "sha256 differs"')
read -r speed secs <<<"$(tail -1 <<<"$out")"
echo "| upload ${size_mib} MiB | hub | $(mibps "$speed") | $secs | $((before / 1024)) MiB | $((peak / 1024)) MiB | $(((peak - before) / 1024)) MiB |"
read -r speed secs <<<"$(curl -fs -o /dev/null -F "file=@$work/big.bin;type=application/octet-stream" -w '%{speed_upload} %{time_total}' "$S/upload")"
echo "| upload ${size_mib} MiB | plain ASP.NET Core | $(mibps "$speed") | $secs | | | |"
cp "$work/big.bin" "$work/static/big.bin"; sync

before=$(rss_kib "$hub"); sample_start "$hub"
read -r speed secs <<<"$(curl -fs "${auth[@]}" -o "$work/down.bin" -w '%{speed_download} %{time_total}' "$H/api/v1/files/$file_id/download")"
peak=$(sample_stop)
[[ $(sha256sum "$work/down.bin" | cut -d' ' -f1) == "$sha" ]] || { echo "downloaded bytes differ" >&2; exit 1; }
rm -f "$work/down.bin"
echo "| download ${size_mib} MiB | hub | $(mibps "$speed") | $secs | $((before / 1024)) MiB | $((peak / 1024)) MiB | $(((peak - before) / 1024)) MiB |"
read -r speed secs <<<"$(curl -fs -o /dev/null -w '%{speed_download} %{time_total}' "$S/files/big.bin")"
echo "| download ${size_mib} MiB | plain ASP.NET Core | $(mibps "$speed") | $secs | | | |"

# 100 concurrent 10 MiB uploads (distinct content), all started at once.
before=$(rss_kib "$hub"); sample_start "$hub"
start=$(date +%s.%N)
seq 1 "$concurrent" | xargs -P "$concurrent" -I{} curl -s -o "$work/small/{}.json" -w '%{http_code}\n' "${auth[@]}" -F "file=@$work/small/{}.bin" \
  "$H/api/v1/files/upload" >"$work/codes" || true
end=$(date +%s.%N)
peak=$(sample_stop)
ok=$(grep -l '"processing_status":"ready"' "$work"/small/*.json | wc -l)
echo "status codes of the concurrent uploads: $(sort "$work/codes" | uniq -c | xargs)" >&2
(( ok == concurrent )) || { echo "not every concurrent upload was stored; one answer:" >&2; grep -L '"processing_status":"ready"' "$work"/small/*.json | head -1 | xargs cat >&2; }
python3 - "$start" "$end" "$concurrent" "$small_mib" "$ok" "$before" "$peak" <<'PY'
import sys
start, end, n, mib, ok, before, peak = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
secs = end - start
print(f"| {n} x {mib} MiB concurrent ({ok} stored) | hub | {n * mib / secs:.0f} | {secs:.2f} | {before // 1024} MiB | {peak // 1024} MiB | {(peak - before) // 1024} MiB |")
PY
echo
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
