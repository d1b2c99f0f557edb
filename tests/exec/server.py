#!/usr/bin/env python3
"""exec-asyncio: the exec test protocol (README.md) on asyncio streams.

    server.py PORT [--bug oneline|droptail|max64|quitrest]

The correct twin reads lines with StreamReader.readuntil(). The buggy twins
are what people write when they take reader.read() for a line reader:
'oneline' runs only the first line of each read, 'droptail' drops the
unterminated end of each read, 'max64' refuses any read over 64 bytes;
'quitrest' uses readuntil() but forgets to stop after QUIT, so lines already
buffered behind QUIT still run (their replies go nowhere; their effects stay).
"""
import asyncio
import signal
import sys

MAX_LINE = 256  # bytes of a line, its line end not counted
BUGS = ("oneline", "droptail", "max64", "quitrest")
store = {}


def run(line):
    """The reply to one line (its line end stripped), and whether it was QUIT."""
    if len(line) > MAX_LINE:
        return b"ERR line too long\r\n", False
    word, _, rest = line.partition(b" ")
    if line == b"PING":
        return b"PONG\r\n", False
    if word == b"ECHO":
        return rest + b"\r\n", False
    if line == b"QUIT":
        return b"BYE\r\n", True
    if word in (b"SET", b"GET", b"DEL"):
        key, sp, val = rest.partition(b" ")
        if not key or len(key) > 64 or (word == b"SET") != bool(sp):
            usage = b"SET KEY VALUE" if word == b"SET" else b"GET|DEL KEY"
            return b"ERR usage: " + usage + b"\r\n", False
        if word == b"SET":
            if key not in store and len(store) >= 256:
                return b"ERR store full\r\n", False
            store[key] = val
            return b"OK\r\n", False
        if key not in store:
            return b"NIL\r\n", False
        if word == b"GET":
            return b"VALUE " + store[key] + b"\r\n", False
        del store[key]
        return b"DELETED\r\n", False
    return b"ERR unknown command\r\n", False


def strip(line):
    return line[:-1] if line.endswith(b"\r") else line


async def read_line(reader):
    """The next line without its line end (None at EOF: an unterminated tail
    is dropped), or b"x" * (MAX_LINE + 1) for a line over StreamReader's limit."""
    skipped = False
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as e:
            await reader.readexactly(e.consumed)
            skipped = True
            continue
        return b"x" * (MAX_LINE + 1) if skipped else strip(line[:-1])


async def serve_lines(reader, writer, bug):
    while (line := await read_line(reader)) is not None:
        out, quit = run(line)
        writer.write(out)
        await writer.drain()
        if quit:
            writer.close()
            if bug != "quitrest":
                return  # (quitrest: BUG, no return: buffered lines still run)


async def serve_reads(reader, writer, bug):
    tail = b""
    while data := await reader.read(4096):
        if bug == "max64" and len(data) > 64:
            writer.write(b"ERR line too long\r\n")  # BUG: a read taken for a line
            await writer.drain()
            continue
        *lines, tail = (tail + data).split(b"\n")
        if bug == "oneline" and lines:
            lines, tail = lines[:1], b""  # BUG: one line per read, the rest lost
        if bug == "droptail":
            tail = b""  # BUG: the unterminated end of a read is lost
        for line in lines:
            out, quit = run(strip(line))
            writer.write(out)
            await writer.drain()
            if quit:
                writer.close()
                return
        if len(tail) > MAX_LINE + 1:
            tail = b""  # (the correct limit handling is not the point here)


async def client(reader, writer, bug):
    try:
        if bug in (None, "quitrest"):
            await serve_lines(reader, writer, bug)
        else:
            await serve_reads(reader, writer, bug)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    args = sys.argv[1:]
    bug = None
    if len(args) == 3 and args[1] == "--bug" and args[2] in BUGS:
        bug = args[2]
    elif len(args) != 1 or not args[0].isdigit():
        print("usage: server.py PORT [--bug %s]" % "|".join(BUGS), file=sys.stderr)
        sys.exit(2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(lambda r, w: client(r, w, bug), "127.0.0.1",
                                        int(args[0]), limit=64 * 1024)
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
