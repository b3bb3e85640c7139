"""A participant's link as the server judges it from the page's reports: down to the low
layer quickly, back up after a run of good reports, more cautiously after each climb that
did not hold, and audio only when it stays poor."""

from __future__ import annotations

from telemed.signaling.links import (
    AUDIO_ONLY_AFTER,
    DOWN_AFTER,
    HIGH,
    LOW,
    UP_AFTER,
    UP_AFTER_MOST,
    Link,
    grade,
    layer,
)

GOOD, FAIR, POOR = (0.0, 50.0), (0.05, 50.0), (0.2, 50.0)


def feed(link: Link, reports: list[tuple[float, float]]) -> list[tuple[bool, bool]]:
    return [link.report(*report) for report in reports]


def test_grades_follow_the_pages_thresholds() -> None:
    assert grade(None, None) == "good"
    assert grade(0.02, 300) == "good"
    assert grade(0.03, 10) == "fair"
    assert grade(0.0, 301) == "fair"
    assert grade(0.09, 10) == "poor"
    assert grade(0.0, 801) == "poor"


def test_a_weak_link_goes_down_after_two_reports_and_up_after_a_good_run() -> None:
    link = Link()
    assert feed(link, [FAIR] * (DOWN_AFTER - 1)) == [(False, False)] * (DOWN_AFTER - 1)
    assert link.report(*FAIR) == (True, False)
    assert link.low
    assert feed(link, [GOOD] * (UP_AFTER - 1)) == [(False, False)] * (UP_AFTER - 1)
    assert link.report(*GOOD) == (True, False)
    assert not link.low


def test_one_bad_report_among_good_ones_changes_nothing() -> None:
    link = Link()
    assert feed(link, [GOOD, POOR, GOOD, FAIR, GOOD]) == [(False, False)] * 5
    assert not link.low


def test_a_climb_that_does_not_hold_doubles_the_wait_for_the_next_until_it_holds() -> None:
    link = Link()
    feed(link, [POOR] * DOWN_AFTER + [GOOD] * UP_AFTER)  # down, then back up
    assert not link.low
    feed(link, [FAIR] * DOWN_AFTER)  # at once down again: that climb failed
    assert link.low
    assert link.climb_after == 2 * UP_AFTER
    feed(link, [GOOD] * (2 * UP_AFTER - 1))
    assert link.low
    assert link.report(*GOOD) == (True, False)
    feed(link, [GOOD] * (UP_AFTER_MOST + 1))  # this time it holds a good while
    assert link.climb_after == UP_AFTER


def test_a_link_poor_for_long_enough_asks_for_audio_only() -> None:
    link = Link()
    said = feed(link, [POOR] * AUDIO_ONLY_AFTER)
    assert [audio_only for _, audio_only in said] == [False] * (AUDIO_ONLY_AFTER - 1) + [True]
    fair_only = Link()
    assert not any(audio for _, audio in feed(fair_only, [FAIR] * 10))


def test_the_district_receives_the_speaker_high_and_everyone_else_low() -> None:
    assert layer(False, False, 7, None, set()) == HIGH
    assert layer(True, False, 7, 7, set()) == LOW
    assert layer(False, True, 7, 7, set()) == HIGH
    assert layer(False, True, 8, 7, set()) == LOW
    assert layer(False, True, 8, None, set()) == LOW


def test_a_shared_screen_goes_out_full_unless_the_subscribers_link_is_weak() -> None:
    assert layer(False, True, 8, 7, {8}) == HIGH
    assert layer(True, True, 8, 7, {8}) == LOW
