#!/usr/bin/env bash
# scripts/segbench.sh: the segmentation-bug benchmark (bench/README.md,
# "bench_segbench"), both parts, on every corpus/buggy/ script a schedule can
# expose (all but trustlen*, whose bug is in the bytes).
#
#   scripts/segbench.sh [--build DIR] [--fuzz-build DIR] [--seeds N] [--runs R]
#                       [--fuzz-trials K] [--naive-trials K] [--budget S]
#
# 1. DIR/bench/bench_segbench (default build-dev): fray's random portfolio
#    and each family alone, in process, seeds 1..N (default 10), budget R
#    runs (default 200); the fixed twins under every family.
# 2. scripts/time_to_bug.sh with DIR2/fuzz (default build-clang, configured
#    with CC=clang -DFRAY_BUILD_FUZZERS=ON): the libFuzzer session target
#    (fuzz_buggy_*) and the one-read naive target (fuzz_naive_*), K trials
#    (default 3; naive: default 1) of at most S seconds (default 5) each.
#    Skipped, with a note, when DIR2/fuzz has no fuzz_buggy_* binaries.
# Keep it modest on a shared machine: part 2 costs up to
# handlers x (K + K_naive) x S seconds of one core.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-dev fuzz_build=$root/build-clang seeds=10 runs=200 trials=3 naive=1 budget=5
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?}; shift ;;
    --fuzz-build) fuzz_build=${2:?}; shift ;;
    --seeds) seeds=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --fuzz-trials) trials=${2:?}; shift ;;
    --naive-trials) naive=${2:?}; shift ;;
    --budget) budget=${2:?}; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "segbench: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
scripts=()
handlers=""
for s in "$root"/corpus/buggy/*.fray; do
  case $(basename "$s") in trustlen*) continue ;; esac
  scripts+=("$s")
  handlers="$handlers $(sed -n 's/^@handler buggy-//p' "$s")"
done
"$build/bench/bench_segbench" --seeds "$seeds" --runs "$runs" "${scripts[@]}"
echo
if ! ls "$fuzz_build"/fuzz/fuzz_buggy_* >/dev/null 2>&1; then
  echo "segbench: no libFuzzer targets in $fuzz_build/fuzz: the fuzzer part is skipped" >&2
  exit 0
fi
bash "$root/scripts/time_to_bug.sh" --bin-dir "$fuzz_build/fuzz" --fray "$build/fray" \
  --trials "$trials" --naive-trials "$naive" --budget "$budget" --handlers "$handlers"
