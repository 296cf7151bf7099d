#!/usr/bin/env bash
# The web dashboard's browser tests (tests/Kai.Dashboard.Tests): Debian's chromium, driven by Playwright for .NET, and the
# dashboard's build (dashboard/: npm ci && npm run build -> dashboard/dist). Sourced by .ci/run as root; idempotent.
# Exports what the tests read: KAI_CHROMIUM (the browser) and KAI_DASHBOARD_DIST (the build folder).
export KAI_CHROMIUM="${KAI_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$KAI_CHROMIUM" ]]; then
  echo "installing chromium (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 ||
    echo "warning: could not install chromium; the dashboard browser tests will fail" >&2
fi
_kai_dashboard_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/dashboard"
export KAI_DASHBOARD_DIST="${KAI_DASHBOARD_DIST:-$_kai_dashboard_dir/dist}"
echo "building the dashboard in $_kai_dashboard_dir"
(cd "$_kai_dashboard_dir" && npm ci --no-audit --no-fund --silent && npm run --silent build) >/tmp/kai-dashboard-build.log 2>&1 ||
  { echo "warning: the dashboard build failed; the dashboard browser tests will fail" >&2; tail -20 /tmp/kai-dashboard-build.log >&2; }
unset _kai_dashboard_dir
