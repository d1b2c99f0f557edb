#!/usr/bin/env bash
# fuzzplug.fray_fuzz[_crash]: `fray fuzz --plugin` as a user runs it. The
# plugin is built by the command line fray fuzz --help prints (clang,
# coverage, ASan).
#   split (fuzzplug.fray_fuzz):
#   - an uninstrumented plugin is refused (exit 2, saying how to build it);
#   - the handler with the planted read-boundary bug is found (exit 1), and
#     the .fray reproducer written fails `fray replay --plugin` against an
#     ordinary build of the same handler (--replay-plugin: fray fuzz checks
#     it too, and names it in the replay command);
#   - the correct twin runs the whole budget without a finding (exit 0),
#     with two jobs (libFuzzer -fork=2).
#   crash (fuzzplug.fray_fuzz_crash):
#   - a planted stack overflow (ASan) becomes a reproducer without
#     expectations, the report summed up in one line.
#   fuzz.sh split|crash FRAY SRC_DIR INCLUDE_DIRS WORK_DIR CLANG SKIP_REASON
# Exit 77 (ctest: skipped) with the reason when clang's libFuzzer is missing.
set -u
mode=$1 fray=$2 here=$3 inc=$4 work=$5 clang=$6 skip=$7
if [ -n "$skip" ]; then
  echo "SKIP: $skip"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
I=()
for d in $inc; do I+=(-I "$d"); done
cov=(-shared -fPIC -g -fsanitize=fuzzer-no-link,address,undefined "${I[@]}")

if [ "$mode" = crash ]; then
  "$clang" "${cov[@]}" -DKV_FIXED -DKV_OVERFLOW -o kv_overflow.so "$here/kv.c" || fail "build"
  rc=0 && "$fray" fuzz --plugin ./kv_overflow.so --time 10 --out crash "$here/kv.fray" \
    >out.txt 2>err.txt || rc=$?
  cat err.txt out.txt
  [ "$rc" = 1 ] || fail "exit $rc, want 1"
  grep -q "failure: AddressSanitizer: stack-buffer-overflow" out.txt || fail "no ASan summary"
  repro=$(ls crash/regressions/*.fray | head -1)
  [ -n "$repro" ] || fail "no reproducer written for the crash"
  cat "$repro"
  grep -q "^# failure: the handler crashed on it" "$repro" || fail "the header does not say so"
  grep -Eq '^c[0-3] > ' "$repro" || fail "no send in $repro"
  echo PASS
  exit 0
fi

"$clang" "${cov[@]}" -o kv.so "$here/kv.c" || fail "build kv.so"
"$clang" "${cov[@]}" -DKV_FIXED -o kv_fixed.so "$here/kv.c" || fail "build kv_fixed.so"
"$clang" -shared -fPIC "${I[@]}" -o kv_plain.so "$here/kv.c" || fail "build kv_plain.so"

echo "== an uninstrumented plugin is refused"
rc=0 && "$fray" fuzz --plugin ./kv_plain.so --time 5 --out plain 2>err.txt || rc=$?
cat err.txt
[ "$rc" = 2 ] || fail "exit $rc, want 2"
grep -q "no coverage instrumentation" err.txt && grep -q "fuzzer-no-link" err.txt ||
  fail "the refusal does not say why and how"

echo "== the planted bug is found"
rc=0 && "$fray" fuzz --plugin ./kv.so --replay-plugin ./kv_plain.so --time 15 --out bug \
  "$here/kv.fray" >out.txt 2>err.txt || rc=$?
cat err.txt out.txt
[ "$rc" = 1 ] || fail "exit $rc, want 1"
repro=$(ls bug/regressions/*.fray | head -1)
[ -n "$repro" ] || fail "no reproducer written"
cat "$repro"
grep -q "^# replay: fray replay --plugin ./kv_plain.so --schedule whole $repro" "$repro" ||
  fail "no replay line"
grep -q "replay:  fray replay --plugin ./kv_plain.so --schedule whole $repro" out.txt ||
  fail "the summary does not print the replay command"
grep -q "check:   fails with ./kv_plain.so, as it should" out.txt ||
  fail "fray fuzz did not check the reproducer"
rc=0 && "$fray" replay --plugin ./kv_plain.so --schedule whole "$repro" || rc=$?
[ "$rc" = 1 ] || fail "replaying $repro: exit $rc, want 1 (it must fail)"

echo "== the correct twin runs clean (two jobs: libFuzzer -fork=2)"
rc=0 && "$fray" fuzz --plugin ./kv_fixed.so --jobs 2 --time 4 --out fixed "$here/kv.fray" || rc=$?
[ "$rc" = 0 ] || fail "exit $rc, want 0"
ls fixed/regressions/*.fray 2>/dev/null && fail "the correct twin got reproducers"
echo "PASS"
