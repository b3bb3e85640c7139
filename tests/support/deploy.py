"""The files shipped under ``deploy/``, rendered for a test and run: nginx, coturn, and the
systemd unit's command line with the site's environment file.

Rendering replaces exact strings of the shipped file, each of which must occur exactly
once: an edit to ``deploy/`` that a test no longer matches fails loudly instead of
testing something else. Everything else in the files runs as operators get it.
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.tls import Certificates

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "telemed.conf"
COTURN_CONF = DEPLOY / "coturn" / "turnserver.conf"
TELEMED_UNIT = DEPLOY / "systemd" / "telemed@.service"
TELEMED_ENV = DEPLOY / "telemed.env"
# Where the unit's EnvironmentFile= points; deploy/telemed.env is installed there.
INSTALLED_ENV = "/etc/telemed/telemed.env"
# The unit's command, replaced by this interpreter running the same package.
INSTALLED_TELEMED = "/opt/telemed/.venv/bin/telemed"


def render(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        count = text.count(old)
        assert count == 1, f"{old!r} occurs {count} times in the shipped file, not once"
        text = text.replace(old, new)
    return text


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_tcp_and_udp_port() -> int:
    """A port free on loopback for both TCP and UDP (TURN listens on both)."""
    for _ in range(100):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for TCP and UDP on loopback")


def free_udp_range(count: int) -> int:
    """The first of ``count`` consecutive UDP ports free on loopback right now."""
    for _ in range(200):
        first = 20000 + secrets.randbelow(40000)
        probes: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no free UDP port range on loopback")


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}:\n{log.read_text()}") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the Telemed process: systemd unit and environment file ---------------------------


@dataclass(frozen=True)
class ServiceCommand:
    """What ``telemed@<port>.service`` runs: its command line and its environment."""

    argv: list[str]
    environment: dict[str, str]


def read_environment_file(text: str) -> dict[str, str]:
    """systemd's EnvironmentFile= syntax as the shipped file uses it: KEY=value lines."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, line
        assert key.isidentifier(), line
        assert '"' not in value, line
        assert "'" not in value, line
        values[key] = value
    return values


def service_command(port: int, environment_file: str) -> ServiceCommand:
    """The unit's ExecStart for instance ``port``, and the rendered environment file.

    Only the installed path of the ``telemed`` script becomes ``python -m telemed`` here;
    the arguments and every setting are the shipped ones.
    """
    settings: dict[str, str] = {}
    argv: list[str] = []
    for line in TELEMED_UNIT.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "EnvironmentFile":
            assert value == INSTALLED_ENV, value
            settings = read_environment_file(environment_file)
        elif key == "ExecStart":
            words = shlex.split(value.replace("%i", str(port)))
            assert words[0] == INSTALLED_TELEMED, words
            argv = [sys.executable, "-m", "telemed", *words[1:]]
        elif key == "Environment":
            name, _, setting = value.partition("=")
            settings[name] = setting
    assert argv, "the unit names no ExecStart"
    assert settings, "the unit names no EnvironmentFile"
    return ServiceCommand(argv, {**os.environ, **settings})


def site_environment(
    *,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    data_dir: Path,
    turn_port: int,
    turn_secret: str,
) -> str:
    """deploy/telemed.env with this site's database, Redis, data dir and TURN."""
    shipped = TELEMED_ENV.read_text()
    return render(
        shipped,
        {
            "TELEMED_DATABASE_URL=postgresql+asyncpg://telemed:secret@db.internal/telemed": (
                f"TELEMED_DATABASE_URL={database_url}"
            ),
            "TELEMED_REDIS_URL=redis://redis.internal:6379/0": f"TELEMED_REDIS_URL={redis_url}",
            "TELEMED_REDIS_PREFIX=telemed": f"TELEMED_REDIS_PREFIX={redis_prefix}",
            "TELEMED_DATA_DIR=/var/lib/telemed": f"TELEMED_DATA_DIR={data_dir}",
            "TELEMED_STUN_URLS=stun:turn.example.vn:3478": (
                f"TELEMED_STUN_URLS=stun:127.0.0.1:{turn_port}"
            ),
            "turn:turn.example.vn:3478?transport=udp,turn:turn.example.vn:3478?transport=tcp,"
            "turns:turn.example.vn:443?transport=tcp": (
                f"turn:127.0.0.1:{turn_port}?transport=udp,turn:127.0.0.1:{turn_port}?transport=tcp"
            ),
            "TELEMED_TURN_SECRET=CHANGE-ME": f"TELEMED_TURN_SECRET={turn_secret}",
        },
    )


# --- nginx -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nginx:
    https_port: int
    http_port: int
    directory: Path

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    def log_text(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""


def nginx_site(https_port: int, http_port: int, upstreams: list[int], certs: Certificates) -> str:
    """deploy/nginx/telemed.conf with this test's ports and certificate."""
    first, second = upstreams
    return render(
        NGINX_CONF.read_text(),
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
            "server 127.0.0.1:8081 ": f"server 127.0.0.1:{first} ",
            "server 127.0.0.1:8082 ": f"server 127.0.0.1:{second} ",
            "/etc/letsencrypt/live/telemed.example.vn/fullchain.pem": str(certs.certificate),
            "/etc/letsencrypt/live/telemed.example.vn/privkey.pem": str(certs.key),
        },
    )


def nginx_main(directory: Path, site: Path) -> str:
    """The part of Debian's /etc/nginx/nginx.conf a site relies on, with every path in
    this test's directory: one worker, in the foreground, the site included in http."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
daemon off;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} notice;
events {{
    worker_connections 2048;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory / "access.log"};
{temp}
    include {site};
}}
"""


@contextmanager
def running_nginx(
    binary: str, directory: Path, upstreams: list[int], certs: Certificates
) -> Iterator[Nginx]:
    directory.mkdir(parents=True, exist_ok=True)
    nginx = Nginx(free_port(), free_port(), directory)
    site = directory / "telemed.conf"
    site.write_text(nginx_site(nginx.https_port, nginx.http_port, upstreams, certs))
    main = directory / "nginx.conf"
    main.write_text(nginx_main(directory, site))
    command = [binary, "-p", str(directory), "-c", str(main), "-e", str(nginx.error_log)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    output = directory / "nginx.out"
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(nginx.https_port, process, nginx.error_log, 10)
        yield nginx
    finally:
        stop(process)


# --- coturn -------------------------------------------------------------------------------

RELAY_PORTS = 24


@dataclass(frozen=True)
class Turn:
    port: int
    tls_port: int
    secret: str
    min_port: int
    max_port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def coturn_conf(turn: Turn, certs: Certificates) -> str:
    """deploy/coturn/turnserver.conf on loopback, with this test's ports and secret."""
    return render(
        COTURN_CONF.read_text(),
        {
            "listening-ip=10.20.0.5": "listening-ip=127.0.0.1",
            "relay-ip=10.20.0.5": "relay-ip=127.0.0.1",
            # On loopback there is no NAT to advertise through.
            "external-ip=203.0.113.10/10.20.0.5\n": "",
            "listening-port=3478": f"listening-port={turn.port}",
            "tls-listening-port=443": f"tls-listening-port={turn.tls_port}",
            "/etc/letsencrypt/live/turn.example.vn/fullchain.pem": str(certs.certificate),
            "/etc/letsencrypt/live/turn.example.vn/privkey.pem": str(certs.key),
            "static-auth-secret=CHANGE-ME": f"static-auth-secret={turn.secret}",
            "min-port=49160": f"min-port={turn.min_port}",
            "max-port=49460": f"max-port={turn.max_port}",
            # "The Telemed server itself" is on loopback here, as every peer of the test.
            "allowed-peer-ip=10.20.0.8": "allowed-peer-ip=127.0.0.1",
        },
    )


@contextmanager
def running_coturn(binary: str, directory: Path, certs: Certificates) -> Iterator[Turn]:
    directory.mkdir(parents=True, exist_ok=True)
    first = free_udp_range(RELAY_PORTS)
    turn = Turn(
        free_tcp_and_udp_port(),
        free_tcp_and_udp_port(),
        secrets.token_hex(32),
        first,
        first + RELAY_PORTS - 1,
        directory / "turn.log",
    )
    conf = directory / "turnserver.conf"
    conf.write_text(coturn_conf(turn, certs))
    arguments = [
        binary,
        "-c",
        str(conf),
        # Every peer of the test is on loopback, which coturn refuses to relay to unless
        # told (the shipped file refuses 127.0.0.0/8 too, and allows back only 127.0.0.1).
        "--allow-loopback-peers",
        # Its own files, never the system's /var/lib/turn and /var/run.
        f"--userdb={directory / 'turndb'}",
        f"--pidfile={directory / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
    ]
    with turn.log.open("wb") as log:
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(turn.port, process, turn.log, 10)
        yield turn
    finally:
        stop(process)
