"""The video call in real browsers (fake camera and microphone): the lobby and the start of
the session, audio only without leaving, offers crossing on an ICE restart, screen share,
consent and recording."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.calls import (
    a_call,
    assert_receiving_audio,
    assert_receiving_video,
    in_room,
    inbound,
    join_call,
    until,
)
from tests.support.cases import create_case, to_scheduled
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

MEASURED = re.compile(r"^(good|fair|poor)$")


def tile_of(page: Page, username: str) -> Locator:
    return page.locator(f'[data-testid="call-tile"][data-username="{username}"]')


async def test_a_doctor_waits_in_the_lobby_until_the_chair_starts_the_session(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor_api))["id"])
    chair_api = await server.sign_in("gs.chutoa")
    await to_scheduled(chair_api, case_id)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    doctor = await in_room(browser, server, "bs.namcan", case_id)
    await expect(doctor.page.get_by_test_id("call-start")).to_be_hidden()

    await join_call(doctor.page, state="lobby")
    waiting = chair.page.locator('[data-testid="lobby-entry"][data-username="bs.namcan"]')
    await expect(waiting).to_have_count(1)
    # Before the session there is nothing to admit into: the session's start admits all.
    await expect(waiting.get_by_test_id("lobby-admit")).to_be_disabled()

    await chair.page.get_by_test_id("call-start").click()
    await expect(chair.page.get_by_test_id("case-status")).to_have_attribute(
        "data-status", "in_session"
    )
    panel = doctor.page.get_by_test_id("call-panel")
    await expect(panel).to_have_attribute("data-state", "in_call")
    await expect(chair.page.get_by_test_id("call-lobby")).to_be_hidden()
    await expect(chair.page.get_by_test_id("call-start")).to_be_hidden()

    await join_call(chair.page)
    await assert_receiving_video(doctor.page)
    await assert_receiving_video(chair.page)
    await expect(tile_of(chair.page, "bs.namcan").get_by_test_id("call-video")).to_have_count(1)
    for person in (doctor, chair):
        person.assert_clean()


async def test_audio_only_stops_the_video_but_keeps_the_call(
    server: RunningServer, browser: Browser
) -> None:
    _case_id, doctor, chair = await a_call(server, browser)
    doctor_tile = tile_of(chair.page, "bs.namcan")
    # Every participant's connection is measured; the chair also sees what each reports.
    await expect(doctor_tile.get_by_test_id("call-quality")).to_have_attribute(
        "data-quality", MEASURED, timeout=15_000
    )
    await expect(doctor_tile.get_by_test_id("call-reported")).to_contain_text("ms", timeout=15_000)

    switch = doctor.page.get_by_test_id("call-audio-only")
    await switch.click()
    await expect(switch).to_have_attribute("aria-pressed", "true")
    await expect(doctor_tile.get_by_test_id("call-audio-only-badge")).to_be_visible()
    await expect(doctor.page.get_by_test_id("call-panel")).to_have_attribute(
        "data-state", "in_call"
    )
    await assert_receiving_audio(chair.page)
    await asyncio.sleep(1.0)  # frames already on the way
    before = await inbound(chair.page, "video", "framesDecoded")
    await asyncio.sleep(1.5)
    assert await inbound(chair.page, "video", "framesDecoded") == before
    assert await doctor.page.evaluate("window.telemedCall.pcs.size") == 1

    await switch.click()
    await expect(switch).to_have_attribute("aria-pressed", "false")
    await expect(doctor_tile.get_by_test_id("call-audio-only-badge")).to_be_hidden()
    await assert_receiving_video(chair.page)
    for person in (doctor, chair):
        person.assert_clean()


UFRAGS = """() => [...window.telemedCall.pcs.values()].map((pc) => ({
  local: /a=ice-ufrag:(\\S+)/.exec(pc.localDescription.sdp)[1],
  remote: /a=ice-ufrag:(\\S+)/.exec(pc.remoteDescription.sdp)[1],
  signaling: pc.signalingState,
}))"""


async def test_offers_crossing_on_an_ice_restart_settle_and_the_media_goes_on(
    server: RunningServer, browser: Browser
) -> None:
    _case_id, doctor, chair = await a_call(server, browser)
    before = {p.username: await p.page.evaluate(UFRAGS) for p in (doctor, chair)}
    # Both sides restart ICE at once (as after a network change on both): two offers
    # cross; the polite side rolls its own back and answers, the other ignores it.
    restart = "() => { for (const pc of window.telemedCall.pcs.values()) pc.restartIce(); }"
    await asyncio.gather(doctor.page.evaluate(restart), chair.page.evaluate(restart))
    for person in (doctor, chair):
        old = before[person.username][0]

        async def renegotiated(page: Page = person.page, old: dict[str, str] = old) -> bool:
            now = (await page.evaluate(UFRAGS))[0]
            return bool(
                now["signaling"] == "stable"
                and now["local"] != old["local"]
                and now["remote"] != old["remote"]
            )

        deadline = asyncio.get_running_loop().time() + 20
        while not await renegotiated():
            assert asyncio.get_running_loop().time() < deadline, "ICE restart did not settle"
            await asyncio.sleep(0.2)
    await assert_receiving_video(doctor.page)
    await assert_receiving_video(chair.page)


async def test_sharing_the_screen_replaces_the_camera_and_fills_the_large_tile_until_it_ends(
    server: RunningServer, browser: Browser
) -> None:
    _case_id, doctor, chair = await a_call(server, browser)
    share = doctor.page.get_by_test_id("call-screen")
    await share.click()
    await expect(share).to_have_attribute("aria-pressed", "true")
    # The fake capture's track is labelled "screen:..."; the fake camera's is not.
    sending = (
        "[...window.telemedCall.pcs.values()][0].getSenders()"
        ".find((s) => s.track?.kind === 'video')?.track?.label.startsWith('screen')"
    )
    await until(doctor.page, sending)
    await assert_receiving_video(chair.page)
    # The chair sees the shared screen in the large tile (imaging must be legible).
    shown = tile_of(chair.page, "bs.namcan")
    await expect(shown).to_have_attribute("data-screen", "true")
    await expect(shown).to_have_attribute("data-focus", "true")
    await share.click()
    await expect(share).to_have_attribute("aria-pressed", "false")
    await until(doctor.page, f"!({sending})")
    await expect(shown).to_have_attribute("data-screen", "false")
    await assert_receiving_video(chair.page)
    for person in (doctor, chair):
        person.assert_clean()


async def test_recording_needs_everyones_consent_and_shows_in_every_page(
    server: RunningServer, browser: Browser
) -> None:
    _case_id, doctor, chair = await a_call(server, browser)
    for person in (doctor, chair):
        await expect(person.page.get_by_test_id("rec-indicator")).to_be_hidden()
        await expect(person.page.get_by_test_id("rec-consent")).not_to_be_checked()
    await expect(doctor.page.get_by_test_id("rec-start")).to_be_hidden()

    await chair.page.get_by_test_id("rec-start").click()
    refusal = chair.page.get_by_test_id("call-error")
    await expect(refusal).to_be_visible()
    await expect(refusal).to_contain_text("BS. Nguyễn Văn Nam")

    for person in (doctor, chair):
        await person.page.get_by_test_id("rec-consent").check()
    await expect(tile_of(chair.page, "bs.namcan").get_by_test_id("call-consented")).to_be_visible()
    await chair.page.get_by_test_id("rec-start").click()
    for person in (doctor, chair):
        await expect(person.page.get_by_test_id("rec-indicator")).to_be_visible()
        # Each page sends its media to the server's recorder on one more connection.
        await until(person.page, "window.telemedCall.recorder?.connectionState === 'connected'")
    await expect(chair.page.get_by_test_id("rec-start")).to_be_hidden()
    await asyncio.sleep(2.0)  # a little of the session on the record

    await chair.page.get_by_test_id("rec-stop").click()
    for person in (doctor, chair):
        page = person.page
        await expect(page.get_by_test_id("rec-indicator")).to_be_hidden()
        await expect(
            page.locator('[data-testid="attachment"][data-kind="recording"]')
        ).to_have_count(1, timeout=20_000)
        await until(page, "window.telemedCall.recorder === null")
        person.assert_clean()


async def test_after_a_network_drop_the_page_rejoins_the_call_and_the_video_resumes(
    server: RunningServer, browser: Browser
) -> None:
    _case_id, doctor, chair = await a_call(server, browser)
    before = await doctor.page.evaluate("window.telemedCall.peerId")
    status = doctor.page.get_by_test_id("connection-status")
    await doctor.context.set_offline(True)
    await expect(status).to_have_attribute("data-state", "reconnecting", timeout=60_000)
    await doctor.context.set_offline(False)
    await expect(status).to_have_attribute("data-state", "live", timeout=60_000)
    panel = doctor.page.get_by_test_id("call-panel")
    await expect(panel).to_have_attribute("data-state", "in_call", timeout=30_000)
    after = await doctor.page.evaluate("window.telemedCall.peerId")
    assert after != before
    # The chair sees the doctor once, under the new connection: no ghost of the old one.
    tile = tile_of(chair.page, "bs.namcan")
    await expect(tile).to_have_count(1)
    await expect(tile).to_have_attribute("data-peer-id", after)
    await assert_receiving_video(chair.page)
    await assert_receiving_video(doctor.page)
    chair.assert_clean()


# The mean brightness (0-255) of the doctor's video as the chair's page shows it.
BRIGHTNESS = """() => {
  const video = document.querySelector(
    '[data-testid="call-tile"][data-username="bs.namcan"] video');
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 48;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0, 64, 48);
  const pixels = context.getImageData(0, 0, 64, 48).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
  return sum / (pixels.length / 4) / 3;
}"""


async def audio_energy_gained(page: Page, seconds: float = 2.5) -> float:
    """How much audio energy the page received over a few seconds (the fake microphone
    beeps about once a second; a muted one sends silence)."""
    before = await inbound_energy(page)
    await asyncio.sleep(seconds)
    return await inbound_energy(page) - before


async def until_silent(page: Page, seconds: float = 20.0) -> None:
    """Waits until a whole second brings the page no audio energy at all (what was in
    flight when the sender muted, and a loaded machine's late packets, arrive first)."""
    deadline = time.monotonic() + seconds
    while await audio_energy_gained(page, 1.0) != pytest.approx(0, abs=1e-6):
        assert time.monotonic() < deadline, f"audio still arrives after {seconds} s"


async def inbound_energy(page: Page) -> float:
    value = await page.evaluate(
        """async () => {
          let total = 0;
          for (const pc of window.telemedCall.pcs.values()) {
            (await pc.getStats()).forEach((s) => {
              if (s.type === "inbound-rtp" && s.kind === "audio") total += s.totalAudioEnergy ?? 0;
            });
          }
          return total;
        }"""
    )
    return float(value)


async def test_mute_and_camera_off_silence_and_darken_what_the_others_get(
    server: RunningServer, browser: Browser
) -> None:
    _case_id, doctor, chair = await a_call(server, browser)
    mute, camera = (
        doctor.page.get_by_test_id("call-mute"),
        doctor.page.get_by_test_id("call-camera"),
    )
    assert await audio_energy_gained(chair.page) > 0
    await until(chair.page, f"({BRIGHTNESS})() > 20")

    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await until_silent(chair.page)
    await camera.click()
    await expect(camera).to_have_attribute("aria-pressed", "true")
    await until(chair.page, f"({BRIGHTNESS})() < 5")
    await assert_receiving_video(chair.page)  # black frames: the call goes on

    await mute.click()
    await camera.click()
    await expect(mute).to_have_attribute("aria-pressed", "false")
    await until(chair.page, f"({BRIGHTNESS})() > 20")
    assert await audio_energy_gained(chair.page) > 0
    for person in (doctor, chair):
        person.assert_clean()


async def test_the_speaker_s_tile_grows_and_a_pinned_tile_stays_large(
    server: RunningServer, browser: Browser
) -> None:
    case_id, doctor, chair = await a_call(server, browser)
    member = await in_room(browser, server, "gs.timmach", case_id)
    await join_call(member.page)
    await assert_receiving_video(member.page)
    for person in (chair, member):  # only the district doctor speaks
        await person.page.get_by_test_id("call-mute").click()
    speaker, other = tile_of(chair.page, "bs.namcan"), tile_of(chair.page, "gs.timmach")
    await expect(speaker).to_have_attribute("data-speaking", "true")
    await expect(speaker).to_have_attribute("data-focus", "true")
    await expect(other).to_have_attribute("data-focus", "false")

    pin = other.get_by_test_id("call-pin")
    await pin.click()
    await expect(pin).to_have_attribute("aria-pressed", "true")
    await expect(other).to_have_attribute("data-focus", "true")
    await expect(speaker).to_have_attribute("data-focus", "false")
    await expect(speaker).to_have_attribute("data-speaking", "true")  # still the one heard
    pinned_box, speaker_box = await other.bounding_box(), await speaker.bounding_box()
    assert pinned_box is not None
    assert speaker_box is not None
    assert pinned_box["width"] > 1.5 * speaker_box["width"]
    await pin.click()  # unpinned: the speaker is large again
    await expect(speaker).to_have_attribute("data-focus", "true")

    await speaker.get_by_test_id("call-fullscreen").click()
    await until(chair.page, "document.fullscreenElement?.dataset.username === 'bs.namcan'")
    for person in (doctor, chair, member):
        person.assert_clean()
