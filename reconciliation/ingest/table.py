"""What the three readers share: open the file with the PMS importer's reader (CSV or XLSX,
UTF-8 and shape checks, line numbers), check the documented header, and check a batch's
columns set-wise with the PMS importer's normalization rules (NDC to 11 digits, money to
exact integer cents, strict dates). A row's first problem is the one reported."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# the PMS importer's rules, shared so that every file normalizes the same way
from claims.ingest.normalize import _dates, _mask, _ndc11, money_to_cents
from claims.ingest.read import LINE, FileRejected, RowProblem, open_batches

ISO = "%Y-%m-%d"
REQUIRED = "This field is required."


@dataclass
class ReadResult:
    rows: pa.Table  # the good rows' normalized columns, LINE first
    problems: list[RowProblem]  # sorted by line; a bad row has one or more
    read: int  # data rows in the file
    superseded: int = 0  # rows replaced by a later publication of the same key (NADAC)

    @property
    def quarantined(self) -> int:
        return len({p.line for p in self.problems})


def _fold(header: str) -> str:
    return re.sub(r"\s+", " ", header.strip().lower())


def read_rows(
    path: Path,
    *,
    columns: Mapping[str, str],
    optional: Collection[str],
    section: str,
    check: Callable[[RowChecks], dict[str, pa.Array]],
    batch_rows: int = 50_000,
) -> ReadResult:
    """Read every row of `path` through `check`. `columns` maps each field to its documented
    header (matched ignoring case and spacing); a missing header that is not `optional`
    rejects the file, naming `section` of docs/formats.md."""
    batches = open_batches(path, batch_rows=batch_rows)
    found = {_fold(h): h for h in batches.headers}
    missing = [h for name, h in columns.items() if name not in optional and _fold(h) not in found]
    if missing:
        raise FileRejected(
            "required column(s) missing: "
            + ", ".join(missing)
            + f". The first line must be the header row of docs/formats.md, {section}."
        )
    headers = {name: found[_fold(h)] for name, h in columns.items() if _fold(h) in found}
    tables: list[pa.Table] = []
    problems: list[RowProblem] = []
    read = 0
    for batch in batches.batches:
        read += batch.num_rows
        rows = RowChecks(batch, headers, columns)
        tables.append(rows.good(check(rows)))
        problems.extend(rows.problems)
    # rows with the wrong number of fields, known once the whole file was read
    problems.extend(batches.problems)
    read += len(batches.problems)
    if read == 0:
        raise FileRejected("the file has a header but no rows.")
    if not tables:  # every line had the wrong number of fields: the columns, without rows
        empty = pa.table({h: pa.array([], pa.string()) for h in batches.headers})
        rows = RowChecks(empty.append_column(LINE, pa.array([], pa.int64())), headers, columns)
        tables.append(rows.good(check(rows)))
    table = pa.concat_tables(tables)
    if batches.kind == "csv" and (batches.problems or _text_lines(path) != read + 1):
        table, problems = _physical_lines(path, table, problems)
    return ReadResult(rows=table, problems=problems, read=read)


def _text_lines(path: Path) -> int:
    """Lines in the file (a last line without its newline counts)."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _physical_lines(
    path: Path, table: pa.Table, problems: list[RowProblem]
) -> tuple[pa.Table, list[RowProblem]]:
    """The shared CSV reader numbers rows as the file's records (the header is 1, blank lines
    not counted, a record with a quoted line break counted once). After a blank line or a
    quoted line break those numbers are not the text lines a user sees in an editor: the
    line where each record starts, read again here, puts them right (a file the two parsers
    read differently keeps the reader's numbers)."""
    starts: list[int] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if record:
                starts.append(start)
            start = reader.line_num + 1
    if starts == list(range(2, len(starts) + 2)):
        return table, problems
    line_of = np.asarray(starts, dtype=np.int64)
    ordinal = table.column(LINE).to_numpy() - 2
    if (ordinal.size and ordinal.max() >= line_of.size) or any(
        not 0 <= p.line - 2 < line_of.size for p in problems
    ):
        return table, problems
    index = table.column_names.index(LINE)
    table = table.set_column(index, LINE, pa.array(line_of[ordinal]))
    fixed = [dataclasses.replace(p, line=int(line_of[p.line - 2])) for p in problems]
    return table, sorted_problems(fixed)


class RowChecks:
    """One batch being checked: its text columns by field name, the rows found bad so far
    and their problems. Each check returns the column normalized (a placeholder where the
    row is bad: only good rows are kept)."""

    def __init__(self, batch: pa.Table, headers: Mapping[str, str], documented: Mapping[str, str]):
        self.src = batch
        self.headers = headers
        self.documented = documented
        self.n = batch.num_rows
        self.lines = batch.column(LINE).combine_chunks()
        self.bad = np.zeros(self.n, dtype=bool)
        self.problems: list[RowProblem] = []

    def header(self, name: str) -> str:
        return self.headers.get(name) or self.documented[name]

    def text(self, name: str) -> pa.Array:
        """The field's trimmed text; "" on every row when the (optional) column is absent."""
        header = self.headers.get(name)
        if header is None:
            return pa.array([""] * self.n, pa.string())
        values = pc.utf8_trim_whitespace(self.src.column(header).combine_chunks().fill_null(""))
        # spreadsheet-safe text ="0009..." is unwrapped, as in a PMS export
        if self.n and pc.any(pc.starts_with(values, '="')).as_py():
            values = pc.replace_substring_regex(values, r'^="(.*)"$', r"\1")
        return values

    def flag(self, mask: np.ndarray, name: str, values: pa.Array, reason: str) -> None:
        mask = mask & ~self.bad
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        taken = pc.take(values, pa.array(rows)).to_pylist()
        lines = pc.take(self.lines, pa.array(rows)).to_pylist()
        header = self.header(name)
        for line, value in zip(lines, taken, strict=True):
            self.problems.append(RowProblem(int(line), header, str(value), reason))
        self.bad |= mask

    def empty(self, values: pa.Array) -> np.ndarray:
        return _mask(pc.equal(values, ""))

    def required(self, name: str, *, max_length: int | None = None) -> pa.Array:
        values = self.text(name)
        self.flag(self.empty(values), name, values, REQUIRED)
        if max_length is not None:
            self.longer_than(name, values, max_length)
        return values

    def longer_than(self, name: str, values: pa.Array, max_length: int) -> None:
        too_long = _mask(pc.greater(pc.utf8_length(values), max_length))
        self.flag(too_long, name, values, f"At most {max_length} characters.")

    def matching(self, name: str, pattern: str, reason: str, *, optional: bool = False) -> pa.Array:
        values = self.text(name) if optional else self.required(name)
        ok = _mask(pc.match_substring_regex(values, pattern))
        if optional:
            ok |= self.empty(values)
        self.flag(~ok, name, values, reason)
        return values

    def whole(self, name: str, *, digits: int, what: str) -> pa.Array:
        """A whole number of 1 to `digits` digits, as int64."""
        values = self.matching(name, rf"^\d{{1,{digits}}}$", f"{what} is a whole number.")
        ok = _mask(pc.match_substring_regex(values, rf"^\d{{1,{digits}}}$"))
        return pc.cast(pc.if_else(pa.array(ok), values, "0"), pa.int64())

    def date(self, name: str, *formats: str, optional: bool = False) -> pa.Array:
        """A real calendar day in one of `formats` (tried in order), as date32; null where
        empty (`optional`) or bad."""
        values = self.text(name) if optional else self.required(name)
        parsed = pc.coalesce(*(_dates(values, f) for f in formats or (ISO,)))
        bad = ~_mask(parsed.is_valid()) & ~self.empty(values)
        shapes = " or ".join(_human(f) for f in formats or (ISO,))
        self.flag(bad, name, values, f"Not a date in the form {shapes}.")
        return parsed

    def ndc(self, name: str) -> pa.Array:
        """NDC to 11 digits (5-4-2), the PMS importer's rule."""
        values = self.required(name)
        ndc = _ndc11(values)
        self.flag(
            ~_mask(ndc.is_valid()),
            name,
            values,
            "An NDC is 11 digits, or 10 digits with hyphens (4-4-2, 5-3-2 or 5-4-1).",
        )
        return ndc.fill_null("")

    def cents(self, name: str, *, negative: bool = True, optional: bool = False) -> pa.Array:
        """Dollars to exact integer cents ('$1,234.50', '-12.30', '(12.30)'), never through
        a float; `negative=False` refuses amounts below zero. Null where empty (`optional`)."""
        values = self.text(name) if optional else self.required(name)
        cents, ok = money_to_cents(values)
        given = ~self.empty(values)
        reason = "Not an amount of money (like 12.30, at most two decimals)."
        self.flag(given & ~ok, name, values, reason)
        if not negative:
            self.flag(cents < 0, name, values, "Must not be negative.")
        return pa.array(cents, pa.int64(), mask=~(given & ok))

    def decimal(
        self, name: str, *, digits: int, places: int, zero: bool = True, optional: bool = False
    ) -> pa.Array:
        """An exact decimal of up to `digits` whole digits and `places` decimals, as
        decimal128 (never a float); below zero is refused, and zero too unless `zero`."""
        values = self.text(name) if optional else self.required(name)
        shape = rf"^\d{{1,{digits}}}(\.\d{{1,{places}}})?$"
        ok = _mask(pc.match_substring_regex(values, shape))
        given = ~self.empty(values)
        negative = given & _mask(pc.match_substring_regex(values, r"^-\s*\$?\d"))
        self.flag(negative, name, values, "Must not be negative.")
        self.flag(
            given & ~ok,
            name,
            values,
            f"Not a number (at most {digits} digits before the point and {places} after).",
        )
        number = pc.cast(
            pc.if_else(pa.array(ok), values, "0"), pa.decimal128(digits + places, places)
        )
        if not zero:
            is_zero = ok & _mask(pc.equal(number, pa.scalar(0, number.type)))
            self.flag(is_zero, name, values, "Must be more than 0.")
        return pc.if_else(pa.array(ok), number, pa.scalar(None, number.type))

    def one_of(
        self, name: str, allowed: Collection[str], *, fold: Callable[[pa.Array], pa.Array]
    ) -> pa.Array:
        """The value, folded (upper-cased, ...), if it is one of `allowed`."""
        raw = self.required(name)
        values = fold(raw)
        ok = _mask(pc.is_in(values, value_set=pa.array(sorted(allowed), pa.string())))
        self.flag(~ok, name, raw, f"Not one of {', '.join(sorted(allowed))}.")
        return values

    def good(self, out: dict[str, pa.Array]) -> pa.Table:
        keep = pa.array(np.flatnonzero(~self.bad))
        columns = {LINE: pc.take(self.lines, keep)}
        columns.update({name: pc.take(values, keep) for name, values in out.items()})
        return pa.table(columns)


def mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean array as a numpy mask, null counting as False."""
    return _mask(values)


def upper(values: pa.Array) -> pa.Array:
    return pc.utf8_upper(values)


def duplicates(table: pa.Table, key: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(repeated, first_line): which rows repeat an earlier row's key, and for each row the
    line of the first row with its key."""
    frame = pd.DataFrame({k: table.column(k).to_numpy(zero_copy_only=False) for k in key})
    lines = table.column(LINE).to_numpy()
    group = frame.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(lines).groupby(group).transform("min").to_numpy()
    return lines != first, first


def without(table: pa.Table, drop: np.ndarray) -> pa.Table:
    return table.filter(pa.array(~drop)) if drop.any() else table


def key_problems(
    table: pa.Table, key: list[str], repeated: np.ndarray, first: np.ndarray, *, what: str
) -> list[RowProblem]:
    """A problem for each row that repeats an earlier row's key; `what` names the key."""
    lines = table.column(LINE).to_numpy()
    problems = []
    for i in np.flatnonzero(repeated):
        value = " ".join(str(table.column(k)[int(i)].as_py()) for k in key)
        reason = f"The same {what} as line {int(first[i])}."
        problems.append(RowProblem(int(lines[i]), "(key)", value, reason))
    return problems


def sorted_problems(problems: list[RowProblem]) -> list[RowProblem]:
    return sorted(problems, key=lambda p: p.line)


def _human(fmt: str) -> str:
    return fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")


__all__ = [
    "ISO",
    "LINE",
    "FileRejected",
    "ReadResult",
    "RowChecks",
    "RowProblem",
    "duplicates",
    "key_problems",
    "mask",
    "read_rows",
    "sorted_problems",
    "upper",
    "without",
]
