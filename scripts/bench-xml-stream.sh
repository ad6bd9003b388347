#!/usr/bin/env bash
# Installs xml-stream (the parser the design card named) into .cache/bench/xml-stream, outside the
# project's dependencies, for the parser benchmark's comparison (bench/parse.ts). It needs two native
# addons (node-expat, iconv) built by install scripts: npm 11 runs them only when allowed, and
# node-gyp needs Node's headers (npm_config_nodedir). Idempotent; prints the folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.cache/bench/xml-stream"
if [[ -f "$DIR/node_modules/xml-stream/package.json" ]] && node -e "require('$DIR/node_modules/xml-stream')" 2>/dev/null; then
  echo "$DIR"; exit 0
fi
mkdir -p "$DIR"
cat >"$DIR/package.json" <<'JSON'
{ "name": "bench-xml-stream", "private": true, "allowScripts": { "node-expat": true, "iconv": true } }
JSON
nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
echo "[bench] installing xml-stream 0.4.5 and building its native addons (once) in $DIR" >&2
(cd "$DIR" && npm_config_nodedir="$nodedir" npm install --no-audit --no-fund --loglevel=error xml-stream@0.4.5 >&2)
node -e "require('$DIR/node_modules/xml-stream')"
echo "$DIR"
