#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ (clang, ASan + UBSan, in build-fuzz/) and runs each for SECONDS (default 60)
# from its seed corpus fuzz/corpus/<harness>/. Fails on any finding: a crash, a sanitizer report, an exception other
# than InputError, a leak, a unit slower than 10 s or an allocation beyond 2 GB; the input is then in
# build-fuzz/findings/<harness>/ (make it a regression test and a corpus file). New inputs the fuzzer finds go to
# build-fuzz/corpus/<harness>/, not into the repository.
#   usage: scripts/fuzz.sh [SECONDS] [HARNESS ...]     harnesses: npy npz csv config sweep checkpoint (default: all)
#   e.g.   scripts/fuzz.sh 3600 config                 an hour on the configuration reader
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(npy npz csv config sweep checkpoint)
build=${FUZZ_BUILD:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed (scripts/setup.sh)"; exit 1; }

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLINFLOW_FUZZ=ON \
  -DLINFLOW_BUILD_TESTS=OFF -DLINFLOW_BUILD_BENCHMARKS=OFF -DLINFLOW_BUILD_CLI=OFF -DLINFLOW_INSTALL=OFF \
  -DLINFLOW_BLAS=OFF -DLINFLOW_LIBXSMM=OFF -DLINFLOW_WITH_MPI=OFF "${launcher[@]}" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "fuzz_$h"); done
cmake --build "$build" -j "${JOBS:-2}" "${targets[@]}"

failed=0
for h in "${harnesses[@]}"; do
  corpus="$build/corpus/$h" findings="$build/findings/$h" log="$build/fuzz_$h.log"
  mkdir -p "$corpus" "$findings"
  if "$build/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "fuzz/corpus/$h" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $h: ok, $execs inputs in $seconds s (coverage $cov edges, corpus $(ls "$corpus" | wc -l) + $(ls "fuzz/corpus/$h" | wc -l) seeds)"
  else
    failed=1
    echo "fuzz $h: FINDING (log: $log, input: $(ls -t "$findings" | head -1 | sed "s|^|$findings/|"))"
    grep -E "ERROR|SUMMARY|runtime error|terminate|what\(\)" "$log" | head -5
  fi
done
exit $failed
