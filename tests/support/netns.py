"""Test hosts in network namespaces: each one a namespace of its own, joined to this host
by a veth pair on a private /24 (``10.77.N.1`` here, ``10.77.N.2`` inside), with nothing
else: no default route, so nothing in a namespace reaches beyond this machine.

Why: libnice (inside Janus) never uses the loopback interface, so Janus and its peers
need real interfaces; and a link of its own per host lets a test shape it (``tc`` tbf for
the rate; loss with an iptables ``statistic`` match, as this kernel has no netem).

Every namespace a lab makes is deleted when the lab closes (the fixtures' finalizers), and
namespaces left by a test process that died are deleted by the next lab. Without root or
``ip`` the tests skip, saying why, and fail where services are required (CI).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.services import missing

PREFIX = "tmd"
LOCK = Path("/run/lock/telemed-netns.lock")
SUBNETS = range(10, 250)


def require_namespaces() -> None:
    """Skip (or fail in CI) where namespaces cannot be made here."""
    if os.geteuid() != 0:
        missing("network namespaces need root (the tests run Janus in one)")
    if shutil.which("ip") is None:
        missing("`ip` not found (Debian package iproute2)")


def run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=30)


@dataclass
class TestHost:
    """One namespace and its link to this host."""

    namespace: str
    address: str  # inside the namespace
    host_address: str  # this host's end of the link
    host_interface: str
    inner_interface: str

    @property
    def prefix(self) -> str:
        """The /24 of the link, as Janus's ``ice_enforce_list`` takes it ("10.77.N.")."""
        return self.address.rsplit(".", 1)[0] + "."

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *command]

    def shape(self, rate_kbit: int, burst_kbit: int = 32) -> None:
        """Limits what this host sends towards the namespace (the namespace's downlink)
        and what the namespace sends out (its uplink), both with a token bucket."""
        bucket = ["tbf", "rate", f"{rate_kbit}kbit", "burst", f"{burst_kbit}kbit"]
        bucket += ["latency", "200ms"]
        run(["tc", "qdisc", "replace", "dev", self.host_interface, "root", *bucket])
        run(self.argv(["tc", "qdisc", "replace", "dev", self.inner_interface, "root", *bucket]))

    def lose(self, share: float) -> None:
        """Drops ``share`` (0-1) of the packets entering the namespace, at random."""
        if shutil.which("iptables") is None:
            missing("iptables not found (Debian package iptables)")
        inside = ["ip", "netns", "exec", self.namespace, "iptables"]
        run([*inside, "-F", "INPUT"])
        if share > 0:
            rule = ["-A", "INPUT", "-m", "statistic", "--mode", "random"]
            rule += ["--probability", f"{share:.4f}", "-j", "DROP"]
            run([*inside, *rule])


@dataclass
class NetnsLab:
    """The namespaces one test (or one test session) uses."""

    hosts: list[TestHost] = field(default_factory=list)
    _counter: int = 0

    def add(self) -> TestHost:
        require_namespaces()
        with _locked():
            _sweep_dead()
            subnet = _free_subnet()
            self._counter += 1
            tag = f"{os.getpid()}-{self._counter}"
            host = TestHost(
                namespace=f"{PREFIX}-{tag}",
                address=f"10.77.{subnet}.2",
                host_address=f"10.77.{subnet}.1",
                host_interface=f"{PREFIX}{tag}h"[-15:],
                inner_interface=f"{PREFIX}{tag}n"[-15:],
            )
            try:
                _create(host)
            except BaseException:
                _delete(host.namespace, host.host_interface)
                raise
        self.hosts.append(host)
        return host

    def close(self) -> None:
        for host in self.hosts:
            _delete(host.namespace, host.host_interface)
        self.hosts.clear()


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(host: TestHost) -> None:
    ns, inner = host.namespace, host.inner_interface
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", host.host_interface, "type", "veth", "peer", "name", inner])
    run(["ip", "link", "set", inner, "netns", ns])
    run(["ip", "addr", "add", f"{host.host_address}/24", "dev", host.host_interface])
    run(["ip", "link", "set", host.host_interface, "up"])
    inside = ["ip", "netns", "exec", ns]
    run([*inside, "ip", "addr", "add", f"{host.address}/24", "dev", inner])
    run([*inside, "ip", "link", "set", inner, "up"])
    run([*inside, "ip", "link", "set", "lo", "up"])


def _delete(namespace: str, host_interface: str) -> None:
    # What still runs inside (a Janus whose test process was killed) goes first: a
    # namespace lives on while a process is in it.
    for pid in run(["ip", "netns", "pids", namespace], check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    # Deleting the namespace destroys its end of the pair, and so the pair.
    run(["ip", "link", "del", host_interface], check=False)
    run(["ip", "netns", "del", namespace], check=False)


def _free_subnet() -> int:
    used = set(re.findall(r"inet 10\.77\.(\d+)\.", run(["ip", "-4", "-o", "addr"]).stdout))
    for subnet in SUBNETS:
        if str(subnet) not in used:
            return subnet
    raise RuntimeError("no free 10.77.N.0/24 for a test host")


def _sweep_dead() -> None:
    """Namespaces (and their links) of test processes that are gone."""
    for line in run(["ip", "netns", "list"]).stdout.splitlines():
        match = re.match(rf"^{PREFIX}-(\d+)-(\d+)\b", line)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            tag = f"{match.group(1)}-{match.group(2)}"
            _delete(f"{PREFIX}-{tag}", f"{PREFIX}{tag}h"[-15:])
