#!/usr/bin/env bash
# Tasks per second on each store, side by side: the hub (Release) on the embedded SQLite store and on PostgreSQL, each
# driven through scenario S5 of Kai.Bench (durable tasks, POST to the agent's acknowledged result, 1 and 4 agents).
# The hub is pinned to core 1 and the load generator to core 0; PostgreSQL runs wherever the scheduler puts it, so on this
# 2-core machine it shares both cores (a caveat the table repeats).
#
#   bench/store.sh                     # 3 runs of 6 s per figure and store
#   bench/store.sh --smoke             # one short run each, no timing claims
#   KAI_BENCH_POSTGRES=... bench/store.sh   # another server (default: KAI_TEST_POSTGRES, then the CI script's kai_test)
#
# Needs a PostgreSQL server (.ci/setup/80-postgres.sh starts one). Each run gets a fresh schema, dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
smoke=0
[[ ${1:-} == --smoke ]] && smoke=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
pg="${KAI_BENCH_POSTGRES:-${KAI_TEST_POSTGRES:-Host=127.0.0.1;Port=5432;Username=kai_test;Password=kai_test;Database=kai_test}}"
pin_server="" pin_gen=""
if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then pin_server="taskset -c 1"; pin_gen="taskset -c 0"; fi

work=$(mktemp -d)
pid=""
schema="kai_bench_$(date -u +%s)"
psql_args() { # Npgsql connection string -> psql environment
  python3 - "$pg" <<'PY'
import sys
kv = dict(p.split("=", 1) for p in sys.argv[1].split(";") if "=" in p)
kv = {k.strip().lower(): v for k, v in kv.items()}
print(f"PGHOST={kv.get('host','127.0.0.1')} PGPORT={kv.get('port','5432')} PGUSER={kv.get('username', kv.get('user id',''))} PGPASSWORD={kv.get('password','')} PGDATABASE={kv.get('database','')}")
PY
}
eval "export $(psql_args)"
cleanup() {
  [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  psql -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
psql -q -c "SELECT 1" >/dev/null || { echo "PostgreSQL does not answer at $PGHOST:$PGPORT (run .ci/setup/80-postgres.sh)" >&2; exit 1; }

echo "building (Release)..." >&2
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench -c Release -v q -nologo >/dev/null
hub_dll=src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll
gen_dll=bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll
limits=(--Kai:Security:MaxWebSocketsPerUser=10000 --Kai:Security:WebSocketMessagesPerMinute=10000000
  --Kai:Security:RateLimits:Auth=1000000 --Kai:Security:RateLimits:TokenVerify=1000000 --Kai:Security:RateLimits:Anonymous=1000000
  --Kai:Security:RateLimits:Authenticated=1000000 --Kai:Security:RateLimits:AgentOperations=1000000)
if [[ $smoke == 1 ]]; then common=(--smoke); else common=(--runs 3 --duration 6); fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

for store in sqlite postgres; do
  data="$work/$store"; mkdir -p "$data"
  extra=()
  if [[ $store == postgres ]]; then
    psql -q -c "CREATE SCHEMA $schema" >/dev/null
    extra=(--Kai:Store=postgres "--ConnectionStrings:Postgres=$pg;Search Path=$schema")
  fi
  p=$(port); url="http://127.0.0.1:$p"
  $pin_server dotnet "$hub_dll" --urls "$url" --Kai:DataDirectory="$data" --Kai:Auth:AccessTokenLifetime=12:00:00 \
    --Logging:LogLevel:Default=Warning "${limits[@]}" "${extra[@]}" >>"$work/$store.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do curl -fs -o /dev/null "$url/health" && break; kill -0 "$pid" 2>/dev/null || { cat "$work/$store.log" >&2; exit 1; }; sleep 0.2; done
  echo "== $store ==" >&2
  $pin_gen dotnet "$gen_dll" run --target kai --url "$url" --server-pid "$pid" --state "$data/agents.json" \
    --out "$work/$store.jsonl" --scenarios s5 "${common[@]}"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done

{
  echo "# Tasks per second by store ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "nproc $(nproc); hub on core 1, load generator on core 0, PostgreSQL $(psql -Atc 'SHOW server_version') unpinned (it shares the cores)."
  for store in sqlite postgres; do
    echo; echo "## $store"; echo
    dotnet "$gen_dll" report --in "$work/$store.jsonl"
  done
} | tee "$work/results.md"
if [[ $smoke == 0 ]]; then
  mkdir -p bench/results && cp "$work/results.md" "bench/results/store-$(date -u +%Y%m%dT%H%M%SZ).md"
fi
