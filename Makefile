# event-search: the commands a developer and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export ES_PORT ?= 9200

.PHONY: help install check typecheck lint format-check build test test-unit test-integration \
        es-start es-stop es-status clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp ## Install dependencies exactly as locked (npm ci)

typecheck: install ## Type-check sources and tests (strict)
	npm run --silent typecheck

lint: install ## ESLint and Prettier
	npm run --silent lint
	npm run --silent format:check

build: install ## Compile TypeScript to dist/
	npm run --silent build

check: typecheck lint build ## Type-check, lint and build

test: check ## Everything CI runs: install, check, build, start Elasticsearch if needed, all tests
	bash scripts/with-es.sh npm run --silent test

test-unit: install ## Unit tests only (no Elasticsearch)
	npm run --silent test:unit

test-integration: install ## Integration tests (starts Elasticsearch if none answers)
	bash scripts/with-es.sh npm run --silent test:integration

es-start: ## Start the local Elasticsearch (downloads it once)
	bash scripts/es.sh start
es-stop: ## Stop the local Elasticsearch
	bash scripts/es.sh stop
es-status: ## Is the local Elasticsearch running?
	bash scripts/es.sh status

clean: ## Remove build output (keeps the cached Elasticsearch)
	rm -rf dist coverage
