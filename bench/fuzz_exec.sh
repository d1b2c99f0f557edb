#!/usr/bin/env bash
# bench/fuzz_exec.sh: execs/s of `fray fuzz --exec` (AFL++ through the
# shim's fuzz mode, split-invariance oracle on) against the tests' single-
# threaded C line server (tests/exec/srv_poll.c) built with afl-clang-fast,
# and in the same run the random runs/s of `fray replay --exec` on the same
# binary and the same 10-step script (bench_exec's: four commands, four
# answers, open and close), with the ratio. Goal: >= 1,500 execs/s on one
# core. Also the `--reads whole` ablation (one read per send, no oracle
# run), for what the oracle costs. Everything runs on one core (taskset).
# Beside the wall-clock rates, the CPU time per exec of the whole process
# tree (afl-fuzz, forkserver, execs, the oracle's grandchildren): on a
# machine shared with other work the core is not all ours, and 1e6 / that
# is the rate an idle core would give. The oracle's line also says how
# often its whole run came from the shim's reference cache.
#
#   bench/fuzz_exec.sh [--time S] [--runs N] [--core C] [--fray FRAY]
#
# --time S (default 30) per afl-fuzz run; --runs N (default 2000) random
# runs of replay --exec; --core C (default 0); FRAY defaults to
# build-dev/fray. Needs AFL++ (afl-clang-fast, afl-fuzz).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
time_s=30 runs=2000 core=0 fray=$root/build-dev/fray
while [ $# -gt 0 ]; do
  case $1 in
    --time) time_s=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --core) core=${2:?}; shift ;;
    --fray) fray=${2:?}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz_exec: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
for t in afl-clang-fast afl-fuzz taskset; do
  command -v $t >/dev/null || { echo "SKIP: fuzz_exec needs $t"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
AFL_QUIET=1 afl-clang-fast -O2 -o "$work/srv" "$root/tests/exec/srv_poll.c" \
  "$root/tests/exec/proto.c" -I"$root/tests/exec" -lpthread
cat >"$work/chat.fray" <<'FRAY'
open a
a > "PING\r\n"
a < "PONG\r\n"
a > "ECHO hello world\r\n"
a < "hello world\r\n"
a > "SET k some value\r\n"
a < "OK\r\n"
a > "GET k\r\n"
a < "VALUE some value\r\n"
close a
FRAY

# fuzz MODE [ENV...]: fray fuzz --exec for time_s on one core; prints
# execs/s (execs done over afl-fuzz's run time, from its final
# fuzzer_stats) and the CPU microseconds per exec of the whole tree.
fuzz() {
  local out=$work/fz-$1 cpu
  cpu=$( { TIMEFORMAT='%U %S'; time env "${@:2}" taskset -c "$core" "$fray" fuzz \
    --exec "$work/srv {port}" --reads "$1" --time "$time_s" --out "$out" "$work/chat.fray" \
    >/dev/null 2>"$out.err" || true; } 2>&1)
  awk -F': *' -v cpu="$cpu" '/^execs_done/ {e=$2} /^run_time/ {t=$2}
    END {split(cpu, c, " "); if (t > 0 && e > 0) printf "%6.0f execs/s  %5.0f us CPU/exec", e / t,
         (c[1] + c[2]) * 1e6 / e; else printf "0 execs/s"}' "$out/afl/default/fuzzer_stats"
}

exact=$(fuzz exact)
cache=$(sed -n 's/^fray fuzz: the oracle.s whole runs: //p' "$work/fz-exact.err")
nocache=$(fuzz exact FRAY_SHIM_FUZZ_CACHE=0)
whole=$(fuzz whole)
t0=$(date +%s.%N)
taskset -c "$core" "$fray" replay --exec "$work/srv {port}" --schedule random --runs "$runs" \
  "$work/chat.fray" >/dev/null
t1=$(date +%s.%N)
replay=$(echo "$runs $t0 $t1" | awk '{printf "%.0f", $1 / ($3 - $2)}')
echo "fray fuzz --exec (oracle on):       $exact   (goal >= 1500 execs/s)"
echo "  its whole runs:                   $cache"
echo "  without the reference cache:      $nocache"
echo "fray fuzz --exec --reads whole:     $whole   (one run per exec, no reference)"
echo "fray replay --exec random:          $replay runs/s"
echo "ratio fuzz --exec / replay --exec:  $(echo "${exact%% execs*} $replay" | awk '{printf "%.2f", $1 / $2}')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
