# The commands of README.md. Each target installs what it needs first, so each works alone on a
# fresh Debian 12 machine.
BUILD_DIR ?= build
# CI (CI=true) builds with warnings as errors.
PRESET ?= $(if $(CI),ci,dev)
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build test unit integration soak demo fuzz bench clean format package \
        package-test lint test-asan

all: build

deps:
	@scripts/deps.sh

# ccache comes in through the presets (WEIGHLINK_CCACHE, cmake/WeighlinkOptions.cmake).
configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then cmake --preset $(PRESET); fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test but the soak runs (label soak: minutes each; `make soak`). The unit label includes
# the fuzz targets replaying their seeds and saved crashes (label fuzz-replay).
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600 -LE soak $(CTEST_ARGS)
	@$(MAKE) --no-print-directory package-test

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit $(CTEST_ARGS)

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration $(CTEST_ARGS)

soak: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L soak --timeout 900 $(CTEST_ARGS)

demo: build
	@scripts/demo.sh

# The Debian package (installers/linux, docs/install-linux.md): weighlink_VERSION_ARCH.deb in
# build/package/ from the release build, stripped, with the systemd units and the default
# configuration. package-test builds it from $(BUILD_DIR) and checks it in a clean Debian 12 root
# (debootstrap + chroot: install, files, user, units, systemd-analyze verify, upgrade, purge) and
# runs lintian; make test runs it. It needs root.
PACKAGE_DEPS = debootstrap lintian fakeroot dpkg-dev curl
package: deps
	@scripts/deps.sh $(PACKAGE_DEPS)
	@if [ ! -f build-release/build.ninja ]; then cmake --preset release; fi
	cmake --build build-release --target weighlink-agent weighlink-backend weighlink-scale -j $(JOBS)
	installers/linux/build-deb.sh build-release build/package

package-test: build
	@scripts/deps.sh $(PACKAGE_DEPS)
	installers/linux/package-test.sh $(BUILD_DIR)

# libFuzzer targets, built with clang in build-fuzz (the fuzz preset instruments every library; each
# target links the libraries it fuzzes; the ordinary build replays each target's seeds and the
# crashes saved in tests/fuzz/crashes/<id>/ in `make test`): one per parser (listed in
# build-fuzz/tests/fuzz/targets.txt) plus fuzz_parsers (all parsers at once). Each per-parser target
# runs FUZZ_SECONDS (or FUZZ_RUNS executions), seeded from tests/vectors and encode_frame();
# crashes land in build-fuzz/artifacts/, logs with the execution counts in build-fuzz/fuzz-logs/.
# Then fuzz_truconnect (the browser-facing decoders), fuzz_api (the local API's request intake),
# fuzz_evidence (outbox exports and saved axle sessions), fuzz_dump_archive (backup files, as
# verify-backup reads them) and fuzz_backup_files (manifests, verified-latest, the soft foreign key
# allowlist), seeded from what build-fuzz/tests/fuzz/seeds/<id>.txt lists (tests/fuzz/seeds/<id>/;
# tests/vectors/dumps/ for dump_archive).
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= -1
fuzz:
	@scripts/deps.sh clang-14 libclang-rt-14-dev
	@if [ ! -f build-fuzz/build.ninja ]; then cmake --preset fuzz; fi
	cmake --build build-fuzz --target fuzz_all -j $(JOBS)
	@mkdir -p build-fuzz/artifacts build-fuzz/fuzz-logs
	@while read -r id target; do \
	  corpus=build-fuzz/corpus/$$id; mkdir -p $$corpus; \
	  build-fuzz/tests/fuzz/fuzz_seed $$id tests/vectors $$corpus >/dev/null || exit 1; \
	  log=build-fuzz/fuzz-logs/$$id.log; \
	  if ! build-fuzz/tests/fuzz/$$target -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) \
	      -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$id- $$corpus >$$log 2>&1; then \
	    tail -40 $$log; echo "fuzz $$id: FAILED (log $$log)"; exit 1; fi; \
	  echo "fuzz $$id: $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) executions, ok"; \
	done < build-fuzz/tests/fuzz/targets.txt
	@for id in truconnect api evidence dump_archive backup_files exact_json; do \
	  corpus=build-fuzz/corpus/$$id; mkdir -p $$corpus; \
	  while read -r seed; do \
	    if [ -d "$$seed" ]; then cp -r "$$seed"/. $$corpus/; else cp "$$seed" $$corpus/; fi || exit 1; \
	  done < build-fuzz/tests/fuzz/seeds/$$id.txt; \
	  log=build-fuzz/fuzz-logs/$$id.log; \
	  if ! build-fuzz/tests/fuzz/fuzz_$$id -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) \
	      -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$id- $$corpus >$$log 2>&1; then \
	    tail -40 $$log; echo "fuzz $$id: FAILED (log $$log)"; exit 1; fi; \
	  echo "fuzz $$id: $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) executions, ok"; \
	done

# Decode throughput per protocol against a memchr baseline, then live socket latency (pty byte ->
# WebSocket client) of weighlink-agent against a Node.js relay (skipped without node and npm), then
# the durable outbox (enqueue latency against the disk's fsync, throughput with 1/8/64 producers
# against raw SQLite), then replay (a 100 k backlog drained agent -> backend -> PostgreSQL against
# psql's batched INSERT on the same server; 200 stations x 5 k reconnecting at once), in the
# release build; writes build/bench/decode.json, build/bench/live.json, build/bench/outbox.json
# and build/bench/replay.json (docs/performance.md). BENCH_LIVE_ARGS passes flags to bench_live,
# e.g. "--seconds 5 --clients 1,10"; BENCH_OUTBOX_ARGS to bench_outbox, e.g. "--seconds 5
# --producers 1,8"; BENCH_REPLAY_ARGS to bench_replay, e.g. "--backlog 10000 --stations 20
# --per-station 500"; BENCH_BACKUP_ARGS to bench_backup (backup, verify-backup and restore of a
# ~1 GB database against a bare pg_restore -j2), e.g. "--gb 0.2". Last, bench_summary prints issue
# 21's goal table from those files (each goal against its baseline of the same run), writes
# build/bench/summary.json and appends the run to build/bench/history.jsonl. Not part of
# `make test`: no timing assertions.
BENCH_LIVE_ARGS ?=
BENCH_OUTBOX_ARGS ?=
BENCH_REPLAY_ARGS ?=
BENCH_BACKUP_ARGS ?=
bench: deps
	@if [ ! -f build-release/build.ninja ]; then cmake --preset release; fi
	cmake --build build-release --target bench_decode bench_live bench_outbox bench_replay bench_backup \
		bench_summary -j $(JOBS)
	@mkdir -p build/bench
	build-release/tests/bench/bench_decode --json build/bench/decode.json
	build-release/tests/bench/bench_live --json build/bench/live.json $(BENCH_LIVE_ARGS)
	build-release/tests/bench/bench_outbox --json build/bench/outbox.json $(BENCH_OUTBOX_ARGS)
	build-release/tests/bench/bench_replay --json build/bench/replay.json $(BENCH_REPLAY_ARGS)
	build-release/tests/bench/bench_backup --json build/bench/backup.json $(BENCH_BACKUP_ARGS)
	build-release/tests/bench/bench_summary --dir build/bench \
		--commit "$$(git rev-parse --short HEAD 2>/dev/null)"

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# Everything the tree must pass besides the compiler (scripts/lint.sh): clang-format in check
# mode, clang-tidy-14 (.clang-tidy) over the compile database of $(BUILD_DIR), prettier and eslint
# over the operator page (agent/page/, tools pinned in scripts/lint/). Not part of `make test`.
# Only the generated protobuf headers are built first; TIDY_JOBS sets the parallel clang-tidy runs,
# TIDY_FILES narrows them (a regular expression on the path, e.g. TIDY_FILES=^scale/).
lint: configure
	@scripts/deps.sh clang-format clang-tidy-14 $(if $(shell command -v npm),,nodejs npm)
	cmake --build $(BUILD_DIR) --target weighlink_proto -j $(JOBS)
	scripts/lint.sh $(BUILD_DIR)

# The unit and integration tests built with AddressSanitizer and UndefinedBehaviorSanitizer
# (the asan preset, build-asan/). The first error stops the process that has it; leaks are
# errors. Integration tests start the sanitized binaries too. Slow: a full second build.
ASAN_OPTIONS ?= halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
ASAN_LABELS ?= unit|integration
# Left out under sanitizers: the test that runs the agent out of file descriptors on purpose.
# UBSan's vptr check probes memory through pipe(2); with no descriptor free the probe fails and
# UBSan reports a live object as having an invalid vptr (a false error no suppression can reach).
ASAN_EXCLUDE ?= out of file descriptors
test-asan: deps
	@if [ ! -f build-asan/build.ninja ]; then cmake --preset asan; fi
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=$(ASAN_OPTIONS) UBSAN_OPTIONS=$(UBSAN_OPTIONS) \
	  ctest --output-on-failure -L '$(ASAN_LABELS)' -E '$(ASAN_EXCLUDE)' -j $(JOBS) \
	    --timeout 900 $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR)
