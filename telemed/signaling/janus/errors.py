"""What a failure of Janus means to the call, as domain errors: the SFU cannot be reached
(``SfuUnavailable``: a network error, a timeout, a session Janus no longer knows), or it
refused a request (``SfuRefused``, with Janus's own error code)."""

from __future__ import annotations

from telemed.errors import DomainError

# Janus core error codes (janus/apierror.h) that mean "this session is gone".
SESSION_GONE = frozenset({458, 459})


class SfuUnavailable(DomainError):
    code = "sfu_unavailable"
    default_message = "The video server cannot be reached."


class SfuSessionGone(SfuUnavailable):
    default_message = "The video server no longer knows this session."


class SfuRefused(DomainError):
    code = "sfu_refused"
    default_message = "The video server refused the request."

    def __init__(self, janus_code: int, reason: str) -> None:
        # Janus's reasons name its own objects (rooms, feeds, elements), never a person.
        super().__init__(f"The video server refused the request: {reason} ({janus_code}).")
        self.janus_code = janus_code
