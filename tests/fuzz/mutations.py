"""Hypothesis strategies shared by the parser fuzz tests: random input, and damage done to a
valid sample record by record (a CSV line, an X12 segment, an HL7 segment) and field by
field, the way real exports break: dropped, repeated, cut, swapped, wrong delimiters, huge
numbers, NUL bytes, stray control characters, lone surrogates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

# values that break naive parsers: huge and odd numbers, NUL, control and format characters,
# lone surrogates, right-to-left marks, emoji, very long text
NASTY_VALUES = [
    "",
    " ",
    "9" * 40,
    "9" * 400,
    "-" + "9" * 25,
    "1e999",
    "-1e-999",
    "NaN",
    "Infinity",
    "0x1F",
    "1,2,3",
    "(12.34)",
    "$-0.001",
    "00000000000000000000000000000001",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
    "\u202e\u200b\ufeff",
    "\U0001f48a",
    "\u00bd\u00b2\u0663",  # ½ ² and an Arabic-Indic 3: digits to str.isdigit(), not to int()
    '"',
    '""',
    '="00093"',
    "\r",
    "\n",
    "\r\n",
    "\x1c\x1d\x1e\x1f",
    "x" * 5000,
    "2026-02-30",
    "99999999",
    "00000000",
]

nasty_value = st.sampled_from(NASTY_VALUES) | st.text(max_size=30)

# (operation, where in [0, 1), argument)
record_step = st.one_of(
    st.tuples(st.just("drop"), st.floats(0, 1, exclude_max=True), st.just(None)),
    st.tuples(st.just("duplicate"), st.floats(0, 1, exclude_max=True), st.integers(1, 3)),
    st.tuples(st.just("swap"), st.floats(0, 1, exclude_max=True), st.floats(0, 1)),
    st.tuples(st.just("cut"), st.floats(0, 1, exclude_max=True), st.floats(0, 1)),
    st.tuples(st.just("truncate_file"), st.floats(0, 1, exclude_max=True), st.just(None)),
    st.tuples(
        st.just("field_set"),
        st.floats(0, 1, exclude_max=True),
        st.tuples(st.floats(0, 1, exclude_max=True), nasty_value),
    ),
    st.tuples(
        st.just("field_drop"), st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)
    ),
    st.tuples(
        st.just("field_duplicate"),
        st.floats(0, 1, exclude_max=True),
        st.floats(0, 1, exclude_max=True),
    ),
    st.tuples(
        st.just("field_separator"),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from([",", ";", "\t", "|", "*", "~", "^", ":", "\x1d", ""]),
    ),
    st.tuples(st.just("insert_record"), st.floats(0, 1), nasty_value),
)


def mutate_records(
    records: Sequence[str], separator: str, steps: Sequence[tuple[str, float, Any]]
) -> list[str]:
    """`records` (lines or segments, each `separator`-joined fields) after `steps`."""
    out = list(records)
    for kind, where, arg in steps:
        if kind == "insert_record":
            out.insert(int(where * len(out)), arg)
            continue
        if not out:
            continue
        i = int(where * len(out))
        if kind == "drop":
            del out[i]
        elif kind == "duplicate":
            out[i:i] = [out[i]] * arg
        elif kind == "swap":
            j = min(int(arg * len(out)), len(out) - 1)
            out[i], out[j] = out[j], out[i]
        elif kind == "cut":
            out[i] = out[i][: int(arg * len(out[i]))]
        elif kind == "truncate_file":
            out = out[: i + 1]
            out[-1] = out[-1][: len(out[-1]) // 2]
        else:
            fields = out[i].split(separator)
            if kind == "field_set":
                at, value = arg
                fields[int(at * len(fields))] = value
            elif kind == "field_drop" and len(fields) > 1:
                del fields[int(arg * len(fields))]
            elif kind == "field_duplicate":
                k = int(arg * len(fields))
                fields.insert(k, fields[k])
            elif kind == "field_separator":
                out[i] = arg.join(fields)
                continue
            out[i] = separator.join(fields)
    return out


# byte-level damage, for what a transport or an editor does to a file
byte_step = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
)


def mutate_bytes(data: bytes, steps: Sequence[tuple[str, float, Any]]) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in steps:
        at = int(where * len(buf))
        if kind == "flip" and buf:
            buf[min(at, len(buf) - 1)] = arg
        elif kind == "insert":
            buf[at:at] = arg
        elif kind == "delete":
            del buf[at : at + arg]
        elif kind == "truncate":
            del buf[at:]
    return bytes(buf)


# how a text gets to bytes: the UTF-8 we ask for, and what spreadsheets and old systems send
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"]


def encode(text: str, encoding: str) -> bytes:
    """`text` in `encoding`; characters it cannot hold (and lone surrogates) as the bytes a
    careless writer would produce instead of failing."""
    errors = "surrogatepass" if encoding.startswith("utf") else "replace"
    try:
        return text.encode(encoding, errors)
    except UnicodeEncodeError:
        return text.encode(encoding, "replace")
