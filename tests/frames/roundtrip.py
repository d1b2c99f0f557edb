#!/usr/bin/env python3
"""`fray frames --format json` is valid (strict) JSON for any bytes and
decodes back to them; `--format text` decodes back through the escape grammar
of harness/cli/escape.h; offsets and lengths agree with the input.

usage: roundtrip.py FRAY    (exit 0 ok, 1 mismatch)"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from asynchat_ref import unescape  # noqa: E402  (same grammar, one implementation)

fray = sys.argv[1]
rng = random.Random(7)
fails = 0
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "in.bin")
    inputs = [bytes(range(256)), bytes(range(255, -1, -1)) * 3]
    inputs += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))) for _ in range(20)]
    for data in inputs:
        with open(path, "wb") as f:
            f.write(data)
        n = rng.choice([1, 3, 16, 100])
        whole = len(data) - len(data) % n
        want = [data[i:i + n] for i in range(0, whole, n)]
        for fmt in ("json", "text"):
            p = subprocess.run([fray, "frames", "--count", str(n), "--format", fmt, path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            want_rc = 3 if whole != len(data) else 0
            lines = p.stdout.split(b"\n")
            if lines[-1] != b"" or p.returncode != want_rc:
                print("FAIL: %s: exit %d (want %d) or unterminated output" % (fmt, p.returncode, want_rc))
                fails += 1
                continue
            got = []
            for i, line in enumerate(lines[:-1]):
                text = line.decode("ascii")  # both formats are pure ASCII
                if fmt == "json":
                    obj = json.loads(text)  # strict: raw control characters are rejected
                    fr = obj["frame"].encode("latin-1")
                    if obj["offset"] != i * n or obj["length"] != len(fr):
                        print("FAIL: json offset/length wrong at frame %d: %s" % (i, text))
                        fails += 1
                    if set(obj) != {"offset", "length", "frame"}:
                        print("FAIL: json keys %s" % sorted(obj))
                        fails += 1
                else:
                    fr = unescape(text)
                    if re.search(r"[^\x20-\x7e]", text):
                        print("FAIL: text line has a non-printable character: %r" % text)
                        fails += 1
                got.append(fr)
            if got != want:
                print("FAIL: %s frames do not decode back to the input (count %d, %d bytes)"
                      % (fmt, n, len(data)))
                fails += 1
print("roundtrip: %d failures" % fails)
sys.exit(1 if fails else 0)
