# Shared by bench/run.sh and bench/fuzz.sh (sourced, not run).

# The benchmark measures routing, not throttling: the per-principal rate limits and link caps (seed defaults such as
# 10 links per principal and 1,000 requests a minute) are lifted, as an operator would for trusted internal load.
kai_limits=(--Kai:Security:MaxWebSocketsPerUser=10000 --Kai:Security:WebSocketMessagesPerMinute=10000000
  --Kai:Security:RateLimits:Auth=1000000 --Kai:Security:RateLimits:TokenVerify=1000000 --Kai:Security:RateLimits:Anonymous=1000000
  --Kai:Security:RateLimits:Authenticated=1000000 --Kai:Security:RateLimits:AgentOperations=1000000)

# Every .NET process here (hubs, the SignalR baseline, the generator) is pinned to one core, and the runtime treats a process
# with one CPU as a single-processor machine: it multiplies tiered compilation's call-counting delay by 10 (1 s instead of
# 100 ms, TC_DelaySingleProcMultiplier), and every newly jitted method restarts that delay. Under load the hub then ran in
# tier-0 and instrumented code for 30-40 s, and S3 timed the tier-up, not the server (docs/benchmarks.md, run 6). A factor
# of 1 gives the pinned processes the tiering of a multi-core machine; it changes no steady-state code.
export DOTNET_TC_DelaySingleProcMultiplier=1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url, pid
  for _ in $(seq 1 150); do
    curl -fs -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited" >&2; return 1; }
    sleep 0.2
  done
  echo "server did not answer $1 in 30 s" >&2; return 1
}


# Builds the Release hub and generator of the current directory and starts the hub pinned to core 1 (the generator then runs on
# core 0), with a fresh data directory and kai_limits; sets work, port and pid, and stops the hub on exit. Used by s2.sh and rpc.sh.
start_pinned_hub() {
  ulimit -n "$(ulimit -Hn)" || true
  dotnet build src/Kai.Hub -c Release -v q -nologo >/dev/null
  dotnet build bench/Kai.Bench -c Release -v q -nologo >/dev/null
  work=$(mktemp -d); port=$(free_port)
  taskset -c 1 dotnet src/Kai.Hub/bin/Release/net10.0/Kai.Hub.dll --urls "http://127.0.0.1:$port" --Kai:DataDirectory="$work/data" \
    --Kai:Auth:AccessTokenLifetime=12:00:00 --Logging:LogLevel:Default=Warning "${kai_limits[@]}" > "$work/hub.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
  wait_http "http://127.0.0.1:$port/health" $pid
}
