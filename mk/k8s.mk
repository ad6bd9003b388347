# Kubernetes packaging (charts/event-search, k8s/, skaffold.yaml), validated without a cluster:
# helm lint and template with every values set, every rendered object checked strictly against
# the Kubernetes schemas (kubeconform; schemas from PyPI's kubernetes-validate), the Prometheus
# Operator objects against the operator's API types and CRD validators, and pytest assertions over
# the rendered output (test/unit/deploy). Tools are installed once into .cache/tools.
DEPLOY_VENV := .cache/tools/venv
# No __pycache__ or .pytest_cache in the work tree.
DEPLOY_PYTEST := PYTHONDONTWRITEBYTECODE=1 $(DEPLOY_VENV)/bin/pytest -q -p no:cacheprovider

EXTRA_TESTS += kubernetes-test

.PHONY: deploy-tools kubernetes-test chart-readme

deploy-tools: ## Install helm, kubeconform, hadolint, schemas into .cache/tools (once; minutes the first time)
	bash scripts/k8s-tools.sh

chart-readme: deploy-tools ## Regenerate charts/event-search/README.md from the comments of values.yaml
	$(DEPLOY_VENV)/bin/python scripts/chart-readme.py

kubernetes-test: build deploy-tools ## Validate the Helm chart, k8s/ and skaffold.yaml offline (no cluster needed)
	$(DEPLOY_VENV)/bin/python scripts/chart-readme.py --check
	$(DEPLOY_PYTEST) test/unit/deploy/test_chart.py test/unit/deploy/test_k8s.py
