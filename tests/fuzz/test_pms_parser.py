"""Fuzzing the PMS export reader and normalizer (claims.ingest) with random and damaged
files: the only exceptions are the reader's own (`FileRejected`, `UnknownLayout`), and every
row read is either a normalized row or a located problem, never both, never neither."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.ingest.normalize import normalize
from claims.ingest.profiles import UnknownLayout, detect_profile
from claims.ingest.read import LINE, FileRejected, RowProblem, open_batches
from tests.fuzz.mutations import (
    ENCODINGS,
    byte_step,
    encode,
    mutate_bytes,
    mutate_records,
    nasty_value,
    record_step,
)
from tests.fuzz.pms_samples import CsvSample, XlsxSample, pms_samples, xlsx_bytes

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# a workbook is written and zipped per example: fewer of them
XLSX_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BATCH_ROWS = 5  # several batches per small file: the batch seams get fuzzed too


@pytest.fixture(scope="module")
def samples(world_files: Path) -> tuple[list[CsvSample], list[XlsxSample]]:
    return pms_samples(json.loads((world_files / "manifest.json").read_text()), world_files)


def read_everything(data: bytes) -> tuple[int, list[RowProblem]] | Exception:
    """Read and normalize every batch of `data` as the import does. Returns the number of
    rows loaded and every problem, or the rejection. Any other exception fails the test.
    Checks on the way that each batch's rows come out loaded or as a problem, exactly once."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"  # stored uploads have no suffix: the bytes decide
        path.write_bytes(data)
        try:
            return _read_and_check(path)
        except (FileRejected, UnknownLayout) as rejected:
            refusal = rejected
    assert str(refusal), "a rejection must say why"
    return refusal


def _read_and_check(path: Path) -> tuple[int, list[RowProblem]]:
    batches = open_batches(path, batch_rows=BATCH_ROWS)
    profile = detect_profile(batches.headers)
    loaded, problems = 0, []
    for batch in batches.batches:
        result = normalize(batch, profile)
        lines = batch.column(LINE).to_pylist()
        good = result.rows.column(LINE).to_pylist()
        bad = [p.line for p in result.problems]
        assert sorted(good + bad) == sorted(lines), "a row lost or reported twice"
        unlocated = [p for p in result.problems if not (p.reason and p.column)]
        assert not unlocated, unlocated
        assert result.rows.num_rows == 0 or result.rows.column("row_hash").null_count == 0
        loaded += result.rows.num_rows
        problems += result.problems
    problems += batches.problems  # malformed lines, known once the file was read
    # a line with the wrong number of fields comes from Arrow without its line number
    # (see test_a_row_with_the_wrong_number_of_fields_is_quarantined_with_its_line)
    unlocated = [p for p in problems if not p.reason or (p.line < 2 and p.column != "(row)")]
    assert not unlocated, unlocated
    return loaded, problems


# --- random input ---------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes_are_read_or_rejected(data: bytes) -> None:
    read_everything(data)


@FUZZ
@given(st.data(), st.text(max_size=2000), st.sampled_from(ENCODINGS))
def test_random_text_under_a_real_header_is_read_or_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]], data: Any, body: str, encoding: str
) -> None:
    sample = samples[0][data.draw(st.integers(0, len(samples[0]) - 1))]
    read_everything(encode(",".join(sample.header) + "\n" + body, encoding))


# --- damaged real exports -----------------------------------------------------------------


@FUZZ
@given(
    st.data(),
    st.lists(record_step, min_size=1, max_size=5),
    st.sampled_from(ENCODINGS[:2] * 4 + ENCODINGS),  # mostly UTF-8: get past the encoding check
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_damaged_csv_exports_are_read_or_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]],
    data: Any,
    steps: list[tuple[str, float, Any]],
    encoding: str,
    newline: str,
) -> None:
    sample = samples[0][data.draw(st.integers(0, len(samples[0]) - 1))]
    lines = sample.text().splitlines()
    damaged = newline.join(mutate_records(lines, ",", steps)) + data.draw(
        st.sampled_from([newline, ""])
    )
    read_everything(encode(damaged, encoding))


@FUZZ
@given(st.data(), st.lists(byte_step, min_size=1, max_size=4))
def test_csv_exports_with_damaged_bytes_are_read_or_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]],
    data: Any,
    steps: list[tuple[str, float, Any]],
) -> None:
    sample = samples[0][data.draw(st.integers(0, len(samples[0]) - 1))]
    read_everything(mutate_bytes(sample.text().encode(), steps))


def _cell_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        nasty_value.map(_xlsx_safe),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 1, 1)),
        st.dates(min_value=dt.date(1900, 3, 1)),
        st.booleans(),
        st.none(),
    )


def _xlsx_safe(text: str) -> str:
    """openpyxl refuses to write XML-illegal characters; a PMS could not have written them."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text).encode("utf-8", "replace").decode()


xlsx_step = st.one_of(
    st.tuples(st.just("set"), st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("drop_row"), st.floats(0, 1, exclude_max=True), st.just(0.0)),
    st.tuples(st.just("duplicate_row"), st.floats(0, 1, exclude_max=True), st.just(0.0)),
    st.tuples(st.just("drop_column"), st.floats(0, 1, exclude_max=True), st.just(0.0)),
    st.tuples(st.just("blank_row"), st.floats(0, 1, exclude_max=True), st.just(0.0)),
)


@XLSX_FUZZ
@given(st.data(), st.lists(xlsx_step, min_size=1, max_size=6))
def test_damaged_xlsx_exports_are_read_or_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]],
    data: Any,
    steps: list[tuple[str, float, float]],
) -> None:
    sample = samples[1][data.draw(st.integers(0, len(samples[1]) - 1))]
    rows = [list(r) for r in sample.rows]
    for kind, where, at in steps:
        i = int(where * len(rows))
        if kind == "set" and rows and rows[i]:
            row = rows[i]
            row[int(at * len(row))] = data.draw(_cell_value())
        elif kind == "drop_row" and rows:
            del rows[i]
        elif kind == "duplicate_row" and rows:
            rows.insert(i, list(rows[i]))
        elif kind == "drop_column":
            for row in rows:
                if row:
                    del row[min(int(where * len(row)), len(row) - 1)]
        elif kind == "blank_row":
            rows.insert(i, [])
    read_everything(xlsx_bytes(rows))


@XLSX_FUZZ
@given(st.data(), st.lists(byte_step, min_size=1, max_size=3))
def test_xlsx_with_a_damaged_part_is_read_or_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]],
    data: Any,
    steps: list[tuple[str, float, Any]],
) -> None:
    """A workbook whose zip opens but whose sheet, shared strings or styles XML is damaged:
    read-only openpyxl parses the sheet lazily, while the batches are read."""
    sample = samples[1][data.draw(st.integers(0, len(samples[1]) - 1))]
    original = zipfile.ZipFile(io.BytesIO(xlsx_bytes(sample.rows)))
    names = original.namelist()
    target = data.draw(st.sampled_from([n for n in names if n.endswith(".xml")]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for name in names:
            body = original.read(name)
            damaged.writestr(name, mutate_bytes(body, steps) if name == target else body)
    read_everything(out.getvalue())


# --- the reader's documented refusals still hold under fuzzing ------------------------------


def _rejected(data: bytes) -> str:
    outcome = read_everything(data)
    assert isinstance(outcome, FileRejected), outcome
    return str(outcome)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(["latin-1", "cp1252"]), st.text("\u00e9\u00f1\u00fc", min_size=1))
def test_a_non_utf8_export_is_rejected_naming_the_line(
    samples: tuple[list[CsvSample], list[XlsxSample]], data: Any, encoding: str, accents: str
) -> None:
    sample = samples[0][data.draw(st.integers(0, len(samples[0]) - 1))]
    row = data.draw(st.integers(0, len(sample.rows) - 1))
    rows = [list(r) for r in sample.rows]
    rows[row][-1] = accents
    message = _rejected(sample.text(rows).encode(encoding))
    assert f"on line {row + 2}" in message


@settings(max_examples=60, deadline=None)
@given(st.data(), st.floats(0, 1, exclude_max=True))
def test_an_export_cut_inside_its_last_row_is_rejected_as_truncated(
    samples: tuple[list[CsvSample], list[XlsxSample]], data: Any, where: float
) -> None:
    sample = samples[0][data.draw(st.integers(0, len(samples[0]) - 1))]
    # a last row of plain fields (no quoted commas), so that where it is cut decides how many
    # fields it keeps
    rows = [[v.replace(",", " ") for v in r] for r in sample.rows]
    text = sample.text(rows).encode()
    last_row = text.rstrip(b"\n").rfind(b"\n") + 1
    commas = [i for i in range(last_row, len(text)) if text[i : i + 1] == b","]
    # anywhere before its last separator: fewer fields than the header
    end = commas[0] + int(where * (commas[-1] - commas[0]))
    assert "looks truncated" in _rejected(text[:end])


def test_a_row_with_the_wrong_number_of_fields_is_quarantined_with_its_line(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    sample = next(s for s in samples[0] if s.layout == "canonical")
    rows = [list(r) for r in sample.rows[:4]]
    rows[1] = rows[1][:5]  # file line 3
    data = sample.text(rows).encode()
    outcome = read_everything(data)
    assert not isinstance(outcome, Exception)
    loaded, problems = outcome
    assert loaded == 3
    assert [(p.line, p.column) for p in problems] == [(3, "(row)")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        for batch_rows in (1, 2, 50):  # the rows after it keep their own lines in any batch
            batches = open_batches(path, batch_rows=batch_rows)
            assert batches.rows == 4
            lines = [n for b in batches.batches for n in b.column(LINE).to_pylist()]
            assert lines == [2, 4, 5]


def test_the_fuzzing_starts_from_exports_that_load_clean(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    csvs, xlsxs = samples
    assert {s.layout for s in csvs} == {"canonical", "pioneerrx", "bestrx"}
    assert {s.layout for s in xlsxs} == {"liberty"}
    for rows, data in [(s.rows, s.text().encode()) for s in csvs] + [
        (s.rows[1:], xlsx_bytes(s.rows)) for s in xlsxs
    ]:
        assert read_everything(data) == (len(rows), [])


# --- crashes the fuzzing found, fixed in claims.ingest.read ---------------------------------


def test_a_header_only_export_without_a_line_end_has_no_rows(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    """Was ArrowInvalid ("Could not skip initial 1 rows") out of open_batches."""
    header = ",".join(samples[0][0].header).encode()
    assert read_everything(header) == (0, [])


def test_an_export_with_cr_line_ends_and_no_final_one_is_read() -> None:
    """Was csv.Error ("new-line character seen in unquoted field") from the truncation
    check."""
    sample = CsvSample("t", ["a", "b"], [["1", "2"], ["3", "4"]])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(sample.text().rstrip("\n").replace("\n", "\r").encode())
        batches = open_batches(path)
        assert [b.to_pylist() for b in batches.batches] == [
            [{"a": "1", "b": "2", LINE: 2}, {"a": "3", "b": "4", LINE: 3}]
        ]


def test_an_xlsx_whose_sheet_xml_is_cut_is_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    """Was xml.etree.ElementTree.ParseError out of the batches (openpyxl reads lazily)."""
    original = zipfile.ZipFile(io.BytesIO(xlsx_bytes(samples[1][0].rows)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for name in original.namelist():
            body = original.read(name)
            damaged.writestr(name, body[: len(body) // 2] if "worksheets" in name else body)
    rejected = read_everything(out.getvalue())
    assert isinstance(rejected, FileRejected)
    assert "The XLSX file is damaged" in str(rejected)


def test_an_xlsx_whose_workbook_lists_no_sheet_is_rejected(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    """Was IndexError (wb.worksheets[0]) out of open_batches."""
    original = zipfile.ZipFile(io.BytesIO(xlsx_bytes(samples[1][0].rows)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for name in original.namelist():
            body = original.read(name)
            if name == "xl/workbook.xml":
                body = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", body)
            damaged.writestr(name, body)
    rejected = read_everything(out.getvalue())
    assert isinstance(rejected, FileRejected)
    assert "no worksheet" in str(rejected)


def test_a_nul_byte_past_the_sniffed_head_rejects_the_export_naming_its_line(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    """Was read clean, then failed the COPY ('Internal error: CharacterNotInRepertoire'),
    after the batches before it were written."""
    sample = samples[0][0]
    rows = [list(r) for r in sample.rows] * 8  # past the first 4 KB the sniffer reads
    rows[-2] = [*rows[-2][:-1], "a\x00b"]
    text = sample.text(rows).encode()
    assert text.index(b"\x00") > 4096
    rejected = read_everything(text)
    assert isinstance(rejected, FileRejected)
    assert f"NUL byte (0x00) on line {len(rows)}" in str(rejected)


def test_a_value_longer_than_its_column_is_the_rows_problem(
    samples: tuple[list[CsvSample], list[XlsxSample]],
) -> None:
    """Was read clean, then failed the upsert ('Internal error: DataError: value too long
    for type character varying(6)') for the whole batch; found through an HL7 RDS's ZCL-2."""
    sample = next(s for s in samples[0] if s.layout == "canonical")
    rows = [list(r) for r in sample.rows[:3]]
    rows[1][sample.header.index("bin")] = "0000000"
    outcome = read_everything(sample.text(rows).encode())
    assert outcome == (
        2,
        [RowProblem(3, "bin", "0000000", "longer than the 6 characters it can hold")],
    )
