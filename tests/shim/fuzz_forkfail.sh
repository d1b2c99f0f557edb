#!/usr/bin/env bash
# The shim's fuzz mode when the oracle's whole run cannot be forked (a
# machine out of processes or memory for longer than the shim waits): the
# exec ends unjudged (exit 0, and it says so), never with an abort that
# afl-fuzz would file as the server's crash. The fork is made to fail with
# RLIMIT_NPROC 1 for an unprivileged user (root is exempt from it), on an
# input whose schedule needs the whole run: the droptail twin's cut, which
# the oracle catches when the fork works. Skipped (77) when not root or
# without setpriv/prlimit (util-linux).
#
# usage: fuzz_forkfail.sh SHIM SERVER
set -u
shim=$1 server=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to run the server as another user"; exit 77; }
for t in setpriv prlimit; do
  command -v $t >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
printf 'ECHO hello\n\x04\x0a\x20' >"$work/cut"
chmod 644 "$work/cut"

# play [LIMIT...]: one exec of the droptail twin on the cut input.
play() {
  FRAY_SHIM_FUZZ=1 FRAY_SHIM_FUZZ_INPUT="$work/cut" timeout 20 "$@" \
    env LD_PRELOAD="$shim" "$server" 0 --bug droptail >/dev/null 2>"$work/err"
}
fails=0
play setpriv --reuid=65534 --regid=65534 --clear-groups 2>/dev/null
rc=$?
if [ $rc -ne 134 ]; then
  echo "FAIL: with fork working the oracle did not catch droptail: exit $rc (134 expected)"
  cat "$work/err"
  fails=$((fails + 1))
fi
play prlimit --nproc=1 setpriv --reuid=65534 --regid=65534 --clear-groups 2>/dev/null
rc=$?
if [ $rc -ne 0 ] || ! grep -q "this exec is not judged" "$work/err"; then
  echo "FAIL: with fork failing: exit $rc (0 and 'this exec is not judged' expected)"
  cat "$work/err"
  fails=$((fails + 1))
else
  echo "ok: $(grep -m1 'not judged' "$work/err")"
fi
exit $((fails > 0))
