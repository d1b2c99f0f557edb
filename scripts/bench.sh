#!/usr/bin/env bash
# bench.sh: builds fray in Release (build-bench-release/) and runs the
# benchmarks, then times `fray frames --line --format count` against `wc -l`
# on a 256 MiB file of 64-byte lines.
#
#   scripts/bench.sh                 full run (about a minute)
#   scripts/bench.sh --quick         CI-sized run (seconds)
#   scripts/bench.sh --json          bench_framer's JSON on stdout, everything else on stderr
#
# Arguments are passed to bench_framer; the other bench/bench_* programs get
# only --quick (when given). Environment:
#   BUILD_DIR     build directory (default: <repo>/build-bench-release)
#   CLI_MIB       size of the CLI test file in MiB (default 256, 16 with --quick)
#   KEEP_DATA=1   keep the generated file in /tmp
#   SKIP_CLI=1    skip the `fray frames` vs `wc -l` timing
#   SKIP_BENCH=1  skip the bench/ programs (only the CLI timing)
#
# Speed figures never change the exit status: it is non-zero only when a
# build or a program fails, or when fray and wc disagree on the line count.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench-release}
JOBS=${JOBS:-2}

quick=0
json=0
for a in "$@"; do
  [[ $a == --quick ]] && quick=1
  [[ $a == --json ]] && json=1
done
CLI_MIB=${CLI_MIB:-$([[ $quick == 1 ]] && echo 16 || echo 256)}
RUNS=5

log() { printf '%s\n' "$*" >&2; }

log "== configuring Release build in $BUILD_DIR"
mkdir -p "$BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DFRAY_BUILD_BENCH=ON \
  -DFRAY_BUILD_TESTS=OFF -DFRAY_BUILD_CLI=ON -DFRAY_WITH_LIBEVENT=ON >"$BUILD_DIR/bench-configure.log" 2>&1 || {
  cat "$BUILD_DIR/bench-configure.log" >&2
  exit 1
}

log "== building benchmarks"
# Every benchmark target is named bench_<something> after its source file;
# a source whose target is not defined (yet) is left out.
known=$(cmake --build "$BUILD_DIR" --target help 2>/dev/null || true)
targets=()
for src in "$ROOT"/bench/bench_*.c; do
  [[ -e $src ]] || continue
  t=$(basename "$src" .c)
  if grep -qw -- "$t" <<<"$known"; then
    targets+=("$t")
  else
    log "(no target for bench/$t.c: skipped)"
  fi
done
if [[ ${#targets[@]} == 0 ]]; then
  log "no benchmarks in $ROOT/bench"
  exit 1
fi
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${targets[@]}"

if [[ ${SKIP_BENCH:-0} != 1 ]]; then
  for t in "${targets[@]}"; do
    # bench_framer takes all the script's options; the others only --quick.
    args=("$@")
    if [[ $t != bench_framer ]]; then
      args=()
      # The proxy bench drives the fray command itself.
      [[ $t == bench_proxy ]] && cmake --build "$BUILD_DIR" -j"$JOBS" --target fray_cli >/dev/null &&
        args=("$BUILD_DIR/fray")
      [[ $quick == 1 ]] && args+=(--quick)
    fi
    log ""
    log "== $t ${args[*]}"
    if [[ $json == 1 && $t != bench_framer ]]; then
      "$BUILD_DIR/bench/$t" "${args[@]}" >&2 # keep stdout pure JSON
    else
      "$BUILD_DIR/bench/$t" "${args[@]}"
    fi
  done
fi

[[ ${SKIP_CLI:-0} == 1 ]] && exit 0

# ---- fray frames vs wc -l ---------------------------------------------------

log ""
log "== fray frames --line --format count vs wc -l (${CLI_MIB} MiB of 64-byte lines)"
# The CLI is built separately: while its frames subcommand is missing or
# broken the benchmarks above still run, and this part says why it is skipped.
if ! cmake --build "$BUILD_DIR" -j"$JOBS" --target fray_cli >"$BUILD_DIR/bench-cli-build.log" 2>&1; then
  log "SKIPPED: the fray CLI does not build (is harness/cli/frames.c there yet?);"
  log "  see $BUILD_DIR/bench-cli-build.log"
  exit 0
fi
FRAY=$BUILD_DIR/fray

data=/tmp/fray-bench-lines-${CLI_MIB}m.txt
bytes=$((CLI_MIB * 1024 * 1024))
cleanup() { [[ ${KEEP_DATA:-0} == 1 ]] || rm -f "$data"; }
trap cleanup EXIT
if [[ ! -f $data || $(stat -c %s "$data") != "$bytes" ]]; then
  # 63 base64 characters and a newline: 64-byte lines, no '\r'. That many
  # random bytes encode to exactly bytes/64 full lines (no padding, no short
  # last line); a finite input also spares base64 the SIGPIPE that a
  # `| head -c` would give it (fatal under pipefail).
  lines=$((bytes / 64))
  head -c $((lines * 63 * 3 / 4)) /dev/urandom | base64 -w 63 >"$data"
fi
want=$((bytes / 64))

# Correctness first: a fast wrong answer is not a result.
set +e
got=$("$FRAY" frames --line --format count "$data" 2>"$BUILD_DIR/bench-cli-run.log" | tail -n 1)
rc=$?
set -e
if [[ $rc != 0 || -z $got ]]; then
  if grep -q "unknown command" "$BUILD_DIR/bench-cli-run.log"; then
    log "SKIPPED: this fray has no frames subcommand yet"
    exit 0
  fi
  log "FAILED: fray frames --line --format count exited $rc:"
  cat "$BUILD_DIR/bench-cli-run.log" >&2
  exit 1
fi
wcl=$(wc -l <"$data")
if [[ $got != "$want" || $wcl != "$want" ]]; then
  log "FAILED: line counts differ: fray frames $got, wc -l $wcl, expected $want"
  exit 1
fi
log "both count $want lines"

# Warm the page cache so both read from memory.
cat "$data" >/dev/null

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

if command -v hyperfine >/dev/null 2>&1; then
  hf=$(mktemp /tmp/fray-bench-hyperfine.XXXXXX.json)
  hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$hf" \
    -n "fray frames" "$FRAY frames --line --format count $data" \
    -n "wc -l" "wc -l $data" >&2
  # hyperfine's JSON lists each command's run times; take their medians.
  t_fray=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$hf")
  t_wc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][1]["median"])' "$hf")
  rm -f "$hf"
  how="hyperfine, $RUNS runs, median"
else
  log "(hyperfine not found: timing with /usr/bin/time; apt-get install hyperfine for better figures)"
  time_of() {
    local t
    for _ in $(seq "$RUNS"); do
      t=$( { /usr/bin/time -f %e "$@" >/dev/null; } 2>&1 | tail -n 1)
      echo "$t"
    done | median
  }
  t_fray=$(time_of "$FRAY" frames --line --format count "$data")
  t_wc=$(time_of wc -l "$data")
  how="/usr/bin/time, $RUNS runs, median"
fi

# With --json, stdout holds only the benchmarks' JSON: the summary goes to stderr.
summary_fd=1
[[ $json == 1 ]] && summary_fd=2
awk -v f="$t_fray" -v w="$t_wc" -v mib="$CLI_MIB" -v how="$how" 'BEGIN {
  b = mib * 1048576
  printf "fray frames --line --format count: %.4f s (%.2f GB/s)\n", f, b / f / 1e9
  printf "wc -l                            : %.4f s (%.2f GB/s)\n", w, b / w / 1e9
  printf "fray frames time / wc -l time    : %.2f  (%s; below 1 means fray is faster)\n", f / w, how
}' >&"$summary_fd"
