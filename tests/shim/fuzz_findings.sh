#!/usr/bin/env bash
# What `fray fuzz --exec` makes of its crashes (docs/exec.md, "Fuzzing"),
# with afl-fuzz on exec-poll built here with afl-clang-fast, a fixed
# budget of execs and AFL seed 1. Skipped (77) without AFL++.
#   exits   `--bug shutdown` (SHUTDOWN exits 0; tests/shim/shutdown.fray
#           names it as data only, the dictionary has it):
#           by default the exit is a finding, exit 1, and its failure
#           names --exits ok; with --exits ok there is no finding, exit 0,
#           though the fuzzer met the exit (fray fuzz counts the execs it
#           ended, and an input of its queue, played once with the option,
#           ends there, status 0, saying so); with
#           --exits ok and `--bug crcut` as well, crcut's crash is still
#           found (exit 1) and no exit is. A seed that sends SHUTDOWN:
#           afl-fuzz refuses it by default (exit 2, fray says to use
#           --exits ok); with --exits ok it runs (exit 0).
#   groups  `--bug crcut --bug oneline`: crashes of two failures, written
#           up once each with their counts (the smallest input), and the
#           summary says two distinct findings.
# usage: fuzz_findings.sh MODE FRAY SHIM SRCDIR EXECS   (MODE: exits, groups)
set -u
mode=$1 fray=$2 shim=$3 src=$4 execs=$5
for tool in afl-clang-fast afl-fuzz; do
  command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool is not installed (AFL++)"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! AFL_QUIET=1 afl-clang-fast -g -O1 -o "$work/srv" "$src/tests/exec/srv_poll.c" \
  "$src/tests/exec/proto.c" -I"$src/tests/exec" -lpthread >"$work/cc.log" 2>&1; then
  cat "$work/cc.log"
  echo "FAIL: afl-clang-fast could not build srv_poll.c"
  exit 1
fi
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

# fuzz NAME SEEDS SERVER-ARGS [OPTION...]: fray fuzz --exec; its exit status.
fuzz() {
  local name=$1 seeds=$2 args=$3
  shift 3
  "$fray" fuzz --exec "$work/srv {port} $args" "$@" --execs "$execs" --seed 1 --time 300 \
    --out "$work/$name" $seeds >"$work/$name.out" 2>"$work/$name.err"
}
# show NAME: what a run printed, for a failure.
show() {
  cat "$work/$1.out"
  tail -5 "$work/$1.err"
}
# crcut's crash: SIGSEGV, or SIGILL where UBSan traps the NULL store
# (AFL_USE_UBSAN), or a sanitizer's report.
crashed='  (the server died of signal [0-9]*|.*Sanitizer.*)$'
# groups NAME: the summary's lines, "COUNT  SIGNATURE" each.
groups() {
  sed -n '/distinct finding/,$p' "$work/$1.out" | sed -n 's/^ *\([0-9][0-9]*\)  /\1  /p'
}

if [ "$mode" = exits ]; then
  words=$src/tests/shim/shutdown.fray
  fuzz crash "$words" "--bug shutdown"
  rc=$?
  if [ $rc -ne 1 ] || ! grep -q '^    failure: the server exited with status 0 in the middle of the session (step [0-9]*): .*--exits ok' "$work/crash.out"; then
    fail "default: exit $rc, want 1 and the exit filed, naming --exits ok"
    show crash
  else
    echo "ok: default, the exit is a finding: $(grep -m1 '^    failure:' "$work/crash.out")"
  fi
  before=$fails
  fuzz ok "$words" "--bug shutdown" --exits ok
  rc=$?
  if [ $rc -ne 0 ] || ! grep -q '^fray fuzz: no finding' "$work/ok.out" ||
    ls "$work"/ok/regressions/*.fray >/dev/null 2>&1; then
    fail "--exits ok: exit $rc, want 0, no finding and no reproducer"
    show ok
  fi
  # The fuzzer met the exit in that run: the shim counted such execs, and
  # an input it kept reaches the exit.
  grep -q "^fray fuzz: [1-9][0-9]* execs ended with the server's exit (--exits ok)" "$work/ok.err" ||
    fail "--exits ok: no exec ended with the server's exit, says fray fuzz"
  met=0
  for input in "$work"/ok/afl/default/queue/id:*; do
    FRAY_SHIM_FUZZ=1 FRAY_SHIM_FUZZ_EXITS=ok FRAY_SHIM_FUZZ_INPUT="$input" \
      timeout 20 env LD_PRELOAD="$shim" "$work/srv" 0 --bug shutdown >/dev/null 2>"$work/one.err"
    rc=$?
    if grep -q 'the server exited with status 0 at step [0-9]*: the exec ends there, not judged (--exits ok)' "$work/one.err"; then
      [ $rc -eq 0 ] || fail "--exits ok: $(basename "$input") ended $rc at the exit (0 expected)"
      met=$((met + 1))
    fi
  done
  [ $met -gt 0 ] || fail "--exits ok: no input of the queue reaches the exit (the test proves nothing)"
  [ $fails -eq $before ] && echo "ok: --exits ok, no finding; $met inputs of its queue reach the exit"
  fuzz crcut "$words" "--bug shutdown --bug crcut" --exits ok
  rc=$?
  if [ $rc -ne 1 ] || ! groups crcut | grep -Eq "$crashed" || groups crcut | grep -Evq "$crashed"; then
    fail "--exits ok with crcut: exit $rc, want 1 and crcut's crash alone"
    show crcut
  else
    echo "ok: --exits ok still finds crcut: $(groups crcut | tr '\n' ';')"
  fi
  # A seed that sends SHUTDOWN: afl-fuzz refuses a seed that crashes, and
  # fray says why, naming --exits ok; with it the seed is a seed.
  printf 'open a\na > "PING\\r\\n"\na < "PONG\\r\\n"\na > "SHUTDOWN\\r\\n"\n' >"$work/quit.fray"
  fuzz seedexit "$work/quit.fray" "--bug shutdown"
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q '^fray fuzz: note: the seed .*--exits ok' "$work/seedexit.err" ||
    ! grep -q '^fray fuzz: afl-fuzz refused the seeds: .*--exits ok' "$work/seedexit.err"; then
    fail "a seed that exits: exit $rc, want 2, the note and the refusal naming --exits ok"
    show seedexit
  else
    echo "ok: a seed that exits: $(grep -m1 'refused the seeds' "$work/seedexit.err")"
  fi
  fuzz seedok "$work/quit.fray" "--bug shutdown" --exits ok
  rc=$?
  [ $rc -eq 0 ] || { fail "a seed that exits, --exits ok: exit $rc (0 expected)"; show seedok; }
  exit $((fails > 0))
fi

fuzz groups "$src/tests/exec/scripts/*.fray" "--bug crcut --bug oneline"
rc=$?
[ $rc -eq 1 ] || fail "crcut and oneline: exit $rc (1 expected)"
g=$(groups groups)
n=$(printf '%s\n' "$g" | grep -c .)
crash=$(printf '%s\n' "$g" | grep -Ec "^[0-9]*$crashed")
split=$(printf '%s\n' "$g" | grep -c '^[0-9]*  split invariance broken: ')
total=$(printf '%s\n' "$g" | awk '{ s += $1 } END { print s + 0 }')
repros=$(ls "$work"/groups/regressions/*.fray 2>/dev/null | wc -l)
crashes=$(ls "$work"/groups/afl/default/crashes/ | grep -c '^id:')
if [ "$n" -ne 2 ] || [ "$crash" -ne 1 ] || [ "$split" -ne 1 ] || [ "$repros" -ne 2 ] ||
  [ "$total" -ne "$crashes" ] || ! grep -q "^fray fuzz: 2 distinct findings in $crashes crashes played again:" "$work/groups.out"; then
  fail "crcut and oneline: want 2 groups (a crash, split invariance) summing to the $crashes crashes and 2 reproducers; got $n groups, $repros reproducers:"
  show groups
else
  echo "ok: $(grep 'distinct findings' "$work/groups.out") $(printf '%s\n' "$g" | cut -c1-60 | tr '\n' ';')"
fi
# Each group's write-up: its reproducer, its failure, its count when over 1.
blocks=$(grep -c '^    failure: ' "$work/groups.out")
[ "$blocks" -eq 2 ] || fail "crcut and oneline: $blocks write-ups (2 expected)"
for count in $(printf '%s\n' "$g" | awk '$1 > 1 { print $1 }'); do
  grep -q "^    crashes: $count alike" "$work/groups.out" || fail "no write-up says $count crashes alike"
done
exit $((fails > 0))
