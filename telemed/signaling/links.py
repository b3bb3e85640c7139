"""Each participant's link, judged from what its own browser reports (``rtc:stats``: the
worst loss and round trip over its connections), and what the call does about it.

Through the SFU a participant whose link weakens receives the others' low simulcast layer
within two reports, and climbs back after a run of good ones; each failed climb doubles the
run it needs next, so a link that cannot hold the high layer does not keep trying. A link
that stays poor for longer takes the participant to audio only (announced to the room):
audio never waits for video. The thresholds are the page's own "fair" and "poor" ones
(web/static/js/call_stats.js), so what the tile shows and what the server does agree.
"""

from __future__ import annotations

from dataclasses import dataclass

FAIR_LOSS, FAIR_RTT_MS = 0.02, 300.0
POOR_LOSS, POOR_RTT_MS = 0.08, 800.0
# Reports in a row (the page sends one every few seconds) before each step.
DOWN_AFTER = 2
UP_AFTER = 3
UP_AFTER_MOST = 24
AUDIO_ONLY_AFTER = 4

# Janus's simulcast substreams: 0 is the lowest layer; Janus forwards the highest it has
# when asked for more than the publisher sends.
LOW, HIGH = 0, 2


def grade(loss: float | None, rtt_ms: float | None) -> str:
    """``good``, ``fair`` or ``poor``, as the page grades a connection."""
    loss, rtt = loss or 0.0, rtt_ms or 0.0
    if loss > POOR_LOSS or rtt > POOR_RTT_MS:
        return "poor"
    if loss > FAIR_LOSS or rtt > FAIR_RTT_MS:
        return "fair"
    return "good"


@dataclass
class Link:
    """One participant's link over its last reports."""

    low: bool = False  # receives the low layer
    weak: int = 0  # fair or poor reports in a row
    poor: int = 0  # poor reports in a row
    good: int = 0  # good reports in a row
    climb_after: int = UP_AFTER
    since_climb: int | None = None  # reports since it last went back up

    def report(self, loss: float | None, rtt_ms: float | None) -> tuple[bool, bool]:
        """Take one report; says whether the layer it should receive changed, and
        whether it should now go to audio only."""
        quality = grade(loss, rtt_ms)
        self.poor = self.poor + 1 if quality == "poor" else 0
        self.weak = self.weak + 1 if quality != "good" else 0
        self.good = self.good + 1 if quality == "good" else 0
        if self.since_climb is not None:
            self.since_climb += 1
        changed = False
        if not self.low and self.weak >= DOWN_AFTER:
            self.low, changed = True, True
            if self.since_climb is not None and self.since_climb <= 2 * DOWN_AFTER:
                # The last climb did not hold: wait longer before the next one.
                self.climb_after = min(UP_AFTER_MOST, self.climb_after * 2)
            self.since_climb = None
        elif self.low and self.good >= self.climb_after:
            self.low, changed, self.good, self.since_climb = False, True, 0, 0
        elif self.since_climb is not None and self.since_climb > UP_AFTER_MOST:
            # The high layer held a good while: a later fall starts afresh.
            self.climb_after, self.since_climb = UP_AFTER, None
        return changed, self.poor >= AUDIO_ONLY_AFTER


def layer(
    subscriber_low: bool, district: bool, feed: int, speaker: int | None, screens: set[int]
) -> int:
    """The substream a subscriber receives of ``feed``: the low one on a weak link; the
    district site (a hospital uplink, often the weakest) the low one of everyone but the
    person speaking and a shared screen (imaging must stay legible)."""
    if subscriber_low:
        return LOW
    if district and feed != speaker and feed not in screens:
        return LOW
    return HIGH
