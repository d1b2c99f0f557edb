#!/usr/bin/env bash
# tests/fuzz_scripts.sh: ctest checks of the fuzzing scripts (registered by
# targets/CMakeLists.txt in libFuzzer builds; `seeds` by tests/fuzz.cmake and
# `jobs` by tests/ossfuzz.cmake, which also tests scripts/oss-fuzz-build.sh).
# Each check runs the script the way a user would and asserts on what it
# produced:
#
#   fuzz_scripts.sh jobs     BIN WORK   scripts/fuzz.sh --jobs 2 (libFuzzer -fork=2)
#   fuzz_scripts.sh minimize BIN WORK   scripts/minimize.sh (-merge=1)
#   fuzz_scripts.sh coverage WORK       scripts/coverage.sh (its own coverage build)
#   fuzz_scripts.sh repro    BINDIR FRAY WORK   scripts/repro.sh on a crash of buggy-oneread
#   fuzz_scripts.sh seeds    FRAY WORK  scripts/seeds.sh makes exactly the committed seeds
#
# WORK is emptied first. Exit 0 when the check holds; 1 with the reason.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
files() { find "$1" -maxdepth 1 -type f | wc -l; }

what=${1:?usage: fuzz_scripts.sh jobs|minimize|coverage|repro|seeds ...}
shift
case $what in
  jobs)
    bin=${1:?BIN} work=${2:?WORK}
    rm -rf "$work" && mkdir -p "$work"
    FRAY_FUZZ_OUT=$work bash "$root/scripts/fuzz.sh" chat --bin "$bin" --jobs 2 --time 10 \
      >"$work/log" 2>&1 || { tail -n 30 "$work/log"; fail "fuzz.sh --jobs 2 exited non-zero"; }
    # libFuzzer's fork mode announces its workers and reports per-job lines.
    grep -q -- '-fork=2' "$work/log" || { tail -n 30 "$work/log"; fail "no fork mode in the log"; }
    grep -qE '^#[0-9]+: cov: [0-9]+ .* job: [0-9]+' "$work/log" ||
      { tail -n 30 "$work/log"; fail "no job ran"; }
    n=$(files "$work/chat/corpus")
    seeds=$(files "$root/corpus/fuzz_chat/seeds")
    [ "$n" -gt "$seeds" ] || fail "the shared corpus has $n inputs, no more than the $seeds seeds"
    [ "$(files "$work/chat/crashes")" = 0 ] || fail "a crash in the correct chat handler"
    echo "jobs: 2 workers grew the corpus from $seeds seeds to $n inputs"
    ;;
  minimize)
    bin=${1:?BIN} work=${2:?WORK}
    rm -rf "$work" && mkdir -p "$work/in"
    # A corpus worth shrinking: the seeds plus what a short run adds.
    cp "$root"/corpus/fuzz_chat/seeds/* "$work/in/"
    "$bin" -runs=3000 -seed=1 -max_len=4096 "$work/in" >"$work/fuzz.log" 2>&1 ||
      fail "the chat target crashed while growing the corpus"
    before=$(files "$work/in")
    bash "$root/scripts/minimize.sh" chat --bin "$bin" --in "$work/in" --out "$work/out" \
      >"$work/log" 2>&1 || { cat "$work/log"; fail "minimize.sh exited non-zero"; }
    cat "$work/log"
    after=$(files "$work/out")
    [ "$after" -gt 0 ] && [ "$after" -lt "$before" ] ||
      fail "minimize kept $after of $before inputs (want fewer, not none)"
    bytes=$(find "$work/in" -type f -exec cat {} + | wc -c)
    grep -q "minimize: $before inputs ($bytes bytes) -> $after inputs" "$work/log" ||
      fail "the summary line does not say $before inputs ($bytes bytes) -> $after inputs"
    ;;
  coverage)
    work=${1:?WORK}
    rm -rf "$work" && mkdir -p "$work"
    bash "$root/scripts/coverage.sh" chat --build-dir "$work/build" --out "$work/report" \
      >"$work/log" 2>&1 || { tail -n 30 "$work/log"; fail "coverage.sh exited non-zero"; }
    [ -s "$work/report/index.html" ] || fail "no HTML report"
    # The report's TOTAL line: the seeds must cover a real share of libfray.
    pct=$(awk '/^TOTAL/ {print $(NF-3)}' "$work/log" | tr -d '%')
    [ -n "$pct" ] || { tail -n 30 "$work/log"; fail "no TOTAL line in the summary"; }
    awk -v p="$pct" 'BEGIN { exit !(p > 5) }' || fail "line coverage $pct% of libfray (want > 5%)"
    echo "coverage: chat seeds cover $pct% of libfray's lines; report $work/report/index.html"
    ;;
  repro)
    bindir=${1:?BINDIR} fray=${2:?FRAY} work=${3:?WORK}
    rm -rf "$work" && mkdir -p "$work/seeds" "$work/corpus"
    # A real crash first: the buggy one-read handler under its session target.
    for f in "$root"/corpus/buggy/oneread*.fray; do
      "$fray" fuzz-encode --lossy "$f" >"$work/seeds/$(basename "$f")"
    done
    (cd "$work" && "$bindir/fuzz_buggy_oneread" -runs=40000 -seed=1 -max_len=4096 \
       -artifact_prefix="$work/" corpus seeds >"$work/fuzz.log" 2>&1) && fail "no crash to reproduce"
    crash=$(ls "$work"/crash-* 2>/dev/null | head -n1)
    [ -n "$crash" ] || { tail -n 20 "$work/fuzz.log"; fail "the target failed without a crash file"; }
    regressions() { find "$root/corpus/regressions" -type f -exec sha256sum {} + | sort; }
    regressions >"$work/before"
    bash "$root/scripts/repro.sh" "$crash" --target buggy_oneread --fray "$fray" --bin-dir "$bindir" \
      >"$work/log" 2>&1 || { cat "$work/log"; fail "repro.sh exited non-zero"; }
    # The decoded script, its replay failing, and the target's own report.
    grep -q '^== decoded session (buggy-oneread):' "$work/log" || fail "no decoded session"
    grep -q '^@handler buggy-oneread' "$work/log" || fail "the decoded script names no handler"
    grep -qE '^c[0-3] > .*\|' "$work/log" || fail "the decoded script has no cut send"
    grep -qE '^c[0-3] < ' "$work/log" || fail "the decoded script carries no answers"
    # The replay fails on an answer the cuts changed, and says why.
    grep -qE '^FAIL .* whole ' "$work/log" || { cat "$work/log"; fail "the replay did not fail"; }
    grep -q 'with the reads it cuts itself' "$work/log" || fail "the replay does not blame the cuts"
    # A missing answer shows what was expected, bytes no expectation accounts
    # for show what came: either way the replay shows the answer.
    grep -qE '^ +(expected|got): ' "$work/log" || fail "the replay shows no answer"
    grep -q 'fray fuzz:' "$work/log" || { cat "$work/log"; fail "no report from the target"; }
    grep -q "transcript differs" "$work/log" || fail "the target's report lost its diff"
    regressions | cmp -s - "$work/before" ||
      fail "repro.sh without --save wrote into corpus/regressions"
    echo "repro: $(basename "$crash") decoded, replayed (failing) and reported"
    ;;
  seeds)
    fray=${1:?FRAY} work=${2:?WORK}
    rm -rf "$work" && mkdir -p "$work"
    FRAY=$fray FRAY_SEEDS_OUT=$work bash "$root/scripts/seeds.sh" >"$work/log" 2>&1 ||
      { cat "$work/log"; fail "seeds.sh exited non-zero"; }
    stale=()
    for d in "$work"/fuzz_*; do
      t=$(basename "$d")
      diff -r "$d/seeds" "$root/corpus/$t/seeds" >/dev/null && diff "$d/README.md" "$root/corpus/$t/README.md" >/dev/null ||
        stale+=("$t")
    done
    [ ${#stale[@]} = 0 ] ||
      fail "committed seeds differ from what scripts/seeds.sh makes now: ${stale[*]} (run scripts/seeds.sh ${stale[*]//fuzz_/} and commit)"
    echo "seeds: $(ls -d "$work"/fuzz_* | wc -l) targets' committed seeds are what scripts/seeds.sh makes"
    ;;
  *) fail "unknown check '$what'" ;;
esac
