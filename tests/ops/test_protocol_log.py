"""Requests aiohttp cannot parse are one warning line each and a count, not tracebacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.support.processes import ServerProcess, telemed_command

MALFORMED = [
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Note: a\x01b\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
]


async def _send(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(100), 10)
    finally:
        writer.close()


async def test_malformed_requests_are_one_warning_line_each_and_counted(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'telemed.db'}"
    await telemed_command("db", "upgrade", "--database-url", database_url)
    server = ServerProcess(database_url, tmp_path / "data")
    await server.start()
    try:
        for raw in MALFORMED:
            assert (await _send(server.port, raw)).startswith(b"HTTP/1.0 400"), raw[:40]
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as response:
            metrics = await response.text()
    finally:
        await server.stop()
    assert f"telemed_http_malformed_requests_total {float(len(MALFORMED))}" in metrics
    log = server.log_path.read_text()
    assert "Traceback" not in log
    assert log.count("refused a malformed HTTP request") == len(MALFORMED)
    # The offending bytes are not logged either.
    assert "Bad Header" not in log
