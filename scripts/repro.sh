#!/usr/bin/env bash
# scripts/repro.sh: turn a fuzz crash into a readable regression test.
#
#   scripts/repro.sh CRASH [--target NAME] [--fray FRAY] [--bin-dir DIR] [--save]
#
# CRASH is an input libFuzzer or AFL++ saved (crash-*, id:*). For a handler
# target (NAME: chat, echo, http, resp, lenrpc, buggy-..., the default is
# guessed from the file's directory or must be given), it
#   1. decodes CRASH into a .fray script (fray fuzz-decode --answers), the
#      fuzz-chosen cuts and merges written as `|` and joined sends, and the
#      handler's answers to the uncut session as its expectations;
#   2. replays that script under the whole schedule (the cuts are in it): a
#      split bug shows as the expected (uncut) answer against the one the
#      cuts got; a crash shows the sanitizer report;
#   3. runs the fuzz target on CRASH again to print its own report (the
#      sanitizer's, or the split-invariance diff);
#   4. with --save, writes the script to corpus/regressions/NAME-<sha>.fray,
#      where ctest replays it from then on: it fails until the handler
#      answers the same however its input is cut, then passes.
# For framer/script/outq crashes only step 3 applies: the raw input goes to
# corpus/regressions/fuzz_NAME/ with --save.
# FRAY is the fray binary: by default the first of build-demo/fray (where
# scripts/demo.sh builds it, as the README's tour uses), build-dev/fray and
# build/fray under the repository root, else `fray` on the PATH.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
crash="" target="" fray="" bindir="" save=0
while [ $# -gt 0 ]; do
  case $1 in
    --target) target=${2:?}; shift ;;
    --fray) fray=${2:?}; shift ;;
    --bin-dir) bindir=${2:?}; shift ;;
    --save) save=1 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "repro: unknown option '$1'" >&2; exit 2 ;;
    *) crash=$1 ;;
  esac
  shift
done
[ -n "$crash" ] && [ -f "$crash" ] || { echo "repro: give a crash file (see --help)" >&2; exit 2; }
if [ -z "$target" ]; then
  # fuzz-out/TARGET/crashes/crash-... as scripts/fuzz.sh lays it out
  target=$(basename "$(dirname "$(dirname "$(readlink -f "$crash")")")")
  target=${target#fuzz_}
fi
if [ -z "$fray" ]; then
  for f in "$root/build-demo/fray" "$root/build-dev/fray" "$root/build/fray" "$(command -v fray || true)"; do
    [ -n "$f" ] && [ -x "$f" ] && fray=$f && break
  done
  [ -n "$fray" ] || { echo "repro: no fray in build-demo/, build-dev/, build/ or on the PATH (scripts/demo.sh builds one; or --fray)" >&2; exit 2; }
fi
[ -x "$fray" ] || { echo "repro: no fray at $fray (build first, or --fray)" >&2; exit 2; }
if [ -z "$bindir" ]; then
  for d in "$root/build-fuzz-libfuzzer/fuzz" "$root/build-fuzz/fuzz"; do
    [ -d "$d" ] && bindir=$d && break
  done
fi
sha=$(sha256sum "$crash" | cut -c1-12)
handler=${target#buggy_}
[ "$handler" != "$target" ] && handler=buggy-$handler

case $target in
  framer|script|outq|bare_framer)
    echo "== $target crash: the raw input is the reproducer"
    ;;
  *)
    script=$(mktemp --suffix=.fray)
    trap 'rm -f "$script"' EXIT
    "$fray" fuzz-decode --handler "$handler" --answers "$crash" > "$script"
    echo "== decoded session ($handler):"
    cat "$script"
    echo "== replay (whole: the fuzz-chosen cuts are in the script):"
    "$fray" replay --schedule whole --keep-going "$script" || true
    if [ $save = 1 ]; then
      out=$root/corpus/regressions/$handler-$sha.fray
      { echo "# From fuzz crash $(basename "$crash") (sha256 $sha...), target fuzz_$target."
        echo "# The expectations are the handler's answers to the uncut session."
        cat "$script"; } > "$out"
      echo "== saved $out"
    fi
    ;;
esac
bin=${bindir:+$bindir/fuzz_$target}
if [ -n "$bin" ] && [ -x "$bin" ]; then
  echo "== fuzz_$target on the crash input:"
  # From the first report line (fray's diff, a sanitizer's or UBSan's) to
  # the SUMMARY line: libFuzzer's own banner and stats are left out.
  "$bin" "$crash" 2>&1 | awk '/fray fuzz:|ERROR:|runtime error/ {on = 1} on {print} /^SUMMARY/ {exit}' |
    head -n 40 || true
else
  echo "== no fuzz_$target binary found (scripts/fuzz.sh $target builds it)"
fi
if [ $save = 1 ] && [[ $target =~ ^(framer|script|outq)$ ]]; then
  mkdir -p "$root/corpus/regressions/fuzz_$target"
  cp "$crash" "$root/corpus/regressions/fuzz_$target/$sha"
  echo "== saved corpus/regressions/fuzz_$target/$sha"
fi
