# Containers: the Dockerfile and docker-compose.yml. `make up` / `make down` need Docker with the
# compose plugin; `make docker-test` validates both without a Docker engine (hadolint, compose-go).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || \
             (command -v docker-compose >/dev/null 2>&1 && echo docker-compose))

EXTRA_TESTS += docker-test

.PHONY: up down docker-test

up: ## Build the image and start the whole stack with Docker Compose, waiting until it is healthy (API on :3000, Grafana on :3001)
	@test -n "$(COMPOSE)" || { echo "make up needs Docker with compose (or use: make run)"; exit 1; }
	$(COMPOSE) up --build --wait
	@echo "API http://localhost:3000/search  docs http://localhost:3000/docs  Grafana http://localhost:3001"
	@echo "Prometheus http://localhost:9090  Jaeger http://localhost:16686  stop with: make down"

down: ## Stop the Docker Compose stack and remove its containers and volumes
	@test -n "$(COMPOSE)" || { echo "make down needs Docker with compose"; exit 1; }
	$(COMPOSE) down --volumes --remove-orphans

docker-test: build deploy-tools ## Lint the Dockerfile (hadolint) and validate docker-compose.yml (compose-go), no Docker needed
	$(DEPLOY_PYTEST) test/unit/deploy/test_docker.py
