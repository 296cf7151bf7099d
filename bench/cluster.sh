#!/usr/bin/env bash
# Cluster benchmarks (issue 14), side by side in one run, through Kai.Bench's scenarios:
#   sqlite-1    one node, embedded SQLite, no backplane (the default)            S2 one-to-one, S3 fan-out, S5 tasks
#   postgres-1  one node on PostgreSQL (durable event history), no backplane     S2, S3, S5
#   postgres-3  three nodes on PostgreSQL and RabbitMQ; the generator spreads     S2 with every pair across two nodes,
#               agent links over the nodes (--peers)                             S3 with the publisher on node 1 and every
#                                                                                subscriber on nodes 2-3, S5 with the workers on all three
# Caveat: every process (the nodes, PostgreSQL, RabbitMQ, the generator) shares this machine's cores, unpinned; three
# nodes on two cores measure the cluster's overhead, not its capacity.
#
#   bench/cluster.sh              # 3 runs of 5 s per figure
#   bench/cluster.sh --small      # 1 run of 3 s, small sizes (what docs/benchmarks.md reports from this machine)
#   bench/cluster.sh --smoke      # one tiny run each, no timing claims
#   CONFIGS=postgres-3 SCENARIOS=s2 bench/cluster.sh --small   # a subset, for a quick before/after
#
# Needs PostgreSQL (.ci/setup/80-postgres.sh; KAI_BENCH_POSTGRES, else KAI_TEST_POSTGRES, else the script's kai_test) and
# RabbitMQ (.ci/setup/81-rabbitmq.sh; KAI_BENCH_RABBITMQ, default amqp://guest:guest@127.0.0.1:5672/). Each configuration
# gets a fresh schema, dropped afterwards. Results: bench/results/cluster-<UTC stamp>.md (not with --smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=full
configs=${CONFIGS:-sqlite-1 postgres-1 postgres-3}
scenarios=${SCENARIOS:-s2,s3,s5}
case "${1:-}" in --small) mode=small ;; --smoke) mode=smoke ;; "") ;; *) echo "usage: $0 [--small|--smoke]" >&2; exit 2 ;; esac
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
pg="${KAI_BENCH_POSTGRES:-${KAI_TEST_POSTGRES:-Host=127.0.0.1;Port=5432;Username=kai_test;Password=kai_test;Database=kai_test}}"
amqp="${KAI_BENCH_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"
source bench/common.sh

work=$(mktemp -d)
pids=()
schemas=()
eval "export $(python3 - "$pg" <<'PY'
import sys
kv = dict(p.split("=", 1) for p in sys.argv[1].split(";") if "=" in p)
kv = {k.strip().lower(): v for k, v in kv.items()}
print(f"PGHOST={kv.get('host','127.0.0.1')} PGPORT={kv.get('port','5432')} PGUSER={kv.get('username', kv.get('user id',''))} PGPASSWORD={kv.get('password','')} PGDATABASE={kv.get('database','')}")
PY
)"
stop_nodes() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_nodes
  local s
  for s in "${schemas[@]}"; do psql -q -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
psql -q -c "SELECT 1" >/dev/null || { echo "PostgreSQL does not answer at $PGHOST:$PGPORT (run .ci/setup/80-postgres.sh)" >&2; exit 1; }
uri_host_port=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p.hostname, p.port or 5672)' "$amqp")
(exec 3<>"/dev/tcp/${uri_host_port% *}/${uri_host_port#* }") 2>/dev/null || { echo "RabbitMQ does not answer at $amqp (run .ci/setup/81-rabbitmq.sh)" >&2; exit 1; }

echo "building (Release)..." >&2
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
dotnet build bench/Kai.Bench -c Release -v q -nologo >/dev/null
hub_dll=src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll
gen_dll=bench/Kai.Bench/bin/Release/net10.0/Kai.Bench.dll
case $mode in
  smoke) common=(--smoke) ;;
  small) common=(--runs 1 --duration 3 --s2-rates 500,2000 --s3-sizes 10,100 --s5-workers 4 --s5-callers 16) ;;
  full) common=(--runs 3 --duration 5 --s2-rates 1000,5000 --s3-sizes 10,100,1000 --s5-workers 4,16 --s5-callers 16) ;;
esac

# start_node <config> <index> <data dir> <store args...>: starts one node, waits for /ready, appends its URL to urls
# (no command substitution: the pid must land in this shell's pids)
start_node() {
  local config=$1 i=$2 data=$3; shift 3
  local p; p=$(free_port)
  dotnet "$hub_dll" --urls "http://127.0.0.1:$p" --Kai:DataDirectory="$data" --Kai:NodeId="$config-$i" \
    --Kai:Auth:AccessTokenLifetime=12:00:00 --Logging:LogLevel:Default=Warning "${kai_limits[@]}" "$@" >>"$work/$config-$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "http://127.0.0.1:$p/ready" && { urls+=("http://127.0.0.1:$p"); return 0; }
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$config-$i.log" >&2; return 1; }
    sleep 0.2
  done
  echo "node $config-$i not ready" >&2; cat "$work/$config-$i.log" >&2; return 1
}

for config in $configs; do
  data="$work/$config"; mkdir -p "$data"
  store=()
  nodes=1
  if [[ $config == postgres-* ]]; then
    schema="kai_bench_c$(date -u +%s)_${config/-/_}"; schemas+=("$schema")
    psql -q -c "CREATE SCHEMA $schema" >/dev/null
    store=(--Kai:Store=postgres "--ConnectionStrings:Postgres=$pg;Search Path=$schema")
  fi
  if [[ $config == postgres-3 ]]; then
    nodes=3
    store+=(--Kai:Backplane=rabbitmq "--ConnectionStrings:RabbitMQ=$amqp")
  fi
  echo "== $config ==" >&2
  # The first node migrates and makes the keys in the shared data directory; the others join it.
  urls=()
  for i in $(seq 1 "$nodes"); do start_node "$config" "$i" "$data" "${store[@]}"; done
  peers=$(IFS=,; echo "${urls[*]:1}")
  dotnet "$gen_dll" run --target kai --url "${urls[0]}" --peers "$peers" --server-pid "${pids[0]}" --state "$data/agents.json" \
    --out "$work/$config.jsonl" --scenarios "$scenarios" "${common[@]}"
  stop_nodes
done

{
  echo "# Cluster benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), bench/cluster.sh${1:+ $1})"
  echo
  echo "nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "PostgreSQL $(psql -Atc 'SHOW server_version'), RabbitMQ at $amqp; nothing pinned: every node, both servers and the generator share the cores."
  echo "CPU figures are node 1's only."
  for config in $configs; do
    echo; echo "## $config"; echo
    dotnet "$gen_dll" report --in "$work/$config.jsonl"
  done
} | tee "$work/results.md"
if [[ $mode != smoke ]]; then
  mkdir -p bench/results && cp "$work/results.md" "bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ).md"
fi
