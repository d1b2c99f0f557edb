#!/usr/bin/env bash
# tests/shim/exec.sh: `fray exec` against real programs. Each case starts a
# server under fray exec on a free loopback port, drives it with a real
# client, stops it (also on failure: no process is left behind) and checks
# the shim's log.
#
#   exec.sh FRAY CASE [ARGS...]
#
# CASE: redis-reads1 | redis-short | memcached | asan ECHO_SERVER | asked SERVER | errors
# Exit 77 (ctest's SKIP_RETURN_CODE) when a server binary is missing.
set -u
fray=$1 case=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/fray-shim.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "exec.sh: FAILED: $*" >&2; [ -s "$work/err" ] && tail -20 "$work/err" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "SKIP: $1 is not installed"; exit 77; }; }
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start PORT-PLACEHOLDER-COMMAND...: runs `fray exec ... -- CMD` with @PORT@
# replaced by a free port, retried on another port if the server loses
# the race for it; sets $port and $pid.
start() {
  local p a cmd
  for _ in 1 2 3 4 5; do
    p=$(( (RANDOM << 1 | RANDOM & 1) % 30000 + 20000 ))
    up "$p" && continue
    cmd=()
    for a in "$@"; do cmd+=("${a//@PORT@/$p}"); done
    "$fray" exec "${cmd[@]}" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 100); do
      up "$p" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if up "$p"; then port=$p; return 0; fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
  done
  fail "the server did not start under fray exec"
}

# stop: SIGTERM to fray exec, which passes it on; the server must exit.
stop() {
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "the server did not stop on SIGTERM passed on by fray exec"
  wait "$pid" 2>/dev/null
  pid=
}

# reads_all SIZE: every read the log shows (end of stream aside) served SIZE
# bytes, and there were at least MIN of them.
reads_all() {
  local size=$1 min=$2 n other
  n=$(grep -c '^conn [0-9]* read [0-9]' "$work/log")
  other=$(grep '^conn [0-9]* read [0-9]' "$work/log" | awk -v s="$size" '$4 != s' | head -3)
  [ -z "$other" ] || fail "reads of another size than $size: $other"
  [ "$n" -ge "$min" ] || fail "only $n reads logged (want >= $min)"
  echo "exec.sh: $n reads, every one $size byte(s)"
}

case $case in
  redis-reads1)
    need redis-server; need redis-benchmark
    start --reads 1 --log "$work/log" -- redis-server --port @PORT@ --bind 127.0.0.1 --save '' \
      --appendonly no
    redis-benchmark -q -n 2000 -P 16 -p "$port" >"$work/bench" 2>&1 || fail "redis-benchmark failed"
    tr '\r' '\n' <"$work/bench" | grep 'requests per second' | grep -v 'rps=' | head -40
    n=$(tr '\r' '\n' <"$work/bench" | grep -c '[0-9] requests per second')
    [ "$n" -ge 15 ] || fail "redis-benchmark finished only $n tests"
    stop
    reads_all 1 100000
    ;;
  redis-short)
    # Short writes and EAGAIN on every reply. LRANGE_* replies (kilobytes in
    # 1-16 byte writes) would take minutes, so the benchmark leaves them out.
    need redis-server; need redis-benchmark
    start --reads random:7 --writes short:7 --log "$work/log" -- redis-server --port @PORT@ \
      --bind 127.0.0.1 --save '' --appendonly no
    redis-benchmark -q -n 2000 -P 16 -p "$port" -t ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,mset \
      >"$work/bench" 2>&1 || fail "redis-benchmark failed"
    n=$(tr '\r' '\n' <"$work/bench" | grep -c '[0-9] requests per second')
    [ "$n" -ge 12 ] || fail "redis-benchmark finished only $n tests"
    stop
    w=$(grep -c '^conn [0-9]* write [0-9]' "$work/log")
    e=$(grep -c '^conn [0-9]* write EAGAIN' "$work/log")
    big=$(grep '^conn [0-9]* write [0-9]' "$work/log" | awk '$4 > 16' | head -3)
    [ -z "$big" ] || fail "writes over 16 bytes accepted: $big"
    [ "$w" -ge 10000 ] && [ "$e" -ge 1000 ] || fail "only $w short writes and $e EAGAINs logged"
    echo "exec.sh: $w writes of 1-16 bytes, $e EAGAINs; redis-benchmark finished $n tests"
    ;;
  memcached)
    need memcached
    u=(); [ "$(id -u)" = 0 ] && u=(-u nobody)
    start --reads 1 --writes short:3 --log "$work/log" -- memcached "${u[@]}" -p @PORT@ -U 0 \
      -l 127.0.0.1
    python3 "$(dirname "$0")/mc_client.py" "$port" 300 || fail "the memcached client failed"
    "$fray" replay --connect "127.0.0.1:$port" --schedule whole \
      "$(dirname "$0")"/../../corpus/memcached/*.fray || fail "the memcached scripts failed"
    stop
    reads_all 1 10000
    ;;
  asan)
    # A server built with gcc -fsanitize=address needs libasan first in
    # LD_PRELOAD, or ASan aborts at start; fray exec puts it there.
    echo_bin=$1
    start --reads 1 --log "$work/log" -- "$echo_bin" @PORT@
    out=$(printf 'hello\nworld\n' | python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.stdin.buffer.read())
want, got = b"echo: hello\necho: world\n", b""
while len(got) < len(want):
    d = s.recv(100)
    if not d: break
    got += d
print(got.decode(), end="")' "$port")
    [ "$out" = $'echo: hello\necho: world' ] || fail "echo server answered '$out'"
    stop
    reads_all 1 12
    ;;
  asked)
    # The log's "asked" is what the program asked for, whatever the policy
    # cut it to: tests/exec's servers ask 4096 bytes per read (exec-poll with
    # read(), exec-epoll with readv() over two buffers).
    srv=$1
    start --reads 1 --writes short:3 --log "$work/log" -- "$srv" @PORT@
    "$fray" replay --connect "127.0.0.1:$port" --schedule whole \
      "$(dirname "$0")"/../exec/scripts/basic.fray >"$work/replay" 2>&1 ||
      fail "the script failed: $(cat "$work/replay")"
    stop
    other=$(grep '^conn [0-9]* read [0-9]' "$work/log" | grep -v '(asked 4096)$' | head -3)
    [ -z "$other" ] || fail "reads logged as asking other than 4096 bytes: $other"
    reads_all 1 100
    ;;
  errors)
    # One clear line and exit 2 each; the program's own status otherwise.
    check() {
      local want=$1 pat=$2; shift 2
      "$fray" exec "$@" >"$work/out" 2>"$work/err"
      local rc=$?
      [ "$rc" = "$want" ] || fail "fray exec $* exited $rc, want $want"
      [ -z "$pat" ] || grep -q -- "$pat" "$work/err" || fail "fray exec $*: no '$pat' in: $(cat "$work/err")"
    }
    # Debian's ldconfig is a static-pie binary: no program interpreter.
    if [ -x /sbin/ldconfig ] && ! LC_ALL=C readelf -l /sbin/ldconfig 2>/dev/null | grep -q INTERP; then
      check 2 "statically linked" -- /sbin/ldconfig
    fi
    check 2 "not found" -- /nonexistent/prog
    check 2 "bad value '0' for --reads" --reads 0 -- true
    check 2 "bad value 'long' for --writes" --writes long -- true
    check 2 "no COMMAND" --reads 1
    check 3 "" -- sh -c 'exit 3'
    check 143 "" -- sh -c 'kill -TERM $$'
    # A signal sent to fray exec reaches the program.
    "$fray" exec -- sleep 30 &
    pid=$!
    for _ in $(seq 100); do
      [ -n "$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)" ] && break
      sleep 0.05
    done
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    pid=
    [ "$rc" = 143 ] || fail "SIGTERM passed on: exit $rc, want 143"
    echo "exec.sh: errors ok"
    ;;
  *) echo "exec.sh: unknown case $case" >&2; exit 2 ;;
esac
echo "exec.sh: $case ok"
