#!/usr/bin/env bash
# A fault kind in the shim's fuzz mode (docs/exec.md, "Fuzzing"), one exec
# at a time without afl-fuzz: the fault's script of tests/exec/faults/,
# fuzz-encoded, with a flags op appended that turns the kind on (the
# decoder reads it first: fray/fuzz.h), one input per fault seed 1..SEEDS.
# - The buggy twin only that kind exposes is caught (the oracle's abort,
#   134) on at least one of the inputs: found within SEEDS execs.
# - The same inputs without the fault, and with each other kind of fuzz
#   mode instead, miss it (exit 0).
# - Every correct server given passes every input of the kind (the fault's
#   script and tests/exec/scripts, SEEDS seeds each): no false alarm.
#
# usage: fuzz_faults.sh FRAY SHIM SRCDIR KIND SEEDS BUGGY-SERVER BUG CORRECT-SERVER...
set -u
fray=$1 shim=$2 src=$3 kind=$4 seeds=$5 buggy=$6 bug=$7
shift 7
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The flags op of each kind (fuzzcodec.c): 0x40 eof-with-data; 0x80 with
# the kinds byte (read-gap 0x04, reset-mid-write 0x08, window 0x10) and
# the seed before it (the window's size: 1 to 4096 bytes drawn from it).
tail_of() { # KIND SEED
  case $1 in
    eof-with-data) printf '\x47' ;;
    read-gap) printf "\\x$(printf %02x "$2")\\x04\\x87" ;;
    reset-mid-write) printf "\\x$(printf %02x "$2")\\x08\\x87" ;;
    window) printf "\\x$(printf %02x "$2")\\x10\\x87" ;;
    none) ;;
  esac
}
script_of() {
  case $1 in
    eof-with-data) echo eof ;; read-gap) echo gap ;; reset-mid-write) echo reset ;;
    window) echo window ;;
  esac
}
others=$(for k in eof-with-data read-gap reset-mid-write window; do [ "$k" = "$kind" ] || echo "$k"; done)

# input NAME SCRIPT KIND SEED: the script encoded, the kind's op appended.
input() {
  "$fray" fuzz-encode "$2" >"$work/$1" 2>/dev/null || { echo "FAIL: cannot encode $2"; exit 1; }
  tail_of "$3" "$4" >>"$work/$1"
}

# play INPUT SERVER [ARGS]: the exit status of one exec, stderr in $work/err.
play() {
  local in=$1
  shift
  FRAY_SHIM_FUZZ=1 FRAY_SHIM_FUZZ_INPUT="$work/$in" \
    timeout 20 env LD_PRELOAD="$shim" "$@" >/dev/null 2>"$work/err"
}

fails=0
fscript="$src/tests/exec/faults/$(script_of "$kind").fray"
caught=0
for seed in $(seq 1 "$seeds"); do
  input "on-$seed" "$fscript" "$kind" "$seed"
  play "on-$seed" "$buggy" 0 --bug "$bug" 2>/dev/null
  rc=$?
  if [ $rc -eq 134 ] && grep -q '^fray fuzz --exec: ' "$work/err"; then
    [ $caught -eq 0 ] && echo "ok: --bug $bug caught by $kind (fault seed $seed): $(grep -m1 '^fray fuzz --exec: ' "$work/err")"
    caught=$((caught + 1))
  elif [ $rc -ne 0 ]; then
    echo "FAIL: --bug $bug, $kind seed $seed: exit $rc, not the oracle's abort"
    cat "$work/err"
    fails=$((fails + 1))
  fi
  for other in none $others; do
    input "off" "$fscript" "$other" "$seed"
    play off "$buggy" 0 --bug "$bug" 2>/dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
      echo "FAIL: --bug $bug caught without $kind (faults: $other, seed $seed): exit $rc"
      cat "$work/err"
      fails=$((fails + 1))
    fi
  done
done
if [ $caught -eq 0 ]; then
  echo "FAIL: --bug $bug not caught by $kind in $seeds execs"
  fails=$((fails + 1))
else
  echo "ok: --bug $bug caught in $caught of $seeds execs with $kind, in none without"
fi

for server in "$@"; do
  n=0 inexact=0
  for s in "$fscript" "$src"/tests/exec/scripts/*.fray; do
    for seed in $(seq 1 "$seeds"); do
      input in "$s" "$kind" "$seed"
      play in "$server" 0 2>/dev/null
      rc=$?
      n=$((n + 1))
      grep -q 'inexact' "$work/err" && inexact=$((inexact + 1))
      if [ $rc -ne 0 ]; then
        echo "FAIL: $(basename "$server") (correct), $(basename "$s") with $kind seed $seed: exit $rc"
        cat "$work/err"
        fails=$((fails + 1))
      fi
    done
  done
  echo "ok: $(basename "$server"): $n inputs with $kind, no alarm ($inexact inexact)"
done
[ $fails -eq 0 ] && echo "fuzz_faults.sh: $kind: all as expected"
exit $((fails > 0))
