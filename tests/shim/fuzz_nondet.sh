#!/usr/bin/env bash
# The fuzz oracle on a server that is not deterministic (docs/exec.md,
# "Fuzzing": a server whose answers vary on their own). exec-poll's
# `--bug nondet` answers PING with its pid, which differs between the forks
# a session is played in; the input merges "PING\n" and "PING\n" into one
# read, so split invariance breaks whatever the server's framing.
#
#   oneshot: the input played once (no afl-fuzz): the exec plays the whole
#     run twice, and its verdict (and reproducer) say the alarm is
#     unreliable, naming the client and the answers that differed. The same
#     input on the correct twin passes; on the oneline twin (deterministic)
#     it fails without that word.
#   afl: the server built with afl-clang-fast. (1) afl-showmap's forkserver
#     plays the input 300 times: the reference cache's check (one hit in 32)
#     finds the two whole runs different and fray_stats records it at once,
#     with where; the correct twin's stats say deterministic. (2) fray fuzz
#     --exec, 600 execs: every finding is written up as unreliable and fray
#     warns that the server is not deterministic. Skipped (77) without AFL++.
#
# usage: fuzz_nondet.sh oneshot FRAY SHIM SERVER
#        fuzz_nondet.sh afl FRAY SHIM SRCDIR
set -u
mode=$1 fray=$2 shim=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'PING\nPING\n\x04\x00\x0f\x04\x00' >"$work/merge" # c0 > "PING\nPING\n", one read
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
# has FILE TEXT: FILE holds TEXT (a fixed string), else its head is shown.
has() {
  grep -qF -- "$2" "$1" && return 0
  echo "--- $1:"
  head -c 2000 "$1"
  return 1
}

if [ "$mode" = oneshot ]; then
  server=$4
  play() { # play [--bug NAME]: one exec's status, its stderr in $work/err
    FRAY_SHIM_FUZZ=1 FRAY_SHIM_FUZZ_INPUT="$work/merge" FRAY_SHIM_FUZZ_REPRO="$work/repro.fray" \
      timeout 20 env LD_PRELOAD="$shim" "$server" 0 "$@" >/dev/null 2>"$work/err"
  }
  play --bug nondet 2>/dev/null
  rc=$?
  [ $rc -eq 134 ] || fail "nondet: exit $rc, not the oracle's abort (134)"
  has "$work/err" 'fray fuzz --exec: split invariance broken, unreliable: the server is not deterministic (two whole runs of this session differed, client 0, byte ' &&
    has "$work/err" ' of its answers: "PONG ' ||
    fail "nondet: the verdict does not say the server is not deterministic, nor where"
  has "$work/repro.fray" '# Unreliable: the server is not deterministic' ||
    fail "nondet: the reproducer does not say it is unreliable"
  rm -f "$work/repro.fray"
  play || fail "the correct twin: exit $?"
  play --bug oneline 2>/dev/null
  rc=$?
  [ $rc -eq 134 ] && has "$work/err" 'fray fuzz --exec: split invariance broken' ||
    fail "oneline: exit $rc, not the oracle's abort"
  ! grep -q 'deterministic' "$work/err" "$work/repro.fray" ||
    fail "oneline: a deterministic server called not deterministic"
  [ $fails -eq 0 ] && echo "fuzz_nondet.sh oneshot: $(head -1 "$work/err" | cut -c1-40)...: all as expected"
  exit $((fails > 0))
fi

src=$4
for tool in afl-clang-fast afl-showmap afl-fuzz; do
  command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool is not installed (AFL++)"; exit 77; }
done
if ! AFL_QUIET=1 afl-clang-fast -g -O1 -o "$work/srv" "$src/tests/exec/srv_poll.c" \
  "$src/tests/exec/proto.c" -I"$src/tests/exec" -lpthread >"$work/cc.log" 2>&1; then
  cat "$work/cc.log"
  echo "FAIL: afl-clang-fast could not build srv_poll.c"
  exit 1
fi
mkdir "$work/in"
for i in $(seq 1 300); do cp "$work/merge" "$work/in/m$i"; done

# showmap NAME [--bug BUG]: the inputs through one forkserver; stats in $work/NAME.stats.
showmap() {
  local name=$1
  shift
  AFL_QUIET=1 __AFL_DEFER_FORKSRV=1 AFL_PRELOAD="$shim" FRAY_SHIM_FUZZ=1 \
    FRAY_SHIM_FUZZ_STATS="$work/$name.stats" timeout 60 \
    afl-showmap -q -i "$work/in" -o "$work/$name.map" -t 5000 -- "$work/srv" 0 "$@" \
    >"$work/$name.log" 2>&1
}
showmap nondet --bug nondet
has "$work/nondet.stats" 'nondeterministic 1' &&
  has "$work/nondet.stats" 'nondeterministic_at client 0, byte ' &&
  has "$work/nondet.stats" ' of its answers: "PONG ' ||
  fail "afl-showmap, nondet: fray_stats does not record the nondeterminism and where"
showmap correct
has "$work/correct.stats" 'nondeterministic 0' && ! grep -q '^reference_checks 0' "$work/correct.stats" ||
  fail "afl-showmap, correct twin: not checked, or called not deterministic"

"$fray" fuzz --exec "$work/srv {port} --bug nondet" --execs 600 --seed 1 --time 60 \
  --out "$work/fz" "$src"/tests/exec/scripts/*.fray >"$work/fz.out" 2>"$work/fz.err"
rc=$?
[ $rc -eq 1 ] || fail "fray fuzz --exec, nondet: exit $rc (1: alarms written up)"
total=$(grep -c '^    failure: ' "$work/fz.out")
unreliable=$(grep -c '^    failure: split invariance broken, unreliable: the server is not deterministic' "$work/fz.out")
[ "$total" -gt 0 ] && [ "$total" -eq "$unreliable" ] ||
  fail "fray fuzz --exec, nondet: $unreliable of $total findings said unreliable"
has "$work/fz.err" 'fray fuzz: warning: the server is not deterministic' ||
  fail "fray fuzz --exec, nondet: no warning"
[ $fails -eq 0 ] && echo "fuzz_nondet.sh afl: $unreliable findings unreliable; $(grep warning "$work/fz.err" | cut -c1-150)"
exit $((fails > 0))
