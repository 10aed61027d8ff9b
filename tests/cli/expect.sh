#!/usr/bin/env bash
# expect.sh RC REGEX COMMAND [ARGS...]
# Runs COMMAND and checks that it exits with RC. For RC ≠ 0, also checks that stderr is exactly one line and that
# it matches the extended regular expression REGEX; for RC = 0, REGEX must match stdout (use '' to skip).
set -u
rc_expected=$1 regex=$2
shift 2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$@" >"$out" 2>"$err" </dev/null
rc=$?
if [ "$rc" -ne "$rc_expected" ]; then
  echo "expected exit code $rc_expected, got $rc from: $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"
  exit 1
fi
if [ "$rc_expected" -ne 0 ]; then
  lines=$(wc -l <"$err")
  if [ "$lines" -ne 1 ]; then echo "expected one line on stderr, got $lines:"; cat "$err"; exit 1; fi
  if ! grep -Eq -- "$regex" "$err"; then echo "stderr does not match /$regex/:"; cat "$err"; exit 1; fi
elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$out"; then
  echo "stdout does not match /$regex/:"; cat "$out"; exit 1
fi
exit 0
