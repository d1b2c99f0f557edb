#!/usr/bin/env bash
# bench/fuzz_exec_ttb.sh: time to bug of `fray fuzz --exec` (exact reads,
# split-invariance oracle) against the `--reads whole` ablation (each send
# one read: what libdesock or AFLNet hand a server; only crashes can show)
# on the buggy twins of the tests' C servers (tests/exec/: poll, epoll
# edge-triggered, libevent), built with afl-clang-fast. afl-fuzz runs
# directly (the environment `fray fuzz --exec` sets, docs/exec.md) so that
# each run has its own -s SEED, and stops at its first crash
# (AFL_BENCH_UNTIL_CRASH); the seeds are the fuzz-encoded
# tests/exec/scripts. Prints, per server, bug and mode, the seconds to the
# first crash AFL++ saved for each seed ("-": none within the budget) and
# how many seeds found it.
#
#   bench/fuzz_exec_ttb.sh [--seeds N] [--from K] [--budget S] [--core C] [--modes "exact whole"]
#                          [--targets "poll:droptail epoll:crcut ..."]
#                          [--fray FRAY] [--shim LIBFRAY-SHIM-FUZZ.so]
#
# Defaults: 5 seeds (AFL's -s K..K+N-1, K = 1), 60 s, core 0, both
# modes, every read-side bug of each server (poll: droptail oneline max64
# shortwrite quitrest crcut closeidle;
# epoll: droptail oneline crcut; libevent: droptail oneline). crcut crashes
# only on a read boundary between "\r" and "\n"; closeidle crashes on a
# connection closed before its first command, which one read can show.
# The ablation sees no bug that does not crash: each costs it the whole
# budget per seed (most of the run time).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nseeds=5 from=1 budget=60 core=0 modes="exact whole"
targets="poll:droptail poll:oneline poll:max64 poll:shortwrite poll:quitrest poll:crcut
         poll:closeidle epoll:droptail epoll:oneline epoll:crcut libevent:droptail
         libevent:oneline"
fray=$root/build-dev/fray shim=$root/build-dev/libfray-shim-fuzz.so
while [ $# -gt 0 ]; do
  case $1 in
    --seeds) nseeds=${2:?}; shift ;;
    --from) from=${2:?}; shift ;;
    --budget) budget=${2:?}; shift ;;
    --core) core=${2:?}; shift ;;
    --modes) modes=${2:?}; shift ;;
    --targets) targets=${2:?}; shift ;;
    --fray) fray=${2:?}; shift ;;
    --shim) shim=${2:?}; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz_exec_ttb: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
for t in afl-clang-fast afl-fuzz taskset python3; do
  command -v $t >/dev/null || { echo "fuzz_exec_ttb: needs $t" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for style in $(printf '%s\n' $targets | cut -d: -f1 | sort -u); do
  libs=(-lpthread)
  [ "$style" = libevent ] && libs+=(-levent)
  AFL_QUIET=1 afl-clang-fast -O2 -o "$work/srv_$style" "$root/tests/exec/srv_$style.c" \
    "$root/tests/exec/proto.c" -I"$root/tests/exec" "${libs[@]}"
done
mkdir "$work/seeds"
for s in "$root"/tests/exec/scripts/*.fray; do
  "$fray" fuzz-encode "$s" >"$work/seeds/$(basename "$s" .fray)" 2>/dev/null
done
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ttb STYLE BUG MODE SEED: seconds to the first saved crash, or "-".
ttb() {
  local out=$work/out-$1-$2-$3-$4 port
  port=$(free_port)
  AFL_DEFER_FORKSRV=1 AFL_PRELOAD=$shim FRAY_SHIM_FUZZ=$3 FRAY_SHIM_PORT=$port AFL_NO_UI=1 \
    AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_BENCH_UNTIL_CRASH=1 \
    taskset -c "$core" afl-fuzz -s "$4" -i "$work/seeds" -o "$out" -V "$budget" -t 1000+ \
    -- "$work/srv_$1" "$port" --bug "$2" >/dev/null 2>&1 || true
  ls "$out/default/crashes" 2>/dev/null | sed -n 's/.*,time:\([0-9]*\),.*/\1/p' | sort -n |
    head -1 | awk '{printf "%.1f", $1 / 1000} END {if (NR == 0) printf "-"}'
  rm -rf "$out"
}

printf '%-9s %-11s %-6s %s\n' server bug reads "seconds to the first crash, per seed (found/seeds)"
for target in $targets; do
  style=${target%%:*} bug=${target#*:}
  for mode in $modes; do
    line="" found=0
    for seed in $(seq "$from" $((from + nseeds - 1))); do
      t=$(ttb "$style" "$bug" "$([ "$mode" = exact ] && echo 1 || echo whole)" "$seed")
      line="$line $t"
      [ "$t" != "-" ] && found=$((found + 1))
    done
    printf '%-9s %-11s %-6s%s  (%d/%d)\n' "$style" "$bug" "$mode" "$line" "$found" "$nseeds"
  done
done
echo "budget ${budget} s per run, one core (taskset -c $core); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
