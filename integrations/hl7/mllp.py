"""MLLP (the HL7 Minimal Lower Layer Protocol, release 1) framing: `<SB> message <EB><CR>`,
with SB = 0x0B and EB CR = 0x1C 0x0D.

`MllpDecoder` is incremental: feed it bytes as they arrive, in any split, and it returns
each complete message (`Frame`) and each stretch of bytes it had to throw away
(`FramingError`), in stream order. It never loses a good frame to bad bytes before it:
junk outside a frame is reported and skipped up to the next SB, and a frame cut short by a
new SB (a sender that restarted mid-message) is reported and the new frame read. The
decoder is lenient in one way senders differ: the CR after EB may be missing (the frame ends
at EB; a CR that follows is swallowed). Blank lines between frames are not junk.

Plain bytes in, plain data out: no sockets, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

SB = b"\x0b"
EB = b"\x1c"
CR = b"\x0d"
TRAILER = EB + CR
# a frame larger than this is not a pharmacy message (the HTTP endpoint's limit is the same)
DEFAULT_MAX_FRAME = 1024 * 1024
_BLANK = b"\r\n \t"


@dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes  # the message between SB and EB, as sent


@dataclass(frozen=True, slots=True)
class FramingError:
    junk: bytes  # the bytes thrown away (at most `DEFAULT_MAX_FRAME` of them)
    reason: str


def frame(payload: bytes) -> bytes:
    """`payload` wrapped for the wire."""
    return SB + payload + TRAILER


class MllpDecoder:
    """Bytes in, frames and framing errors out. One decoder per connection."""

    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._frame: bytearray | None = None  # None: between frames
        self._discarding = False  # inside an oversized frame, waiting for the next SB
        self._skip_cr = False  # a frame just ended at EB: swallow the CR that follows

    @property
    def inside_frame(self) -> bool:
        """True when a frame has started and not ended (a disconnect now cuts a message)."""
        return self._frame is not None and not self._discarding

    def feed(self, data: bytes) -> list[Frame | FramingError]:
        out: list[Frame | FramingError] = []
        i, n = 0, len(data)
        if self._skip_cr and n:
            self._skip_cr = False
            if data[:1] == CR:
                i = 1
        while i < n:
            if self._frame is None:
                start = data.find(SB, i)
                end = n if start < 0 else start
                junk = data[i:end]
                if junk.strip(_BLANK) and not self._discarding:
                    out.append(
                        FramingError(
                            junk[: self.max_frame],
                            "bytes outside an MLLP frame (a frame starts with 0x0B)",
                        )
                    )
                if start < 0:
                    break
                self._discarding = False
                self._frame = bytearray()
                i = start + 1
                continue
            end = data.find(EB, i)
            restart = data.find(SB, i, n if end < 0 else end)
            if restart >= 0:
                self._frame += data[i:restart]
                out.append(
                    FramingError(
                        bytes(self._frame[: self.max_frame]),
                        "a new frame (0x0B) started before this one ended (0x1C 0x0D)",
                    )
                )
                self._frame = bytearray()
                i = restart + 1
                continue
            self._frame += data[i : n if end < 0 else end]
            if len(self._frame) > self.max_frame:
                out.append(
                    FramingError(
                        bytes(self._frame[: self.max_frame]),
                        f"a frame larger than {self.max_frame} bytes",
                    )
                )
                self._frame = None
                if end < 0:
                    self._discarding = True  # the rest of it, up to the next SB, is dropped
                    break
            elif end < 0:
                break
            else:
                out.append(Frame(bytes(self._frame)))
                self._frame = None
            i = end + 1
            if i < n:
                if data[i : i + 1] == CR:
                    i += 1
            else:
                self._skip_cr = True
        return out

    def close(self) -> list[FramingError]:
        """The stream ended: a frame still open was cut short."""
        if self._frame is None or self._discarding:
            return []
        cut = bytes(self._frame[: self.max_frame])
        self._frame = None
        return [FramingError(cut, "the connection ended inside a frame (no 0x1C 0x0D)")]
