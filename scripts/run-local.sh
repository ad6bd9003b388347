#!/usr/bin/env bash
# `make run`: the whole system on this machine, no Docker needed.
#
#   Elasticsearch (local node from scripts/es.sh, unless ELASTICSEARCH_URL already answers)
#   provider simulator   http://127.0.0.1:$SIM_PORT/feed      (default 8080), and /feed.ndjson
#   two providers        each its own ingest scheduler, every $INGEST_INTERVAL seconds, first run at
#                        once (default 60): "$PROVIDER_NAME" (XML feed, $PROVIDER_TIMEZONE) and
#                        "$SECOND_PROVIDER_NAME" (the same events as NDJSON, $SECOND_PROVIDER_TIMEZONE);
#                        SECOND_PROVIDER_NAME= (empty) plays only the first
#   search API           http://127.0.0.1:$PORT               (default 3000)
#
# It says "is running" only once the API answered /healthz (and stops everything if it never does),
# then says when the first ingest run finished and how many events the index holds.
#
# Logs: on a terminal, readable coloured lines (time, level, process name, message) through
# pino-pretty; elsewhere (a pipe, a file, CI) the processes' JSON lines, unchanged.
# RUN_LOG_FORMAT=pretty|json overrides the choice.
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
export PROVIDER_NAME="${PROVIDER_NAME:-primary}"
export PROVIDER_TIMEZONE="${PROVIDER_TIMEZONE:-Europe/Madrid}"
SECOND_PROVIDER_NAME="${SECOND_PROVIDER_NAME-json}"
SECOND_PROVIDER_URL="${SECOND_PROVIDER_URL:-http://127.0.0.1:$SIM_PORT/feed.ndjson}"
SECOND_PROVIDER_TIMEZONE="${SECOND_PROVIDER_TIMEZONE:-America/New_York}"
export OTEL_SDK_DISABLED="${OTEL_SDK_DISABLED:-true}"
export ES_INDEX_PREFIX="${ES_INDEX_PREFIX:-events}"
# The local node is a single node: no replica shards (the chart's default is 1).
export ES_INDEX_REPLICAS="${ES_INDEX_REPLICAS:-0}"
# Seconds the API has to answer /healthz before the script gives up.
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"
RUN_LOG_FORMAT="${RUN_LOG_FORMAT:-auto}"
pretty=0
if [[ "$RUN_LOG_FORMAT" == pretty || ("$RUN_LOG_FORMAT" == auto && -t 1) ]]; then
  if [[ -x node_modules/.bin/pino-pretty ]]; then pretty=1; fi
fi
NODE_FLAGS=()
if [[ -f dist/observability/register.js && "$OTEL_SDK_DISABLED" != "true" ]]; then
  NODE_FLAGS=(--import ./dist/observability/register.js)
fi

say() { printf '\033[1m[run]\033[0m %s\n' "$*" >&2; }

# The processes' JSON log lines as "HH:MM:ss.l LEVEL (process): message {fields}".
pretty_logs() {
  node_modules/.bin/pino-pretty --colorize --translateTime 'SYS:HH:MM:ss.l' --singleLine --ignore pid,hostname,service,process
}
# Starts a process in the background (its logs prettified on a terminal); $! is its pid.
spawn() {
  if ((pretty)); then "$@" > >(pretty_logs) 2>&1 & else "$@" & fi
  pids+=($!)
}

pids=()
watcher=""
started_es=0
cleaned=0
cleanup() {
  ((cleaned)) && return
  cleaned=1
  say "stopping…"
  if [[ -n "$watcher" ]]; then kill -TERM "$watcher" 2>/dev/null || true; fi
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

# Bootstrap, and move an index of an earlier version to the current one (ADR 0015).
zones="$PROVIDER_NAME=$PROVIDER_TIMEZONE${SECOND_PROVIDER_NAME:+,$SECOND_PROVIDER_NAME=$SECOND_PROVIDER_TIMEZONE}"
if ((pretty)); then
  MIGRATE_PROVIDER_TIMEZONES="$zones" node "${NODE_FLAGS[@]}" dist/main/migrate.js | pretty_logs
else
  MIGRATE_PROVIDER_TIMEZONES="$zones" node "${NODE_FLAGS[@]}" dist/main/migrate.js
fi

# Runs that finish from now on count as "the first ingest" (older ones may be in the index).
since="$(node -e 'process.stdout.write(new Date().toISOString())')"
PORT="$SIM_PORT" spawn node dist/main/provider-sim.js
spawn node "${NODE_FLAGS[@]}" dist/main/api.js
api_pid=$!
# "Running" means the API answers /healthz: wait for it (or for the API to die trying).
deadline=$((SECONDS + HEALTH_TIMEOUT))
until curl -fsS -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$api_pid" 2>/dev/null; then
    say "the API exited before answering /healthz on :$PORT (its log is above); shutting down"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    say "the API did not answer /healthz on :$PORT within ${HEALTH_TIMEOUT}s; shutting down"
    exit 1
  fi
  sleep 0.5
done

cat >&2 <<EOF

  event-search is running (/healthz answered). Try:
    curl -s 'http://127.0.0.1:$PORT/search?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z'
    open  http://127.0.0.1:$PORT/docs        (Swagger UI)
    curl -s http://127.0.0.1:$PORT/metrics   (Prometheus)
  Providers: $PROVIDER_NAME ($PROVIDER_URL)${SECOND_PROVIDER_NAME:+, $SECOND_PROVIDER_NAME ($SECOND_PROVIDER_URL)}
  Ingest every ${INGEST_INTERVAL}s.   Ctrl-C stops everything.
  Searches return nothing until the first ingest run finishes: a line below says when.

EOF

# The ingesters start once the API runs, so the first-ingest line always comes after the message.
spawn node "${NODE_FLAGS[@]}" dist/main/ingest-scheduler.js
if [[ -n "$SECOND_PROVIDER_NAME" ]]; then
  PROVIDER_NAME="$SECOND_PROVIDER_NAME" PROVIDER_URL="$SECOND_PROVIDER_URL" PROVIDER_FORMAT=ndjson \
    PROVIDER_TIMEZONE="$SECOND_PROVIDER_TIMEZONE" spawn node "${NODE_FLAGS[@]}" dist/main/ingest-scheduler.js
fi
SINCE="$since" node scripts/run-local/first-ingest.mjs &
watcher=$!

# Exit (and clean up) as soon as any child dies, so a crash is not hidden.
wait -n "${pids[@]}" || true
say "a process exited; shutting down"
