#!/usr/bin/env bash
# tests/exec/run.sh: starts one exec test server, runs a command against it,
# stops it, and checks that it stopped cleanly and left nothing behind.
#
#   run.sh [--expect N] SERVER-CMD... --then CMD...
#
# SERVER-CMD is started in a session of its own with {port} replaced by 0:
# the server binds a port the kernel picks and prints "listening on
# 127.0.0.1:PORT" first (so no port is guessed, none raced for). @PORT@ in
# CMD is replaced by that port. Afterwards the server gets SIGTERM and must
# exit with status 0 within 5 s, and no process of its session may remain
# (a server's threads or children are not left as orphans). The test passes
# when CMD exits with N (default 0) and the server behaved.
set -u
expect=0
if [ "${1:-}" = --expect ]; then expect=$2; shift 2; fi
server=()
# (--then, not --: a SERVER-CMD may hold a --, as `fray exec -- SERVER` does.)
while [ $# -gt 0 ] && [ "$1" != --then ]; do server+=("${1//\{port\}/0}"); shift; done
[ "${1:-}" = --then ] && [ ${#server[@]} -gt 0 ] || { echo "usage: run.sh [--expect N] SERVER-CMD... --then CMD..." >&2; exit 2; }
shift

work=$(mktemp -d "${TMPDIR:-/tmp}/fray-exec.XXXXXX")
pid=
# Processes still in the server's session (its pid is the session id).
leftovers() { ps -e -o pid=,sid= | awk -v s="$pid" '$2 == s { print $1 }'; }
cleanup() {
  if [ -n "$pid" ]; then
    for p in $(leftovers); do kill -9 "$p" 2>/dev/null; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setsid "${server[@]}" >"$work/out" 2>"$work/err" &
pid=$!
port=
for _ in $(seq 200); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/out")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "run.sh: the server did not start: ${server[*]}" >&2
  cat "$work/err" >&2
  exit 2
fi
echo "run.sh: ${server[*]} listening on 127.0.0.1:$port (pid $pid)"

cmd=()
for a in "$@"; do cmd+=("${a//@PORT@/$port}"); done
"${cmd[@]}"
rc=$?

fail=0
if ! kill -TERM "$pid" 2>/dev/null; then
  echo "run.sh: the server died during the test:" >&2
  cat "$work/err" >&2
  fail=1
else
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: the server ignored SIGTERM for 5 s" >&2
    fail=1
  else
    wait "$pid"
    st=$?
    [ "$st" = 0 ] || { echo "run.sh: the server exited with $st after SIGTERM:" >&2; cat "$work/err" >&2; fail=1; }
  fi
fi
left=$(leftovers)
if [ -n "$left" ]; then
  echo "run.sh: processes left behind by the server: $left" >&2
  fail=1
fi
if [ "$rc" != "$expect" ]; then
  echo "run.sh: FAILED: the command exited with $rc, expected $expect" >&2
  fail=1
fi
[ "$fail" = 0 ] && echo "run.sh: ok (exit $rc as expected; server stopped cleanly)"
exit "$fail"
