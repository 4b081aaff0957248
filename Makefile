# The commands of README.md. Each target installs what it needs first, so each works alone on a
# fresh Debian 12 machine.
BUILD_DIR ?= build
# CI (CI=true) builds with warnings as errors.
PRESET ?= $(if $(CI),ci,dev)
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build test unit integration demo fuzz clean format

all: build

deps:
	@scripts/deps.sh

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then cmake --preset $(PRESET) -DCMAKE_CXX_COMPILER_LAUNCHER=ccache; fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600 $(CTEST_ARGS)

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit $(CTEST_ARGS)

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration $(CTEST_ARGS)

demo: build
	@scripts/demo.sh

# libFuzzer targets, built with clang in build-fuzz; FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh clang-14 libclang-rt-14-dev
	@if [ ! -f build-fuzz/build.ninja ]; then cmake --preset fuzz; fi
	cmake --build build-fuzz --target fuzz_parsers -j $(JOBS)
	mkdir -p build-fuzz/corpus/parsers
	build-fuzz/tests/fuzz/fuzz_parsers -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/parsers

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
