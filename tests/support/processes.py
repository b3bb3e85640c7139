"""Telemed servers as real operating-system processes (``python -m telemed serve``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
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
        await self._until_ready()

    async def _until_ready(self) -> None:
        async with asyncio.timeout(60), aiohttp.ClientSession() as http:
            while True:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise AssertionError(f"server exited:\n{self.log()}")
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

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
