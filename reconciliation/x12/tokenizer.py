"""From bytes to segments: decode in chunks, find the delimiters, split.

Delimiters come from the ISA: the element separator is the character after "ISA", the
component separator is ISA16 and the segment terminator the character after it. The ISA is
read by counting its 16 element separators rather than by fixed positions, so an ISA whose
padding was collapsed still reads (the reader warns about it).

Transport noise is removed before splitting: when the terminator is not a line break, every
CR and LF is noise (line ends after `~`, or a stream hard-wrapped at a fixed width even inside
elements), and when it is, CRLF and CR end segments like LF does. A UTF-8 BOM and leading
whitespace (indentation) before a segment are dropped. Without an ISA, a file starting with
ST is read as a bare transaction: element separator after "ST", terminator `~` if the first
line has one, else the line break.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from reconciliation.x12.issues import FATAL, Issue, X12SyntaxError

CHUNK_BYTES = 1 << 20
SNIFF_CHARS = 4096
MAX_SEGMENT_CHARS = 100_000  # far beyond any real segment: past it, the terminator is wrong
ISA_ELEMENTS = 16
LINE_BREAKS = "\r\n"
INDENT = " \t"  # not str.strip(): it would also eat 0x1C-0x1F, which some PBMs use as delimiters

Source = str | os.PathLike[str] | bytes | IO[bytes] | IO[str]


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    component: str  # ISA16; ":" until an SVC01 shows otherwise in a bare ST..SE file
    terminator: str  # "\n" for a file with one segment per line
    enveloped: bool  # False: a bare ST..SE without ISA/GS
    isa_noise: bool = False  # line breaks were found inside the ISA (a hard-wrapped file)


def text_chunks(source: Source, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """The source as text, one chunk at a time. Bytes are decoded as UTF-8 (ASCII in practice);
    an undecodable byte (or a NUL) becomes U+FFFD and then fails whatever element holds it."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield from _decoded(f, chunk_bytes)
    elif isinstance(source, bytes | bytearray | memoryview):
        yield from _decoded(io.BytesIO(bytes(source)), chunk_bytes)
    else:
        yield from _decoded(source, chunk_bytes)


def _decoded(f: IO[bytes] | IO[str], chunk_bytes: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while block := f.read(chunk_bytes):
        text = block if isinstance(block, str) else decoder.decode(block)
        # NUL is no X12 character, and Postgres text and jsonb cannot hold it: like an
        # undecodable byte it becomes U+FFFD and fails whatever element holds it
        yield text.replace("\x00", "\ufffd") if "\x00" in text else text
    if tail := decoder.decode(b"", final=True):
        yield tail


def sniff(chunks: Iterator[str], name: str) -> tuple[Delimiters, Iterator[str]]:
    """Read the delimiters from the start of the file. Returns them and the chunks again,
    from the first character of the first segment (BOM and leading whitespace dropped)."""
    head = ""
    for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_CHARS:
            break
    head = head.lstrip("\ufeff" + INDENT + LINE_BREAKS)
    start = head[:12].replace("\r", "").replace("\n", "")
    if start.startswith("ISA"):
        delimiters = _isa_delimiters(head, name)
    elif start.startswith("ST") and len(start) > 2:
        delimiters = _bare_delimiters(head, name)
    else:
        raise _fatal(
            name,
            "not-x12",
            "This is not an X12 file: it should start with an ISA (or ST) segment.",
            expected="ISA",
            found=repr(head[:20]),
        )

    def rest() -> Iterator[str]:
        yield head
        yield from chunks

    return delimiters, rest()


def _isa_delimiters(head: str, name: str) -> Delimiters:
    element, count, seen, pos, noise = "", 0, 0, 0, False
    while count < ISA_ELEMENTS and pos < len(head):
        char, pos = head[pos], pos + 1
        if char in LINE_BREAKS:
            noise = True
            continue
        seen += 1
        if seen == 4:  # the character after "ISA"
            element = char
            if not _usable(element):
                raise _isa_fatal(name, f"the character after ISA ({element!r}) is no separator")
        if char == element:
            count += 1
    while pos < len(head) and head[pos] in LINE_BREAKS:
        pos += 1
    if count < ISA_ELEMENTS or pos + 1 > len(head):
        raise _isa_fatal(name, f"it has {count} of its 16 elements")
    component, pos = head[pos], pos + 1
    terminator = head[pos] if pos < len(head) else "\n"
    if terminator in LINE_BREAKS:
        # a line break after ISA16: the terminator, unless the next thing is not a segment id
        # (a hard-wrapped stream cut just before the real terminator)
        nxt = pos
        while nxt < len(head) and head[nxt] in INDENT + LINE_BREAKS:
            nxt += 1
        terminator = head[nxt] if nxt < len(head) and not head[nxt].isalpha() else "\n"
    if terminator == "\n" and noise:
        raise _isa_fatal(name, "it is broken across lines but segments end at line breaks")
    if not _usable(component) or not (_usable(terminator) or terminator == "\n"):
        raise _isa_fatal(name, f"ISA16 {component!r} or terminator {terminator!r} is unusable")
    if len({element, component, terminator}) < 3:
        raise _isa_fatal(
            name,
            f"its separators are not distinct (element {element!r}, component "
            f"{component!r}, terminator {terminator!r})",
        )
    return Delimiters(element, component, terminator, enveloped=True, isa_noise=noise)


def _bare_delimiters(head: str, name: str) -> Delimiters:
    element = head[2]
    if not _usable(element):
        raise _fatal(
            name,
            "not-x12",
            "The file starts with ST but no element separator follows it.",
            expected="ST*835*...",
            found=repr(head[:20]),
        )
    first_line = head.split("\n", 1)[0]
    terminator = "~" if "~" in first_line and element != "~" else "\n"
    return Delimiters(element, ":", terminator, enveloped=False)


def _usable(char: str) -> bool:
    """A delimiter must be one character that cannot occur in a segment id or a number."""
    return len(char) == 1 and can_be_delimiter(char) and char not in INDENT + LINE_BREAKS


def can_be_delimiter(char: str) -> bool:
    return not char.isalnum() and char not in " .-"


def segment_batches(
    delimiters: Delimiters, chunks: Iterator[str], name: str
) -> Iterator[list[str]]:
    """Segments as raw strings, a chunk's worth at a time: noise removed, indentation
    stripped, empty segments skipped. Only one chunk and one partial segment are held."""
    terminator = delimiters.terminator
    newline = terminator == "\n"
    carry = ""
    for chunk in chunks:
        if newline:
            text = chunk.replace("\r\n", "\n").replace("\r", "\n") if "\r" in chunk else chunk
        else:
            text = chunk.replace("\r", "").replace("\n", "")
        parts = (carry + text).split(terminator) if carry else text.split(terminator)
        carry = parts.pop()
        if len(carry) > MAX_SEGMENT_CHARS:
            raise _fatal(
                name,
                "segment-too-long",
                f"No segment terminator {terminator!r} in {len(carry):,} characters: the "
                "file is not X12 or its ISA names the wrong terminator.",
                expected=repr(terminator),
                found="no terminator",
                segment=None,
            )
        batch = [s for p in parts if (s := p.lstrip(INDENT))]
        if batch:
            yield batch
    last = carry.strip(INDENT)
    if last:
        yield [last]


def segments(source: Source, name: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """Every segment of a file as (segment number, elements), delimiters normalized: the
    raw-segment view. Segment numbers are 1-based positions in the file, the same numbers
    issues and `Remittance.first_segment` use. Composites are left joined with the file's
    component separator."""
    label = name or source_label(source)
    delimiters, chunks = sniff(text_chunks(source), label)
    number = 0
    for batch in segment_batches(delimiters, chunks, label):
        for raw in batch:
            number += 1
            yield number, raw.split(delimiters.element)


def source_label(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return os.path.basename(os.fspath(source))
    return str(getattr(source, "name", "<835>"))


def _isa_fatal(name: str, why: str) -> X12SyntaxError:
    return _fatal(
        name,
        "isa-unreadable",
        f"The ISA envelope header cannot be read: {why}. The file cannot be loaded.",
        expected="ISA with 16 elements",
        found=why,
    )


def _fatal(
    name: str,
    code: str,
    message: str,
    *,
    expected: str,
    found: str,
    segment: int | None = 1,
) -> X12SyntaxError:
    issue = Issue(
        FATAL,
        code,
        message,
        name,
        segment=segment,
        segment_id="ISA" if code == "isa-unreadable" else None,
        expected=expected,
        found=found,
    )
    return X12SyntaxError([issue])
