#!/usr/bin/env bash
# tests/ossfuzz/jobs.sh ENGINE BIN WORK: scripts/fuzz.sh --jobs 2 on a
# fuzz_chat binary the builder test made (tests/ossfuzz.cmake), as a user
# runs it, a few seconds each.
#   libfuzzer  -fork=2: the check of tests/fuzz_scripts.sh jobs
#   afl        one -M and one -S on one sync directory; then the
#              several-machines recipe of docs/fuzzing-at-scale.md: machine
#              B gets machine A's main instance copied into its own sync
#              directory (rsync when installed, else cp -a: the same files)
#              and must import A's inputs.
# Exit 0 held, 1 with the reason, 77 (skip) when BIN was not built.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
engine=${1:?ENGINE} bin=${2:?BIN} work=${3:?WORK}
[ -x "$bin" ] || { echo "SKIP: no $bin (its builder test was skipped)"; exit 77; }
if [ "$engine" = libfuzzer ]; then
  exec bash "$root/tests/fuzz_scripts.sh" jobs "$bin" "$work"
fi

rm -rf "$work" && mkdir -p "$work"
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
stat() { sed -n "s/^$2 *: *//p" "$1/fuzzer_stats"; }

# Machine A: -M and -S on one sync directory.
a=$work/a/chat/afl
FRAY_FUZZ_OUT=$work/a bash "$root/scripts/fuzz.sh" chat --engine afl --bin "$bin" --jobs 2 \
  --time 3 --name hosta >"$work/a.log" 2>&1 || { tail -n 20 "$work/a.log"; fail "fuzz.sh --jobs 2 (AFL++) failed"; }
for inst in hosta-m0:-M hosta-s1:-S; do
  dir=$a/${inst%%:*}
  [ -f "$dir/fuzzer_stats" ] || fail "no instance ${inst%%:*} in the sync directory $a"
  stat "$dir" command_line | grep -q -- "-o $a ${inst##*:} ${inst%%:*} " ||
    fail "${inst%%:*} did not run as ${inst##*:} on $a: $(stat "$dir" command_line)"
  [ "$(stat "$dir" execs_done)" -gt 0 ] || fail "${inst%%:*} executed nothing"
done
found=$(find "$a/hosta-m0/queue" -name 'id:*' | wc -l)

# Machine B: its own sync directory, into which A's main instance is
# copied (what the recipe's rsync does), then its own -M: it must import A's
# inputs at start.
b=$work/b-sync
mkdir -p "$b"
if command -v rsync >/dev/null; then
  rsync -a "$a/hosta-m0" "$b/"
else
  cp -a "$a/hosta-m0" "$b/"
fi
FRAY_FUZZ_OUT=$work/b bash "$root/scripts/fuzz.sh" chat --engine afl --bin "$bin" --jobs 1 \
  --time 2 --name hostb --sync "$b" >"$work/b.log" 2>&1 ||
  { tail -n 20 "$work/b.log"; fail "fuzz.sh on machine B failed"; }
imported=$(find "$b/hostb-m0/queue" -name 'id:*sync:hosta-m0*' | wc -l)
[ "$imported" -gt 0 ] || fail "machine B imported nothing of machine A's $found queued inputs"
echo "jobs: AFL++ hosta-m0 + hosta-s1 on one sync dir ($found queued by the main);" \
  "machine B's hostb-m0 imported $imported of them from its copy"
