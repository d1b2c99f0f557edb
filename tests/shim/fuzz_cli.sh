#!/usr/bin/env bash
# `fray fuzz --exec`'s refusals, each one clear line and exit 2, nothing
# started: a server not built with AFL++ (with the build line), a command
# not found, --plugin with --exec, --exec's options without it, a bad
# --reads or --exits.
# usage: fuzz_cli.sh FRAY UNINSTRUMENTED-SERVER
set -u
fray=$1 plain=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
# expect STATUS PATTERN ARGS...: fray fuzz ARGS exits STATUS, stderr matches PATTERN.
expect() {
  local want=$1 pat=$2
  shift 2
  "$fray" fuzz "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ $rc -ne "$want" ] || ! grep -q -- "$pat" "$work/err"; then
    echo "FAIL: fray fuzz $*: exit $rc (want $want), stderr:"
    cat "$work/err"
    fails=$((fails + 1))
  else
    echo "ok: $* -> $(head -1 "$work/err")"
  fi
}
expect 2 "is not built with AFL++" --exec "$plain {port}" --out "$work/o1" --time 1
expect 2 "afl-clang-fast" --exec "$plain {port}" --out "$work/o1" --time 1
expect 2 "command not found" --exec "/nonexistent/srv {port}" --out "$work/o2"
expect 2 "exclude each other" --exec "$plain {port}" --plugin x.so
expect 2 "go with --exec" --plugin x.so --execs 10
expect 2 "must be exact or whole" --exec "$plain {port}" --reads 3
expect 2 "must be crash or ok" --exec "$plain {port}" --exits yes
expect 2 "go with --exec" --plugin x.so --exits ok
[ -e "$work/o1/afl" ] && { echo "FAIL: afl-fuzz was started"; fails=$((fails + 1)); }
exit $((fails > 0))
