#!/usr/bin/env bash
# tests/shim/badinput.sh: `fray replay --exec` with a COMMAND that cannot be
# served: one that does not start, never listens, listens on another port,
# dies at once (leaving a child behind), or is a static binary the shim
# cannot enter, directly or behind a shell. Each must give exit 2, one line
# saying why and the server's last words, and once fray has exited no
# process it started may remain: every one of them carries a marker in its
# environment (given to fray alone, not to this script), and /proc must show
# none.
#
#   badinput.sh FRAY POLL_SERVER SCRIPT [STATIC_SERVER]
set -u
fray=$1 poll=$2 script=$3 static=${4:-}
mark="fray-orphan-$$-$RANDOM$RANDOM"
work=$(mktemp -d "${TMPDIR:-/tmp}/fray-bad.XXXXXX")
trap 'rm -rf "$work"' EXIT
names=()

# run NAME COMMAND: fray replay --exec COMMAND, in the background.
run() {
  names+=("$1")
  (env FRAY_TEST_MARK="$mark" "$fray" replay --exec "$2" --schedule whole "$script" \
    >"$work/$1.out" 2>"$work/$1.err"; echo $? >"$work/$1.rc") &
}

run notfound "/nonexistent/fray-server {port}"
run silent "sleep 30"
run elsewhere "$poll 0"
run dies "sh -c 'sleep 300 & echo oops-it-died >&2; exit 3'"
if [ -n "$static" ]; then
  run static "$static {port}"
  run static-sh "sh -c 'exec $static {port}'"
fi
wait

status=0
# expect NAME PATTERN [TAIL]: exit 2, PATTERN in the first line of stderr,
# TAIL (the server's own words) after it.
expect() {
  local n=$1 pat=$2 tail=${3:-} rc first
  rc=$(cat "$work/$n.rc")
  first=$(head -1 "$work/$n.err")
  if [ "$rc" != 2 ]; then
    echo "FAIL $n: exit $rc, want 2"; status=1
  elif ! printf '%s\n' "$first" | grep -q -- "$pat"; then
    echo "FAIL $n: first line '$first' lacks '$pat'"; status=1
  elif [ -n "$tail" ] && ! tail -n +2 "$work/$n.err" | grep -q -- "$tail"; then
    echo "FAIL $n: no '$tail' from the server after the first line"; status=1
  else
    echo "ok $n: $first"
  fi
}
expect notfound "command not found or not executable"
expect silent "did not listen on 127.0.0.1:[0-9]* within"
expect elsewhere "it listens on port [0-9]*: write {port}" "listening on 127.0.0.1:"
expect dies "exited with status 3 before it listened" "oops-it-died"
if [ -n "$static" ]; then
  expect static "statically linked"
  expect static-sh "the shim is not in the process that listens"
fi

# No process of any case is left: fray stops the server's whole process
# group (the background sleep of `dies` included) before it exits.
left=$(grep -lsaF "FRAY_TEST_MARK=$mark" /proc/[0-9]*/environ | cut -d/ -f3 | tr '\n' ' ')
if [ -n "$left" ]; then
  echo "FAIL: processes left behind: $left"
  for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done
  status=1
fi
exit $status
