# Reliability and security (docs/reliability.md).
#
# - `make schemathesis` (part of `make test`): property-based contract test of the live API with
#   schemathesis (PyPI, cached in .cache/tools/venv-schemathesis): no 5xx, every answer conforms
#   to openapi.yaml. Starts a local Elasticsearch when none answers.
# - `make audit`: `npm audit` of the production dependencies, failing on high or critical findings.
#   Needs the registry's audit endpoint; when it cannot be reached it says so and fails, it never
#   passes silently. Not part of `make test` (it depends on a network service, not on the code).
# The chaos tests (test/e2e/chaos-*.test.ts) run with the other Jest suites in `make test`.
EXTRA_TESTS += schemathesis

.PHONY: schemathesis schemathesis-tools audit

schemathesis-tools: ## Install schemathesis into .cache/tools/venv-schemathesis (once)
	bash scripts/schemathesis.sh install

schemathesis: build schemathesis-tools ## schemathesis against the live API (seeded Elasticsearch); fails on any failure
	bash scripts/with-es.sh bash scripts/schemathesis.sh

audit: ## npm audit --omit=dev (high/critical fail); says so when the audit endpoint is unreachable
	@out="$$(npm audit --omit=dev --audit-level=high 2>&1)"; code=$$?; \
	if grep -qiE 'audit endpoint returned an error|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|network' <<<"$$out"; then \
	  printf '%s\n' "$$out" | grep -iE 'audit|error' >&2; \
	  echo "make audit: NOT CHECKED - the registry's audit endpoint could not be used from this machine" >&2; \
	  echo "(see the lines above). Run 'make audit' where https://registry.npmjs.org answers audits." >&2; \
	  exit 2; \
	fi; \
	printf '%s\n' "$$out"; \
	if [ $$code -ne 0 ]; then echo "make audit: high or critical advisories in production dependencies" >&2; fi; \
	exit $$code
