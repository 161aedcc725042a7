# make serve | make test | make bench — each installs what it needs first.
SHELL := /bin/bash
APT_PACKAGES := libmicrohttpd-dev libsqlite3-dev liburing-dev
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
SWIFT_BUILD_FLAGS ?=
BIN := .build/debug/appliance

.PHONY: deps system-deps test-system-deps python-deps build serve test test-swift test-contract test-s3 test-adversarial bench bench-tools bench-scale bench-s3 clean

system-deps:
	@if ! pkg-config --exists libmicrohttpd liburing sqlite3 2>/dev/null; then \
		echo "installing $(APT_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) pkg-config; \
	fi

# The tests also trace the server's fsyncs (the catalog's WAL must be synced before a sync PUT is
# answered), and drive the S3 endpoint with real clients (rclone, restic, s3cmd; openssl for a TLS front).
test-system-deps: system-deps
	@need=""; \
	for tool in strace rclone restic s3cmd openssl; do command -v $$tool >/dev/null || need="$$need $$tool"; done; \
	if [ -n "$$need" ]; then \
		echo "installing$$need"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	fi

python-deps:
	@python3 -c "import schemathesis, prometheus_client, openapi_spec_validator, yaml, boto3, awscrt" 2>/dev/null && command -v aws >/dev/null || \
		python3 -m pip install -q -r scripts/requirements.txt

deps: system-deps test-system-deps python-deps

build: system-deps
	swift build $(SWIFT_BUILD_FLAGS)

serve: build
	$(BIN) serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# Suites that measure how promptly the server answers under load run alone, after the rest:
# beside the other suites (which run in parallel) on 2 cores they would time the machine, not the server.
ALONE_SUITES := ConnectionLimitTests MixedLoadTests

# A hung test run fails within these bounds (seconds) instead of using up CI's time.
TEST_TIMEOUT := timeout --kill-after=30 1500
SUITE_TIMEOUT := timeout --kill-after=30 900

test-swift: build
	$(TEST_TIMEOUT) swift test $(SWIFT_BUILD_FLAGS) --skip "$$(echo $(ALONE_SUITES) | tr ' ' '|')"
	@for suite in $(ALONE_SUITES); do echo "swift test --filter $$suite"; $(SUITE_TIMEOUT) swift test $(SWIFT_BUILD_FLAGS) --filter "$$suite" || exit 1; done

test-contract: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/contract_test.py --bin $(BIN)

# Real S3 clients (aws cli, boto3, rclone, restic, s3cmd) against the S3 endpoint, and its refusals.
test-s3: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/s3_clients_test.py --bin $(BIN)
	$(SUITE_TIMEOUT) python3 scripts/s3_negative_test.py --bin $(BIN)

# Hostile requests (overflowing numbers, deep XML, unsigned headers, framing, slow bodies): the
# server stays up, refuses each with the right 4xx and changes nothing.
test-adversarial: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/adversarial_test.py --bin $(BIN)

test: deps test-swift test-contract test-s3 test-adversarial

bench-tools: system-deps python-deps
	@need=""; \
	command -v fio >/dev/null || need="$$need fio"; \
	command -v nginx >/dev/null || need="$$need nginx"; \
	command -v wrk >/dev/null || need="$$need wrk"; \
	command -v curl >/dev/null || need="$$need curl"; \
	if [ -n "$$need" ]; then \
		echo "installing$$need"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	fi
	swift build -c release $(SWIFT_BUILD_FLAGS)

# Streams and the engine (bench.sh), small objects (bench_small.sh), a million objects (bench_scale.sh),
# S3 beside the native API (bench_s3.py; make bench-s3 alone).
bench: bench-tools
	BIN=.build/release/appliance bash scripts/bench.sh
	BIN=.build/release/appliance bash scripts/bench_small.sh
	BIN=.build/release/appliance bash scripts/bench_scale.sh
	BIN=.build/release/appliance python3 scripts/bench_s3.py

bench-s3: bench-tools
	BIN=.build/release/appliance python3 scripts/bench_s3.py

bench-scale: bench-tools
	BIN=.build/release/appliance bash scripts/bench_scale.sh

clean:
	rm -rf .build
