# event-search: the commands a developer and CI use. `make help` lists them.
#
# Feature areas add their own targets in mk/*.mk; a file there that adds a target name to
# EXTRA_TESTS makes `make test` run it after the Node test suites.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export ES_PORT ?= 9200
# Every recipe runs on the Node.js LTS pinned in .node-version: scripts/node.sh prints the machine's
# node directory when it is of that line, else installs the pinned binary into .cache once.
NODE_BIN := $(shell bash scripts/node.sh bin)
ifeq ($(NODE_BIN),)
$(error no Node.js $(shell cat .node-version) for this project (see the message above))
endif
export PATH := $(NODE_BIN):$(PATH)
EXTRA_TESTS :=
# Tools the Node test suites need (installed by the project, e.g. a headless browser).
TEST_TOOLS :=

-include $(sort $(wildcard mk/*.mk))

.PHONY: help install check typecheck lint build test test-node test-unit test-integration \
        test-e2e es-start es-stop es-status clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

# --strict-allow-scripts: a dependency whose install scripts package.json's allowScripts does not
# name fails the install, so each one is reviewed (`npm install-scripts approve|deny <pkg>`).
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --strict-allow-scripts
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

test: check test-node $(EXTRA_TESTS) ## Everything CI runs: install, check, build, every test suite

test-node: install build $(TEST_TOOLS) ## Jest: unit, integration and end-to-end (starts Elasticsearch if none answers)
	bash scripts/with-es.sh npm run --silent test

test-unit: install ## Unit tests only (no Elasticsearch)
	npm run --silent test:unit

test-integration: install ## Integration tests (starts Elasticsearch if none answers)
	bash scripts/with-es.sh npm run --silent test:integration

test-e2e: install build $(TEST_TOOLS) ## End-to-end tests over real processes (starts Elasticsearch if none answers)
	bash scripts/with-es.sh npm run --silent test:e2e

es-start: ## Start the local Elasticsearch (downloads it once)
	bash scripts/es.sh start
es-stop: ## Stop the local Elasticsearch
	bash scripts/es.sh stop
es-status: ## Is the local Elasticsearch running?
	bash scripts/es.sh status

clean: ## Remove build output (keeps the cached Elasticsearch and tools)
	rm -rf dist coverage
