# linflow: the two commands a fresh machine needs are `make run` and `make test`.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

.PHONY: all setup configure build run test asan fuzz bench clean

all: build

setup:
	@scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) > $(BUILD).configure.log || (cat $(BUILD).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# Only what the demo needs: the CLI and the library, and the Python module `import linflow` (python/; the tests and
# benchmarks are built by `make test`, `make bench`).
run: configure
	@cmake --build $(BUILD) -j $(JOBS) --target linflow_cli _linflow
	$(BUILD)/linflow demo --out out/demo
	$(BUILD)/linflow plot out/demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (what CI runs after `make test`).
asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_FLAGS="-DLINFLOW_SANITIZE=ON -DLINFLOW_BUILD_BENCHMARKS=OFF -DLINFLOW_BLAS=OFF"

# libFuzzer harnesses of the input readers (fuzz/), FUZZ_SECONDS each, under ASan + UBSan in build-fuzz/ (clang).
FUZZ_SECONDS ?= 60
fuzz: setup
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# Benchmarks: Google Benchmark tables, then the peer benchmark (scipy, PyTorch; bench/run_peers), whose extra
# packages (SciPy, PyTorch, OpenBLAS) scripts/setup_bench.sh installs. LINFLOW_PEERS=0 skips the peers;
# LINFLOW_PLATEAU=0 skips the plateau suite (bench/plateau.py), LINFLOW_PLATEAU_QUICK=1 runs its short version.
bench: build
	@scripts/setup_bench.sh
	bench/run $(BUILD)

clean:
	rm -rf build build-asan build-fuzz build.configure.log build-asan.configure.log build-fuzz.configure.log
