# A headless browser for the end-to-end test of /docs (Debian's chromium; no browser download).
CHROMIUM ?= $(shell command -v chromium 2>/dev/null)
TEST_TOOLS += chromium

.PHONY: chromium
chromium: ## Install Debian's chromium when missing (needs root or sudo-less apt)
	@if command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != "0" ]; then echo "chromium is missing: run 'sudo apt-get install chromium'"; exit 1; fi; \
	echo "installing Debian's chromium for the /docs browser test"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
