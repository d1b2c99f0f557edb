#!/usr/bin/env bash
# scripts/demo.sh: the README's first command. Installs what is missing,
# builds fray (Release), and shows its main job on bundled and generated
# input, ending with a one-line verdict.
#
#   scripts/demo.sh               # deps, build, every step
#   scripts/demo.sh --no-deps     # skip scripts/deps.sh (no apt at all)
#   scripts/demo.sh --build-dir DIR   # default build-demo (at the repo root)
#   scripts/demo.sh --keep        # keep the scratch directory with the inputs
#
# What it shows, one step each (STEPS below):
#   build      fray (Release) and everything `cmake --install DIR` installs
#              (libfray, the libevent adapter, the CLI)
#   capture    `fray frames` on the captures under corpus/captures/
#   generated  generated chat, HTTP, length-prefixed and fixed-size streams:
#              the frames match what the generator put in, whatever --chunks
#   errors     an oversized line, a skipped one, a stream cut mid-frame
#   replay     the chat scripts under random schedules and every single cut
#   buggy      the buggy handlers, caught with a minimal reproducer each
#   mutate     malformed variants: trustlen caught, the good handlers hold
#   fuzz       10 s of libFuzzer on chat, then a buggy target until it breaks
#              (at most 30 s); clang builds the targets in DIR-fuzz
#
# Exit status: 0 when every check passed, 1 otherwise, 2 usage error.
# The step_* functions are called by name ("step_$s"), which shellcheck cannot see.
# shellcheck disable=SC2317
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2

STEPS=(build capture generated errors replay buggy mutate fuzz)

run_deps=1
build_dir=build-demo
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-deps) run_deps=0 ;;
    --build-dir)
      [ $# -ge 2 ] || { echo "demo: --build-dir needs a directory" >&2; exit 2; }
      build_dir=$2
      shift
      ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac
exec </dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/fray-demo.XXXXXX")
if [ "$keep" = 1 ]; then
  trap 'echo "demo: inputs kept in $scratch"' EXIT
else
  trap 'rm -rf "$scratch"' EXIT
fi

FRAY=$build_dir/fray
n_pass=0
n_fail=0
failures=()
t_start=$SECONDS

banner() { printf '\n==== demo: %s ====\n' "$*"; }
pass() { n_pass=$((n_pass + 1)); printf '  ok    %s\n' "$1"; }
fail() {
  n_fail=$((n_fail + 1))
  failures+=("$1")
  printf '  FAIL  %s%s\n' "$1" "${2:+: $2}"
}

# Prints the first lines of a file, indented, so a person sees real frames.
show() {
  local file=$1 n=${2:-5} total
  total=$(wc -l <"$file")
  head -n "$n" "$file" | cut -c1-100 | sed 's/^/        | /'
  [ "$total" -gt "$n" ] && printf '        | ... (%d lines in all)\n' "$total"
  return 0
}

# expect_rc WANT NAME cmd...: runs cmd (stdout to $scratch/out, stderr to
# $scratch/err) and checks its exit status.
expect_rc() {
  local want=$1 name=$2 rc=0
  shift 2
  "$@" >"$scratch/out" 2>"$scratch/err" || rc=$?
  if [ "$rc" -eq "$want" ]; then
    pass "$name (exit $rc)"
    return 0
  fi
  fail "$name" "exit $rc, expected $want; stderr: $(head -c 300 "$scratch/err")"
  return 1
}

# same_frames_all_chunks LABEL ARGS... -- FILE: frames FILE with ARGS once
# with the default reads, then with each --chunks pattern, and checks that
# the output (JSON: offsets, lengths and bytes of every frame) is identical.
CHUNK_PATTERNS=(1 2 3 7 13 '1,2,3,5,8,13,21' 4096 65536)
same_frames_all_chunks() {
  local label=$1
  shift
  local args=() file
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  file=$2
  local ref=$scratch/ref.json got=$scratch/got.json rc=0 bad=() p
  "$FRAY" frames "${args[@]}" --format json "$file" >"$ref" 2>"$scratch/err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "$label: same frames for every --chunks" "reference run exited $rc: $(head -c 300 "$scratch/err")"
    return 1
  fi
  for p in "${CHUNK_PATTERNS[@]}"; do
    rc=0
    "$FRAY" frames "${args[@]}" --chunks "$p" --format json "$file" >"$got" 2>/dev/null || rc=$?
    if [ "$rc" -ne 0 ] || ! cmp -s "$ref" "$got"; then
      bad+=("$p")
    fi
  done
  if [ ${#bad[@]} -eq 0 ]; then
    pass "$label: $(wc -l <"$ref") frames, identical for --chunks ${CHUNK_PATTERNS[*]}"
    return 0
  fi
  fail "$label: same frames for every --chunks" "differs for --chunks ${bad[*]}"
  return 1
}

# ---- steps ---------------------------------------------------------------

# Everything, not only the CLI: the library and the adapter cost a few
# seconds more, and then `cmake --install build-demo` works.
step_build() {
  echo "  configuring and building fray (Release) in ${build_dir#"$root"/}"
  local log=$scratch/build.log
  if cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DFRAY_BUILD_TESTS=OFF -DFRAY_BUILD_BENCH=OFF >"$log" 2>&1 &&
    cmake --build "$build_dir" -j 2 >>"$log" 2>&1 &&
    [ -x "$FRAY" ]; then
    pass "build: $("$FRAY" --version)"
    return 0
  fi
  tail -n 30 "$log" | sed 's/^/        | /'
  fail "build" "see the log above"
  return 1
}

# How to frame a capture: a sidecar FILE.args holding the `fray frames`
# mode options (one line, e.g. --delim \r\n\r\n) if there is one; else
# HTTP captures (http*) by header block, everything else by line (see
# corpus/captures/README.md).
capture_args() {
  if [ -f "$1.args" ]; then
    head -n1 "$1.args"
    return
  fi
  case ${1##*/} in
    http*) printf '%s\n' '--delim \r\n\r\n' ;;
    *) echo --line ;;
  esac
}

step_capture() {
  local found=0 f args
  shopt -s nullglob
  for f in "$root"/corpus/captures/*; do
    case $f in *.args | *.md | */README* | *.pcap | *.pcapng) continue ;; esac
    [ -f "$f" ] || continue
    found=1
    read -r -a args <<<"$(capture_args "$f")"
    echo "  ${f#"$root"/}: fray frames ${args[*]}"
    if expect_rc 0 "capture ${f##*/}: frames cleanly" "$FRAY" frames "${args[@]}" "$f"; then
      show "$scratch/out" 6
    fi
    same_frames_all_chunks "capture ${f##*/}" "${args[@]}" -- "$f"
  done
  shopt -u nullglob
  if [ "$found" = 0 ]; then
    fail "capture" "no capture under corpus/captures/"
    return 1
  fi
}

# Writes the generated streams and, beside each, the frames the generator
# put in (hex, one a line: what `fray frames --format hex` prints).
generate() {
  python3 - "$scratch" <<'PY'
import os, random, sys
out = sys.argv[1]
rnd = random.Random(20240601)

def write(name, stream, frames):
    with open(os.path.join(out, name), "wb") as f:
        f.write(stream)
    with open(os.path.join(out, name + ".expect"), "w") as f:
        f.writelines(fr.hex() + "\n" for fr in frames)

# Chat: CRLF and bare LF endings, empty lines, a stray CR inside a line,
# UTF-8 and raw 0xff bytes. Line mode strips "\n" and one "\r" before it.
words = [b"hello", b"NICK", b"PRIVMSG", b"#fray", b":hi", "caf\u00e9".encode(), b"\xff\xfe", b"a\rb"]
frames, stream = [], b""
for i in range(3000):
    line = b" ".join(rnd.choice(words) for _ in range(rnd.randrange(0, 40)))
    frames.append(line)
    stream += line + rnd.choice([b"\r\n", b"\n"])
write("chat.bin", stream, frames)

# HTTP-style header blocks ending in an empty line.
frames, stream = [], b""
for i in range(400):
    hdrs = [b"GET /item/%d HTTP/1.1" % i, b"Host: example.test"]
    hdrs += [b"X-H%d: %s" % (k, b"v" * rnd.randrange(0, 60)) for k in range(rnd.randrange(0, 8))]
    block = b"\r\n".join(hdrs)
    frames.append(block)
    stream += block + b"\r\n\r\n"
write("http.bin", stream, frames)

# 4-byte big-endian length prefix, binary bodies (empty ones too).
frames, stream = [], b""
for i in range(2000):
    body = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 5, 100, rnd.randrange(2000)])))
    frames.append(body)
    stream += len(body).to_bytes(4, "big") + body
write("len4be.bin", stream, frames)

# Unsigned LEB128 varint length prefix.
def leb(n):
    b = bytearray()
    while True:
        x, n = n & 0x7F, n >> 7
        b.append(x | (0x80 if n else 0))
        if not n:
            return bytes(b)
frames, stream = [], b""
for i in range(1500):
    body = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 127, 128, 300, rnd.randrange(20000)])))
    frames.append(body)
    stream += leb(len(body)) + body
write("varint.bin", stream, frames)

# Fixed 16-byte records.
stream = bytes(rnd.randrange(256) for _ in range(16 * 4000))
write("records.bin", stream, [stream[i:i + 16] for i in range(0, len(stream), 16)])
PY
}

step_generated() {
  if ! generate; then
    fail "generate inputs" "python3 failed"
    return 1
  fi
  local name args
  # name|mode options
  local cases=(
    "chat.bin|--line"
    "http.bin|--delim \\r\\n\\r\\n"
    "len4be.bin|--length 4be"
    "varint.bin|--length varint --max 20000"
    "records.bin|--count 16"
  )
  local c
  for c in "${cases[@]}"; do
    name=${c%%|*}
    read -r -a args <<<"${c#*|}"
    echo "  $name ($(wc -c <"$scratch/$name") bytes): fray frames ${args[*]}"
    if expect_rc 0 "$name: frames cleanly" "$FRAY" frames "${args[@]}" --format hex "$scratch/$name"; then
      if cmp -s "$scratch/out" "$scratch/$name.expect"; then
        pass "$name: $(wc -l <"$scratch/out") frames, equal to what the generator wrote"
      else
        fail "$name: frames equal to what the generator wrote" \
          "first difference: $(cmp "$scratch/out" "$scratch/$name.expect" 2>&1 | head -n1)"
      fi
    fi
    same_frames_all_chunks "$name" "${args[@]}" -- "$scratch/$name"
  done
  echo "  the first frames of chat.bin, as text:"
  "$FRAY" frames --line --chunks 1 "$scratch/chat.bin" 2>/dev/null | head -n 4 | cut -c1-100 |
    sed 's/^/        | /'
}

step_errors() {
  printf 'NICK alice\r\n%s\r\nQUIT\r\n' "$(head -c 300 /dev/zero | tr '\0' x)" >"$scratch/long.txt"
  printf 'NICK alice\r\nMSG half a li' >"$scratch/cut.txt"

  echo "  a 300-byte line with --max 100 (the default is to stop):"
  if expect_rc 1 "oversized line stops framing" "$FRAY" frames --line --max 100 "$scratch/long.txt"; then
    sed 's/^/        | /' "$scratch/err"
  fi
  echo "  the same with --on-overflow skip (warn, drop the line, go on):"
  if expect_rc 0 "oversized line skipped" \
    "$FRAY" frames --line --max 100 --on-overflow skip --chunks 1 "$scratch/long.txt"; then
    sed 's/^/        | /' "$scratch/err" "$scratch/out"
    if [ "$(cat "$scratch/out")" = "$(printf 'NICK alice\nQUIT')" ]; then
      pass "skip keeps the frames around the long line"
    else
      fail "skip keeps the frames around the long line" "got: $(head -c 200 "$scratch/out")"
    fi
  fi
  echo "  a stream that ends inside a frame:"
  if expect_rc 3 "stream cut mid-frame is reported" "$FRAY" frames --line --chunks 1 "$scratch/cut.txt"; then
    sed 's/^/        | /' "$scratch/err"
  fi
  expect_rc 2 "unknown option is a usage error" "$FRAY" frames --line --no-such-option "$scratch/cut.txt"
}

# The chat example's scripts under the schedules TCP can produce: random
# cuts and merges, then every single cut of every send.
step_replay() {
  local scripts=("$root"/corpus/chat/*.fray)
  echo "  ${#scripts[@]} chat scripts (corpus/chat/), handler from their @handler line"
  if expect_rc 0 "chat scripts pass 500 random schedules each" \
    "$FRAY" replay --schedule random --runs 500 --seed 1 "${scripts[@]}"; then
    sed 's/^/        | /' "$scratch/out"
  fi
  if expect_rc 0 "chat scripts pass every single cut (exhaustive)" \
    "$FRAY" replay --schedule exhaustive --max-cuts 1 "${scripts[@]}"; then
    tail -n 1 "$scratch/out" | sed 's/^/        | /'
  fi
}

# The buggy handlers: each passes its own script read by read, and fray
# finds its bug anyway, with a minimal reproducer.
step_buggy() {
  local b out=$scratch/repro
  for b in oneread splitdelim stackbuf modeswitch closedbcast; do
    local s=$root/corpus/buggy/$b.fray
    [ -f "$s" ] || s=$(ls "$root/corpus/buggy/$b"*.fray | head -n1)
    if ! "$FRAY" replay --schedule whole "$s" >/dev/null 2>&1; then
      fail "buggy-$b passes the whole schedule" "it does not: the demo expects the bug to hide there"
      continue
    fi
    rm -rf "$out"
    local rc=0
    "$FRAY" replay --schedule random --runs 500 --seed 1 --save-failures "$out" "$s" \
      >"$scratch/out" 2>"$scratch/err" || rc=$?
    if [ "$rc" -eq 1 ] && ls "$out"/*.fray >/dev/null 2>&1; then
      pass "buggy-$b: hidden under whole, found by random schedules: $(grep -m1 -oE '[a-z-]+: .{0,70}' "$scratch/out" | head -n1)"
      if [ "$b" = splitdelim ]; then
        echo "        the reproducer fray wrote (cuts as |):"
        grep -v '^#' "$out"/*.fray | head -n 8 | sed 's/^/        | /'
      fi
    else
      fail "buggy-$b found by random schedules" "exit $rc: $(head -c 300 "$scratch/out")"
    fi
  done
}

# Malformed input: the handler trusting a length field is caught by the
# memory bound (no schedule can find it: its lengths are honest).
step_mutate() {
  local rc=0
  "$FRAY" replay --mutate 200 --seed 1 "$root/corpus/buggy/trustlen.fray" >"$scratch/out" 2>&1 || rc=$?
  if [ "$rc" -eq 1 ] && grep -q 'bound' "$scratch/out"; then
    pass "buggy-trustlen: found by --mutate (malformed lengths)"
    grep -m2 -E 'bound|schedule' "$scratch/out" | cut -c1-140 | sed 's/^/        | /'
  else
    fail "buggy-trustlen found by --mutate" "exit $rc: $(head -c 300 "$scratch/out")"
  fi
  if expect_rc 0 "good handlers survive 100 malformed variants of each script" \
    "$FRAY" replay --mutate 100 --seed 1 "$root"/corpus/{echo,chat,http,resp,lenrpc}/*.fray; then
    tail -n 1 "$scratch/out" | sed 's/^/        | /'
  fi
}

# A short libFuzzer run of the chat target (sessions with fuzz-chosen cuts,
# split invariance checked on every input), then of a buggy one.
step_fuzz() {
  if ! command -v clang >/dev/null; then
    fail "fuzz" "clang is missing (scripts/deps.sh installs it)"
    return 1
  fi
  local fb=$build_dir-fuzz log=$scratch/fuzzbuild.log
  echo "  building the libFuzzer targets (clang, ASan+UBSan) in ${fb#"$root"/}"
  if ! { cmake -S "$root" -B "$fb" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
           -DFRAY_BUILD_FUZZERS=ON -DFRAY_BUILD_TESTS=OFF -DFRAY_BUILD_BENCH=OFF >"$log" 2>&1 &&
         cmake --build "$fb" -j 2 --target fuzz_chat fuzz_buggy_splitdelim >>"$log" 2>&1; }; then
    tail -n 20 "$log" | sed 's/^/        | /'
    fail "fuzz targets build" "see the log above"
    return 1
  fi
  local w=$scratch/fuzz
  mkdir -p "$w/seeds" "$w/corpus"
  local i=0 s
  for s in "$root"/corpus/chat/*.fray; do
    "$FRAY" fuzz-encode --lossy "$s" >"$w/seeds/$i" 2>/dev/null || true
    i=$((i + 1))
  done
  local rc=0
  (cd "$w" && "$fb/fuzz/fuzz_chat" -max_total_time=10 -seed=1 -max_len=4096 corpus seeds) \
    >"$w/chat.log" 2>&1 || rc=$?
  local stats
  stats=$(grep -E '^#[0-9]+' "$w/chat.log" | tail -n1 | grep -oE 'cov: [0-9]+|corp: [0-9]+/[0-9a-zA-Z]+|exec/s: [0-9]+' | paste -sd' ')
  if [ "$rc" -eq 0 ]; then
    pass "fuzz_chat: 10 s, no split bug, no crash ($stats)"
  else
    grep -m3 -E 'fray fuzz|ERROR|runtime error' "$w/chat.log" | sed 's/^/        | /'
    fail "fuzz_chat ran clean" "the chat example broke under fuzzing (see above)"
  fi
  rc=0
  mkdir -p "$w/b"
  "$FRAY" fuzz-encode --lossy "$root/corpus/buggy/splitdelim.fray" >"$w/b/seed" 2>/dev/null || true
  (cd "$w" && "$fb/fuzz/fuzz_buggy_splitdelim" -max_total_time=30 -seed=1 -max_len=4096 b) \
    >"$w/b.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'fray fuzz' "$w/b.log"; then
    pass "fuzz_buggy_splitdelim: the fuzzer found the split bug"
    grep -m3 -E '^fray fuzz|^  ' "$w/b.log" | cut -c1-140 | sed 's/^/        | /'
    local crash
    crash=$(ls "$w"/crash-* 2>/dev/null | head -n1)
    if [ -n "$crash" ]; then
      echo "        as a script (fray fuzz-decode):"
      "$FRAY" fuzz-decode --handler buggy-splitdelim "$crash" 2>/dev/null | grep -v '^#' | head -n 6 |
        cut -c1-100 | sed 's/^/        | /'
    fi
  else
    fail "fuzz_buggy_splitdelim finds the bug" "exit $rc"
  fi
}

# ---- main ------------------------------------------------------------------

if [ "$run_deps" = 1 ]; then
  banner "dependencies (scripts/deps.sh)"
  if ! bash "$root/scripts/deps.sh"; then
    echo "demo: FAIL: could not install the dependencies (see above)"
    exit 1
  fi
fi

for s in "${STEPS[@]}"; do
  banner "$s"
  if ! "step_$s" && [ "$s" = build ]; then
    break # nothing else can run without the binary
  fi
done

banner "verdict"
elapsed=$((SECONDS - t_start))
if [ "$n_fail" -eq 0 ] && [ "$n_pass" -gt 0 ]; then
  echo "demo: PASS: every input framed as expected whatever the read sizes; the chat handler held under every schedule, malformed input and 10 s of fuzzing; every buggy handler was caught with a reproducer ($n_pass checks, ${elapsed}s)"
  echo "demo: $n_pass passed, 0 failed"
  exit 0
fi
printf 'demo: failed: %s\n' "${failures[@]}"
echo "demo: FAIL: $n_fail of $((n_pass + n_fail)) checks failed (${elapsed}s)"
echo "demo: $n_pass passed, $n_fail failed"
exit 1
