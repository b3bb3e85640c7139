"""Fixtures of the signaling tests: one Janus in a network namespace for the whole run.
(The call participants a test makes, ``callers``, are in tests/conftest.py: the guest
tests use them too.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.janus import RunningJanus, janus_in_namespace
from tests.support.netns import NetnsLab

# Janus's media ports inside its namespace: a few per peer connection.
RTP_PORTS = (20000, 20999)


@pytest.fixture(scope="session")
def netns_lab() -> Iterator[NetnsLab]:
    lab = NetnsLab()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def janus(netns_lab: NetnsLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJanus]:
    """A real Janus, started with the configuration Telemed generates."""
    with janus_in_namespace(netns_lab, tmp_path_factory.mktemp("janus"), RTP_PORTS) as running:
        yield running
