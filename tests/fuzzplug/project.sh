#!/usr/bin/env bash
# fuzzplug.cmake_function[_afl]: installs this fray build into a scratch prefix,
# builds project/ (a user's project) against it with fray_add_fuzz_target(),
# and runs its two targets for a bounded number of runs: the handler with
# the planted read-boundary bug must be found (libFuzzer stops on the
# finding, whose report is the session oracle's), its correct twin must run
# its whole budget clean.
#   project.sh BUILD_DIR WORK_DIR CC SKIP_REASON [libfuzzer|afl]
# With afl, CC is afl-clang-fast and afl-fuzz runs the targets (ENGINE afl,
# the default of fray_add_fuzz_target() under that compiler).
# Exit 77 (ctest: skipped) with the reason when the engine is missing.
set -u
build=$1 work=$2 clang=$3 skip=$4 engine=${5:-libfuzzer}
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "$skip" ]; then
  echo "SKIP: $skip"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
unset CMAKE_PREFIX_PATH PKG_CONFIG_PATH LD_LIBRARY_PATH
step() { echo "== $*"; }
fail() { echo "FAIL: $*"; exit 1; }

step "install into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install"; }
step "configure the user's project with $clang"
cmake -S "$here/project" -B "$work/b" -DCMAKE_C_COMPILER="$clang" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configure"; }
step "build"
cmake --build "$work/b" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
grep -q '"PING"' "$work/b/fuzz_kv.fuzz/fuzz.dict" || fail "no mined dictionary"
ls "$work/b/fuzz_kv.fuzz/seeds/"*.bin >/dev/null || fail "no seeds"

# libfuzzer TARGET RUNS / afl TARGET SECONDS: the engine over the target's
# seeds, bounded; fails when the target reports a finding.
libfuzzer() {
  local t=$1 d="$work/b/$1.fuzz"
  mkdir -p "$d/corpus"
  (cd "$d" && "$work/b/$t" -runs="$2" -max_total_time=60 -dict=fuzz.dict \
    -artifact_prefix="$d/" corpus seeds) >"$work/$t.log" 2>&1
}
afl() {
  local t=$1 d="$work/b/$1.fuzz"
  # Stop at the first crash; VMs lack cpufreq; a piped core_pattern is not ours to fix.
  # afl-fuzz refuses sanitizer options that do not abort (ci/test.sh exports
  # its own for the ASan stage): give it the ones it needs.
  (cd "$d" && AFL_BENCH_UNTIL_CRASH=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=0 \
    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1 \
    AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 timeout 120 afl-fuzz -i seeds -o afl -x fuzz.dict \
    -V "$2" -- "$work/b/$t") >"$work/$t.log" 2>&1 || return 2
  ! ls "$d"/afl/default/crashes/id* >/dev/null 2>&1
}
if [ "$engine" = libfuzzer ]; then
  step "fuzz_kv: the planted bug must be found"
  libfuzzer fuzz_kv 500000 && { tail -20 "$work/fuzz_kv.log"; fail "fuzz_kv found nothing"; }
  grep -q "split invariance broken" "$work/fuzz_kv.log" ||
    { tail -30 "$work/fuzz_kv.log"; fail "fuzz_kv stopped, but not on the session oracle"; }
  grep -E "^(fray fuzz:|  c[0-9]|  schedule)" "$work/fuzz_kv.log" | tail -3
  step "fuzz_kv_fixed: the correct twin runs its budget clean"
  libfuzzer fuzz_kv_fixed 20000 || { tail -30 "$work/fuzz_kv_fixed.log"; fail "fuzz_kv_fixed failed"; }
  grep -E "^Done" "$work/fuzz_kv_fixed.log"
else
  step "fuzz_kv under AFL++: the planted bug must be found"
  afl fuzz_kv 60 && { tail -20 "$work/fuzz_kv.log"; fail "fuzz_kv found nothing"; }
  crash=$(ls "$work"/b/fuzz_kv.fuzz/afl/default/crashes/id* | head -1)
  # The same binary replays a file given as an argument: the session oracle's report.
  "$work/b/fuzz_kv" "$crash" >"$work/replay.log" 2>&1 && fail "$crash does not crash when replayed"
  grep -q "split invariance broken" "$work/replay.log" ||
    { cat "$work/replay.log"; fail "$crash crashes, but not on the session oracle"; }
  head -3 "$work/replay.log"
  step "fuzz_kv_fixed under AFL++: the correct twin runs clean"
  afl fuzz_kv_fixed 5 || { tail -30 "$work/fuzz_kv_fixed.log"; fail "fuzz_kv_fixed failed"; }
fi
echo "PASS"
