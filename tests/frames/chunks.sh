#!/bin/sh
# Chunking invariance of `fray frames`: for every (mode, input) case below
# and every output format, the stdout, stderr and exit status must be the
# same with --chunks 1, 1,2,3, 7, 64,1 and the default reads, and the same
# when the input comes through a pipe (read(2)) instead of a file (mmap).
#
# usage: chunks.sh FRAY INPUT_DIR [CAPTURE_DIR]
fray=$1 in=$2 cap=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0 runs=0

# Runs one configuration ("$@" = mode options and input file) in every
# chunking and compares against the default run.
check() {
  file=$1
  shift
  for fmt in text hex json count; do
    "$fray" frames "$@" --format $fmt "$file" >"$tmp/ref.out" 2>"$tmp/ref.err"
    echo $? >"$tmp/ref.rc"
    for ch in 1 1,2,3 7 64,1 pipe pipe1; do
      case $ch in
      pipe) cat "$file" | "$fray" frames "$@" --format $fmt - >"$tmp/got.out" 2>"$tmp/got.err" ;;
      pipe1) cat "$file" | "$fray" frames "$@" --format $fmt --chunks 1,5 >"$tmp/got.out" 2>"$tmp/got.err" ;;
      *) "$fray" frames "$@" --format $fmt --chunks $ch "$file" >"$tmp/got.out" 2>"$tmp/got.err" ;;
      esac
      echo $? >"$tmp/got.rc"
      runs=$((runs + 1))
      for part in out err rc; do
        if ! cmp -s "$tmp/ref.$part" "$tmp/got.$part"; then
          echo "FAIL: $part differs: fray frames $* --format $fmt $file, chunks $ch vs default"
          diff "$tmp/ref.$part" "$tmp/got.$part" | head -10
          fails=$((fails + 1))
        fi
      done
    done
  done
}

check "$in/chat.bin" --line
check "$in/chat.bin" --delim '\r\n'
check "$in/chat.bin" --delim '\r\n' --keep-delim
check "$in/chat_trunc.bin" --line
check "$in/http.bin" --delim '\r\n\r\n'
check "$in/http.bin" --delim '\r\n\r\n' --keep-delim
check "$in/records.bin" --count 3
check "$in/nul.bin" --delim '\0'
check "$in/allbytes.bin" --count 16
check "$in/allbytes.bin" --delim '\x0a'
check "$in/len4be.bin" --length 4be
check "$in/len4be.bin" --length 4be --keep-header
check "$in/len2le.bin" --length 2le
check "$in/len1.bin" --length 1
check "$in/varint.bin" --length varint
check "$in/lenoff.bin" --length 2be --length-offset 2 --length-adjust -4
check "$in/lenoff.bin" --length 2be --length-offset 2 --length-adjust -5
check "$in/len8le.bin" --length 8le
check "$in/badlen.bin" --length 4be
check "$in/long.bin" --line --max 10
check "$in/long.bin" --line --max 10 --on-overflow skip
check "$in/long.bin" --delim '\r\n' --max 5 --on-overflow skip
check "$in/skip_trunc.bin" --line --max 3 --on-overflow skip
check "$in/skip_len.bin" --length 1 --max 2 --on-overflow skip
check "$in/skip_len_trunc.bin" --length 1 --max 2 --on-overflow skip
check "$in/len3be.bin" --length 3be
check "$in/len3be.bin" --length 3be --strip 0
check "$in/len3be.bin" --length 3be --strip 5
check "$in/len3be.bin" --length 3le --strip 2 --max 4 --on-overflow skip
check "$in/len5le.bin" --length 5le
check "$in/lenoff.bin" --length 2be --length-offset 2 --length-adjust -4 --strip 5
check "$in/delims.bin" --delim '\r\n' --delim '\n' --delim '\0' --delim '\r\n.\r\n'
check "$in/delims.bin" --delim '\r\n.\r\n' --delim '\r\n' --keep-delim
check "$in/delims.bin" --delim '\r\n.\r\n' --delim '\n' --max 4
check "$in/delims.bin" --delim '\r\n.\r\n' --delim '\n' --max 4 --on-overflow skip
check "$in/http.bin" --delim '\r\n\r\n' --delim '\n\n'
check "$in/words.bin" --byteset ' \t\n'
check "$in/words.bin" --byteset ' \t\n' --keep-delim --max 2 --on-overflow skip
check "$in/chat.bin" --byteset '\r\n'
check "$in/netstring.bin" --netstring
check "$in/netstring.bin" --netstring --max 4 --on-overflow skip
check "$in/badnetstring.bin" --netstring
check "$in/resp.bin" --resp-bulk
check "$in/chunked.bin" --http-chunk
check "$in/chunked.bin" --http-chunk --max 8
check "$in/textlen.bin" --textlen 'prefix=#,term=|,trailer=.'
if [ -n "$cap" ]; then
  for f in "$cap"/*.bin; do
    [ -e "$f" ] || continue
    check "$f" --line
    check "$f" --delim '\r\n'
    check "$f" --delim '\r\n\r\n'
    check "$f" --count 7
    check "$f" --delim '\r\n' --delim '\n\n' --delim ' '
    check "$f" --byteset '\r\n '
  done
fi
echo "$runs runs, $fails differences"
[ $fails = 0 ]
