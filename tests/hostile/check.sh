#!/bin/sh
# tests/hostile/check.sh FRAY SCRIPT WANT MAX_MS [REPLAY ARGS...]
#
# Replays SCRIPT (a hostile script from a robustness audit) and checks that
# it ends within MAX_MS milliseconds with the outcome WANT:
#   pass   exit 0
#   fail   exit 1 (a verdict)
#   error  exit 2 with a located error: a line "SCRIPT:LINE:COLUMN: ..."
# A hang is killed after 10 s and reported; a crash is any other exit.
# With FRAY_HOSTILE_FIFO=NAME the script runs from a scratch directory
# holding a copy of it and a FIFO called NAME (`file NAME` must not block).
set -u
fray=$1 script=$2 want=$3 max_ms=$4
shift 4
out=${TMPDIR:-/tmp}/fray-hostile.$$
trap 'rm -rf "$out".o "$out".e "$out".d' EXIT
if [ -n "${FRAY_HOSTILE_FIFO:-}" ]; then
  mkdir "$out".d && cp "$script" "$out".d/ && mkfifo "$out.d/$FRAY_HOSTILE_FIFO" || exit 1
  script=$out.d/$(basename "$script")
fi
t0=$(date +%s%N)
timeout -s KILL 10 "$fray" replay --schedule random --runs 20 --seed 1 "$@" "$script" \
  >"$out".o 2>"$out".e </dev/null
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$out".o "$out".e | head -c 2000
echo
echo "exit $rc after $ms ms (want $want within $max_ms ms)"
case $want in
pass) [ $rc -eq 0 ] || exit 1 ;;
fail) [ $rc -eq 1 ] || exit 1 ;;
error)
  [ $rc -eq 2 ] || exit 1
  grep -q "^$script:[0-9][0-9]*:[0-9][0-9]*: " "$out".e "$out".o || {
    echo "no located error ($script:LINE:COLUMN: ...)"
    exit 1
  }
  ;;
*)
  echo "check.sh: unknown outcome $want"
  exit 1
  ;;
esac
# Nothing from the script reaches the terminal raw (patterns with escape
# sequences, CRs): the output holds no control byte but newline and tab.
if cat "$out".o "$out".e | tr -d '\n\t' | LC_ALL=C grep -q '[[:cntrl:]]'; then
  echo "a raw control byte in the output"
  exit 1
fi
[ $ms -le "$max_ms" ] || {
  echo "too slow"
  exit 1
}
