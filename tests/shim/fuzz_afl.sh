#!/usr/bin/env bash
# `fray fuzz --exec` with afl-fuzz against the exec test servers
# (tests/exec/), built here with afl-clang-fast: each buggy twin must be
# caught (exit 1, a reproducer written) within a fixed budget of execs,
# the correct twin must stay clean for the same budget. Skipped (77) when
# AFL++ is not installed.
#
# usage: fuzz_afl.sh FRAY SRCDIR STYLE EXECS BUG...   (STYLE: poll, epoll, libevent)
set -u
fray=$1 src=$2 style=$3 execs=$4
shift 4
for tool in afl-clang-fast afl-fuzz; do
  command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool is not installed (AFL++)"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
libs=()
[ "$style" = libevent ] && libs=(-levent)
if ! AFL_QUIET=1 afl-clang-fast -g -O1 -o "$work/srv" "$src/tests/exec/srv_$style.c" \
  "$src/tests/exec/proto.c" -I"$src/tests/exec" -lpthread "${libs[@]}" >"$work/cc.log" 2>&1; then
  cat "$work/cc.log"
  echo "FAIL: afl-clang-fast could not build srv_$style.c"
  exit 1
fi

# In a sanitizer build (AFL_USE_ASAN set by the test), fray's fuzz shim
# loads only into sanitized servers: a plain AFL++ build is refused at once.
if [ -n "${AFL_USE_ASAN:-}" ] && [ "$style" = poll ]; then
  env -u AFL_USE_ASAN -u AFL_USE_UBSAN AFL_QUIET=1 afl-clang-fast -O1 -o "$work/plain" \
    "$src/tests/exec/srv_poll.c" "$src/tests/exec/proto.c" -I"$src/tests/exec" -lpthread
  "$fray" fuzz --exec "$work/plain {port}" --out "$work/plain.out" --time 1 2>"$work/plain.err"
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q 'built with sanitizers' "$work/plain.err"; then
    echo "FAIL: an unsanitized server: exit $rc (2 and the reason expected)"
    cat "$work/plain.err"
    exit 1
  fi
  echo "ok: unsanitized server refused: $(head -1 "$work/plain.err")"
fi

# run NAME ARGS...: fray fuzz --exec on the server with ARGS; its exit status.
run() {
  local name=$1
  shift
  "$fray" fuzz --exec "$work/srv {port} $*" --execs "$execs" --seed 1 --time 240 \
    --out "$work/$name" "$src"/tests/exec/scripts/*.fray >"$work/$name.out" 2>"$work/$name.err"
}

fails=0
run correct
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL: the correct twin: exit $rc (0 expected)"
  cat "$work/correct.out" "$work/correct.err"
  fails=$((fails + 1))
else
  echo "ok: correct twin clean: $(tail -1 "$work/correct.err")"
fi
# The test cases came in AFL++'s shared memory, where the runtime offers it.
stats=$(ls "$work"/correct/afl/*/fuzzer_stats 2>/dev/null | head -1)
if nm -D "$work/srv" 2>/dev/null | grep -q __afl_sharedmem_fuzzing &&
  ! grep -q shmem_testcase "$stats" 2>/dev/null; then
  echo "FAIL: no shared-memory test cases: $(grep target_mode "$stats" 2>&1)"
  fails=$((fails + 1))
fi
for bug in "$@"; do
  run "$bug" --bug "$bug"
  rc=$?
  if [ $rc -ne 1 ] || ! ls "$work/$bug"/regressions/*.fray >/dev/null 2>&1; then
    echo "FAIL: --bug $bug: exit $rc, no reproducer (1 and a .fray expected)"
    tail -5 "$work/$bug.err"
    fails=$((fails + 1))
  else
    echo "ok: --bug $bug caught: $(tail -1 "$work/$bug.err")"
    sed -n 2,3p "$work/$bug.out"
    # Its reproducer fails when replayed as its header says (short writes
    # cannot be written in a script: that twin's replay is not judged).
    repro=$(ls "$work/$bug"/regressions/*.fray | head -1)
    "$fray" replay --exec "$work/srv {port} --bug $bug" --schedule whole "$repro" \
      >"$work/$bug.replay" 2>&1
    rc=$?
    if [ "$bug" != shortwrite ] && [ $rc -ne 1 ]; then
      echo "FAIL: --bug $bug: its reproducer $(basename "$repro") replays with exit $rc (1 expected)"
      cat "$repro" "$work/$bug.replay"
      fails=$((fails + 1))
    fi
    # The "again:" line runs in a shell as printed and fails again as it
    # did under afl-fuzz: killed by a signal (the oracle aborts; a crash),
    # where a line the shell cannot run ends 126/127 and a usage error 2.
    again=$(sed -n 's/^ *again: *//p' "$work/$bug.out" | head -1)
    (cd "$work" && timeout 60 sh -c "$again") >"$work/$bug.again" 2>&1
    rc=$?
    if [ -z "$again" ] || [ $rc -le 128 ]; then
      echo "FAIL: --bug $bug: its again: line ended with exit $rc: $again"
      tail -5 "$work/$bug.again"
      fails=$((fails + 1))
    fi
  fi
done
exit $((fails > 0))
