# Prometheus tooling: promtool checks of the alert rules and of the dashboard's queries, and the
# Prometheus server and Pushgateway the end-to-end tests start (test/e2e/observability). All come
# from Debian's `prometheus` and `prometheus-pushgateway` packages, installed when missing.
#
# The Helm chart is the source of the rules (charts/event-search/templates/_rules.tpl, values under
# metrics.*) and of the dashboard (charts/event-search/files/event-search.json); docker-compose's
# copies in observability/ are rendered from it by `make observability-render` and checked for
# drift by `make test-alerts`.
PROMETHEUS_RULES := observability/prometheus/alerts.yml
PROMETHEUS_RULE_TESTS := observability/prometheus/alerts.test.yml
PROMETHEUS_TWO_RELEASES_TEST := observability/prometheus/alerts-two-releases.test.yml
OBSERVABILITY_RENDER := .cache/tools/venv/bin/python scripts/observability-render.py --helm .cache/tools/bin/helm
PROMETHEUS_BINARIES := promtool prometheus prometheus-pushgateway

EXTRA_TESTS += test-alerts
TEST_TOOLS += prometheus-tools

.PHONY: prometheus-tools test-alerts observability-render

prometheus-tools: ## Install promtool, prometheus and the Pushgateway (Debian packages) when missing
	@missing=""; for b in $(PROMETHEUS_BINARIES); do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "missing:$$missing, and apt-get is not available on this machine." >&2; \
	  echo "Install Prometheus 2.x (prometheus, promtool) and the Pushgateway (as prometheus-pushgateway)" >&2; \
	  echo "on PATH, e.g. from https://prometheus.io/download/" >&2; exit 1; fi; \
	if [ "$$(id -u)" != "0" ]; then \
	  echo "missing:$$missing: run 'sudo apt-get install prometheus prometheus-pushgateway'" >&2; exit 1; fi; \
	echo "installing Debian's prometheus and prometheus-pushgateway packages (missing:$$missing)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  prometheus prometheus-pushgateway

observability-render: deploy-tools ## Render compose's alerts.yml and dashboard from the Helm chart (commit them)
	$(OBSERVABILITY_RENDER)

test-alerts: prometheus-tools deploy-tools ## promtool: the rules (one release, two side by side), drift of compose's copies, the dashboard's queries
	$(OBSERVABILITY_RENDER) --check
	promtool check rules $(PROMETHEUS_RULES)
	promtool test rules $(PROMETHEUS_RULE_TESTS)
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	for ns in production staging; do $(OBSERVABILITY_RENDER) --release-rules $$ns "$$tmp/$$ns.yml"; done; \
	cp $(PROMETHEUS_TWO_RELEASES_TEST) "$$tmp/"; \
	promtool check rules "$$tmp/production.yml" "$$tmp/staging.yml" >/dev/null && \
	promtool test rules "$$tmp/$(notdir $(PROMETHEUS_TWO_RELEASES_TEST))"
	bash scripts/prometheus-check-dashboard.sh
