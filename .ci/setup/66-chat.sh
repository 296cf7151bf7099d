#!/usr/bin/env bash
# The AgentConnect reference frontend (tests/agentconnect-frontend, vendored unchanged) for the browser test in
# tests/Kai.Dashboard.Tests/AgentConnect/: a copy outside the repository with its own `npm ci` (from its package-lock.json),
# so node_modules never enter the work tree. Needs chromium (65-dashboard.sh installs it). Sourced by .ci/run as root; idempotent.
# Exports KAI_AGENTCONNECT_DIR (default /opt/kai-ci/agentconnect-frontend), which the test reads.
KAI_AGENTCONNECT_DIR="${KAI_AGENTCONNECT_DIR:-/opt/kai-ci/agentconnect-frontend}"
_kai_ac_src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/agentconnect-frontend"
if [[ ! -x "$KAI_AGENTCONNECT_DIR/node_modules/.bin/vite" ]] || ! cmp -s "$_kai_ac_src/package-lock.json" "$KAI_AGENTCONNECT_DIR/package-lock.json"; then
  echo "installing the AgentConnect frontend's packages into $KAI_AGENTCONNECT_DIR"
  rm -rf "$KAI_AGENTCONNECT_DIR" && mkdir -p "$KAI_AGENTCONNECT_DIR" && cp -a "$_kai_ac_src/." "$KAI_AGENTCONNECT_DIR/"
  (cd "$KAI_AGENTCONNECT_DIR" && npm ci --no-audit --no-fund --silent) >/tmp/kai-agentconnect-npm.log 2>&1 ||
    { echo "warning: npm ci of the AgentConnect frontend failed; its browser test will fail" >&2; tail -20 /tmp/kai-agentconnect-npm.log >&2; }
else
  # The packages are current; refresh the sources (the test checks the copy equals the vendored files).
  cp -a "$_kai_ac_src/." "$KAI_AGENTCONNECT_DIR/"
fi
export KAI_AGENTCONNECT_DIR
unset _kai_ac_src
