#!/usr/bin/env python3
"""Python's asynchat as the reference for fray's delim and count framing.

DESIGN.md makes asynchat normative: for a delimiter or a byte count, the frames
fray emits must equal what asynchat.async_chat delivers (the pieces given to
collect_incoming_data, joined at each found_terminator) for the same bytes,
however they are split into reads. This script drives asynchat without a
network (a fake recv, one handle_read per chunk) and

  asynchat_ref.py frames (--delim STR | --count N) [--chunks N,...] [FILE|-]
      prints asynchat's frames like `fray frames --format hex` (one lowercase
      hex line per frame); when bytes are left at the end it says so on stderr
      in fray's words and exits 3, as fray does.

  asynchat_ref.py diff --fray PATH [--seed S] [--inputs N]
      the differential test: many generated inputs (a small alphabet rich in
      delimiter bytes), several delimiters and counts, many chunkings on both
      sides; compares fray frame by frame and the leftover byte count.
      Exit 0 all agree, 1 a difference (printed with a reproducer), 77 when
      asynchat is not available (Python >= 3.12): printed as SKIP.

asynchat never delivers bytes left at end of stream; fray reports them as a
truncated frame (exit 3, "N bytes left"). Only complete frames are compared,
plus the number of leftover bytes.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import warnings

SKIP = 77

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asynchat
except ImportError:  # removed in Python 3.12
    asynchat = None


def unescape(s):
    """fray's escape grammar (harness/cli/escape.h): \\r \\n \\t \\0 \\\\ \\" \\xHH."""
    out, i = bytearray(), 0
    simple = {"r": 13, "n": 10, "t": 9, "0": 0, "\\": 92, '"': 34}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode("latin-1")
            i += 1
            continue
        e = s[i + 1] if i + 1 < len(s) else ""
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", s[i + 2:i + 4]):
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            raise ValueError("unknown escape at %r in %r" % (s[i:], s))
    return bytes(out)


def escape(b):
    """The inverse, for printing reproducers."""
    m = {13: "\\r", 10: "\\n", 9: "\\t", 0: "\\0", 92: "\\\\", 34: '\\"'}
    return "".join(m.get(x, chr(x) if 32 <= x < 127 else "\\x%02x" % x) for x in b)


if asynchat is not None:

    class RefChat(asynchat.async_chat):
        """async_chat with a fake socket: feed() hands one chunk to
        handle_read, exactly as one recv() returning it would."""

        def __init__(self, terminator):
            asynchat.async_chat.__init__(self, sock=None, map={})
            self.ac_in_buffer_size = 1 << 30  # one recv returns the whole chunk
            self._pending = b""
            self._cur = []
            self.frames = []
            # An integer terminator drops to 0 after each record; re-arm it
            # (see found_terminator) for fixed-length records.
            self._count = terminator if isinstance(terminator, int) else None
            self.set_terminator(terminator)

        def recv(self, buffer_size):
            data, self._pending = self._pending, b""
            return data

        def collect_incoming_data(self, data):
            self._cur.append(data)

        def found_terminator(self):
            self.frames.append(b"".join(self._cur))
            self._cur = []
            if self._count is not None:
                self.set_terminator(self._count)

        def feed(self, chunk):
            self._pending = chunk
            self.handle_read()

        def leftover(self):
            """Bytes received but never delivered in a frame."""
            return sum(map(len, self._cur)) + len(self.ac_in_buffer)


def split(data, sizes):
    """data cut in reads of sizes[0], sizes[1], ... cycled (fray's --chunks)."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i:i + n])
        i += n
        k += 1
    return out


def reference(data, terminator, sizes):
    chat = RefChat(terminator)
    for chunk in split(data, sizes):
        chat.feed(chunk)
    return chat.frames, chat.leftover()


LEFT_RE = re.compile(r"inside a frame at offset (\d+) \((\d+) bytes left\)")


def run_fray(fray, path, mode_args, chunks):
    cmd = [fray, "frames"] + mode_args + ["--format", "hex"]
    if chunks:
        cmd += ["--chunks", ",".join(map(str, chunks))]
    cmd.append(path)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode("ascii")
    frames = [bytes.fromhex(line) for line in out.split("\n")[:-1]]
    left = 0
    m = LEFT_RE.search(p.stderr.decode("utf-8", "replace"))
    if m:
        left = int(m.group(2))
    return p.returncode, frames, left, p.stderr.decode("utf-8", "replace"), cmd


def gen_input(rng, alphabet, maxlen):
    n = rng.choice([0, 1, 2, 3, rng.randrange(maxlen), rng.randrange(maxlen), maxlen])
    return bytes(rng.choice(alphabet) for _ in range(n))


def rand_chunks(rng):
    return [rng.choice([1, 1, 2, 3, 4, 5, 7, 16, 33]) for _ in range(rng.randrange(1, 6))]


def cmd_diff(args):
    if asynchat is None:
        print("SKIP: Python %s has no asynchat module (removed in 3.12); "
              "differential test not run" % sys.version.split()[0])
        return SKIP
    rng = random.Random(args.seed)
    delims = [b"\r\n", b"\r\n\r\n", b"\0", b"\r\n.\r\n", b"aab", b"abab", b"\n", b"x"]
    counts = [1, 2, 3, 7, 64]
    fray_chunkings = [None, [1], [1, 2, 3], [7]]
    failures = runs = compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input.bin")
        cases = [("delim", d) for d in delims] + [("count", c) for c in counts]
        for kind, term in cases:
            if kind == "delim":
                # Rich in delimiter bytes, plus a filler byte and one more.
                alphabet = list(set(term)) * 3 + [ord("z"), 0xFF]
                mode_args = ["--delim", escape(term)]
            else:
                alphabet = list(range(256))
                mode_args = ["--count", str(term)]
            for _ in range(args.inputs):
                data = gen_input(rng, alphabet, 300)
                # asynchat itself must not depend on its chunking.
                ref, ref_left = reference(data, term, [len(data) or 1])
                for sizes in ([1], [2, 1], rand_chunks(rng)):
                    other = reference(data, term, sizes)
                    if other != (ref, ref_left):
                        print("NOTE: asynchat itself varies with chunking %s on %r / %r"
                              % (sizes, term, data))
                with open(path, "wb") as f:
                    f.write(data)
                for chunks in fray_chunkings + [rand_chunks(rng)]:
                    rc, frames, left, err, cmd = run_fray(args.fray, path, mode_args, chunks)
                    runs += 1
                    want_rc = 3 if ref_left else 0
                    problems = []
                    if rc != want_rc:
                        problems.append("exit %d, expected %d" % (rc, want_rc))
                    if frames != ref:
                        for i in range(max(len(frames), len(ref))):
                            a = ref[i] if i < len(ref) else None
                            b = frames[i] if i < len(frames) else None
                            if a != b:
                                problems.append("frame %d: asynchat %r, fray %r" % (i, a, b))
                                break
                        problems.append("%d frames from asynchat, %d from fray"
                                        % (len(ref), len(frames)))
                    if left != ref_left:
                        problems.append("leftover: asynchat %d bytes, fray %d" % (ref_left, left))
                    compared += len(ref)
                    if problems:
                        failures += 1
                        if failures <= 10:
                            print("FAIL: %s on input %r (%d bytes)"
                                  % (" ".join(cmd[1:-1]), data, len(data)))
                            for p in problems:
                                print("  " + p)
                            print("  stderr: " + err.strip())
    print("asynchat differential: %d fray runs, %d frames compared, %d failures (seed %d)"
          % (runs, compared, failures, args.seed))
    return 1 if failures else 0


def cmd_frames(args):
    if asynchat is None:
        print("asynchat_ref.py: this Python has no asynchat module", file=sys.stderr)
        return 2
    term = unescape(args.delim) if args.delim is not None else args.count
    if args.file in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as f:
            data = f.read()
    sizes = [int(x) for x in args.chunks.split(",")] if args.chunks else [65536]
    frames, left = reference(data, term, sizes)
    for fr in frames:
        sys.stdout.write(fr.hex() + "\n")
    if left:
        print("asynchat: input ended inside a frame at offset %d (%d bytes left)"
              % (len(data) - left, left), file=sys.stderr)
        return 3
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    fr = sub.add_parser("frames", help="print asynchat's frames in hex")
    mode = fr.add_mutually_exclusive_group(required=True)
    mode.add_argument("--delim", help="terminator, with fray's escapes")
    mode.add_argument("--count", type=int, help="fixed record length")
    fr.add_argument("--chunks", help="read sizes N[,N...], cycled")
    fr.add_argument("file", nargs="?")
    df = sub.add_parser("diff", help="differential test against fray frames")
    df.add_argument("--fray", required=True, help="path to the fray binary")
    df.add_argument("--seed", type=int, default=1)
    df.add_argument("--inputs", type=int, default=40, help="inputs per delimiter/count")
    args = ap.parse_args()
    return cmd_diff(args) if args.cmd == "diff" else cmd_frames(args)


if __name__ == "__main__":
    sys.exit(main())
