# OptiSchema: the commands a developer and CI use. `make help` lists them.
#   make demo    install what is missing, build, start a throwaway PostgreSQL with demo data and a
#                workload, start the engine; prints the URL (README's first command)
#   make test    install what is missing, build, run every test (README's second command; .ci/run)
#   make test-asan   every C++ test again under AddressSanitizer + UBSan (build-asan/; slow, not in make test)
#   make fuzz        every libFuzzer target for longer (FUZZ_SECONDS=60 each; build-fuzz/, fuzz/README.md)

SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
POLL ?= 10s
DEMO_DIR := .demo
ENGINE_PID := $(DEMO_DIR)/engine.pid
ENGINE_LOG := $(DEMO_DIR)/engine.log
CTEST_ARGS ?=

.PHONY: help deps configure build dashboard test test-asan fuzz demo demo-stop dev clean distclean format format-check lint bench

help:
	@sed -n 's/^#   //p' Makefile
	@echo "  make build | dev DSN=… | format | format-check | lint | bench | clean | distclean"

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@echo "built $(BUILD_DIR)/optischema"

# The Next.js dashboard's static export (web/dashboard/out), served by the engine.
dashboard: deps
	@scripts/dashboard.sh build

# Unit, actor and integration tests; integration tests start their own
# PostgreSQL 15 and NATS on free loopback ports (scripts/harness.sh).
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The unit, actor and integration tests built with -fsanitize=address,undefined
# in build-asan/ (scripts/test-asan.sh); CTEST_ARGS selects a subset.
test-asan: deps
	scripts/test-asan.sh $(CTEST_ARGS)

# The fuzz targets, each for FUZZ_SECONDS (make test runs them for a few seconds).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SEED=$${FUZZ_SEED:-0} scripts/fuzz.sh all $(FUZZ_SECONDS)

# Each step stops the demo on failure (set -e): the engine never starts without the demo database.
demo: build dashboard demo-stop
	@set -eo pipefail; \
	DSN=$$(scripts/demo.sh up); \
	[[ -n $$DSN ]] || { echo "demo: scripts/demo.sh up printed no connection string; not starting the engine" >&2; exit 1; }; \
	NATS=$$(scripts/demo.sh env | sed -n 's/^OPTISCHEMA_NATS_URL=//p'); \
	SANDBOX=$$(scripts/demo.sh sandbox-dsn); \
	[[ -s $(DEMO_DIR)/api-token ]] || (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' > $(DEMO_DIR)/api-token); \
	TOKEN=$$(cat $(DEMO_DIR)/api-token); \
	STATIC="--static-dir web/static"; [[ -f web/dashboard/out/index.html ]] && STATIC="--static-dir web/dashboard/out"; \
	echo "demo: starting the engine (log: $(ENGINE_LOG))" >&2; \
	OPTISCHEMA_API_TOKEN="$$TOKEN" setsid $(BUILD_DIR)/optischema serve --dsn "$$DSN" --listen $(LISTEN) \
	  --data-dir $(DEMO_DIR)/data --poll-interval $(POLL) $${NATS:+--nats $$NATS} $$STATIC \
	  --sandbox-dsn "$$SANDBOX" \
	  >$(ENGINE_LOG) 2>&1 </dev/null & echo $$! > $(ENGINE_PID); \
	for i in $$(seq 1 100); do \
	  URL=$$(sed -n 's/^optischema: serving //p' $(ENGINE_LOG)); [[ -n $$URL ]] && break; \
	  kill -0 $$(cat $(ENGINE_PID)) 2>/dev/null || { cat $(ENGINE_LOG); exit 1; }; sleep 0.1; \
	done; \
	[[ -n $$URL ]] || { cat $(ENGINE_LOG); exit 1; }; \
	echo; \
	echo "OptiSchema is watching the demo database ($$DSN)"; \
	echo "  API:       $$URL/api/metrics/hot   status: $$URL/api/status"; \
	echo "  WebSocket: $${URL/http/ws}/ws      NATS: $${NATS:-off}"; \
	echo "  Open:      $$URL"; \
	echo "  Apply:     in the dashboard (token: $(DEMO_DIR)/api-token), or curl -H 'Authorization: Bearer '\$$(cat $(DEMO_DIR)/api-token) -H 'Content-Type: application/json' -d '{\"id\":\"…\"}' $$URL/api/suggestions/apply"; \
	echo "  Stop everything with: make clean"

demo-stop:
	@if [[ -f $(ENGINE_PID) ]]; then kill $$(cat $(ENGINE_PID)) 2>/dev/null || true; rm -f $(ENGINE_PID); fi

# The engine against a database you give, rebuilt and restarted on change:
#   make dev DSN=postgresql://user@host/db
dev: build
	@[[ -n "$(DSN)" ]] || { echo "usage: make dev DSN=postgresql://user@host:5432/db"; exit 2; }
	scripts/dev.sh "$(BUILD_DIR)" "$(DSN)" "$(LISTEN)"

bench: build
	scripts/bench-poll.sh $(BUILD_DIR)

# Stops everything `make demo` started and forgets its data (build/ stays).
clean: demo-stop
	@scripts/demo.sh down || true
	@rm -rf $(DEMO_DIR)

distclean: clean
	rm -rf $(BUILD_DIR)

SOURCES = $(shell git ls-files '*.cpp' '*.hpp' '*.cpp.in')

format:
	clang-format -i $(SOURCES)

# Formatting of the lines changed since the merge base with main (or the
# last commit), the way VAST's CI checks style: old code never blocks.
format-check:
	@scripts/format-check.sh

lint: configure
	@scripts/lint.sh $(BUILD_DIR)
