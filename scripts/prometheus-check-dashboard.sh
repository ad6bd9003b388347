#!/usr/bin/env bash
# Checks that every PromQL query of the Grafana dashboard parses: promtool validates them as
# recording rules, with the dashboard's variables replaced by values Grafana could give them.
#
#   scripts/prometheus-check-dashboard.sh [dashboard.json]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DASHBOARD="${1:-$ROOT/observability/grafana/dashboards/event-search.json}"
command -v promtool >/dev/null || { echo "promtool is missing: run 'make prometheus-tools'" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Panel targets (rows may nest panels) and annotation queries as recording rules; expressions are
# emitted as JSON strings, which are valid YAML double-quoted scalars.
jq -r '
  . as $d | [.panels[] | ., (.panels // [])[]] | map(select(.type != "row")) as $panels
  | ([$panels[] | .targets // [] | .[] | .expr] + [$d.annotations.list[] | .expr // empty]) as $exprs
  | "groups:", "  - name: dashboard", "    rules:",
    ($exprs | to_entries[]
      | "      - record: dashboard_query_\(.key)",
        "        expr: \(.value
            | gsub("\\$__rate_interval"; "5m") | gsub("\\$__interval"; "1m")
            | gsub("\\$(route|namespace|job|pod|ingest_job|provider|cronjob)\\b"; ".*") | tojson)")
' "$DASHBOARD" > "$tmp/dashboard-rules.yml"

count="$(grep -c 'record:' "$tmp/dashboard-rules.yml" || true)"
if [[ "$count" -eq 0 ]]; then echo "no queries found in $DASHBOARD" >&2; exit 1; fi
if grep -n '\$' "$tmp/dashboard-rules.yml" >&2; then
  echo "a dashboard variable above has no substitute in $0" >&2
  exit 1
fi
promtool check rules "$tmp/dashboard-rules.yml" >/dev/null
echo "dashboard: $count queries parse ($DASHBOARD)"
