#!/usr/bin/env bash
# fuzzplug.wcsplit: the planted bug of tests/fuzzplug/wcsplit.c (docs/fuzzing.md,
# "Half-closes") is there and reachable through the fuzz encoding: corpus/wc's
# scripts fail `fray replay` with it, and so does each one after fuzz-encode
# and fuzz-decode, which must keep its half-close: without the `> eof` steps
# (and the expectations of their answers) the same replay passes.
#   wcsplit.sh FRAY PLUGIN SRC_DIR WORK
set -u
fray=$1 plugin=$2 src=$3 work=$4
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
for s in "$src"/corpus/wc/*.fray; do
  b=$(basename "$s" .fray)
  rc=0 && "$fray" replay --plugin "$plugin" --runs 50 "$s" >out.txt 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$b: replay exit $rc, want 1: $(cat out.txt)"
  "$fray" fuzz-encode "$s" >"$b.bin" 2>/dev/null || fail "$b: fuzz-encode"
  "$fray" fuzz-decode "$b.bin" >"$b.fray" || fail "$b: fuzz-decode"
  grep -q '^c0 > eof$' "$b.fray" || fail "$b: the half-close was lost: $(cat "$b.fray")"
  rc=0 && "$fray" replay --plugin "$plugin" --runs 50 "$b.fray" >out.txt 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$b: the decoded session, exit $rc, want 1: $(cat out.txt)"
  grep -v -e '> eof$' -e ' < ' "$b.fray" >"$b-open.fray"
  rc=0 && "$fray" replay --plugin "$plugin" --runs 50 "$b-open.fray" >out.txt 2>&1 || rc=$?
  [ "$rc" = 0 ] || fail "$b: without its half-close, exit $rc, want 0: $(cat out.txt)"
done
echo PASS
