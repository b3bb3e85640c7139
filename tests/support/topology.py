"""The production topology of docs/deployment.md on one machine, from the files shipped in
``deploy/``: nginx with TLS in front of two ``telemed serve`` processes (the systemd
unit's command with the site's environment file) on PostgreSQL and Redis, and coturn.

Clients reach it as browsers do: by name (``https://localhost:<port>``), trusting only
the test's CA, each from an address of its own on the loopback network (127.0.X.Y), so
that nginx's ``ip_hash`` spreads them over both processes (it hashes the first three
octets: clients of one 127.0.X.0/24 reach the same process) and the audit trail can tell
them apart.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from telemed.accounts.demo import DEMO_PASSWORD
from tests.support.deploy import (
    Nginx,
    ServiceCommand,
    Turn,
    free_port,
    running_coturn,
    running_nginx,
    service_command,
    site_environment,
)
from tests.support.processes import until_healthy
from tests.support.server import SignedIn
from tests.support.tls import HOSTNAME, Certificates, make_certificates

CONNECTIONS = re.compile(r"^telemed_socketio_connections (\S+)$", re.MULTILINE)


class TelemedProcess:
    """One ``telemed@<port>.service``: the unit's command line, run as a child process."""

    def __init__(self, name: str, port: int, command: ServiceCommand, log_path: Path) -> None:
        self.name = name
        self.port = port
        self.command = command
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.command.argv,
                env=self.command.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await until_healthy(
            self.url, lambda: self.alive, lambda: f"{self.name} exited:\n{self.log()}"
        )

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM, as systemd stops a unit."""
        if self.process is not None and self.alive:
            self.process.terminate()
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()

    async def connections(self) -> int:
        """Open Socket.IO connections, from this process's own /metrics."""
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as response:
            found = CONNECTIONS.search(await response.text())
        assert found is not None
        return int(float(found.group(1)))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Topology:
    certs: Certificates
    nginx: Nginx
    turn: Turn
    processes: list[TelemedProcess]
    database_url: str
    data_dir: Path
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{HOSTNAME}:{self.nginx.https_port}"

    @property
    def plain_url(self) -> str:
        return f"http://{HOSTNAME}:{self.nginx.http_port}"

    def http(self, address: str) -> aiohttp.ClientSession:
        """A client of its own (cookies included) connecting from ``address``."""
        connector = aiohttp.TCPConnector(
            ssl=self.certs.client_context(), local_addr=(address, 0), family=socket.AF_INET
        )
        http = aiohttp.ClientSession(base_url=self.url, connector=connector)
        self._sessions.append(http)
        return http

    async def sign_in(self, username: str, address: str) -> SignedIn:
        """Signs in through nginx as the sign-in page does (``Origin`` included); the
        session cookie stays in the client's jar."""
        http = self.http(address)
        async with http.post(
            "/api/v1/auth/login",
            json={"username": username, "password": DEMO_PASSWORD},
            headers={"Origin": self.url},
        ) as response:
            body = await response.json()
            assert response.status == 200, body
        return SignedIn(username, body["token"], body["csrf_token"], body["user"], http)

    def socket(self, http: aiohttp.ClientSession, **options: Any) -> socketio.AsyncClient:
        """A Socket.IO client on ``http``'s connection settings and cookies."""
        return socketio.AsyncClient(http_session=http, **options)

    async def connect(
        self, client: socketio.AsyncClient, *, polling: bool = False, **options: Any
    ) -> None:
        """Connects as the browser does: the page's ``Origin``, the session cookie, and
        with ``polling`` the browser's default start (long-polling, then the upgrade)."""
        await client.connect(
            self.url,
            headers={"Origin": self.url},
            transports=["polling", "websocket"] if polling else ["websocket"],
            wait_timeout=20,
            **options,
        )

    async def close_clients(self) -> None:
        for http in self._sessions:
            await http.close()
        self._sessions.clear()


@asynccontextmanager
async def running_topology(
    directory: Path, *, database_url: str, redis_url: str, nginx: str, turnserver: str
) -> AsyncIterator[Topology]:
    """Everything started in ``directory`` on a migrated database; stopped at the end."""
    certs = make_certificates(directory / "tls")
    data_dir = directory / "data"
    data_dir.mkdir(parents=True)
    ports = [free_port(), free_port()]
    async with AsyncExitStack() as stack:
        turn = stack.enter_context(running_coturn(turnserver, directory / "coturn", certs))
        proxy = stack.enter_context(running_nginx(nginx, directory / "nginx", ports, certs))
        environment = site_environment(
            database_url=database_url,
            redis_url=redis_url,
            # Pub/sub channels are not scoped by database number: a prefix of this run's own.
            redis_prefix=f"test-{secrets.token_hex(6)}",
            data_dir=data_dir,
            turn_port=turn.port,
            turn_secret=turn.secret,
        )
        processes = [
            TelemedProcess(
                name, port, service_command(port, environment), directory / f"telemed-{name}.log"
            )
            for name, port in zip("ab", ports, strict=True)
        ]
        topology = Topology(certs, proxy, turn, processes, database_url, data_dir)
        for process in processes:
            stack.push_async_callback(process.stop)
            # One after the other: the first creates the audit signing key they share.
            await process.start()
        # Closed first: clients leave before the servers stop.
        stack.push_async_callback(topology.close_clients)
        yield topology
