# k6 load tests (loadtest/README.md). k6 is built once with `go install` and cached in .cache/tools.
K6 := $(CURDIR)/.cache/tools/bin/k6
BASE_URL ?= http://127.0.0.1:3000
K6_SCRIPT ?= smoke
# More k6 options, e.g. K6_ARGS="-e PEAK_RATE=1000 -e HOLD=20s" (loadtest/README.md).
K6_ARGS ?=

.PHONY: k6 loadtest
$(K6):
	mkdir -p $(dir $(K6))
	GOBIN=$(dir $(K6)) go install go.k6.io/k6@v1.8.1

k6: $(K6) ## Build k6 (once; cached in .cache/tools/bin)

loadtest: $(K6) ## Run a k6 scenario against BASE_URL (K6_SCRIPT=smoke|peak|soak; default smoke; K6_ARGS=...)
	$(K6) run -e BASE_URL=$(BASE_URL) $(K6_ARGS) loadtest/$(K6_SCRIPT).js
