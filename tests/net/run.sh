#!/usr/bin/env bash
# tests/net/run.sh: starts a server on a free loopback port, runs a command
# against it, stops the server (also when the command fails or the test is
# killed), and passes the command's exit status on.
#
#   run.sh [--expect N] serve FRAY HANDLER [SERVE-OPTS...] -- CMD...
#   run.sh [--expect N] redis FRAY -- CMD...
#   run.sh [--expect N] memcached FRAY -- CMD...
#
# @PORT@ in CMD is replaced by the server's port, @FRAY@ by FRAY. With
# --expect N the test passes when CMD exits with N (and fails otherwise).
# Exit 77 (ctest SKIP_RETURN_CODE) when the server binary is not installed.
set -u
expect=0
if [ "${1:-}" = --expect ]; then expect=$2; shift 2; fi
kind=$1 fray=$2
shift 2
server_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do server_args+=("$1"); shift; done
[ "${1:-}" = -- ] || { echo "run.sh: missing -- before the command" >&2; exit 2; }
shift

work=$(mktemp -d "${TMPDIR:-/tmp}/fray-net.XXXXXX")
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

# Listening? bash's /dev/tcp connects; a refused port fails at once.
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=
case $kind in
  serve)
    "$fray" serve --listen 127.0.0.1:0 --handler "${server_args[@]}" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 100); do
      port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/out")
      [ -n "$port" ] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    ;;
  redis | memcached)
    bin=redis-server
    [ "$kind" = memcached ] && bin=memcached
    if ! command -v "$bin" >/dev/null 2>&1; then
      echo "SKIP: $bin is not installed (scripts/deps.sh --with-servers installs it)"
      exit 77
    fi
    # A free port: the kernel's choice for a throwaway listener is not
    # reserved, so a server that loses the race is retried on another.
    for _ in 1 2 3 4 5; do
      p=$(( (RANDOM << 1 | RANDOM & 1) % 30000 + 20000 ))
      up "$p" && continue
      if [ "$kind" = redis ]; then
        redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
          --daemonize no >"$work/err" 2>&1 &
      else
        u=(); [ "$(id -u)" = 0 ] && u=(-u nobody)
        memcached "${u[@]}" -p "$p" -U 0 -l 127.0.0.1 >"$work/err" 2>&1 &
      fi
      pid=$!
      for _ in $(seq 100); do
        up "$p" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      if up "$p"; then port=$p; break; fi
      kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
    done
    ;;
  *) echo "run.sh: unknown server kind '$kind'" >&2; exit 2 ;;
esac
if [ -z "$port" ]; then
  echo "run.sh: the $kind server did not start:" >&2
  cat "$work/err" >&2 2>/dev/null
  exit 2
fi
echo "run.sh: $kind listening on 127.0.0.1:$port (pid $pid)"

cmd=()
for a in "$@"; do a=${a//@PORT@/$port}; cmd+=("${a//@FRAY@/$fray}"); done
"${cmd[@]}"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "run.sh: the $kind server died during the test:" >&2
  cat "$work/err" >&2
  exit 1
fi
if [ -s "$work/err" ] && [ "$kind" = serve ]; then
  echo "run.sh: the server's log:"; cat "$work/err"
fi
if [ "$rc" != "$expect" ]; then
  echo "run.sh: FAILED: the command exited with $rc, expected $expect" >&2
  exit 1
fi
echo "run.sh: ok (exit $rc as expected)"
exit 0
