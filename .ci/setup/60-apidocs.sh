#!/usr/bin/env bash
# API description linters (npm): @redocly/cli lints the live /openapi.json, @asyncapi/parser validates docs/asyncapi.yaml.
# Sourced by .ci/run as root. Idempotent: installs only what is missing. The tests (Kai.Hub.Tests ApiDocs*) find the
# packages through KAI_NPM_TOOLS (a prefix holding node_modules/), default /opt/kai-npm.
export KAI_NPM_TOOLS="${KAI_NPM_TOOLS:-/opt/kai-npm}"
if [[ ! -x "$KAI_NPM_TOOLS/node_modules/.bin/redocly" || ! -d "$KAI_NPM_TOOLS/node_modules/@asyncapi/parser" ]]; then
  echo "installing @redocly/cli and @asyncapi/parser into $KAI_NPM_TOOLS"
  mkdir -p "$KAI_NPM_TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$KAI_NPM_TOOLS" @redocly/cli@2.77.0 @asyncapi/parser@3.6.3 >/dev/null ||
    echo "warning: npm install of the API linters failed; the ApiDocs lint tests will fail" >&2
fi
