#!/usr/bin/env python3
"""Writes small pcap fixtures for the import-pcap error tests into DIR.

  good.pcap       Ethernet, one TCP session (handshake, PING/+PONG, FINs)
  truncated.pcap  good.pcap cut in the middle of its 5th packet record
  udp.pcap        Ethernet with UDP and ARP only (no TCP at all)
  mixed.pcap      good.pcap's session with UDP and ARP packets in between
  unknown.pcap    link type 147 (USER0), which fray does not read
  gap.pcap        a session missing one data segment
  garbage.pcap    not a capture file
"""
import struct
import sys

CLI = (bytes([127, 0, 0, 1]), 40000)
SRV = (bytes([127, 0, 0, 1]), 6379)


def tcp(src, dst, seq, flags, payload=b""):
    t = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(t), 0, 0, 64, 6, 0, src[0], dst[0])
    return eth(ip + t)


def udp(src, dst, payload):
    u = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 0, 0, 64, 17, 0, src[0], dst[0])
    return eth(ip + u)


def eth(ip, etype=0x0800):
    return b"\0" * 12 + struct.pack("!H", etype) + ip


ARP = b"\xff" * 6 + b"\0" * 6 + b"\x08\x06" + b"\0" * 28
S, A, F, P = 0x02, 0x10, 0x01, 0x08


def session(gap=False):
    pk = [tcp(CLI, SRV, 1000, S), tcp(SRV, CLI, 5000, S | A), tcp(CLI, SRV, 1001, A),
          tcp(CLI, SRV, 1001, P | A, b"PING\r\n"), tcp(SRV, CLI, 5001, P | A, b"+PONG\r\n")]
    if not gap:
        pk.append(tcp(CLI, SRV, 1007, P | A, b"QUIT\r\n"))
    pk += [tcp(CLI, SRV, 1013, P | A, b"again\r\n"), tcp(SRV, CLI, 5008, F | A),
           tcp(CLI, SRV, 1020, F | A), tcp(SRV, CLI, 5009, A)]
    return pk


def pcap(packets, linktype=1):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for i, p in enumerate(packets):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(p), len(p)) + p
    return out


def main():
    d = sys.argv[1]
    good = pcap(session())
    files = {
        "good.pcap": good,
        "udp.pcap": pcap([udp(CLI, SRV, b"hello"), ARP, udp(SRV, CLI, b"x")]),
        "mixed.pcap": pcap([ARP] + session()[:4] + [udp(CLI, SRV, b"u")] + session()[4:]),
        "unknown.pcap": pcap([b"\0" * 40], linktype=147),
        "gap.pcap": pcap(session(gap=True)),
        "garbage.pcap": b"this is not a capture file\n" * 4,
    }
    # Cut in the middle of the 5th record's data.
    off = 24
    for p in session()[:4]:
        off += 16 + len(p)
    files["truncated.pcap"] = good[: off + 16 + 10]
    for name, data in files.items():
        with open(f"{d}/{name}", "wb") as f:
            f.write(data)


main()
