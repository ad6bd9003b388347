# The local stack: `make run` (see scripts/run-local.sh).
.PHONY: run
run: build ## Run everything locally: Elasticsearch, provider simulator, scheduled ingest, API on :3000
	bash scripts/run-local.sh
