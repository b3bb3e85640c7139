"""A real coturn on loopback, for the TURN tests: shared secret, small relay port range; and
the peer configuration that relays through it only."""

from __future__ import annotations

import os
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

REALM = "telemed.test"
RELAY_PORTS = 12
_BINDING_REQUEST = 0x0001
_MAGIC_COOKIE = 0x2112A442


@dataclass(frozen=True)
class Coturn:
    port: int
    secret: str
    min_port: int
    max_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _free_range(count: int, address: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive UDP ports free on ``address`` right now."""
    for _ in range(200):
        first = 20000 + secrets.randbelow(40000)
        probes: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind((address, port))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no free UDP port range on loopback")


def _answers_stun(port: int) -> bool:
    request = struct.pack("!HHI12s", _BINDING_REQUEST, 0, _MAGIC_COOKIE, os.urandom(12))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(0.2)
        client.sendto(request, ("127.0.0.1", port))
        try:
            response, _ = client.recvfrom(2048)
        except OSError:
            return False
    return response[8:20] == request[8:20]


@contextmanager
def running_coturn(binary: str, directory: Path, relay_ip: str = "127.0.0.1") -> Iterator[Coturn]:
    """``relay_ip``: the address relayed media leaves from (loopback by default; a test
    host's link to reach a peer in a network namespace, such as Janus)."""
    port, first = _free_udp_port(), _free_range(RELAY_PORTS, relay_ip)
    server = Coturn(
        port, secrets.token_hex(16), first, first + RELAY_PORTS - 1, directory / "turn.log"
    )
    arguments = [
        binary,
        f"--listening-port={port}",
        "--listening-ip=127.0.0.1",
        f"--relay-ip={relay_ip}",
        "--use-auth-secret",
        f"--static-auth-secret={server.secret}",
        f"--realm={REALM}",
        "--allow-loopback-peers",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--no-tcp",
        "--fingerprint",
        f"--min-port={server.min_port}",
        f"--max-port={server.max_port}",
        # Its own database file, never the system's /var/lib/turn.
        f"--userdb={directory / 'turndb'}",
        f"--pidfile={directory / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
    ]
    with server.log.open("wb") as log:
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _answers_stun(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start:\n{server.log_text()}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def relay_configuration(entry: dict[str, Any]) -> RTCConfiguration:
    server = RTCIceServer(
        urls=entry["urls"], username=entry["username"], credential=entry["credential"]
    )
    return RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
