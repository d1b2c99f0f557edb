#!/usr/bin/env python3
"""Clients for the proxy and capture tests. Every wait has a timeout.

  netclient.py lines HOST PORT N    N lockstep sessions with the line server:
                                    each sends two lines (one send each),
                                    reads each answer, sends QUIT, reads BYE
                                    and the server's close, then closes
  netclient.py bulk HOST PORT BYTES sends BYTES random bytes to the echo
                                    server while reading them back; checks
                                    SHA-256 both ways and prints MB/s
Exit status 0 on success, 1 on a mismatch or timeout.
"""
import hashlib
import os
import socket
import sys
import threading
import time

TIMEOUT = 20.0


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise RuntimeError(f"connection closed after {len(buf)} of {n} bytes: {buf!r}")
        buf += d
    return buf


def lines(host, port, n):
    for i in range(n):
        s = socket.create_connection((host, port), timeout=TIMEOUT)
        s.settimeout(TIMEOUT)
        for msg in (b"hello %d\r\n" % i, b"second line, with \x01 byte\r\n"):
            s.sendall(msg)
            want = b"ECHO " + msg
            got = recv_exact(s, len(want))
            if got != want:
                raise RuntimeError(f"expected {want!r}, got {got!r}")
        s.sendall(b"QUIT\r\n")
        got = recv_exact(s, 5)
        if got != b"BYE\r\n":
            raise RuntimeError(f"expected BYE, got {got!r}")
        if s.recv(1) != b"":
            raise RuntimeError("the server did not close after BYE")
        s.close()


def bulk(host, port, total):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    sent = hashlib.sha256()
    block = os.urandom(1 << 20)
    err = []

    def sender():
        try:
            left = total
            i = 0
            while left:
                # Vary the block so a dropped or repeated MiB changes the sum.
                chunk = (block[i % 251:] + block[: i % 251])[: min(left, len(block))]
                sent.update(chunk)
                s.sendall(chunk)
                left -= len(chunk)
                i += 1
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by the main thread
            err.append(e)

    t0 = time.monotonic()
    th = threading.Thread(target=sender)
    th.start()
    got = hashlib.sha256()
    n = 0
    while True:
        d = s.recv(1 << 18)
        if not d:
            break
        got.update(d)
        n += len(d)
    th.join(TIMEOUT)
    dt = time.monotonic() - t0
    s.close()
    if err:
        raise err[0]
    if n != total or got.digest() != sent.digest():
        raise RuntimeError(f"received {n} of {total} bytes, sha256 {got.hexdigest()} != {sent.hexdigest()}")
    print(f"{total} bytes echoed byte-exact (sha256 {got.hexdigest()[:16]}...) in {dt:.2f} s: "
          f"{total / dt / 1e6:.1f} MB/s each way")


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        if mode == "lines":
            lines(host, port, int(sys.argv[4]))
        elif mode == "bulk":
            bulk(host, port, int(sys.argv[4]))
        else:
            raise SystemExit(f"unknown mode {mode}")
    except (OSError, RuntimeError) as e:
        print(f"netclient: {e}", file=sys.stderr)
        sys.exit(1)


main()
