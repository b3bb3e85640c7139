"""A Telemed process dies (SIGKILL) while 100 clients on both processes post notes and two
are in a call: its clients reconnect through nginx to the other process, replay what they
missed and send their unacknowledged notes again; nothing acknowledged is lost, nothing is
stored twice, and the other process's clients notice nothing.

The timings are in bench/failover_bench.py and docs/performance.md, not asserted here.
"""

from __future__ import annotations

import pytest

from tests.support.failover import kill_one_under_load
from tests.support.topology import Topology

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def test_killing_one_process_costs_its_clients_a_reconnect_and_nothing_else(
    topology: Topology,
) -> None:
    outcome = await kill_one_under_load(topology, clients=100, notes=3)

    # Exactly the killed process's clients dropped (the callers among them), and each came
    # back through nginx to the other process and rejoined its room.
    assert outcome.clients == 102
    assert 0 < outcome.dropped == outcome.victim_held < outcome.clients
    assert len(outcome.reconnect_seconds) == outcome.dropped
    assert not topology.processes[0].alive or not topology.processes[1].alive

    # Every note was acknowledged once, and the log holds each exactly once.
    assert outcome.notes_acked == 300
    assert outcome.notes_lost == 0
    assert outcome.notes_duplicated == 0

    # Every client holds its room's whole log, each event once, in order, without a gap;
    # the survivors never had to send anything again.
    assert outcome.behind == 0
    assert outcome.gaps == 0
    assert outcome.duplicate_deliveries == 0
    assert outcome.survivors_resent == 0

    # The two callers are in one call again, on the process that lives.
    assert outcome.callers_together
