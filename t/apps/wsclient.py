#!/usr/bin/python3
"""wsclient.py - a real WebSocket client (python3-websockets) for t/57-websocket.t.

    wsclient.py URL SCENARIO      (URL ws://... or wss://..., any certificate)

Prints one JSON object per line; every wait is bounded (10 s unless said).
Scenarios:
  echo    text and binary messages both ways, a 64 KiB text and a 64 KiB
          binary message, a fragmented message, ping/pong, close handshake:
          {"step": NAME, "ok": bool, ...} lines, then {"closed": code}
  handshake  only the opening handshake: {"status": 101} or the refusal's
          {"status": N}
  hold    one echo, prints {"open": 1}, then waits (for the test to kill it)
  abort   one echo, then closes the TCP connection without a close frame
  bye     sends "bye": the app ends the tunnel; {"closed": code} (1006: the
          connection closed without a close frame)
  idle    one echo, then waits for the server to close: {"closed": code,
          "after": seconds}
  active  a message every 0.5 s for 4 s, each echoed: {"echoed": N}
"""
import asyncio
import json
import os
import ssl
import sys
import time

import websockets

T = 10


def out(**kw):
    print(json.dumps(kw), flush=True)


async def roundtrip(ws, msg):
    await asyncio.wait_for(ws.send(msg), T)
    return await asyncio.wait_for(ws.recv(), T)


async def echo(ws):
    for i in range(5):
        m = "hello %d \u00e9" % i
        out(step="text%d" % i, ok=await roundtrip(ws, m) == m)
        b = bytes([i, 0, 255, 10, 13]) * (i + 1)
        out(step="binary%d" % i, ok=await roundtrip(ws, b) == b)
    big = os.urandom(65536)
    out(step="binary64k", ok=await roundtrip(ws, big) == big)
    text = ("0123456789abcdef" * 4096)
    out(step="text64k", ok=await roundtrip(ws, text) == text)
    frag = ["part1-", "part2-", "part3"]
    await asyncio.wait_for(ws.send(iter(frag)), T)
    got = await asyncio.wait_for(ws.recv(), T)
    out(step="fragmented", ok=got == "".join(frag))
    pong = await ws.ping(b"ping-data")
    await asyncio.wait_for(pong, T)
    out(step="ping", ok=True)
    await asyncio.wait_for(ws.close(1000, "done"), T)
    out(closed=ws.close_code)


async def wait_closed(ws, limit):
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(ws.recv(), limit)
    except websockets.exceptions.ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        out(closed=None, after=time.monotonic() - t0)
        return
    out(closed=ws.close_code, after=time.monotonic() - t0)


async def active(ws):
    n = 0
    for i in range(8):
        m = "tick %d" % i
        if await roundtrip(ws, m) == m:
            n += 1
        await asyncio.sleep(0.5)
    out(echoed=n)
    await asyncio.wait_for(ws.close(), T)


async def main(url, scenario):
    tls = None
    if url.startswith("wss:"):  # the test's own self-signed certificate
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    try:
        ws = await asyncio.wait_for(
            websockets.connect(url, compression=None, ping_interval=None,
                               max_size=None, close_timeout=5, ssl=tls), T)
    except websockets.exceptions.InvalidStatusCode as e:
        out(status=e.status_code)
        return
    if scenario == "handshake":
        out(status=101)
        await asyncio.wait_for(ws.close(), T)
    elif scenario == "echo":
        await echo(ws)
    elif scenario == "active":
        await active(ws)
    else:
        out(step="first", ok=await roundtrip(ws, "first") == "first")
        if scenario == "hold":
            out(open=1)
            await asyncio.sleep(3600)
        elif scenario == "abort":
            ws.transport.abort()
            out(aborted=1)
        elif scenario == "bye":
            await asyncio.wait_for(ws.send("bye"), T)
            await wait_closed(ws, T)
        elif scenario == "idle":
            await wait_closed(ws, 30)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
