#!/usr/bin/env bash
# The shim's fuzz mode against a thread-per-connection server
# (tests/exec/srv_thread.c): the player's coroutine belongs to the thread
# that reached the safe point, so another thread's blocking read would
# wait for it forever or race it. Each input must end the exec with exit
# status 2 and the message naming the limitation, within the timeout (no
# hang), whatever the input: a seed, a cut, a merge.
# usage: fuzz_threads.sh FRAY SHIM THREAD-SERVER
set -u
fray=$1 shim=$2 server=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'ECHO hello\n\x04\x0a\x20' >"$work/cut"
printf 'PING\nPING\n\x04\x00\x0f\x04\x00' >"$work/merge"
"$fray" fuzz-encode "$(dirname "$0")/../exec/scripts/basic.fray" >"$work/seed" ||
  { echo "fuzz_threads.sh: cannot encode basic.fray"; exit 1; }
fails=0
for input in "$work"/cut "$work"/merge "$work"/seed; do
  FRAY_SHIM_FUZZ=1 FRAY_SHIM_FUZZ_INPUT="$input" \
    timeout 20 env LD_PRELOAD="$shim" "$server" 0 >/dev/null 2>"$work/err"
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q 'single-threaded servers only' "$work/err"; then
    echo "FAIL: $(basename "$input"): exit $rc (want 2 and the message), stderr:"
    cat "$work/err"
    fails=$((fails + 1))
  else
    echo "ok: $(basename "$input"): $(cut -c1-120 "$work/err")"
  fi
done
exit $((fails > 0))
