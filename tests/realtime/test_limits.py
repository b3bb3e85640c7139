"""Bad input and floods get error acks; the server keeps serving everyone else."""

from __future__ import annotations

from collections.abc import Callable

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.cases import requested_case
from tests.support.participants import participant
from tests.support.server import RunningServer


async def test_malformed_payloads_get_error_acks_and_no_trace(server: RunningServer) -> None:
    case_id = await requested_case(server)
    chair = await participant(server, "gs.chutoa")

    for bad in ("not an object", {"case_id": "abc"}, {"case_id": case_id, "extra": 1}, None):
        ack = await chair.request("case:join", bad)
        assert ack["ok"] is False
        assert ack["error"]["code"] == "validation_error", ack
        assert "Traceback" not in str(ack)

    too_long = await chair.note(case_id, "x" * 20_001)
    assert too_long["ok"] is False
    assert too_long["error"]["code"] == "validation_error"
    assert too_long["error"]["fields"][0]["field"] == "body"

    unknown = await chair.request("case:explode", {"case_id": case_id})
    assert unknown["ok"] is False
    assert unknown["error"]["code"] == "unknown_event"

    # The same connection still works.
    assert (await chair.join(case_id))["ok"] is True
    assert (await chair.note(case_id, "Bình thường."))["seq"] == 2


async def test_a_message_over_the_size_limit_closes_only_that_connection(
    server: RunningServer,
) -> None:
    case_id = await requested_case(server)
    big = await participant(server, "gs.timmach")
    chair = await participant(server, "gs.chutoa")
    await chair.join(case_id)

    await big.client.emit("case:note", {"case_id": case_id, "body": "x" * 100_000})
    await big.until(lambda: not big.client.connected)

    assert (await chair.note(case_id, "Vẫn hoạt động."))["ok"] is True
    await chair.until(lambda: chair.seqs(case_id) == [1, 2])


async def test_a_flood_is_rate_limited_then_disconnected_without_touching_others(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    server = RunningServer(make_settings(socket_rate_per_second=0.001, socket_burst=10), clock)
    await server.start()
    try:
        case_id = await requested_case(server)
        flooder = await participant(server, "gs.timmach")
        calm = await participant(server, "gs.chutoa")
        assert (await calm.join(case_id))["ok"] is True

        codes: list[str] = []
        for _ in range(21):
            ack = await flooder.request("case:leave", {"case_id": case_id})
            codes.append("ok" if ack.get("ok") else ack["error"]["code"])
        assert codes == ["ok"] * 10 + ["rate_limited"] * 11
        # More refusals in a row than a burst: the connection is closed.
        await flooder.until(lambda: not flooder.client.connected)

        # The other connection was never limited.
        for n in range(5):
            assert (await calm.note(case_id, f"Ghi chú {n}."))["ok"] is True
    finally:
        await server.close()
