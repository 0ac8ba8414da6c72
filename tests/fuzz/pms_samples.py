"""Small valid PMS exports cut from the synthetic world, one per layout, as fuzzing seeds."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

ROWS = 12  # enough rows for a duplicate key or a batch boundary, few enough to stay quick


@dataclass(frozen=True)
class CsvSample:
    layout: str
    header: list[str]
    rows: list[list[str]]

    def text(self, rows: list[list[str]] | None = None) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([self.header, *(rows or self.rows)])
        return buf.getvalue()


@dataclass(frozen=True)
class XlsxSample:
    layout: str
    rows: list[list[Any]]  # the header row first


def pms_samples(manifest: dict[str, Any], root: Path) -> tuple[list[CsvSample], list[XlsxSample]]:
    """The first rows of each layout's January export of the world."""
    csvs: list[CsvSample] = []
    xlsxs: list[XlsxSample] = []
    seen: set[str] = set()
    for entry in sorted(manifest["files"], key=lambda e: e["path"]):
        if entry["kind"] != "pms" or entry["layout"] in seen:
            continue
        seen.add(entry["layout"])
        path = root / entry["path"]
        if path.suffix == ".xlsx":
            wb = load_workbook(path, read_only=True, data_only=True)
            rows = [
                list(r)
                for _, r in zip(
                    range(ROWS + 1), wb.worksheets[0].iter_rows(values_only=True), strict=False
                )
            ]
            wb.close()
            xlsxs.append(XlsxSample(entry["layout"], rows))
        else:
            lines = list(csv.reader(path.open(newline="")))
            csvs.append(CsvSample(entry["layout"], lines[0], lines[1 : ROWS + 1]))
    return csvs, xlsxs


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
