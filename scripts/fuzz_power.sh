#!/usr/bin/env bash
# scripts/fuzz_power.sh: fray's proof of power, one buggy handler at a time.
#
#   scripts/fuzz_power.sh --fray FRAY --bin-dir DIR --buggy NAME --good NAME [--runs N]
#
# Either part may be given alone (a good handler shared by several buggy
# ones is checked once).
#
# Runs fuzz_buggy_NAME (libFuzzer, built with FRAY_BUILD_FUZZERS=ON) for a
# fixed -runs budget from seeds encoded out of corpus/buggy/NAME.fray, and
# requires it to find the bug (a crash: the split-invariance report, a
# sanitizer report, or libFuzzer's malloc limit); then runs fuzz_GOOD, the
# correct handler, for the same budget from its own corpus and requires it
# to stay clean. Exit 0 when both hold, 1 otherwise, 2 on usage errors.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fray="" bindir="" buggy="" good="" runs=200000
while [ $# -gt 0 ]; do
  case $1 in
    --fray) fray=${2:?}; shift ;;
    --bin-dir) bindir=${2:?}; shift ;;
    --buggy) buggy=${2:?}; shift ;;
    --good) good=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz_power: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$fray" ] && [ -n "$bindir" ] && { [ -n "$buggy" ] || [ -n "$good" ]; } || {
  echo "fuzz_power: --fray, --bin-dir and --buggy and/or --good are required" >&2; exit 2; }

# libFuzzer writes crash files into the current directory: run it in a
# scratch one, with absolute paths.
bindir=$(cd "$bindir" && pwd)
case $fray in /*) ;; *) fray=$PWD/$fray ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The same limits for both: a handler trusting a length field must not get
# away with a 4 GiB malloc because the budget allowed it.
flags=(-runs="$runs" -seed=1 -max_len=4096 -malloc_limit_mb=64 -rss_limit_mb=2048
       -print_final_stats=1)

seeds() { # seeds DIR SCRIPT...: encodes scripts as seeds
  local dir=$1; shift
  mkdir -p "$dir"
  local i=0 s
  for s in "$@"; do
    "$fray" fuzz-encode --lossy "$s" > "$dir/seed$i" 2>/dev/null || rm -f "$dir/seed$i"
    i=$((i + 1))
  done
}

if [ -n "$buggy" ]; then
seeds "$work/buggy-seeds" "$root/corpus/buggy/$buggy"*.fray
mkdir -p "$work/buggy-out"
set +e
(cd "$work" && "$bindir/fuzz_buggy_$buggy" "${flags[@]}" "$work/buggy-out" "$work/buggy-seeds") \
  > "$work/buggy.log" 2>&1
rc=$?
set -e
if [ $rc -eq 0 ] || ! grep -qE 'fray fuzz:|ERROR: (AddressSanitizer|LeakSanitizer)|runtime error|out-of-memory|malloc\(' "$work/buggy.log"; then
  tail -20 "$work/buggy.log" >&2
  echo "fuzz_power: FAIL: fuzz_buggy_$buggy found nothing in $runs runs" >&2
  exit 1
fi
found=$(grep -m1 -E 'fray fuzz:|ERROR:|runtime error|out-of-memory' "$work/buggy.log")
echo "fuzz_power: fuzz_buggy_$buggy found its bug: $found"
fi
[ -n "$good" ] || exit 0

seeds "$work/good-seeds" "$root/corpus/$good/"*.fray
mkdir -p "$work/good-out"
set +e
(cd "$work" && "$bindir/fuzz_$good" "${flags[@]}" "$work/good-out" "$work/good-seeds") \
  > "$work/good.log" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
  tail -30 "$work/good.log" >&2
  echo "fuzz_power: FAIL: the correct handler '$good' crashed within the same budget" >&2
  exit 1
fi
echo "fuzz_power: fuzz_$good stayed clean for $runs runs"
