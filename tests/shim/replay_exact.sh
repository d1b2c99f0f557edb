#!/usr/bin/env bash
# tests/shim/replay_exact.sh: `fray replay --exec` that must pass with every
# run exact. fray counts an inexact run (the server read other pieces than
# scheduled) apart and gives it no verdict, so a passing exit status alone
# would let a server that fray cannot drive exactly pass untested: this
# also reads the --json report and fails on any inexact run, or when fewer
# runs than MIN were made. On a passing replay fray's stderr holds only its
# own notes, each starting "fray replay: " (the server's output goes to its
# log): any other line there fails the test too.
#
#   replay_exact.sh FRAY NEED MIN REPLAY-ARGS...
#
# NEED: a program that must be installed (exit 77, ctest's SKIP_RETURN_CODE,
# when it is not), or "-". MIN: the least number of runs in all.
set -u
fray=$1 need=$2 min=$3
shift 3
if [ "$need" != - ] && ! command -v "$need" >/dev/null 2>&1; then
  echo "SKIP: $need is not installed"
  exit 77
fi
errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
out=$("$fray" replay --json "$@" 2>"$errf")
rc=$?
printf '%s\n' "$out"
cat "$errf" >&2
[ "$rc" = 0 ] || { echo "replay_exact.sh: fray replay exited $rc" >&2; exit 1; }
bad=$(printf '%s\n' "$out" | grep -o '"inexact_runs":[0-9]*' | grep -v ':0$')
[ -z "$bad" ] || { echo "replay_exact.sh: inexact runs: $bad" >&2; exit 1; }
stray=$(grep -v '^fray replay: ' "$errf" | head -3)
[ -z "$stray" ] || { echo "replay_exact.sh: stray lines on fray's stderr: $stray" >&2; exit 1; }
runs=$(printf '%s\n' "$out" | grep '"summary":true' | grep -o '"runs":[0-9]*' | cut -d: -f2)
[ "${runs:-0}" -ge "$min" ] || { echo "replay_exact.sh: only ${runs:-0} runs (want >= $min)" >&2; exit 1; }
echo "replay_exact.sh: $runs runs, every one exact"
