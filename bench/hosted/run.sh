#!/usr/bin/env bash
# The hosted-agent overhead benchmark: starts the scripted LLM server (tests/Kai.Hub.Tests/Hosting/scripted-llm.js) and a
# Release hub on loopback, then runs overhead.mjs. Needs node.   bench/hosted/run.sh [n]   (default 300; --smoke: 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-300}"; [[ "$n" == "--smoke" ]] && n=5
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM
dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
# scripted-llm.js exits when its stdin closes: keep a pipe open for it.
mkfifo "$work/llm.in"; sleep infinity >"$work/llm.in" & pids+=($!)
PORT=0 node tests/Kai.Hub.Tests/Hosting/scripted-llm.js <"$work/llm.in" >"$work/llm.out" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/llm.out" 2>/dev/null && break; sleep 0.1; done
llm_port=$(awk '/listening/ {print $2}' "$work/llm.out")
hub_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$hub_port" --Kai:DataDirectory="$work/data" \
  --Logging:LogLevel:Default=Warning --Kai:Security:RateLimits:Auth=1000000 --Kai:Security:RateLimits:Authenticated=1000000 \
  --Kai:Security:RateLimits:AgentOperations=1000000 \
  --Kai:Providers:bench:base_url="http://127.0.0.1:$llm_port/v1" --Kai:Providers:bench:models:0=m1 >"$work/hub.log" 2>&1 & pids+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$hub_port/health" >/dev/null && break; sleep 0.1; done
node bench/hosted/overhead.mjs "http://127.0.0.1:$hub_port" "http://127.0.0.1:$llm_port/v1" "$n"
