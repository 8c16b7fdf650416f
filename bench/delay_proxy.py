"""A TCP proxy that delays every byte by a fixed one-way time, for the parallel-fetch rows that
stand for a distant server: ``python -m bench.delay_proxy LISTEN_PORT UPSTREAM_PORT ONE_WAY_S
LIFETIME_S`` (loopback only). Each direction forwards what it reads ``ONE_WAY_S`` later, in
order, so a round trip takes twice that; no bandwidth limit is added. The process exits after
``LIFETIME_S`` whatever happens (the bench also kills it by PID when its run ends).
"""

from __future__ import annotations

import asyncio
import sys


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, one_way: float) -> None:
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(1 << 20)
            if not data:
                break
            loop.call_later(one_way, writer.write, data)
    except (ConnectionError, OSError):
        pass
    finally:
        loop.call_later(one_way + 0.01, writer.close)


async def serve(listen_port: int, upstream_port: int, one_way: float, lifetime: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(_pump(client_r, up_w, one_way), _pump(up_r, client_w, one_way), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await asyncio.sleep(lifetime)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
