"""Stream a CSV or XLSX export in batches of string columns, with each row's line number.

A file that cannot be read as a table at all raises `FileRejected` with a message a user can
act on; row-shaped problems (a line with the wrong number of fields) come back as problems
for quarantine, not as a rejection.

`open_batches` reads the whole file once before it hands out the first batch, so a file
damaged anywhere (a CSV field running across megabytes, a workbook whose sheet XML breaks at
row 80,000) is rejected before anything from it is written: a CSV is scanned (pyarrow, about
half a second a million rows), a workbook's sheet is converted once into an Arrow stream in an
unnamed temporary file and the batches are read back from it.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

LINE = "_line"
READ_BLOCK = 1 << 20


class FileRejected(ValueError):
    """The whole file is refused; nothing from it is loaded."""


@dataclass
class RowProblem:
    line: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.column,
            "value": self.value[:200],
            "reason": self.reason,
        }


@dataclass
class Batches:
    headers: list[str]
    kind: str
    batches: Iterator[pa.Table]  # string columns named by the headers, plus LINE (int64)
    problems: list[RowProblem] = field(default_factory=list)  # filled while iterating
    rows: int | None = None  # the file's data rows, malformed ones included, when known


def sniff(path: Path) -> str:
    """'csv' or 'xlsx' from the bytes, not the name."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise FileRejected("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if b"\x00" in head:
        raise FileRejected("This is not a CSV or XLSX file (it contains binary data).")
    return "csv"


def _check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8, or holds a NUL byte past the sniffed head, naming the
    line of the first bad byte. Reads in chunks: memory stays flat whatever the file size."""
    carry, line = b"", 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            data = carry + chunk
            nul = data.find(b"\x00")
            if nul != -1:  # valid UTF-8, but Postgres text cannot hold it (COPY fails)
                at = line + data[:nul].count(b"\n")
                raise FileRejected(
                    f"The file holds a NUL byte (0x00) on line {at}: it is damaged or not a "
                    "text export. Export it again as UTF-8 CSV (or upload the XLSX)."
                )
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
                    carry = data[exc.start :]  # a character split across two chunks
                    line += data[: exc.start].count(b"\n")
                    continue
                at = line + data[: exc.start].count(b"\n")
                raise FileRejected(
                    f"The file is not UTF-8 text: byte 0x{data[exc.start]:02X} on line {at} "
                    "cannot be read. Export it again as UTF-8 CSV (or upload the XLSX)."
                ) from None
            carry = b""
            line += data.count(b"\n")
    if carry:
        raise FileRejected("The file is not UTF-8 text: it ends inside a character.")


def _head_and_tail(path: Path, size: int = 1 << 16) -> tuple[bytes, bytes]:
    with path.open("rb") as fh:
        head = fh.read(size)
        fh.seek(max(path.stat().st_size - size, 0))
        return head, fh.read()


def open_batches(path: Path, *, batch_rows: int = 25_000) -> Batches:
    kind = sniff(path)
    return _open_xlsx(path, batch_rows) if kind == "xlsx" else _open_csv(path, batch_rows)


def _open_csv(path: Path, batch_rows: int) -> Batches:
    _check_utf8(path)
    head, tail = _head_and_tail(path)
    text_start = head.decode("utf-8-sig", errors="replace")
    first_line = text_start.splitlines()[0] if text_start.strip() else ""
    if not first_line.strip():
        raise FileRejected("The file has no header row: its first line is empty.")
    headers = [h.strip() for h in _first_row(first_line)]
    if len(set(headers)) != len(headers):
        dupes = sorted({h for h in headers if headers.count(h) > 1})
        raise FileRejected(f"The header row repeats column(s): {', '.join(dupes)}.")
    if not tail.endswith((b"\n", b"\r")):
        # an export written with CR line ends (old Mac style) has no LF at all
        last = re.split(rb"\r\n|\r|\n", tail)[-1].decode("utf-8", errors="replace")
        fields = _first_row(last)
        if len(fields) < len(headers):
            raise FileRejected(
                f"The file ends in the middle of a row ({len(fields)} of {len(headers)} fields "
                "on its last line): it looks truncated. Export it again."
            )
    if len(head) == path.stat().st_size and not re.search(rb"[\r\n]", head):
        # the header alone, without a line end: an export of a period with no fills
        # (Arrow refuses to skip a header row that does not end)
        return Batches(headers=headers, kind="csv", batches=iter(()))
    problems: list[RowProblem] = []
    bad: list[tuple[int, str, int]] = []  # (row number, text, fields) of malformed rows

    def reader(on_invalid: Any) -> pacsv.CSVStreamingReader:
        return pacsv.open_csv(
            path,
            # small blocks, joined up to batch_rows: memory stays flat, batches stay large;
            # one thread: pyarrow then tells each malformed row's number
            read_options=pacsv.ReadOptions(
                block_size=READ_BLOCK,
                encoding="utf8",
                column_names=headers,
                skip_rows=1,
                use_threads=False,
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in headers},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    # the scan: the whole file parses, or it is rejected before any batch is handed out
    good, malformed = 0, 0

    def count_invalid(row: Any) -> str:
        nonlocal malformed
        malformed += 1
        return "skip"

    try:
        for record_batch in reader(count_invalid):
            good += record_batch.num_rows
    except pa.ArrowInvalid as exc:
        reason = str(exc)
        if "straddl" in reason:
            reason = (
                f"a quoted value runs on for more than {READ_BLOCK >> 20} MB (a missing "
                "closing quote?)"
            )
        raise FileRejected(
            f"The CSV cannot be read at or after row {good + 2}: {reason}. Nothing from it "
            "was loaded; fix the file or export it again."
        ) from None

    def on_invalid(row: Any) -> str:
        bad.append((int(row.number), row.text or "", row.actual_columns))
        return "skip"

    def generate() -> Iterator[pa.Table]:
        # rows are numbered as the file's records (the header is 1); a malformed row keeps
        # its number, and the rows after it keep theirs
        lines = _Numbering()
        pending = pa.table({h: pa.array([], pa.string()) for h in headers})
        for record_batch in reader(on_invalid):
            pending = pa.concat_tables([pending, pa.Table.from_batches([record_batch])])
            while pending.num_rows >= batch_rows:
                yield _numbered(pending.slice(0, batch_rows), lines.take(batch_rows, bad))
                pending = pending.slice(batch_rows)
        if pending.num_rows:
            yield _numbered(pending, lines.take(pending.num_rows, bad))
        for number, text, actual in bad:
            problems.append(
                RowProblem(
                    number, "(row)", text, f"has {actual} fields, the header has {len(headers)}"
                )
            )

    return Batches(
        headers=headers, kind="csv", batches=generate(), problems=problems, rows=good + malformed
    )


class _Numbering:
    """Hands out the record numbers of well-formed rows in order, skipping those of the
    malformed rows pyarrow reported (it reports a block's before handing the block out)."""

    def __init__(self) -> None:
        self.next = 2  # line 1 is the header
        self.skipped = 0  # how many of the malformed rows are behind `next`

    def take(self, count: int, bad: list[tuple[int, str, int]]) -> np.ndarray:
        skip = sorted(number for number, _, _ in bad[self.skipped :])
        candidates = np.arange(self.next, self.next + count + len(skip), dtype=np.int64)
        kept = candidates[~np.isin(candidates, np.asarray(skip, dtype=np.int64))][:count]
        if len(kept):
            self.next = int(kept[-1]) + 1
        self.skipped += sum(1 for n in skip if n < self.next)
        return kept


def _first_row(text: str) -> list[str]:
    """The fields of the first CSV row of `text` (a header line, or a file's last line)."""
    import csv
    import io

    try:
        # newline="": a lone CR inside the line is the csv module's to read, not an error
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:
        raise FileRejected(f"The CSV cannot be read: {exc}.") from None


def _numbered(table: pa.Table, lines: np.ndarray) -> pa.Table:
    return table.append_column(LINE, pa.array(lines))


def _cell(value: Any) -> str:
    """XLSX cells to the text a CSV would hold: dates ISO, numbers shortest round-trip."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # an XLSX number is a binary double; its shortest repr is the decimal that was typed
        text = repr(value)
        return str(Decimal(text).normalize()) if "e" in text.lower() else text.removesuffix(".0")
    return str(value).strip()


def _open_xlsx(path: Path, batch_rows: int) -> Batches:
    from openpyxl import load_workbook

    try:
        # a file object: the stored upload is named by its hash, without an .xlsx suffix
        wb = load_workbook(path.open("rb"), read_only=True, data_only=True)
    except Exception as exc:  # a zip that is not a workbook, or a damaged one
        raise FileRejected(f"The XLSX file cannot be opened ({type(exc).__name__}).") from None
    if not wb.worksheets:  # a damaged workbook.xml can list no sheet at all
        raise FileRejected("The XLSX file has no worksheet.")
    sheet = wb.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        headers = [_cell(v) for v in next(rows)]
    except StopIteration:
        raise FileRejected("The workbook's first sheet is empty.") from None
    except Exception as exc:  # read-only openpyxl parses the sheet's XML as it goes
        raise _damaged_sheet(exc) from None
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileRejected("The workbook's first sheet has no header row.")
    width = len(headers)
    # the sheet is converted whole before the first batch is handed out: damage anywhere in
    # it rejects the file with nothing written
    # unnamed, so gone when closed: by generate() once read, or here on a failure
    spool = tempfile.TemporaryFile(prefix="rxrevops-xlsx-")  # noqa: SIM115
    schema = pa.schema([(h, pa.string()) for h in headers] + [(LINE, pa.int64())])
    rows_read = 0
    try:
        with pa.ipc.new_stream(pa.PythonFile(spool, mode="w"), schema) as sink:
            buffer: list[list[str]] = []
            lines: list[int] = []
            number = 1
            try:
                for number, values in enumerate(rows, start=2):
                    cells = [_cell(v) for v in values[:width]]
                    if not any(cells):
                        continue
                    buffer.append(cells + [""] * (width - len(cells)))
                    lines.append(number)
                    if len(buffer) >= batch_rows:
                        sink.write_table(_frame(buffer, lines, headers))
                        rows_read += len(buffer)
                        buffer, lines = [], []
            except Exception as exc:  # the sheet's XML is damaged past the rows read so far
                raise _damaged_sheet(exc, after_row=number) from None
            if buffer:
                sink.write_table(_frame(buffer, lines, headers))
                rows_read += len(buffer)
    except BaseException:
        spool.close()
        raise
    finally:
        wb.close()

    def generate() -> Iterator[pa.Table]:
        try:
            spool.seek(0)
            for record_batch in pa.ipc.open_stream(pa.PythonFile(spool, mode="r")):
                yield pa.Table.from_batches([record_batch])
        finally:
            spool.close()

    return Batches(headers=headers, kind="xlsx", batches=generate(), rows=rows_read)


def _damaged_sheet(exc: Exception, after_row: int = 0) -> FileRejected:
    where = f" after row {after_row}" if after_row > 1 else ""
    return FileRejected(
        f"The XLSX file is damaged: its first sheet cannot be read{where} "
        f"({type(exc).__name__}). Export it again."
    )


def _frame(rows: list[list[str]], lines: list[int], headers: list[str]) -> pa.Table:
    columns = {h: pa.array([row[i] for row in rows], pa.string()) for i, h in enumerate(headers)}
    columns[LINE] = pa.array(lines, pa.int64())
    return pa.table(columns)
