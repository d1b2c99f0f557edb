#!/usr/bin/env bash
# bench/fuzz_instr.sh: instructions per fuzz input of the naive one-read run
# and of fray's session with its oracle (bench_fuzz --only, under valgrind's
# callgrind), and their ratio. Instruction counts do not move with the load
# of a shared machine, where bench_fuzz's times drift by several percent
# between runs; they miss what cache misses and mispredictions add, so the
# time ratio stays a little above the instruction ratio.
#
#   bench/fuzz_instr.sh [--bench BENCH_FUZZ] [--handler NAME] [--reps N] FILE|DIR...
#
# BENCH_FUZZ defaults to build-fuzz-speed-bench-plain/bench/bench_fuzz
# (what bench/fuzz_speed.sh builds: Release, clang, no debug info, which this
# valgrind reads more reliably than clang's DWARF 5). Each way runs N passes
# (default 3) over the inputs; the reading of the inputs alone is measured
# too and subtracted.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/build-fuzz-speed-bench-plain/bench/bench_fuzz handler=chat reps=3
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=${2:?}; shift ;;
    --handler) handler=${2:?}; shift ;;
    --reps) reps=${2:?}; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz_instr: unknown argument '$1'" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ $# -gt 0 ] || { echo "fuzz_instr: no inputs (a fuzz corpus directory)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "fuzz_instr: needs valgrind" >&2; exit 2; }
[ -x "$bench" ] || { echo "fuzz_instr: no $bench (run bench/fuzz_speed.sh or build bench_fuzz)" >&2; exit 2; }
n=$("$bench" --handler "$handler" --only load --reps 1 "$@" | grep -oE '[0-9]+ inputs' | grep -oE '[0-9]+')

# instructions WAY: callgrind's instruction count of bench_fuzz --only WAY.
instructions() {
  local way=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bench" --handler "$handler" --only "$way" --reps "$reps" "$@" 2>&1 >/dev/null |
    grep -oE 'refs: +[0-9,]+' | tr -dc 0-9
}
load=$(instructions load "$@")
naive=$(instructions naive "$@")
session=$(instructions session "$@")
awk -v l="$load" -v a="$naive" -v s="$session" -v n="$n" -v r="$reps" -v h="$handler" 'BEGIN {
  printf "fuzz_instr: handler %s, %d inputs, %d passes\n", h, n, r
  printf "  naive    %10.0f instructions/input\n", (a - l) / n / r
  printf "  session  %10.0f instructions/input\n", (s - l) / n / r
  printf "  session/naive %.2fx (goal <= 2.5x)\n", (s - l) / (a - l)
}'
