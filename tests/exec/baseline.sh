#!/usr/bin/env bash
# tests/exec/baseline.sh: which buggy twins a schedule catches, and how
# often. For every server style and bug, starts the twin (run.sh) and
# replays tests/exec/scripts/ with the given fray options plus --keep-going
# --json, once per seed; prints one markdown table row per twin with, per
# seed, the failing schedules out of all schedules run (the reference
# `whole` run included), or "-" when none failed.
#
#   baseline.sh BUILD-DIR [SEEDS] -- FRAY-REPLAY-OPTS...
#   baseline.sh build "1 2 3" -- --schedule random --runs 20
#
# @PORT@ in the options is the server's port; without any --connect/--exec
# option, `--connect 127.0.0.1:@PORT@` is added. Not a ctest entry: over
# TCP the verdicts depend on timing, so this measures, it does not assert.
# STYLES="poll node" limits the servers (default: all of them); WRAP="fray
# exec --reads 1 --" starts each server under that command (split at spaces).
set -u
build=$1 seeds=${2:-1 2 3}
shift 2
[ "${1:-}" = -- ] && shift
opts=("$@")
case " ${opts[*]} " in *" --connect "* | *" --exec "*) ;; *) opts=(--connect 127.0.0.1:@PORT@ "${opts[@]}") ;; esac
here=$(cd "$(dirname "$0")" && pwd)
read -r -a wrap <<<"${WRAP:-}"
scripts=("$here"/scripts/*.fray)
# Failing schedules / schedules run, from fray's --json lines on stdin.
tally() {
  python3 -c '
import json, sys
runs = failed = 0
for line in sys.stdin:
    if line.startswith("{\"file\""):
        r = json.loads(line)
        runs += r["runs"]
        failed += r.get("failed_schedules", 0)
print("%d/%d" % (failed, runs) if failed else "-")'
}
echo "| server | bug | failing schedules, seed $(echo "$seeds" | sed 's/ /, seed /g') |"
echo "|---|---|---|"
for style in ${STYLES:-poll select epoll thread libevent asyncio node}; do
  bugs="oneline droptail max64 shortwrite quitrest"
  if [ "$style" = asyncio ]; then
    server=(python3 "$here/server.py" {port}) bugs="oneline droptail max64 quitrest"
  elif [ "$style" = node ]; then
    command -v node >/dev/null || continue
    server=(node "$here/server.js" {port}) bugs="oneline droptail max64 quitrest"
  else
    server=("$build/tests/exec/exec-$style" {port})
    [ -x "${server[0]}" ] || continue
    [ "$style" = libevent ] && bugs="oneline droptail max64 quitrest"
  fi
  for bug in $bugs; do
    row=""
    for seed in $seeds; do
      t=$(bash "$here/run.sh" --expect 1 "${wrap[@]}" "${server[@]}" --bug "$bug" --then "$build/fray" replay \
        "${opts[@]}" --seed "$seed" --keep-going --json "${scripts[@]}" 2>/dev/null | tally)
      row="$row${row:+, }$t"
    done
    echo "| $style | $bug | $row |"
  done
done
