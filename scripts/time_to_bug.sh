#!/usr/bin/env bash
# scripts/time_to_bug.sh: median time-to-bug of each buggy handler, for
# fray's session target (fuzz_buggy_*) and for a naive one-read target
# (fuzz_naive_*), same seeds, same budget, same libFuzzer flags.
#
#   scripts/time_to_bug.sh [--bin-dir DIR] [--fray FRAY] [--trials K] [--budget S]
#                          [--handlers "NAME..."] [--naive-trials K]
#
# DIR holds the libFuzzer binaries (default build-fuzz-libfuzzer/fuzz, built
# by scripts/fuzz.sh); FRAY the fray command (for seeds: corpus/buggy/*.fray
# through fuzz-encode). Each target runs K times (-seed=1..K, default 5) for
# at most S seconds (default 10); a run that finds nothing counts as
# "> S s". --handlers names the buggy handlers without "buggy-" (default:
# the six first ones); --naive-trials runs the naive targets fewer times (the
# floor: they mostly find nothing, so each run costs the whole budget).
# Prints a table of medians: wall time on this machine, and libFuzzer's
# executed inputs to the crash (its -print_final_stats).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bindir=$root/build-fuzz-libfuzzer/fuzz fray=$root/build/fray trials=5 budget=10
handlers="oneread splitdelim stackbuf modeswitch trustlen closedbcast" naive_trials=
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bindir=${2:?}; shift ;;
    --fray) fray=${2:?}; shift ;;
    --trials) trials=${2:?}; shift ;;
    --budget) budget=${2:?}; shift ;;
    --handlers) handlers=${2:?}; shift ;;
    --naive-trials) naive_trials=${2:?}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "time_to_bug: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
bindir=$(cd "$bindir" && pwd)
naive_trials=${naive_trials:-$trials}
case $fray in /*) ;; *) fray=$PWD/$fray ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median of the numbers on stdin ("inf" sorts last)
median() { sort -g | awk '{v[NR]=$1} END{m=v[int((NR+1)/2)]; print m}'; }

# one_run BIN SEED SEEDDIR: "SECONDS EXECS" to the first crash, or "inf inf"
one_run() {
  local bin=$1 seed=$2 seeds=$3 out=$work/run
  rm -rf "$out"; mkdir -p "$out/corpus"
  local t0 t1 rc
  t0=$(date +%s.%N)
  set +e
  (cd "$out" && "$bin" -seed="$seed" -max_total_time="$budget" -max_len=4096 \
     -malloc_limit_mb=64 -print_final_stats=1 corpus "$seeds" >log 2>&1)
  rc=$?
  set -e
  t1=$(date +%s.%N)
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    awk -v a="$t0" -v b="$t1" -v n="${execs:-?}" 'BEGIN{printf "%.2f %s\n", b-a, n}'
  else
    echo inf inf
  fi
}

# cell LINES: "MEDIAN_SECONDS s (MEDIAN_EXECS)" of one_run lines on stdin
cell() {
  local runs t n
  runs=$(cat)
  t=$(printf '%s\n' "$runs" | cut -d' ' -f1 | median)
  n=$(printf '%s\n' "$runs" | cut -d' ' -f2 | median)
  if [ "$t" = inf ]; then echo "> ${budget} s"; else echo "$t s ($n)"; fi
}

printf '%-12s %24s %24s   (median of %d and %d runs, budget %ss each; (N): inputs executed)\n' \
  handler "fray target" "naive target" "$trials" "$naive_trials" "$budget"
for b in $handlers; do
  seeds=$work/seeds-$b
  mkdir -p "$seeds"
  "$fray" fuzz-encode --lossy "$root/corpus/buggy/$b"*.fray > "$seeds/seed0"
  res=()
  for kind in buggy naive; do
    bin=$bindir/fuzz_${kind}_$b
    [ -x "$bin" ] || { echo "time_to_bug: missing $bin (build with FRAY_BUILD_FUZZERS=ON)" >&2; exit 2; }
    k=$trials
    [ $kind = naive ] && k=$naive_trials
    res+=("$(for s in $(seq 1 "$k"); do one_run "$bin" "$s" "$seeds"; done | cell)")
  done
  printf '%-12s %24s %24s\n' "$b" "${res[0]}" "${res[1]}"
done
