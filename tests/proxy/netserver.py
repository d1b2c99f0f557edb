#!/usr/bin/env python3
"""A tiny asyncio TCP server for the proxy and capture tests.

  netserver.py line   a line protocol: "QUIT" -> "BYE\r\n" and close,
                      any other line L -> "ECHO L"
  netserver.py echo   every byte back as it comes (bulk checksum tests)

Listens on 127.0.0.1, port 0; prints "listening on 127.0.0.1:PORT" once
ready. Stops on SIGTERM/SIGINT, and by itself after --lifetime seconds
(default 600) so that a test that dies cannot leave it behind.
"""
import asyncio
import signal
import sys


async def line_handler(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            if line.rstrip(b"\r\n") == b"QUIT":
                writer.write(b"BYE\r\n")
                await writer.drain()
                break
            writer.write(b"ECHO " + line)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def echo_handler(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "line"
    lifetime = 600.0
    if "--lifetime" in sys.argv:
        lifetime = float(sys.argv[sys.argv.index("--lifetime") + 1])
    handler = {"line": line_handler, "echo": echo_handler}[mode]
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    try:
        await asyncio.wait_for(stop, lifetime)
    except asyncio.TimeoutError:
        print("netserver: lifetime over, stopping", file=sys.stderr)
    server.close()


asyncio.run(main())
