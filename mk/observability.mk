# Prometheus tooling: promtool checks of the alert rules and of the dashboard's queries, and the
# Prometheus server and Pushgateway the end-to-end tests start (test/e2e/observability). All come
# from Debian's `prometheus` and `prometheus-pushgateway` packages, installed when missing.
PROMETHEUS_RULES := observability/prometheus/alerts.yml
PROMETHEUS_RULE_TESTS := observability/prometheus/alerts.test.yml
PROMETHEUS_BINARIES := promtool prometheus prometheus-pushgateway

EXTRA_TESTS += test-alerts
TEST_TOOLS += prometheus-tools

.PHONY: prometheus-tools test-alerts

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

test-alerts: prometheus-tools ## promtool: check and unit-test the alert rules, parse the dashboard's queries
	promtool check rules $(PROMETHEUS_RULES)
	promtool test rules $(PROMETHEUS_RULE_TESTS)
	bash scripts/prometheus-check-dashboard.sh
