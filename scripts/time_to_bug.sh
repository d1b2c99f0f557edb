#!/usr/bin/env bash
# scripts/time_to_bug.sh: median time-to-bug of each buggy handler, for
# fray's session target (fuzz_buggy_*) and for a naive one-read target
# (fuzz_naive_*), same seeds, same budget, same libFuzzer flags.
#
#   scripts/time_to_bug.sh [--bin-dir DIR] [--fray FRAY] [--trials K] [--budget S]
#
# DIR holds the libFuzzer binaries (default build-fuzz-libfuzzer/fuzz, built
# by scripts/fuzz.sh); FRAY the fray command (for seeds: corpus/buggy/*.fray
# through fuzz-encode). Each target runs K times (-seed=1..K, default 5) for
# at most S seconds (default 10); a run that finds nothing counts as
# "> S s". Prints a table of medians; time is wall clock on this machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bindir=$root/build-fuzz-libfuzzer/fuzz fray=$root/build/fray trials=5 budget=10
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bindir=${2:?}; shift ;;
    --fray) fray=${2:?}; shift ;;
    --trials) trials=${2:?}; shift ;;
    --budget) budget=${2:?}; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "time_to_bug: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
bindir=$(cd "$bindir" && pwd)
case $fray in /*) ;; *) fray=$PWD/$fray ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median of the numbers on stdin ("inf" sorts last)
median() { sort -g | awk '{v[NR]=$1} END{m=v[int((NR+1)/2)]; print m}'; }

# one_run BIN SEED SEEDDIR: seconds to the first crash, or inf
one_run() {
  local bin=$1 seed=$2 seeds=$3 out=$work/run
  rm -rf "$out"; mkdir -p "$out/corpus"
  local t0 t1 rc
  t0=$(date +%s.%N)
  set +e
  (cd "$out" && "$bin" -seed="$seed" -max_total_time="$budget" -max_len=4096 \
     -malloc_limit_mb=64 corpus "$seeds" >log 2>&1)
  rc=$?
  set -e
  t1=$(date +%s.%N)
  if [ $rc -ne 0 ]; then awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f\n", b-a}'; else echo inf; fi
}

printf '%-12s %18s %18s   (median of %d runs, budget %ss each)\n' handler "fray target" "naive target" "$trials" "$budget"
for b in oneread splitdelim stackbuf modeswitch trustlen closedbcast; do
  seeds=$work/seeds-$b
  mkdir -p "$seeds"
  "$fray" fuzz-encode --lossy "$root/corpus/buggy/$b"*.fray > "$seeds/seed0"
  res=()
  for kind in buggy naive; do
    bin=$bindir/fuzz_${kind}_$b
    [ -x "$bin" ] || { echo "time_to_bug: missing $bin (build with FRAY_BUILD_FUZZERS=ON)" >&2; exit 2; }
    m=$(for s in $(seq 1 "$trials"); do one_run "$bin" "$s" "$seeds"; done | median)
    [ "$m" = inf ] && m="> ${budget}" || m="$m"
    res+=("$m s")
  done
  printf '%-12s %18s %18s\n' "$b" "${res[0]}" "${res[1]}"
done
