#!/usr/bin/env bash
# bench/fuzz_speed.sh: execs/s of fray's fuzz targets under libFuzzer for a
# fixed -runs, without and with ASan+UBSan, against the bare framer target
# (targets/fuzz_bare_framer.c) measured in the same run, with the ratio.
# Goals: the chat target, split-invariance oracle included, keeps >= 0.40
# of the execs/s of naive_chat (the same handler fuzzed in one read with no
# oracle) plain and >= 0.33 under ASan. Also printed: chat against the bare
# framer target (an earlier yardstick, >= 1/3, out of reach: naive_chat
# itself stands near 0.3 of it).
#
#   bench/fuzz_speed.sh [--runs N] [--repeat K] [--targets "chat echo ..."] [--fray FRAY]
#
# --repeat K (default 3) runs every target K times, the targets taking
# turns, and prints median execs/s and the median of the K per-round ratios:
# on a shared machine one round's ratio can be off by 2x.
# Builds build-fuzz-speed-{plain,asan}/ with clang (FRAY_BUILD_FUZZERS=ON).
# All targets start from the same seeds (the chat corpus as fuzz inputs), so
# they chew on the same bytes; libFuzzer -seed=1, -max_len=4096. bare_framer
# is built like the handler targets (the framer with edge coverage only, see
# targets/CMakeLists.txt), so the ratio compares the same framer code.
# Then, without libFuzzer, plain and under ASan+UBSan: bench_fuzz
# (bench/bench_fuzz.c) on the corpus the plain chat run grew, the time and
# allocations per input of the bare framer, of a naive one-read chat run and
# of fray's session driver, so what the session and its oracle cost is seen
# apart from the engine's own work per input (goal: session <= 2.5x naive).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=100000 repeat=3 targets="bare_framer naive_chat chat echo http resp lenrpc framer script outq" fray=""
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?}; shift ;;
    --repeat) repeat=${2:?}; shift ;;
    --targets) targets=${2:?}; shift ;;
    --fray) fray=${2:?}; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz_speed: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
command -v clang >/dev/null || { echo "fuzz_speed: needs clang (scripts/deps.sh)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for kind in plain asan; do
  san=OFF; [ $kind = asan ] && san=ON
  cmake -S "$root" -B "$root/build-fuzz-speed-$kind" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Release -DFRAY_BUILD_FUZZERS=ON -DFRAY_FUZZ_SANITIZE=$san \
    -DFRAY_BUILD_TESTS=OFF -DFRAY_BUILD_BENCH=OFF >/dev/null
  cmake --build "$root/build-fuzz-speed-$kind" -j2 $(for t in $targets; do echo --target fuzz_$t; done) \
    --target fray_cli >/dev/null
done
[ -n "$fray" ] || fray=$root/build-fuzz-speed-plain/fray
mkdir -p "$work/seeds"
i=0
for s in "$root"/corpus/chat/*.fray; do
  "$fray" fuzz-encode --lossy "$s" > "$work/seeds/s$i" 2>/dev/null || true
  i=$((i + 1))
done

# execs/s of one target: executed units over wall time. The corpus it grew
# stays in $work/out-<name>.
rate() {
  local bin=$1 out=$work/out-$(basename "$1")-$2
  rm -rf "$out"; mkdir -p "$out"
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$work" && "$bin" -runs="$runs" -seed=1 -max_len=4096 -print_final_stats=1 "$out" "$work/seeds" \
     > "$work/log" 2>&1) || { echo "fuzz_speed: $bin crashed; see its log" >&2; tail -5 "$work/log" >&2; echo 0; return; }
  t1=$(date +%s.%N)
  local n
  n=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$work/log" | grep -oE '[0-9]+$')
  awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f\n", n/(b-a)}'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
# ratio_line NAME NUM DEN KIND GOAL: the median over rounds of NUM/DEN.
ratio_line() {
  local q="" i
  for i in $(seq 1 "$repeat"); do
    q="$q $(awk -v c="${r[$2.$4.$i]:-0}" -v b="${r[$3.$4.$i]:-0}" 'BEGIN{printf "%.4f", b ? c/b : 0}')"
  done
  awk -v x="$(echo "$q" | median)" -v n="$1" -v k="$4" -v g="$5" -v all="$q" \
    'BEGIN{printf "%s (%s): %.2f   goal >= %s %s   (rounds:%s)\n", n, k, x, g, (x >= g ? "PASS" : "MISS"), all}'
}

declare -A r
for i in $(seq 1 "$repeat"); do
  for t in $targets; do
    for kind in plain asan; do
      r[$t.$kind.$i]=$(rate "$root/build-fuzz-speed-$kind/fuzz/fuzz_$t" $kind)
    done
  done
done
printf '%-14s %14s %14s   (median of %d rounds)\n' target "plain exec/s" "asan exec/s" "$repeat"
for t in $targets; do
  for kind in plain asan; do
    r[$t.$kind]=$(for i in $(seq 1 "$repeat"); do echo "${r[$t.$kind.$i]}"; done | median)
  done
  printf '%-14s %14s %14s\n' "$t" "${r[$t.plain]}" "${r[$t.asan]}"
done
for kind in plain asan; do
  [ -z "${r[bare_framer.$kind]:-}" ] || ratio_line chat/bare_framer chat bare_framer $kind 0.33
  # The handler's own work as the baseline: what the session and its
  # oracle (two runs, cuts, merges, comparison) cost over one plain read.
  [ -z "${r[naive_chat.$kind]:-}" ] ||
    ratio_line chat/naive_chat chat naive_chat $kind "$([ $kind = plain ] && echo 0.40 || echo 0.33)"
done

# The same inputs without libFuzzer: where the session's time goes, plain
# and under ASan+UBSan.
if [ -d "$work/out-fuzz_chat-plain" ]; then
  for kind in plain asan; do
    san=OFF; [ $kind = asan ] && san=ON
    cmake -S "$root" -B "$root/build-fuzz-speed-bench-$kind" -DCMAKE_C_COMPILER=clang \
      -DCMAKE_BUILD_TYPE=Release -DFRAY_ENABLE_ASAN=$san -DFRAY_ENABLE_UBSAN=$san \
      -DFRAY_BUILD_BENCH=ON -DFRAY_BUILD_TESTS=OFF >/dev/null
    cmake --build "$root/build-fuzz-speed-bench-$kind" -j2 --target bench_fuzz >/dev/null
    echo "($kind)"
    "$root/build-fuzz-speed-bench-$kind/bench/bench_fuzz" --handler chat "$work/out-fuzz_chat-plain"
  done
fi
