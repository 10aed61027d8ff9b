#!/usr/bin/env bash
# clang-tidy (Debian's clang-tidy 14) with the repository's .clang-tidy over the library, the CLI, the tests and the Python bindings (src/, tests/, python/src/),
# using BUILD/compile_commands.json (default build/, configured by `make build`). Every enabled check is an error.
# About 6 minutes on 2 cores; .ci/run runs it after the suite.  usage: scripts/check_tidy.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "check_tidy: $build/compile_commands.json missing (make build)"; exit 1; }
command -v run-clang-tidy >/dev/null || { echo "check_tidy: run-clang-tidy is not installed (scripts/setup.sh)"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# linflow's own sources only, not the generated build files or third-party code.
if run-clang-tidy -p "$build" -quiet -j "${JOBS:-2}" "$(pwd)/(src|tests|python/src)/" >"$log" 2>&1; then
  echo "check_tidy: clean"
else
  grep -E "(warning|error):" "$log" | sort -u
  echo "check_tidy: findings above"
  exit 1
fi
