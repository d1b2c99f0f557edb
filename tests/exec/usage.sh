#!/usr/bin/env bash
# tests/exec/usage.sh COMMAND...: each exec test server exits 2 on a bad
# command line (an unknown --bug, a missing or bad port), at once. Each
# COMMAND is one argument, split at spaces.
set -u
fail=0
for entry in "$@"; do
  read -r -a cmd <<<"$entry"
  for args in "0 --bug nosuch" "0 --bug" "" "notaport" "0 --bugs oneline"; do
    # shellcheck disable=SC2086
    timeout 10 "${cmd[@]}" $args >/dev/null 2>&1
    rc=$?
    if [ "$rc" != 2 ]; then
      echo "FAIL: '${cmd[*]} $args' exited with $rc, expected 2"
      fail=1
    fi
  done
done
[ "$fail" = 0 ] && echo "ok: every server refuses bad command lines with exit 2"
exit "$fail"
