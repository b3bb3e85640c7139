"""Telemed servers as real operating-system processes (``python -m telemed serve``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def telemed_command(*args: str) -> None:
    """Run a ``telemed`` command to completion (migrations, demo data)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telemed",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")


async def until_healthy(url: str, alive: Callable[[], bool], exited: Callable[[], str]) -> None:
    """Poll ``url``'s /healthz until it answers 200 (60 s at most); fail with ``exited()``
    as soon as the process is no longer ``alive()``."""
    async with asyncio.timeout(60), aiohttp.ClientSession() as http:
        while True:
            if not alive():
                raise AssertionError(exited())
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


class ServerProcess:
    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ):
        self.database_url = database_url
        self.data_dir = data_dir
        self.env = {**os.environ, "TELEMED_LOG_JSON": "false", **(env or {})}
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = log_path or data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "telemed",
                "serve",
                "--port",
                str(self.port),
                "--database-url",
                self.database_url,
                "--data-dir",
                str(self.data_dir),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await until_healthy(self.url, lambda: self.alive, lambda: f"server exited:\n{self.log()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]
