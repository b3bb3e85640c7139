"""A council meets through the SFU in real browsers: the third participant moves the call
from the mesh to Janus, and each browser then keeps two connections, one sending its own
camera and microphone, one receiving everyone else, with each participant's media in its
own tile. Janus runs in a network namespace (libnice ignores loopback); Chromium reaches it
over the namespace's link, the server over loopback."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from playwright.async_api import Browser

from telemed import appkeys
from telemed.settings import Settings
from telemed.signaling.links import DOWN_AFTER, UP_AFTER
from tests.browser.calls import a_call, in_room, join_call, until
from tests.browser.pages import Person
from tests.support.callers import Caller, caller
from tests.support.cases import in_session_case
from tests.support.janus import RunningJanus
from tests.support.server import RunningServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.janus,
    pytest.mark.slow,
    pytest.mark.xdist_group("janus"),
]

# How many remote tiles show moving video, from the page's own point of view.
PLAYING_TILES = """() => [...document.querySelectorAll('[data-testid="call-tile"] video')]
  .filter((video) => video.srcObject && video.videoWidth > 0 && !video.paused).length"""
CONNECTIONS = "() => [...window.telemedCall.pcs.keys()].sort().join(',')"
# The m-lines of one kind on the receiving connection that brought something: one video
# m-line (frames decoded) and one audio m-line (packets) per participant sending.
RECEIVING = """async (kind) => {
  const pc = window.telemedCall.pcs.get("sfu:subscribe");
  if (!pc) return 0;
  const counter = kind === "video" ? "framesDecoded" : "packetsReceived";
  let receiving = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === kind && (s[counter] ?? 0) > 0) receiving += 1;
  });
  return receiving;
}"""
DECODING = f"({RECEIVING})('video')"
HEARING = f"({RECEIVING})('audio')"
FRAMES = 10
# The width of the camera the page sends (its full simulcast layer).
SENT_WIDTH = """() => window.telemedCall.pcs.get("sfu:publish").getSenders()
  .find((s) => s.track?.kind === "video").track.getSettings().width"""
# Five aiortc peers share this process with the server: time to negotiate and decode (a
# bound on waiting, not a speed requirement).
WAIT = 60.0


@pytest.fixture
def settings(make_settings: Callable[..., Settings], janus: RunningJanus) -> Settings:
    return make_settings(
        session_idle_timeout=8 * 3600,
        janus_url=[janus.url],
        janus_api_secret=janus.api_secret,
        janus_admin_key=janus.admin_key,
        # Five aiortc peers negotiating at once send more than a browser's share.
        socket_rate_per_second=1000,
        socket_burst=1000,
    )


async def test_the_third_participant_moves_the_council_to_the_sfu_and_everyone_sees_everyone(
    server: RunningServer, browser: Browser
) -> None:
    case_id, doctor, chair = await a_call(server, browser)  # two: a direct connection
    assert "sfu" not in await chair.page.evaluate(f"({CONNECTIONS})()")

    member = await in_room(browser, server, "gs.timmach", case_id)
    await join_call(member.page)
    people: list[Person] = [doctor, chair, member]
    for person in people:
        # Two connections to the SFU, and no direct one left.
        await until(person.page, f"({CONNECTIONS})() === 'sfu:publish,sfu:subscribe'")
    for person in people:
        await until(person.page, f"{DECODING}.then((n) => n === 2)")
        await until(person.page, f"({PLAYING_TILES})() === 2")
    for person in people:
        person.assert_clean()


async def test_six_participants_one_of_them_a_browser_each_receive_every_other(
    server: RunningServer, browser: Browser, callers: list[Caller]
) -> None:
    """The issue's council: five aiortc peers and the chair's Chromium page."""
    case_id, _ = await in_session_case(server)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    await join_call(chair.page)
    names = ["bs.namcan", "ts.thuky", "gs.timmach", "bs.namcan", "gs.timmach"]
    people = [
        await caller(server, callers, name, case_id, 300 + 110 * i) for i, name in enumerate(names)
    ]
    for person in people:
        assert (await person.join_call())["state"] == "in_call"
    page_peer = await chair.page.evaluate("window.telemedCall.peerId")
    for person in people:
        for other in [page_peer, *(p.peer_id for p in people if p is not person)]:
            await person.who.until(partial(person.received_through_sfu, other, FRAMES), within=WAIT)
    await until(chair.page, f"{DECODING}.then((n) => n === 5)", WAIT)
    await until(chair.page, f"{HEARING}.then((n) => n === 5)", WAIT)
    await until(chair.page, f"({PLAYING_TILES})() === 5", WAIT)
    assert await chair.page.evaluate(f"({CONNECTIONS})()") == "sfu:publish,sfu:subscribe"
    chair.assert_clean()


async def chair_page_and_two(
    server: RunningServer, browser: Browser, callers: list[Caller], first: str, second: str
) -> tuple[int, Person, Caller, Caller, Callable[[Caller], int]]:
    """The chair's page and two aiortc participants in an SFU call: the case, the page,
    the two, and the width at which a participant receives the page's video (0: none)."""
    case_id, _ = await in_session_case(server)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    await join_call(chair.page)
    one = await caller(server, callers, first, case_id, 300)
    two = await caller(server, callers, second, case_id, 410)
    for person in (one, two):
        assert (await person.join_call())["state"] == "in_call"
    page_peer = await chair.page.evaluate("window.telemedCall.peerId")

    def width(person: Caller) -> int:
        return person.frame_sizes.get(page_peer, (0, 0))[0]

    return case_id, chair, one, two, width


async def test_a_subscriber_whose_link_weakens_gets_the_low_layer_and_climbs_back(
    server: RunningServer, browser: Browser, callers: list[Caller]
) -> None:
    """The chair's page publishes two simulcast layers; a member whose reports say its link
    weakened receives the halved one, and the full one again once its link recovers."""
    case_id, chair, secretary, member, seen = await chair_page_and_two(
        server, browser, callers, "ts.thuky", "gs.timmach"
    )
    width = partial(seen, member)
    await member.who.until(lambda: width() > 0, within=WAIT)
    full = await chair.page.evaluate(SENT_WIDTH)
    await member.who.until(lambda: width() == full, within=WAIT)

    poor = {"case_id": case_id, "rtt_ms": 150.0, "packet_loss": 0.15, "bitrate_kbps": 200.0}
    for _ in range(DOWN_AFTER):
        assert (await member.who.request("rtc:stats", poor))["ok"] is True
    await member.who.until(lambda: width() == full // 2, within=WAIT)
    # The secretary's link is fine: it keeps the full layer.
    assert seen(secretary) == full

    good = {**poor, "packet_loss": 0.0}
    for _ in range(UP_AFTER):
        assert (await member.who.request("rtc:stats", good))["ok"] is True
    await member.who.until(lambda: width() == full, within=WAIT)
    chair.assert_clean()


async def test_the_district_receives_the_low_layer_of_everyone_but_the_speaker(
    server: RunningServer, browser: Browser, callers: list[Caller]
) -> None:
    """The requesting site (the district, on the weakest uplink) gets the halved layer of
    those not speaking; a council member on a good link gets the full one."""
    case_id, chair, district, member, seen = await chair_page_and_two(
        server, browser, callers, "bs.namcan", "gs.timmach"
    )
    full = await chair.page.evaluate(SENT_WIDTH)
    sfu = server.app[appkeys.CALLS].sfu
    # The district's own steady tone makes it the speaker (Janus's audio levels).
    await district.who.until(lambda: sfu.speaker(case_id) == district.peer_id, within=WAIT)
    await district.who.until(lambda: seen(district) == full // 2, within=WAIT)
    await member.who.until(lambda: seen(member) == full, within=WAIT)
    chair.assert_clean()
