#!/usr/bin/env bash
# Runs a three-node Kai Hub cluster on this machine (docs/operations.md, "Cluster"): RabbitMQ as the backplane, three hub
# processes on 127.0.0.1:8001-8003 sharing one data directory (the SQLite store in WAL mode, the signing keys and the
# Data Protection key ring), and, when haproxy is installed, a load balancer on 127.0.0.1:8000 in front of them.
#
#   scripts/cluster.sh start     build once, start RabbitMQ if needed, start the nodes (and haproxy), wait until all are ready
#   scripts/cluster.sh status    /ready of each node and GET /api/v1/admin/nodes (needs KAI_ADMIN_TOKEN)
#   scripts/cluster.sh stop      stop the nodes and haproxy started here (RabbitMQ is left running)
#
# Settings (environment): KAI_CLUSTER_DIR (default /tmp/kai-cluster), KAI_RABBITMQ (default amqp://guest:guest@127.0.0.1:5672/),
# KAI_NODES (default 3), KAI_BASE_PORT (default 8000), KAI_POSTGRES (an Npgsql connection string: the nodes then use the
# PostgreSQL store, with durable event history, instead of the shared SQLite file; .ci/setup/80-postgres.sh makes one). On
# several machines use the PostgreSQL store and share the keys directory as described in docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${KAI_CLUSTER_DIR:-/tmp/kai-cluster}"
uri="${KAI_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"
nodes="${KAI_NODES:-3}"
base="${KAI_BASE_PORT:-8000}"
config="${KAI_CONFIGURATION:-Release}"
store_args=()
if [[ -n "${KAI_POSTGRES:-}" ]]; then store_args=(--Kai:Store=postgres "--ConnectionStrings:Postgres=$KAI_POSTGRES"); fi
hub="src/Kai.Hub/bin/$config/net10.0/Kai.Hub.dll"

start_rabbitmq() {
  local ctl
  ctl="$(command -v rabbitmqctl || echo /usr/sbin/rabbitmqctl)"
  [[ -x "$ctl" ]] || { echo "rabbitmq-server is not installed (apt-get install rabbitmq-server)" >&2; exit 1; }
  if ! "$ctl" -q status >/dev/null 2>&1; then
    echo "starting rabbitmq-server"
    rabbitmq-server -detached
  fi
  for _ in $(seq 1 60); do "$ctl" -q await_startup --timeout 50 >/dev/null 2>&1 && return 0; sleep 2; done
  echo "RabbitMQ did not start" >&2; exit 1
}

wait_ready() {
  local port=$1
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "node on port $port is not ready:" >&2
  curl -sS "http://127.0.0.1:$port/ready" >&2 || true
  return 1
}

case "${1:-start}" in
  start)
    start_rabbitmq
    dotnet build src/Kai.Hub -c "$config" -v q -nologo >/dev/null
    mkdir -p "$dir/data" "$dir/run"
    for i in $(seq 1 "$nodes"); do
      port=$((base + i))
      # Every node: its own id and port, the same data directory (store, keys), the same broker.
      nohup dotnet "$hub" --urls "http://127.0.0.1:$port" --Kai:NodeId="node-$i" --Kai:DataDirectory="$dir/data" \
        --Kai:Backplane=rabbitmq --ConnectionStrings:RabbitMQ="$uri" "${store_args[@]}" >"$dir/run/node-$i.log" 2>&1 &
      echo $! >"$dir/run/node-$i.pid"
      # The first node creates the schema and the keys; the others start after it.
      [[ $i -eq 1 ]] && wait_ready "$port"
    done
    for i in $(seq 1 "$nodes"); do wait_ready $((base + i)); done
    if command -v haproxy >/dev/null 2>&1; then
      {
        printf 'defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout tunnel 1h\n'
        printf 'frontend kai\n  bind 127.0.0.1:%s\n  default_backend hubs\n' "$base"
        printf 'backend hubs\n  balance leastconn\n  option httpchk GET /ready\n'
        for i in $(seq 1 "$nodes"); do printf '  server node-%s 127.0.0.1:%s check\n' "$i" $((base + i)); done
      } >"$dir/run/haproxy.cfg"
      haproxy -D -f "$dir/run/haproxy.cfg" -p "$dir/run/haproxy.pid"
      echo "load balancer: http://127.0.0.1:$base"
    else
      echo "haproxy is not installed: connect to the nodes directly (apt-get install haproxy for the load balancer)"
    fi
    for i in $(seq 1 "$nodes"); do echo "node-$i: http://127.0.0.1:$((base + i)) (log $dir/run/node-$i.log)"; done
    ;;
  status)
    for i in $(seq 1 "$nodes"); do printf 'node-%s: ' "$i"; curl -sS "http://127.0.0.1:$((base + i))/ready" || true; echo; done
    if [[ -n "${KAI_ADMIN_TOKEN:-}" ]]; then
      curl -sS -H "Authorization: Bearer $KAI_ADMIN_TOKEN" "http://127.0.0.1:$((base + 1))/api/v1/admin/nodes"; echo
    fi
    ;;
  stop)
    for pidfile in "$dir"/run/node-*.pid "$dir/run/haproxy.pid"; do
      [[ -f "$pidfile" ]] || continue
      # SIGTERM: the node drains (its links get 1001 and reconnect through the load balancer to another node).
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    done
    ;;
  *)
    echo "usage: $0 start|status|stop" >&2; exit 2
    ;;
esac
