"""Placing each participant's audio on one timeline and summing it into one track.

A recording must let a reviewer hear every participant with any player, and most players
play one audio track of a file. So the recorder mixes: every participant's audio is
converted to 48 kHz mono, placed on the recording's timeline by its RTP timestamps
(anchored where its first frame arrived), summed with saturation, and encoded as one
audio stream. Gaps (a muted or late participant) are silence.
"""

from __future__ import annotations

from array import array

RATE = 48_000
SAMPLE_BYTES = 2
_MIN, _MAX = -32768, 32767
_RTP_WRAP = 1 << 32


class TrackTimeline:
    """Maps one track's RTP timestamps (32-bit, random origin) to positions on the
    recording's timeline, in units of the track's own clock.

    The first frame is placed where it arrived; later frames keep their spacing from the
    sender's timestamps, so network jitter does not smear the audio. When the two drift
    apart by more than ``max_drift`` (a sender's clock, a long pause) the track is placed
    again where it arrives.
    """

    def __init__(self, max_drift: int) -> None:
        self._max_drift = max_drift
        self._anchor: int | None = None
        self._origin = 0
        self._last_pts = 0
        self._unwrapped = 0

    def position(self, pts: int, arrival: int) -> int:
        if self._anchor is None:
            self._anchor, self._origin, self._last_pts, self._unwrapped = arrival, 0, pts, 0
            return arrival
        delta = (pts - self._last_pts) % _RTP_WRAP
        if delta >= _RTP_WRAP // 2:
            delta -= _RTP_WRAP
        self._last_pts = pts
        self._unwrapped += delta
        position = self._anchor + self._unwrapped - self._origin
        if abs(position - arrival) > self._max_drift:
            self._anchor, self._origin = arrival, self._unwrapped
            return arrival
        return position


class AudioMixer:
    """A growing window of summed samples; ``take`` hands out the oldest part."""

    def __init__(self) -> None:
        self._sums: list[int] = []
        # The timeline position of ``_sums[0]``: everything before it has been taken.
        self._start = 0

    @property
    def taken(self) -> int:
        return self._start

    def add(self, position: int, pcm: bytes) -> None:
        """Add 16-bit mono samples starting at ``position``; what falls before the part
        already taken is late and dropped."""
        samples = array("h")
        samples.frombytes(pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES])
        skip = max(0, self._start - position)
        if skip >= len(samples):
            return
        offset = position + skip - self._start
        end = offset + len(samples) - skip
        if end > len(self._sums):
            self._sums.extend([0] * (end - len(self._sums)))
        sums = self._sums
        for index, value in enumerate(samples[skip:], start=offset):
            sums[index] += value

    def take(self, until: int) -> bytes:
        """16-bit mono samples from the last taken position up to ``until``, silence
        where nobody spoke, clipped where the sum overflows."""
        count = until - self._start
        if count <= 0:
            return b""
        available = min(count, len(self._sums))
        head = self._sums[:available]
        if head and (min(head) < _MIN or max(head) > _MAX):
            head = [_MIN if v < _MIN else _MAX if v > _MAX else v for v in head]
        out = array("h", head)
        out.extend([0] * (count - available))
        del self._sums[:available]
        self._start = until
        return out.tobytes()
