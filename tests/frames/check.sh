#!/bin/sh
# One contract case of `fray frames`: runs it and checks the exit status,
# stdout (byte for byte against a golden file) and stderr (an ERE).
#
# usage: check.sh FRAY RC EXPECTED|- STDERR_ERE|- [<STDIN_FILE] ARGS...
#   EXPECTED   file holding the exact expected stdout; - to skip the check
#   STDERR_ERE grep -E pattern stderr must match; - to skip; "^$" for empty
#   <FILE      feed FILE on stdin (otherwise stdin is /dev/null)
# Exits 0 when everything matches, 1 otherwise (printing what differed).
fray=$1 rc=$2 exp=$3 re=$4
shift 4
stdin=/dev/null
case "$1" in
"<"*) stdin=${1#<}; shift ;;
esac
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$fray" frames "$@" <"$stdin" >"$tmp/out" 2>"$tmp/err"
got=$?
fail=0
if [ "$got" != "$rc" ]; then
  echo "FAIL: exit status $got, expected $rc"
  fail=1
fi
if [ "$exp" != - ] && ! cmp -s "$exp" "$tmp/out"; then
  echo "FAIL: stdout differs from $exp (diff expected got):"
  diff "$exp" "$tmp/out" | head -40
  fail=1
fi
if [ "$re" = "^\$" ]; then
  if [ -s "$tmp/err" ]; then
    echo "FAIL: stderr should be empty"
    fail=1
  fi
elif [ "$re" != - ] && ! grep -Eq -- "$re" "$tmp/err"; then
  echo "FAIL: stderr does not match /$re/"
  fail=1
fi
echo "--- command: fray frames $*"
echo "--- stderr:"
cat "$tmp/err"
[ $fail = 0 ] && echo "PASS"
exit $fail
