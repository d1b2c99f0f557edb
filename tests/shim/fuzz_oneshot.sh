#!/usr/bin/env bash
# The shim's fuzz mode without afl-fuzz (docs/exec.md, "Fuzzing"): one
# input played against a server started under libfray-shim-fuzz.so,
# FRAY_SHIM_FUZZ_INPUT naming the input. The inputs are written here byte
# by byte in fray's fuzz encoding (fray/fuzz.h: payload at the front,
# decisions read from the back), each showing one bug class:
#   cut       "ECHO hello\n" cut after "ECHO "            droptail
#   merge     "PING\n" and "PING\n" merged into one read    oneline
#   long      a 71-byte ECHO line cut at 30                 max64
#   short     a 206-byte ECHO line, short server writes     shortwrite
#   crlf      "PING\r\n" cut between "\r" and "\n"         crcut (a crash)
# The correct twin must pass every input and every seed fuzz-encoded from
# tests/exec/scripts; each buggy twin must abort (SIGABRT, the oracle) on
# its input with the oracle's report (crcut: dies of SIGSEGV instead). The server listens on port 0 (the
# kernel's pick) and the shim follows the first port it listens on. The
# shim is preloaded by env, after timeout: a sanitizer build's fuzz shim
# loads only into programs built with its sanitizers, as the servers are.
#
# usage: fuzz_oneshot.sh FRAY SHIM SERVER BUG...
set -u
fray=$1 shim=$2 server=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'ECHO hello\n\x04\x0a\x20' >"$work/cut"
printf 'PING\nPING\n\x04\x00\x0f\x04\x00' >"$work/merge"
{ printf 'ECHO %065d\n' 0; printf '\x1d\x46\x20'; } >"$work/long"
{ printf 'ECHO %0200d\n' 0; printf '\xcd\x00\x07\x17'; } >"$work/short"
printf 'PING\r\n\x04\x05\x20' >"$work/crlf"
for s in "$(dirname "$0")"/../exec/scripts/*.fray; do
  "$fray" fuzz-encode "$s" >"$work/seed-$(basename "$s" .fray)" 2>/dev/null ||
    { echo "fuzz_oneshot.sh: cannot encode $s"; exit 1; }
done

# play INPUT [--bug NAME]: the exit status of one exec, stderr in $work/err.
play() {
  local input=$1
  shift
  FRAY_SHIM_FUZZ=1 FRAY_SHIM_FUZZ_INPUT="$input" \
    timeout 20 env LD_PRELOAD="$shim" "$server" 0 "$@" >/dev/null 2>"$work/err"
}

input_for() {
  case $1 in
    droptail) echo cut ;; oneline) echo merge ;; max64) echo long ;; shortwrite) echo short ;;
    crcut) echo crlf ;;
  esac
}

fails=0
for input in "$work"/cut "$work"/merge "$work"/long "$work"/short "$work"/crlf "$work"/seed-*; do
  play "$input" 2>/dev/null # (bash's own word on a signal)
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: the correct twin: $(basename "$input") exited $rc"
    cat "$work/err"
    fails=$((fails + 1))
  fi
done
for bug in "$@"; do
  play "$work/$(input_for "$bug")" --bug "$bug" 2>/dev/null
  rc=$?
  if [ "$bug" = crcut ]; then
    # 128 + SIGSEGV: the crash, in the cut run; in a sanitizer build, the
    # sanitizer's report of the store through NULL (exit 1 without
    # abort_on_error).
    if [ $rc -ne 139 ] && ! { [ $rc -ne 0 ] && grep -q 'proto.c.*null pointer\|AddressSanitizer: SEGV' "$work/err"; }; then
      echo "FAIL: --bug $bug: exit $rc, not the server's crash (139, or a sanitizer's report)"
      cat "$work/err"
      fails=$((fails + 1))
    else
      echo "ok: --bug $bug crashed the server"
    fi
  elif [ $rc -ne 134 ] || ! grep -q 'fray fuzz --exec: split invariance broken' "$work/err"; then
    echo "FAIL: --bug $bug: exit $rc, not the oracle's abort (134)"
    cat "$work/err"
    fails=$((fails + 1))
  else
    echo "ok: --bug $bug caught: $(sed -n 2p "$work/err" | cut -c1-150)"
  fi
done
[ $fails -eq 0 ] && echo "fuzz_oneshot.sh: $(basename "$server"): all as expected"
exit $((fails > 0))
