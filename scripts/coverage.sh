#!/usr/bin/env bash
# scripts/coverage.sh: an llvm-cov HTML report of what a corpus exercises.
#
#   scripts/coverage.sh TARGET [CORPUS_DIR...] [--out DIR] [--build-dir DIR]
#
# Builds the target with clang source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping, standalone replay main, no
# sanitizers) in build-fuzz-coverage/ (or --build-dir), replays the corpus (default: the
# committed seeds, the regressions and build-fuzz-out/TARGET/corpus when present),
# merges the profiles with llvm-profdata and writes the report to --out
# (default build-fuzz-out/TARGET/coverage/index.html). A summary of libfray's files
# is printed. Needs clang, llvm-profdata and llvm-cov (package llvm).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "coverage: $*" >&2; exit 2; }
target="" out="" dirs=() b=$root/build-fuzz-coverage
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?}; shift ;;
    --build-dir) b=${2:?}; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1'" ;;
    *) if [ -z "$target" ]; then target=${1#fuzz_}; else dirs+=("$1"); fi ;;
  esac
  shift
done
[ -n "$target" ] || die "usage: coverage.sh TARGET [CORPUS_DIR...] [--out DIR]"
for t in llvm-profdata llvm-cov clang; do command -v $t >/dev/null || die "$t not found (apt-get install llvm clang)"; done
if [ ${#dirs[@]} -eq 0 ]; then
  dirs=("$root/corpus/fuzz_$target/seeds")
  [ -d "$root/corpus/regressions/fuzz_$target" ] && dirs+=("$root/corpus/regressions/fuzz_$target")
  [ -d "${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target/corpus" ] && dirs+=("${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target/corpus")
fi
out=${out:-${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target/coverage}
flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S "$root" -B "$b" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DFRAY_BUILD_FUZZERS=ON \
  -DFRAY_FUZZ_ENGINE=standalone -DFRAY_FUZZ_SANITIZE=OFF -DFRAY_BUILD_TESTS=OFF -DFRAY_BUILD_BENCH=OFF \
  -DFRAY_BUILD_CLI=OFF -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$b" -j2 --target "fuzz_$target" >/dev/null
bin=$b/fuzz/fuzz_$target
prof=$(mktemp -d)
# One profile per process; %p keeps them apart. A crashing input stops the
# replay of its directory: the report then shows what ran before it.
for d in "${dirs[@]}"; do
  LLVM_PROFILE_FILE="$prof/%p.profraw" "$bin" "$d" >/dev/null 2>&1 || echo "coverage: replay of $d stopped early (a crash?)" >&2
done
llvm-profdata merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata"
rm -rf "$out"
llvm-cov show "$bin" -instr-profile="$prof/merged.profdata" -format=html -output-dir="$out" \
  -show-line-counts-or-regions "$root/harness/src" "$root/targets"
llvm-cov report "$bin" -instr-profile="$prof/merged.profdata" "$root/harness/src" | tail -n 20
rm -rf "$prof"
echo "coverage: $out/index.html"
