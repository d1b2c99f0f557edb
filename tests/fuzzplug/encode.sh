#!/usr/bin/env bash
# fuzzplug.encode: fuzz-encode on the scripts a user has.
#   - regex/glob/eof expectations are left out with a one-line note (exit 0);
#   - an encoding over the 65536-byte input cap is refused naming the cap
#     (exit 2), and written with --force;
#   - a half-close is kept (it once had no encoding): fuzz-decode prints it,
#     with --lossy (now without effect) too.
#   encode.sh FRAY DIR WORK
set -u
fray=$1 here=$2 work=$3
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work" && cd "$work" || exit 1
# expect RC STDERR_ERE -- ARGS: runs fray fuzz-encode ARGS, checks both.
expect() {
  local want=$1 re=$2 rc=0
  shift 3
  "$fray" fuzz-encode "$@" >out.bin 2>err.txt || rc=$?
  echo "fuzz-encode $*: exit $rc: $(cat err.txt)"
  [ "$rc" = "$want" ] || fail "exit $rc, want $want"
  grep -Eq -- "$re" err.txt || fail "stderr does not match: $re"
  [ "$(wc -l <err.txt)" -le 1 ] || fail "more than one line on stderr"
}
expect 0 "kv.fray:11: left out 1 regex/glob/eof expectation" -- "$here/kv.fray"
[ -s out.bin ] || fail "no output"
expect 2 "encodes to [0-9]+ bytes, over the 65536-byte input cap .*--force" -- "$here/big.fray"
[ -s out.bin ] && fail "an input over the cap was written"
expect 0 "over the 65536-byte input cap .*written anyway" -- --force "$here/big.fray"
[ "$(wc -c <out.bin)" -gt 65536 ] || fail "--force wrote $(wc -c <out.bin) bytes"
for lossy in "" --lossy; do
  "$fray" fuzz-encode $lossy "$here/halfclose.fray" >half.bin 2>err.txt || fail "halfclose.fray $lossy: $(cat err.txt)"
  [ -s err.txt ] && fail "halfclose.fray $lossy: a note: $(cat err.txt)"
  "$fray" fuzz-decode half.bin >half.fray || fail "fuzz-decode of halfclose.fray's encoding"
  grep -qx 'c0 > eof' half.fray || fail "the half-close was not kept: $(cat half.fray)"
done
echo PASS
