#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted by the repository's .clang-format (clang-format 14, Debian's
# clang-format package, which scripts/setup.sh installs). Prints the files that are not and exits 1; `clang-format
# -i FILE` fixes one. Run from anywhere; CTest runs it as check_format.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format is not installed (scripts/setup.sh)"; exit 1; }
bad=0
total=0
while IFS= read -r f; do
  total=$((total + 1))
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (clang-format -i $f)"
    bad=$((bad + 1))
  fi
done < <(git ls-files '*.cpp' '*.hpp' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]pp')
echo "check_format: $((total - bad)) of $total files formatted by .clang-format"
[ "$bad" -eq 0 ]
