#!/usr/bin/env bash
# tests/exec/baseline.sh: which buggy twins a schedule catches. For every
# server style and bug, starts the twin (run.sh) and replays
# tests/exec/scripts/ with the given fray options, under several seeds;
# prints one markdown table row per twin with the seeds that caught it and,
# per catching seed, the fewest runs a failing script took (its `N runs`,
# the reference `whole` run included).
#
#   baseline.sh BUILD-DIR [SEEDS] -- FRAY-REPLAY-OPTS...
#   baseline.sh build --  --schedule random --runs 20
#
# @PORT@ in the options is the server's port; without any --connect/--exec
# option, `--connect 127.0.0.1:@PORT@` is added. Not a ctest entry: over
# TCP the verdicts depend on timing, so this measures, it does not assert.
# STYLES="poll node" limits the servers (default: all of them).
set -u
build=$1 seeds=${2:-1 2 3}
shift 2
[ "${1:-}" = -- ] && shift
opts=("$@")
case " ${opts[*]} " in *" --connect "* | *" --exec "*) ;; *) opts=(--connect 127.0.0.1:@PORT@ "${opts[@]}") ;; esac
here=$(cd "$(dirname "$0")" && pwd)
scripts=("$here"/scripts/*.fray)
c_bugs="oneline droptail max64 shortwrite quitrest"
echo "| server | bug | caught by seeds ($seeds): runs to the failure |"
echo "|---|---|---|"
for style in ${STYLES:-poll select epoll thread libevent asyncio node}; do
  if [ "$style" = asyncio ]; then
    server=(python3 "$here/server.py" {port}) bugs="oneline droptail max64 quitrest"
  elif [ "$style" = node ]; then
    command -v node >/dev/null || continue
    server=(node "$here/server.js" {port}) bugs="oneline droptail max64 quitrest"
  else
    server=("$build/tests/exec/exec-$style" {port}) bugs=$c_bugs
    [ -x "${server[0]}" ] || continue
    [ "$style" = libevent ] && bugs="oneline droptail max64 quitrest"
  fi
  for bug in $bugs; do
    caught=""
    for seed in $seeds; do
      out=$(bash "$here/run.sh" "${server[@]}" --bug "$bug" -- \
        "$build/fray" replay "${opts[@]}" --seed "$seed" "${scripts[@]}" 2>&1) && continue
      runs=$(printf '%s\n' "$out" | awk '$1 == "FAIL" && $5 == "runs" { print $4 }' | sort -n | head -n1)
      caught="$caught $seed:${runs:-?}"
    done
    echo "| $style | $bug | ${caught:- none} |"
  done
done
