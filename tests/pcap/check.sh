#!/bin/sh
# fray import-pcap on captures that once lost data silently (README.md here).
#   check.sh FRAY SRCDIR WORKDIR
set -u
fray=$1 dir=$2/tests/pcap work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 2
fail() { echo "FAIL: $*"; exit 1; }

# imp NAME WANT-EXIT [ARGS...]: imports NAME into NAME.fray, stderr in NAME.err.
imp() {
  name=$1 want=$2
  shift 2
  "$fray" import-pcap "$dir/$name" -o "$name.fray" "$@" 2>"$name.err"
  r=$?
  [ $r -eq "$want" ] || { cat "$name.err"; fail "$name $*: exit $r, want $want"; }
}
has() { grep -q -- "$2" "$1.err" || { cat "$1.err"; fail "$1: stderr lacks '$2'"; }; }
script() {
  [ "$(cat "$1.fray")" = "$2" ] || { cat "$1.fray"; fail "$1: wrong script"; }
}

imp gap_before_fin.pcap 2
has gap_before_fin.pcap "13 bytes missing from the capture at stream offset 6"
has gap_before_fin.pcap "half-close after them is lost"
has gap_before_fin.pcap "13 bytes lost (13 missing from the capture, 0 captured but not placed)"
has gap_before_fin.pcap "the script misses bytes of the capture (see above); --allow-loss"
script gap_before_fin.pcap 'open c1
c1 > "first\n"
c1 < "bye\n"
c1 < eof
close c1'
imp gap_before_fin.pcap 0 --allow-loss
has gap_before_fin.pcap "13 bytes lost"
has gap_before_fin.pcap "accepted: --allow-loss"

imp frag_then_fin.pcap 2
has frag_then_fin.pcap "packet 4: error: IP fragment of a TCP segment skipped"
has frag_then_fin.pcap "4 bytes lost (4 missing from the capture"

imp rst_out_of_window_midstream.pcap 0
has rst_out_of_window_midstream.pcap "outside the window (next byte 6): ignored"
script rst_out_of_window_midstream.pcap 'open c1
c1 > "first\nsecond\n"
c1 < "answer\n"
c1 > eof
c1 < eof
close c1'

imp rst_reordered_before_last_data.pcap 0
script rst_reordered_before_last_data.pcap 'open c1
c1 > "before-rst\n"
reset c1'

imp overlap_held_then_lower_conflict.pcap 0
script overlap_held_then_lower_conflict.pcap 'open c1
c1 > "01234BBBBBAAAAAAAA"
c1 > eof
close c1'
imp overlap_held_then_inorder_conflict.pcap 0
script overlap_held_then_inorder_conflict.pcap 'open c1
c1 > "ccccAAAA"
c1 > eof
close c1'

# A file that cannot be read to its end: exit 2 even with --allow-loss, and
# no "0 bytes lost" next to the read error.
imp two_lt.pcapng 2 --allow-loss
has two_lt.pcapng "bytes lost: unknown (the capture could not be read to its end)"
! grep -q "0 bytes lost" two_lt.pcapng.err || { cat two_lt.pcapng.err; fail "two_lt: 0 bytes lost"; }
echo "import-pcap losses: ok"
