#!/usr/bin/env bash
# `make run`: the whole system on this machine, no Docker needed.
#
#   Elasticsearch (local node from scripts/es.sh, unless ELASTICSEARCH_URL already answers)
#   provider simulator   http://127.0.0.1:$SIM_PORT/feed      (default 8080)
#   ingest scheduler     every $INGEST_INTERVAL seconds, first run at once (default 60)
#   search API           http://127.0.0.1:$PORT               (default 3000)
#
# Ctrl-C (or SIGTERM) stops everything this script started, Elasticsearch included when it started it.
# Assumes `npm ci` and `npm run build` have run (the Makefile target does both).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PORT="${PORT:-3000}"
SIM_PORT="${SIM_PORT:-8080}"
export INGEST_INTERVAL="${INGEST_INTERVAL:-60}"
export ES_PORT="${ES_PORT:-9200}"
export ELASTICSEARCH_URL="${ELASTICSEARCH_URL:-http://127.0.0.1:$ES_PORT}"
export PROVIDER_URL="${PROVIDER_URL:-http://127.0.0.1:$SIM_PORT/feed}"
export OTEL_SDK_DISABLED="${OTEL_SDK_DISABLED:-true}"
NODE_FLAGS=()
if [[ -f dist/observability/register.js && "$OTEL_SDK_DISABLED" != "true" ]]; then
  NODE_FLAGS=(--import ./dist/observability/register.js)
fi

say() { printf '\033[1m[run]\033[0m %s\n' "$*" >&2; }

pids=()
started_es=0
cleaned=0
cleanup() {
  ((cleaned)) && return
  cleaned=1
  say "stopping…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if ((started_es)); then bash scripts/es.sh stop || true; fi
  say "stopped; nothing left running"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if curl -fsS -m 3 "$ELASTICSEARCH_URL/_cluster/health" >/dev/null 2>&1; then
  say "using the Elasticsearch that answers on $ELASTICSEARCH_URL"
else
  if [[ "$ELASTICSEARCH_URL" != "http://127.0.0.1:$ES_PORT" ]]; then
    say "ELASTICSEARCH_URL=$ELASTICSEARCH_URL does not answer"; exit 1
  fi
  bash scripts/es.sh start
  started_es=1
fi

node "${NODE_FLAGS[@]}" dist/main/bootstrap.js

PORT="$SIM_PORT" node dist/main/provider-sim.js &
pids+=($!)
node "${NODE_FLAGS[@]}" dist/main/api.js &
pids+=($!)
node "${NODE_FLAGS[@]}" dist/main/ingest-scheduler.js &
pids+=($!)

for _ in $(seq 1 60); do
  curl -fsS -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done

cat >&2 <<EOF

  event-search is running. Try:
    curl -s 'http://127.0.0.1:$PORT/search?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z'
    open  http://127.0.0.1:$PORT/docs        (Swagger UI)
    curl -s http://127.0.0.1:$PORT/metrics   (Prometheus)
  Provider simulator: $PROVIDER_URL   Ingest every ${INGEST_INTERVAL}s.   Ctrl-C stops everything.

EOF

# Exit (and clean up) as soon as any child dies, so a crash is not hidden.
wait -n "${pids[@]}" || true
say "a process exited; shutting down"
