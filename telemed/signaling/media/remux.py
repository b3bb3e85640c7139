"""One file from Janus's recordings, without decoding: each ``.mjr`` (the RTP Janus wrote
for one stream) is unpacked by ``janus-pp-rec``, and ffmpeg copies the streams side by
side into one Matroska file, each shifted by the time its first packet arrived, so that
they play in step. Blocking: run it in a thread.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from telemed.signaling.media.mediafile import FileFacts, inspect

# Unpacking a stream of a four-hour session takes seconds; a stuck tool must not hang.
TOOL_SECONDS = 600


@dataclass(frozen=True)
class RecordedStream:
    """One ``.mjr`` file: ``audio`` or ``video``."""

    path: Path
    kind: str


def first_packet_us(tool: str, mjr: Path) -> int:
    """When the stream's first packet was written (microseconds, Janus's clock)."""
    header = json.loads(_run([tool, "--json", str(mjr)]))
    return int(header.get("u") or header.get("s") or 0)


def remux(
    streams: list[RecordedStream],
    output: Path,
    *,
    pp_rec: str,
    ffmpeg: str,
    until_us: int | None = None,
) -> FileFacts:
    """``streams`` into ``output`` (Matroska): every audio stream as its own track, video as
    recorded (VP8 or H.264), each at its offset from the earliest; cut at ``until_us``
    (Janus's clock: real time in microseconds), when the recording was asked to stop."""
    usable = [s for s in streams if s.path.exists() and s.path.stat().st_size > 0]
    if not usable:
        raise ValueError("nothing was recorded")
    starts = {s.path: first_packet_us(pp_rec, s.path) for s in usable}
    origin = min(starts.values())
    with tempfile.TemporaryDirectory(dir=output.parent) as work:
        inputs: list[str] = []
        for index, stream in enumerate(usable):
            unpacked = Path(work) / f"{index}.{'mka' if stream.kind == 'audio' else 'mkv'}"
            _run([pp_rec, str(stream.path), str(unpacked)])
            offset = (starts[stream.path] - origin) / 1_000_000
            inputs += ["-itsoffset", f"{offset:.6f}", "-i", str(unpacked)]
        maps = [arg for i in range(len(usable)) for arg in ("-map", str(i))]
        cut = ["-t", f"{(until_us - origin) / 1_000_000:.3f}"] if until_us else []
        copy = [*maps, "-c", "copy", *cut, str(output)]
        _run([ffmpeg, "-nostdin", "-v", "error", "-y", *inputs, *copy])
    return inspect(output)


def _run(argv: list[str]) -> str:
    # The tools are named by settings; every argument is a path this module made.
    done = subprocess.run(  # noqa: S603
        argv, capture_output=True, text=True, timeout=TOOL_SECONDS, check=False
    )
    if done.returncode != 0:
        # The tools' messages name files and codecs, never a person.
        raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-500:]}")
    return done.stdout
