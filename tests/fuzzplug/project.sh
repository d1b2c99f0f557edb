#!/usr/bin/env bash
# fuzzplug.cmake_function: installs this fray build into a scratch prefix,
# builds project/ (a user's project) against it with fray_add_fuzz_target(),
# and runs its two targets for a bounded number of runs: the handler with
# the planted read-boundary bug must be found (libFuzzer stops on the
# finding, whose report is the session oracle's), its correct twin must run
# its whole budget clean.
#   project.sh BUILD_DIR WORK_DIR CLANG SKIP_REASON
# Exit 77 (ctest: skipped) with the reason when clang's libFuzzer is missing.
set -u
build=$1 work=$2 clang=$3 skip=$4
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

# run TARGET RUNS: libFuzzer over the target's seeds, bounded in runs and time.
run() {
  local t=$1 d="$work/b/$1.fuzz"
  mkdir -p "$d/corpus"
  (cd "$d" && "$work/b/$t" -runs="$2" -max_total_time=60 -dict=fuzz.dict \
    -artifact_prefix="$d/" corpus seeds) >"$work/$t.log" 2>&1
}
step "fuzz_kv: the planted bug must be found"
run fuzz_kv 500000 && { tail -20 "$work/fuzz_kv.log"; fail "fuzz_kv found nothing"; }
grep -q "split invariance broken" "$work/fuzz_kv.log" ||
  { tail -30 "$work/fuzz_kv.log"; fail "fuzz_kv stopped, but not on the session oracle"; }
grep -E "^(#[0-9]+.*(NEW|pulse|INITED)|fray fuzz:|  c[0-9]|  schedule)" "$work/fuzz_kv.log" | tail -5
step "fuzz_kv_fixed: the correct twin runs its budget clean"
run fuzz_kv_fixed 20000 || { tail -30 "$work/fuzz_kv_fixed.log"; fail "fuzz_kv_fixed failed"; }
grep -E "^Done" "$work/fuzz_kv_fixed.log"
echo "PASS"
