#!/usr/bin/env bash
# scripts/minimize.sh: shrinks a corpus to the inputs that add coverage.
#
#   scripts/minimize.sh TARGET [--engine libfuzzer|afl] [--in DIR]... [--out DIR] [--bin PATH]
#
# libFuzzer (default): `-merge=1` of every --in directory (default:
#   build-fuzz-out/TARGET/corpus and the committed seeds) into --out (default
#   build-fuzz-out/TARGET/corpus.min, emptied first). Inputs that crash are skipped
#   by the merge; reproduce them with the binary.
# AFL++: afl-cmin over the inputs, with the AFL build (build-fuzz-afl).
# The binary is built as scripts/fuzz.sh builds it unless --bin is given.
# To refresh committed seeds, prefer scripts/seeds.sh: seeds stay small and
# traceable; a minimised fuzzing corpus belongs in build-fuzz-out/ or a shared
# store, not in the repository.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "minimize: $*" >&2; exit 2; }
target="" engine=libfuzzer out="" bin="" ins=()
while [ $# -gt 0 ]; do
  case $1 in
    --engine) engine=${2:?}; shift ;;
    --in) ins+=("${2:?}"); shift ;;
    --out) out=${2:?}; shift ;;
    --bin) bin=${2:?}; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1'" ;;
    *) target=${1#fuzz_} ;;
  esac
  shift
done
[ -n "$target" ] || die "usage: minimize.sh TARGET [--engine libfuzzer|afl] [--in DIR]... [--out DIR]"
if [ ${#ins[@]} -eq 0 ]; then
  [ -d "${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target/corpus" ] && ins+=("${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target/corpus")
  ins+=("$root/corpus/fuzz_$target/seeds")
fi
out=${out:-${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target/corpus.min}
if [ -z "$bin" ]; then
  # Build only: a 0-second run through fuzz.sh would also start the engine.
  cc=clang; [ "$engine" = afl ] && cc=afl-clang-fast
  b=$root/build-fuzz-$engine
  cmake -S "$root" -B "$b" -DCMAKE_C_COMPILER=$cc -DFRAY_BUILD_FUZZERS=ON -DFRAY_FUZZ_ENGINE=$engine \
    -DFRAY_BUILD_TESTS=OFF -DFRAY_BUILD_BENCH=OFF -DFRAY_BUILD_CLI=OFF >/dev/null
  AFL_QUIET=1 cmake --build "$b" -j2 --target "fuzz_$target" >/dev/null
  bin=$b/fuzz/fuzz_$target
fi
rm -rf "$out" && mkdir -p "$out"
# What went in and what came out: files and bytes.
count() { find "$@" -maxdepth 1 -type f 2>/dev/null | wc -l; }
size() { find "$@" -maxdepth 1 -type f -exec cat {} + 2>/dev/null | wc -c; }
n_before=$(count "${ins[@]}") before=$(size "${ins[@]}")
[ "$n_before" -gt 0 ] || die "no inputs in ${ins[*]}"
if [ "$engine" = afl ]; then
  all=$(mktemp -d)
  for d in "${ins[@]}"; do cp "$d"/* "$all"/ 2>/dev/null || true; done
  AFL_SKIP_CPUFREQ=1 afl-cmin -i "$all" -o "$out" -- "$bin"
  rm -rf "$all"
else
  "$bin" -merge=1 "$out" "${ins[@]}" 2>&1 | grep -E '^MERGE-OUTER: (the control file|[0-9]+ new files)' || true
fi
n_after=$(count "$out")
echo "minimize: $n_before inputs ($before bytes) -> $n_after inputs ($(size "$out") bytes) in $out"
[ "$n_after" -gt 0 ] || die "the merge kept nothing (did every input crash? replay them with $bin)"
