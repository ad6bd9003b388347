#!/usr/bin/env bash
# Runs a command with an Elasticsearch available, then stops what it started (also on failure).
#
# If ELASTICSEARCH_URL already answers, that Elasticsearch is used and nothing is started.
# Otherwise a local node is started with scripts/es.sh on ES_PORT (default: the URL's port, else
# 9200) and stopped when the command ends, whatever its outcome.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ELASTICSEARCH_URL="${ELASTICSEARCH_URL:-http://127.0.0.1:${ES_PORT:-9200}}"

if curl -fsS -m 3 "$ELASTICSEARCH_URL/_cluster/health" >/dev/null 2>&1; then
  echo "[with-es] using the Elasticsearch that answers on $ELASTICSEARCH_URL" >&2
  exec "$@"
fi

port="$(python3 -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).port or 9200)' "$ELASTICSEARCH_URL")"
export ES_PORT="$port"
started=0
cleanup() { if ((started)); then bash "$ROOT/scripts/es.sh" stop || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
bash "$ROOT/scripts/es.sh" start
started=1
"$@"
