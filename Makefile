# make serve | make test | make bench | make fuzz — each installs what it needs first.
SHELL := /bin/bash
APT_PACKAGES := libmicrohttpd-dev libsqlite3-dev liburing-dev libgnutls28-dev libcurl4-gnutls-dev
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
SWIFT_BUILD_FLAGS ?=
BIN := .build/debug/appliance

.PHONY: deps system-deps test-system-deps python-deps build serve test lint format test-swift test-contract test-s3 test-tls test-console test-dashboard test-adversarial test-fuzz fuzz fuzz-build fuzz-merge bench bench-tools bench-scale bench-s3 bench-fleet clean

system-deps:
	@if ! pkg-config --exists libmicrohttpd liburing sqlite3 gnutls libcurl 2>/dev/null; then \
		echo "installing $(APT_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) pkg-config; \
	fi

# The tests also trace the server's fsyncs (the catalog's WAL must be synced before a sync PUT is
# answered), and drive the S3 endpoint with real clients (rclone, restic, s3cmd; openssl for TLS),
# and check the Grafana dashboard's queries against a real Prometheus; the fleet's tests start
# real etcd members (Debian's etcd-server; its packaged service is not used).
test-system-deps: system-deps
	@need=""; \
	for tool in strace rclone restic s3cmd openssl prometheus chromium; do command -v $$tool >/dev/null || need="$$need $$tool"; done; \
	command -v chromedriver >/dev/null || need="$$need chromium-driver"; \
	command -v etcd >/dev/null || need="$$need etcd-server"; \
	if [ -n "$$need" ]; then \
		echo "installing$$need"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	fi

python-deps:
	@python3 -c "import schemathesis, prometheus_client, openapi_spec_validator, yaml, boto3, awscrt, selenium" 2>/dev/null && command -v aws >/dev/null || \
		python3 -m pip install -q -r scripts/requirements.txt

deps: system-deps test-system-deps python-deps

build: system-deps
	swift build $(SWIFT_BUILD_FLAGS)

serve: build
	$(BIN) serve --listen $(LISTEN) --data-dir $(DATA_DIR)

# Suites that measure how promptly the server answers under load run alone, after the rest:
# beside the other suites (which run in parallel) on 2 cores they would time the machine, not the server.
ALONE_SUITES := ConnectionLimitTests MixedLoadTests FleetFailoverEndToEndTests

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
	$(SUITE_TIMEOUT) python3 scripts/s3_semantics_test.py --bin $(BIN)
	$(SUITE_TIMEOUT) python3 scripts/s3_versions_test.py --bin $(BIN)

# Both listeners under TLS (--tls auto and --tls-cert/--tls-key): curl, aws cli, boto3 and rclone
# trusting the certificate, TLS 1.0/1.1 refused, a SIGHUP reload under load, start errors.
test-tls: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/tls_test.py --bin $(BIN)

# The web console in a real browser (Debian's chromium through chromium-driver, Selenium from
# pip); screenshots of every page in .build/console-screenshots.
test-console: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/console_test.py --bin $(BIN)

# dashboards/appliance.json: the fields Grafana needs, and every panel's queries against Debian's
# Prometheus scraping the appliance under a small load.
test-dashboard: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/dashboard_test.py --bin $(BIN)

# Hostile requests (overflowing numbers, deep XML, unsigned headers, framing, slow bodies): the
# server stays up, refuses each with the right 4xx and changes nothing.
test-adversarial: build python-deps
	$(SUITE_TIMEOUT) python3 scripts/adversarial_test.py --bin $(BIN)

# The request-parser fuzzer (Sources/FuzzParsers, its harness in Sources/ParserFuzzing): libFuzzer
# with AddressSanitizer, built in its own scratch path. It reads the corpus in the repository
# (Tests/Fuzz/seeds, written by hand, and Tests/Fuzz/corpus, what earlier runs kept) and writes
# nothing there: new inputs go to $(FUZZ_WORK)/new, crashes to $(FUZZ_WORK)/artifacts.
# `make fuzz-merge` then minimizes what was found into Tests/Fuzz/corpus.
FUZZ_SCRATCH := .build-fuzz
FUZZ_BIN := $(FUZZ_SCRATCH)/debug/FuzzParsers
FUZZ_WORK ?= $(FUZZ_SCRATCH)/work
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 60
FUZZ_CORPUS := Tests/Fuzz/corpus Tests/Fuzz/seeds
# The Swift backtracer would hide the crash from libFuzzer (no artifact); see lsan.supp for the leaks let through.
FUZZ_ENV := SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Fuzz/lsan.supp:print_suppressions=0
FUZZ_OPTIONS := -timeout=10 -max_len=16384 -print_final_stats=1

fuzz-build: system-deps
	swift build --scratch-path $(FUZZ_SCRATCH) --product FuzzParsers \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING

fuzz: fuzz-build
	@mkdir -p $(FUZZ_WORK)/new $(FUZZ_WORK)/artifacts Tests/Fuzz/corpus
	$(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_WORK)/new $(FUZZ_CORPUS) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_OPTIONS) \
		-artifact_prefix=$(FUZZ_WORK)/artifacts/

# Keeps in Tests/Fuzz/corpus only the inputs that add coverage beyond the seeds.
fuzz-merge: fuzz-build
	rm -rf $(FUZZ_WORK)/merged && mkdir -p $(FUZZ_WORK)/merged $(FUZZ_WORK)/new Tests/Fuzz/corpus && cp Tests/Fuzz/seeds/* $(FUZZ_WORK)/merged/
	$(FUZZ_ENV) $(FUZZ_BIN) -merge=1 $(FUZZ_WORK)/merged Tests/Fuzz/corpus $(FUZZ_WORK)/new $(FUZZ_OPTIONS)
	cd $(FUZZ_WORK)/merged && rm -f $$(cd $(CURDIR)/Tests/Fuzz/seeds && ls)
	rm -rf Tests/Fuzz/corpus && mv $(FUZZ_WORK)/merged Tests/Fuzz/corpus

# A short run in `make test` (the corpus itself is replayed by CorpusReplayTests in test-swift):
# the instrumented build takes about 70 s from clean on 2 cores, the run FUZZ_TEST_SECONDS. What
# it finds is left in a scratch directory, named in the output.
test-fuzz: fuzz-build
	@work=$$(mktemp -d); mkdir -p $$work/new $$work/artifacts Tests/Fuzz/corpus; echo "fuzzing for $(FUZZ_TEST_SECONDS) s (new inputs and crashes: $$work)"; \
	$(FUZZ_ENV) $(SUITE_TIMEOUT) $(FUZZ_BIN) $$work/new $(FUZZ_CORPUS) -max_total_time=$(FUZZ_TEST_SECONDS) $(FUZZ_OPTIONS) \
		-artifact_prefix=$$work/artifacts/ 2>&1 | grep -v '^#[0-9]'; exit $${PIPESTATUS[0]}

test: deps lint test-swift test-contract test-s3 test-tls test-console test-dashboard test-adversarial test-fuzz

# The code's shape, checked before the tests: `swift format` (the toolchain's; .swift-format has the
# rules, 150 columns) finds nothing to change, and the ownership rules hold (scripts/ownership_figures.sh
# --check: the page cache's lock and its objects' fields are touched only under Engine/PageCache/,
# threads start only through Engine/Threads/). `make format` rewrites the files in place.
FORMAT_PATHS := Sources Tests Package.swift
lint:
	swift format lint --strict -r $(FORMAT_PATHS)
	bash scripts/ownership_figures.sh --check .

format:
	swift format format -i -r $(FORMAT_PATHS)

bench-tools: system-deps python-deps
	@need=""; \
	command -v fio >/dev/null || need="$$need fio"; \
	command -v nginx >/dev/null || need="$$need nginx"; \
	command -v wrk >/dev/null || need="$$need wrk"; \
	command -v curl >/dev/null || need="$$need curl"; \
	command -v etcd >/dev/null || need="$$need etcd-server"; \
	if [ -n "$$need" ]; then \
		echo "installing$$need"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	fi
	swift build -c release $(SWIFT_BUILD_FLAGS)

# Streams and the engine (bench.sh), small objects (bench_small.sh), a million objects (bench_scale.sh),
# S3 beside the native API (bench_s3.py; make bench-s3 alone), HTTPS beside nginx's (bench_tls.sh).
bench: bench-tools
	BIN=.build/release/appliance bash scripts/bench.sh
	BIN=.build/release/appliance bash scripts/bench_small.sh
	BIN=.build/release/appliance bash scripts/bench_scale.sh
	BIN=.build/release/appliance python3 scripts/bench_s3.py
	BIN=.build/release/appliance bash scripts/bench_tls.sh
	BIN=.build/release/appliance bash scripts/bench_fleet.sh

bench-s3: bench-tools
	BIN=.build/release/appliance python3 scripts/bench_s3.py

bench-fleet: bench-tools
	BIN=.build/release/appliance bash scripts/bench_fleet.sh

bench-scale: bench-tools
	BIN=.build/release/appliance bash scripts/bench_scale.sh

clean:
	rm -rf .build $(FUZZ_SCRATCH)
