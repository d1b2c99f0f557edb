#!/usr/bin/env bash
# tests/net/errors.sh FRAY SRCDIR: bad input over real sockets gives clear
# one-line errors and the documented exit codes, and nothing hangs.
set -u
fray=$1 src=$2
sd=$src/tests/net/scripts
fails=0
work=$(mktemp -d "${TMPDIR:-/tmp}/fray-neterr.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

check() { # NAME WANT-STATUS WANT-REGEX-IN-OUTPUT CMD...
  local name=$1 want=$2 re=$3
  shift 3
  timeout 30 "$@" >"$work/o" 2>&1
  local rc=$?
  if [ "$rc" != "$want" ] || ! grep -Eq -- "$re" "$work/o"; then
    echo "FAIL $name: exit $rc (want $want), output:"; sed 's/^/  /' "$work/o"
    echo "  (wanted a line matching: $re)"
    fails=$((fails + 1))
  else
    echo "ok   $name: exit $rc: $(grep -Em1 -- "$re" "$work/o")"
  fi
}

serve() { # OUTFILE ARGS... ; sets port
  "$fray" serve --listen 127.0.0.1:0 "${@:2}" >"$work/$1" 2>"$work/$1.err" &
  pids+=($!)
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/$1")
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "FAIL: fray serve ${*:2} did not start"; cat "$work/$1.err"; exit 1
}

# A closed port: refused, exit 2, one line naming the client and script line.
check refused 2 "cannot connect alice \(line 3\) to 127\.0\.0\.1:1: Connection refused" \
  "$fray" replay --connect 127.0.0.1:1 "$src/corpus/chat/session.fray"
check bad-address 2 "bad address 'nowhere'" \
  "$fray" replay --connect nowhere "$src/corpus/chat/session.fray"
check connect-and-handler 2 "--handler and --plugin do not apply" \
  "$fray" replay --connect 127.0.0.1:1 --handler chat "$src/corpus/chat/session.fray"
check serve-unknown-handler 2 "unknown handler 'nope'" "$fray" serve --handler nope --listen 127.0.0.1:0
check serve-bad-listen 2 "bad listen address 'localhost'" "$fray" serve --handler echo --listen localhost
check serve-no-listen 2 "no address" "$fray" serve --handler echo

serve a.out --handler chat
p1=$port
# The port is taken: the second server says so and exits 2.
check port-in-use 2 "cannot listen on 127\.0\.0\.1:$p1: Address already in use" \
  "$fray" serve --handler chat --listen "127.0.0.1:$p1"
# A server that never answers: the wait times out and says so (exit 1).
check never-answers 1 "nothing more within 200 ms \(--timeout-ms\)" \
  "$fray" replay --connect "127.0.0.1:$p1" --timeout-ms 200 --schedule whole "$sd/silent.fray"

# The same with the unified spelling: --timeout takes a time with a unit.
check never-answers-unit 1 "nothing more within 200 ms" \
  "$fray" replay --connect "127.0.0.1:$p1" --timeout 0.2s --schedule whole "$sd/silent.fray"

serve b.out --handler chat --max-conns 1
# A server that closes early: the failure is "closed", exit 1.
check closes-early 1 "closed: b expected \"OK nick b\\\\r\\\\n\", got \"\" then the server closed" \
  "$fray" replay --connect "127.0.0.1:$port" --schedule whole "$sd/two.fray"
grep -q "refused: 1 connections open (--max-conns 1)" "$work/b.out.err" &&
  echo "ok   max-conns logged: $(grep -m1 refused "$work/b.out.err")" ||
  { echo "FAIL max-conns: no log line"; cat "$work/b.out.err"; fails=$((fails + 1)); }

serve c.out --handler chat --idle-timeout 0.3
check idle-timeout 0 "1 passed, 0 failed" \
  "$fray" replay --connect "127.0.0.1:$port" --schedule whole "$sd/idle.fray"
# --idle is --idle-timeout in milliseconds (300, 300ms, 0.3s).
serve e.out --handler chat --idle 300
check idle-ms 0 "1 passed, 0 failed" \
  "$fray" replay --connect "127.0.0.1:$port" --timeout 2s --pace 1ms --schedule whole "$sd/idle.fray"

# Graceful stop: SIGTERM ends fray serve with status 0, promptly.
serve d.out --handler chat
spid=${pids[-1]}
kill -TERM "$spid"
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$spid" 2>/dev/null; then
  echo "FAIL sigterm: still running after 5 s"; fails=$((fails + 1))
else
  wait "$spid"; rc=$?
  [ "$rc" = 0 ] && echo "ok   sigterm: exit 0" || { echo "FAIL sigterm: exit $rc"; fails=$((fails + 1)); }
fi

[ "$fails" = 0 ] && echo "all error checks passed" || echo "$fails error checks failed"
[ "$fails" = 0 ]
