#!/usr/bin/env python3
"""A memcached text-protocol client for the shim's tests: N sets and gets,
pipelined in batches, every answer checked. Exit 0 when all are right."""
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 500
s = socket.create_connection(("127.0.0.1", port), timeout=20)
buf = b""


def expect(want):
    global buf
    while len(buf) < len(want):
        got = s.recv(65536)
        if not got:
            sys.exit(f"mc_client: connection closed, wanted {want!r}, have {buf!r}")
        buf += got
    if buf[: len(want)] != want:
        sys.exit(f"mc_client: wanted {want!r}, got {buf[:len(want) + 40]!r}")
    buf = buf[len(want):]


for base in range(0, n, 25):
    keys = range(base, min(base + 25, n))
    s.sendall(b"".join(b"set fray:mc%d 0 0 %d\r\n%s\r\n" % (k, len(b"v%d" % k * 3), b"v%d" % k * 3)
                       for k in keys))
    for k in keys:
        expect(b"STORED\r\n")
    s.sendall(b"".join(b"get fray:mc%d\r\n" % k for k in keys))
    for k in keys:
        v = b"v%d" % k * 3
        expect(b"VALUE fray:mc%d 0 %d\r\n%s\r\nEND\r\n" % (k, len(v), v))
s.sendall(b"".join(b"delete fray:mc%d\r\n" % k for k in range(n)))
for k in range(n):
    expect(b"DELETED\r\n")
print(f"mc_client: {n} sets, gets and deletes answered right")
