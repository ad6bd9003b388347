#!/usr/bin/env bash
# Manages a local, single-node Elasticsearch for development and tests.
#
#   scripts/es.sh start    download (once, cached), configure and start; wait for yellow health
#   scripts/es.sh stop     stop the node started by `start` (succeeds when none runs)
#   scripts/es.sh status   say whether it runs and answers
#   scripts/es.sh install  only download, verify and unpack
#
# Environment: ES_PORT (default 9200), ES_VERSION (default 8.19.9), ES_HEAP (default 512m),
# ES_START_TIMEOUT (seconds, default 180), ES_HOME_DIR (cache root, default <repo>/.cache).
# Elasticsearch refuses to run as root, so when called as root it runs as the unprivileged user
# `ES_RUN_USER` (default `esdev`, created on first use).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ES_VERSION="${ES_VERSION:-8.19.9}"
ES_PORT="${ES_PORT:-9200}"
ES_HEAP="${ES_HEAP:-512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-180}"
ES_RUN_USER="${ES_RUN_USER:-esdev}"
CACHE="${ES_HOME_DIR:-$ROOT/.cache}"
DIST_DIR="$CACHE/elasticsearch/dist"
ES_HOME="$DIST_DIR/elasticsearch-$ES_VERSION"
NODE_DIR="$CACHE/elasticsearch/node-$ES_PORT"
PID_FILE="$NODE_DIR/es.pid"
URL="http://127.0.0.1:$ES_PORT"

log() { printf '[es] %s\n' "$*" >&2; }
die() { printf '[es] ERROR: %s\n' "$*" >&2; exit 1; }

show_logs() {
  local f
  for f in "$NODE_DIR/logs/event-search-dev.log" "$NODE_DIR/logs/stdout.log"; do
    [[ -s "$f" ]] || continue
    printf '[es] --- last lines of %s ---\n' "$f" >&2
    tail -n 30 "$f" >&2 || true
  done
}

answers() { curl -fsS -m 2 "$URL/_cluster/health" >/dev/null 2>&1; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

find_java_home() {
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
  if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then echo "$JAVA_HOME"; return; fi
  local java
  java="$(command -v java)" || die "no Java found: install a JDK 17+ or set ES_JAVA_HOME"
  dirname "$(dirname "$(readlink -f "$java")")"
}

install_dist() {
  if [[ -x "$ES_HOME/bin/elasticsearch" && -f "$ES_HOME/.verified" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to download Elasticsearch"
  local dl="$CACHE/elasticsearch/download"
  local zip="$dl/elasticsearch-$ES_VERSION.zip"
  mkdir -p "$dl" "$DIST_DIR"
  if [[ ! -f "$zip" ]]; then
    log "downloading Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central (once; cached in $CACHE)"
    # -C: fail when the artifact does not match the repository's published checksum.
    mvn -B -q -C org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
      "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      "-DoutputDirectory=$dl" >"$dl/mvn.log" 2>&1 ||
      { tail -n 20 "$dl/mvn.log" >&2; die "could not download Elasticsearch $ES_VERSION (see above)"; }
  fi
  log "verifying and unpacking $zip"
  # Maven checked the checksum against the repository; check the archive itself is whole.
  python3 - "$zip" <<'PY' || die "the cached archive $zip is corrupt: delete it and retry"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    if bad: raise SystemExit(f"corrupt member {bad}")
PY
  rm -rf "$ES_HOME.tmp" && mkdir -p "$ES_HOME.tmp"
  python3 - "$zip" "$ES_HOME.tmp" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for info in z.infolist():
        path = z.extract(info, dst)
        mode = (info.external_attr >> 16) & 0o777
        if mode: os.chmod(path, mode)
PY
  rm -rf "$ES_HOME"
  mv "$ES_HOME.tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$ES_HOME.tmp"
  [[ -x "$ES_HOME/bin/elasticsearch" ]] || die "unpacked archive has no bin/elasticsearch"
  date -u +%FT%TZ >"$ES_HOME/.verified"
  log "Elasticsearch $ES_VERSION ready in $ES_HOME"
}

ensure_user() {
  [[ "$(id -u)" == "0" ]] || return 0
  if ! id "$ES_RUN_USER" >/dev/null 2>&1; then
    log "creating unprivileged user $ES_RUN_USER (Elasticsearch refuses to run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_RUN_USER"
  fi
}

write_config() {
  local conf="$NODE_DIR/config"
  mkdir -p "$conf" "$NODE_DIR/data" "$NODE_DIR/logs"
  cp -r "$ES_HOME/config/." "$conf/"
  cat >"$conf/elasticsearch.yml" <<YML
cluster.name: event-search-dev
node.name: dev-$ES_PORT
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $((ES_PORT + 100))
discovery.type: single-node
path.data: $NODE_DIR/data
path.logs: $NODE_DIR/logs
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
YML
  # A small, fixed heap: this is a development node.
  printf -- '-Xms%s\n-Xmx%s\n' "$ES_HEAP" "$ES_HEAP" >"$conf/jvm.options.d/heap.options"
  if [[ "$(id -u)" == "0" ]]; then
    chown -R "$ES_RUN_USER" "$NODE_DIR"
    # The distribution itself must be readable (not writable) by the node's user.
    chmod -R a+rX "$ES_HOME"
  fi
}

as_es_user() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u "$ES_RUN_USER" -- "$@"
  else
    "$@"
  fi
}

cmd_start() {
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $URL"
    return 0
  fi
  if answers; then
    log "an Elasticsearch already answers on $URL (not started by this script); using it"
    return 0
  fi
  install_dist
  ensure_user
  write_config
  local java_home
  java_home="$(find_java_home)"
  log "starting Elasticsearch $ES_VERSION on $URL (heap $ES_HEAP, data in $NODE_DIR/data)"
  : >"$NODE_DIR/logs/stdout.log"
  [[ "$(id -u)" == "0" ]] && chown "$ES_RUN_USER" "$NODE_DIR/logs/stdout.log"
  as_es_user env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$NODE_DIR/config" \
    "$ES_HOME/bin/elasticsearch" -d -p "$PID_FILE" >>"$NODE_DIR/logs/stdout.log" 2>&1 ||
    { show_logs; die "Elasticsearch failed to start"; }

  local deadline=$((SECONDS + ES_START_TIMEOUT))
  until curl -fsS -m 2 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "Elasticsearch did not reach yellow health within ${ES_START_TIMEOUT}s; last log lines:"
      show_logs
      cmd_stop || true
      die "Elasticsearch did not come up on $URL"
    fi
    if ! running_pid >/dev/null && ((SECONDS > 5)) && [[ -f "$PID_FILE" ]]; then
      log "Elasticsearch exited during start-up; last log lines:"
      show_logs
      die "Elasticsearch did not come up on $URL"
    fi
    sleep 1
  done
  log "Elasticsearch $(curl -fsS -m 2 "$URL/_nodes/_local" | python3 -c 'import json,sys; print(next(iter(json.load(sys.stdin)["nodes"].values()))["version"])') is up on $URL (pid $(running_pid))"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running on port $ES_PORT (nothing to stop)"
    rm -f "$PID_FILE"
    return 0
  fi
  log "stopping Elasticsearch (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "still alive after 30s; killing"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if answers; then
      log "running (pid $pid) and answering on $URL"
    else
      log "running (pid $pid) but not answering on $URL yet"
    fi
    return 0
  fi
  if answers; then
    log "not started by this script, but an Elasticsearch answers on $URL"
    return 0
  fi
  log "not running on port $ES_PORT"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  install) install_dist ;;
  *) echo "usage: $0 start|stop|status|install" >&2; exit 2 ;;
esac
