# jobdrop — the two commands are `make run` and `make test`.
SWIFT ?= swift
RELEASE_BIN := .build/release/jobdrop
STORE ?= data/store.sqlite
DEMO_ORDERS ?= 100000

.PHONY: run test build release lint format deps bench fuzz clean deb
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?= -max_total_time=$(FUZZ_SECONDS)
FUZZ_RUNTIME = $(firstword $(wildcard /opt/swift/usr/lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a $(dir $(shell readlink -f $$(which swift)))../lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a))

## Install what is missing, build, create the demo store once, and run the daemon on ./inbox and ./outbox.
run: release
	@mkdir -p inbox outbox data
	$(RELEASE_BIN) demo-data --if-missing --orders $(DEMO_ORDERS) --source sqlite:$(STORE)
	$(RELEASE_BIN) run --source sqlite:$(STORE)

## Install what the tests need, run a bounded, deterministic fuzzing pass, then the whole test suite.
test:
	scripts/install-deps.sh test
	$(MAKE) fuzz FUZZ_ARGS="-seed=1 -runs=300000"
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

build:
	scripts/install-deps.sh build
	$(SWIFT) build

release:
	scripts/install-deps.sh build
	$(SWIFT) build -c release --product jobdrop

## The Debian package in dist/: a release build with the Swift runtime linked in (its own build folder),
## packaged by scripts/build-deb.sh and checked by lintian.
deb:
	scripts/install-deps.sh deb
	$(SWIFT) build -c release --product jobdrop --static-swift-stdlib --scratch-path .build-static
	scripts/build-deb.sh .build-static/release/jobdrop dist
	lintian --fail-on error dist/jobdrop_*_amd64.deb

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

format:
	$(SWIFT) format format --in-place --recursive Package.swift Sources Tests

## Export speed and memory next to the sqlite3 CLI (see README, Performance).
bench: release
	scripts/install-deps.sh bench
	scripts/bench-export.sh
	scripts/bench-instructions.sh .build/release/jobdrop
	scripts/bench-lone-cpu.sh 2 300 .build/release/jobdrop
	scripts/bench-postgres.sh
	scripts/bench-formats.sh
	python3 scripts/bench-live.py
	python3 scripts/bench-daemon.py
	python3 scripts/bench-nodes.py
	python3 scripts/bench-schedules.py
	python3 scripts/bench-large.py
	python3 scripts/bench-delivery.py
	scripts/plot-bench.sh

## libFuzzer (with AddressSanitizer) on the request and filter parsers for FUZZ_SECONDS, from Tests/Corpus.
fuzz:
	scripts/install-deps.sh build
	$(SWIFT) build --product jobdrop-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=address \
	  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table -Xswiftc -DFUZZING \
	  -Xlinker $(FUZZ_RUNTIME) -Xlinker -lstdc++
	mkdir -p .build-fuzz/corpus
	cp -n Tests/Corpus/requests/* Tests/Corpus/filters/* .build-fuzz/corpus/
	.build-fuzz/debug/jobdrop-fuzz $(FUZZ_ARGS) -max_len=65536 -timeout=10 \
	  -artifact_prefix=.build-fuzz/ .build-fuzz/corpus

clean:
	rm -rf .build
