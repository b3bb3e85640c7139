"""A real Janus for the tests: started inside a test host's namespace (libnice ignores the
loopback interface) with the configuration Telemed generates, reached by Telemed over the
host's end of the link, and stopped (its namespace deleted) when the tests are done."""

from __future__ import annotations

import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from telemed.signaling.janus.config import JanusConfig, write
from tests.support.netns import NetnsLab, TestHost
from tests.support.services import missing, require_binary

HTTP_PORT = 8088
START_SECONDS = 20.0


@dataclass
class RunningJanus:
    host: TestHost
    url: str
    api_secret: str
    admin_key: str
    log: Path
    process: subprocess.Popen[bytes]
    folder: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self) -> None:
        """Janus stops and starts again (and so forgets every session and room)."""
        self.stop()
        self.process = _start(self.host, self.folder, self.log)
        _wait_ready(self)


def _start(host: TestHost, folder: Path, log: Path) -> subprocess.Popen[bytes]:
    argv = host.argv(["janus", "-F", str(folder), "-N", "-L", str(log), "-o"])
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(janus: RunningJanus) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            # An http:// URL this module made (the scheme is fixed).
            with urllib.request.urlopen(janus.url + "/info", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        if janus.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Janus did not start:\n" + janus.log_text()[-3000:])
        time.sleep(0.1)


@contextmanager
def janus_in_namespace(
    lab: NetnsLab, folder: Path, rtp_ports: tuple[int, int]
) -> Iterator[RunningJanus]:
    require_binary("janus", "janus")
    host = lab.add()
    config = JanusConfig(
        http_ip=host.address,
        http_port=HTTP_PORT,
        api_secret=secrets.token_urlsafe(12),
        admin_key=secrets.token_urlsafe(12),
        rtp_ports=rtp_ports,
        event_loops=1,
        ice_interfaces=(host.prefix,),
        debug_level=4,
    )
    write(config, folder)
    log = folder / "janus.log"
    janus = RunningJanus(
        host,
        f"http://{host.address}:{HTTP_PORT}/janus",
        config.api_secret,
        config.admin_key,
        log,
        _start(host, folder, log),
        folder,
    )
    try:
        _wait_ready(janus)
    except RuntimeError as error:
        janus.stop()
        missing(str(error))
    try:
        yield janus
    finally:
        janus.stop()
