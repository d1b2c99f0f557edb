#!/usr/bin/env bash
# scripts/fuzz.sh: build and run one fuzz target with libFuzzer or AFL++.
#
#   scripts/fuzz.sh TARGET [--engine libfuzzer|afl] [--time S] [--jobs N]
#                          [--sync DIR] [--name NAME] [--bin PATH] [--build-dir DIR]
#   scripts/fuzz.sh TARGET --smoke [--runs N] [--bin PATH] [--workdir DIR]
#   scripts/fuzz.sh --list
#
# TARGET is framer, script, outq or a handler target (fuzz_ prefix optional).
# Without --bin the target is built first, in build-fuzz-libfuzzer/ (clang)
# or build-fuzz-afl/ (afl-clang-fast), both with ASan+UBSan. --bin also takes
# a binary scripts/oss-fuzz-build.sh made for the same engine.
#
# Work goes to build-fuzz-out/TARGET/ (git-ignored like every build*; set
# FRAY_FUZZ_OUT to move it). libFuzzer (default): new inputs in corpus/,
#   crashes in crashes/. Seeds are read from corpus/fuzz_TARGET/seeds/ and
#   corpus/regressions/fuzz_TARGET/, the dictionary from corpus/fuzz_TARGET/
#   (or corpus/dicts/TARGET.dict). --jobs N > 1 uses libFuzzer's -fork=N.
# AFL++: persistent mode, shared-memory inputs (targets/standalone_main.c).
#   --jobs N starts one main (-M) and N-1 secondaries (-S) on the sync
#   directory (--sync, default build-fuzz-out/TARGET/afl); afl-fuzz -V bounds the
#   time. Instance names are NAME-m0, NAME-s1, ... (NAME: --name, default
#   the short host name). Every instance first imports what the sync
#   directory already holds (AFL_IMPORT_FIRST=1 unless set), so a restarted
#   campaign or a new machine starts from what the others found.
# Several machines (docs/fuzzing-at-scale.md has the exact commands): each
#   runs its own -M (so --name must differ: the host name does) and -S
#   instances on a local --sync, and the other machines' NAME-m0/ directories
#   are rsynced into it now and then; the -M imports them (every
#   AFL_SYNC_TIME minutes, and at start) and its secondaries take them from
#   it. A shared file system as --sync for all works too. For libFuzzer,
#   share build-fuzz-out/TARGET/corpus the same way and run scripts/minimize.sh
#   now and then to merge what each machine found.
# --smoke (CI): the libFuzzer binary for a bounded -runs (default 20000)
#   over the seeds (regressions have their own tests), new inputs into a scratch directory
#   (--workdir), never into the committed seeds. Exit 1 on a crash.
#
# Exit status: 0 finished without a crash, 1 a crash (reproducer path
# printed), 2 usage or build error.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "fuzz: $*" >&2; exit 2; }

target="" engine=libfuzzer time_s=600 jobs=1 sync="" name="" bin="" build_dir="" smoke=0 runs=20000 workdir=""
while [ $# -gt 0 ]; do
  case $1 in
    --engine) engine=${2:?}; shift ;;
    --time) time_s=${2:?}; shift ;;
    --jobs) jobs=${2:?}; shift ;;
    --sync) sync=${2:?}; shift ;;
    --name) name=${2:?}; shift ;;
    --bin) bin=${2:?}; shift ;;
    --build-dir) build_dir=${2:?}; shift ;;
    --smoke) smoke=1 ;;
    --runs) runs=${2:?}; shift ;;
    --workdir) workdir=${2:?}; shift ;;
    --list) ls "$root"/targets/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||'; exit 0 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$target" ] || die "one target at a time"; target=${1#fuzz_} ;;
  esac
  shift
done
[ -n "$target" ] || { usage >&2; exit 2; }
[ -f "$root/targets/fuzz_$target.c" ] || die "no target targets/fuzz_$target.c (see --list)"
case $engine in libfuzzer | afl) ;; *) die "--engine is libfuzzer or afl" ;; esac
[ "$smoke" = 0 ] || [ "$engine" = libfuzzer ] || die "--smoke runs the libFuzzer build"

seeds=$root/corpus/fuzz_$target/seeds
regress=$root/corpus/regressions/fuzz_$target
dict=$(ls "$root/corpus/fuzz_$target"/*.dict 2>/dev/null | head -n1 || true)
[ -n "$dict" ] || [ ! -f "$root/corpus/dicts/$target.dict" ] || dict=$root/corpus/dicts/$target.dict

if [ -z "$bin" ]; then
  build_dir=${build_dir:-$root/build-fuzz-$engine}
  if [ "$engine" = afl ]; then
    command -v afl-clang-fast >/dev/null || die "afl-clang-fast not found (apt-get install afl++; see fray doctor)"
    cc=afl-clang-fast
  else
    cc=clang
  fi
  cmake -S "$root" -B "$build_dir" -DCMAKE_C_COMPILER=$cc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFRAY_BUILD_FUZZERS=ON -DFRAY_FUZZ_ENGINE="$engine" -DFRAY_BUILD_TESTS=OFF \
    -DFRAY_BUILD_BENCH=OFF -DFRAY_BUILD_CLI=OFF >"$build_dir.log" 2>&1 ||
    { cat "$build_dir.log" >&2; die "configure failed"; }
  # AFL_QUIET: afl-cc's banner on every file says nothing a log needs.
  AFL_QUIET=1 cmake --build "$build_dir" -j "${FRAY_FUZZ_BUILD_JOBS:-2}" --target "fuzz_$target" \
    >>"$build_dir.log" 2>&1 || { tail -n 30 "$build_dir.log" >&2; die "build failed"; }
  bin=$build_dir/fuzz/fuzz_$target
fi
[ -x "$bin" ] || die "no binary $bin"

# Smoke runs read the seeds only: corpus/regressions/ is replayed by the
# fuzz.regress.* tests, so a still-open bug fails one test, not two.
inputs=()
[ -d "$seeds" ] && inputs+=("$seeds")
[ "$smoke" = 1 ] || [ ! -d "$regress" ] || inputs+=("$regress")

if [ "$smoke" = 1 ]; then
  workdir=${workdir:-$(mktemp -d)}
  rm -rf "$workdir" && mkdir -p "$workdir/corpus" "$workdir/crashes"
  echo "fuzz: smoke $target: $runs runs over ${inputs[*]:-no seeds}"
  # -max_total_time is a backstop only; -runs is the bound that matters.
  if "$bin" -runs="$runs" -seed=1 -max_len=4096 -max_total_time=150 -print_final_stats=1 \
      -artifact_prefix="$workdir/crashes/" ${dict:+-dict="$dict"} \
      "$workdir/corpus" ${inputs[@]+"${inputs[@]}"} >"$workdir/log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$workdir/log" | tr '\n' ' '
    echo
    exit 0
  fi
  tail -n 60 "$workdir/log"
  echo "fuzz: smoke $target: CRASH; reproducer: $(ls "$workdir"/crashes/* 2>/dev/null | head -n1)"
  exit 1
fi

out=${FRAY_FUZZ_OUT:-$root/build-fuzz-out}/$target
mkdir -p "$out/corpus" "$out/crashes"
if [ "$engine" = libfuzzer ]; then
  fork=()
  [ "$jobs" -le 1 ] || fork=(-fork="$jobs" -ignore_crashes=0)
  echo "fuzz: libFuzzer $target for ${time_s}s, $jobs job(s); corpus $out/corpus, crashes $out/crashes"
  set +e
  "$bin" -max_total_time="$time_s" -artifact_prefix="$out/crashes/" ${dict:+-dict="$dict"} \
    ${fork[@]+"${fork[@]}"} "$out/corpus" ${inputs[@]+"${inputs[@]}"}
  rc=$?
  set -e
  [ "$rc" = 0 ] && exit 0
  echo "fuzz: crash; reproducers in $out/crashes/ (save one as corpus/regressions/fuzz_$target/<sha256>)"
  exit 1
fi

# AFL++. afl-fuzz refuses to start when crashes could go unnoticed or the
# CPU cannot be pinned to "performance"; say why we relax each check.
sync=${sync:-$out/afl}
name=${name:-$(hostname -s 2>/dev/null || echo local)}
if grep -q '^|' /proc/sys/kernel/core_pattern 2>/dev/null; then
  echo "fuzz: core_pattern pipes to a program: setting AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1" \
    "(better: echo core > /proc/sys/kernel/core_pattern)"
  export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
fi
if ! ls /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor >/dev/null 2>&1; then
  export AFL_SKIP_CPUFREQ=1 # no cpufreq (a VM): nothing to pin
fi
[ -t 1 ] || export AFL_NO_UI=1
# afl-fuzz refuses sanitizer options under which a crash could go unnoticed
# (abort_on_error=0, as ci/test.sh exports, or symbolizing): keep the user's
# and add what it needs (the sanitizers take the last value of a key).
[ -z "${ASAN_OPTIONS:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:abort_on_error=1:symbolize=0"
[ -z "${UBSAN_OPTIONS:-}" ] || export UBSAN_OPTIONS="$UBSAN_OPTIONS:halt_on_error=1:abort_on_error=1"
afl_in=$(mktemp -d)
for d in ${inputs[@]+"${inputs[@]}"}; do cp "$d"/* "$afl_in"/ 2>/dev/null || true; done
# afl-fuzz needs at least one input.
[ -n "$(ls "$afl_in")" ] || printf 'seed' >"$afl_in/empty-seed"
pids=()
export AFL_IMPORT_FIRST=${AFL_IMPORT_FIRST:-1}
for ((i = 0; i < jobs; i++)); do
  if [ "$i" = 0 ]; then role=(-M "$name-m0"); else role=(-S "$name-s$i"); fi
  # A secondary's output goes to its log only; the main one's to the terminal.
  if [ "$i" = 0 ]; then
    afl-fuzz -i "$afl_in" -o "$sync" "${role[@]}" -V "$time_s" ${dict:+-x "$dict"} -- "$bin" &
  else
    AFL_NO_UI=1 afl-fuzz -i "$afl_in" -o "$sync" "${role[@]}" -V "$time_s" ${dict:+-x "$dict"} \
      -- "$bin" >"$out/afl-$name-s$i.log" 2>&1 &
  fi
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=2; done
rm -rf "$afl_in"
crashes=$(find "$sync" -path '*/crashes/id:*' 2>/dev/null | wc -l)
echo "fuzz: AFL++ done; $crashes crash(es) in $sync/*/crashes/"
[ "$crashes" = 0 ] || exit 1
exit "$rc"
