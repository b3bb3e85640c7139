"""A recording's description as the case shows it: in the deployment's language (Vietnamese
by default), in Vietnam time, with a duration people read (never "0 min" for 14 s)."""

from __future__ import annotations

from datetime import UTC, datetime

from telemed.signaling.recording import recording_description

STARTED = datetime(2026, 11, 30, 3, 5, tzinfo=UTC)  # 10:05 in Vietnam


def test_a_short_recording_says_its_seconds_in_vietnamese_and_vietnam_time() -> None:
    text = recording_description(STARTED, 14.2, has_video=True)
    assert text == (
        "Bản ghi phiên hội chẩn lúc 10:05 30/11/2026 (giờ Việt Nam), thời lượng 14 giây"
    )
    assert "0 min" not in text


def test_minutes_hours_and_audio_only_read_naturally() -> None:
    assert recording_description(STARTED, 200, has_video=False).endswith(
        "thời lượng 3 phút 20 giây, chỉ âm thanh"
    )
    assert recording_description(STARTED, 3900, has_video=True).endswith("1 giờ 5 phút")
