"""CSV and XLSX downloads of the dashboards' tables: the same rows the page shows, money as
exact dollars (numbers in XLSX), text neutralized so a spreadsheet never runs it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

from claims.ingest.normalize import cents_text
from rxrevops.exports import neutralize, xlsx_cell

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Cents(int):
    """An amount in cents that exports as dollars ("12.34")."""


def cell(value: Any) -> Any:
    if isinstance(value, Cents):
        return cents_text(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    if value is None:
        return ""
    return value


def table_response(
    *, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str
) -> HttpResponse:
    """The table as `name`.csv or `name`.xlsx (fmt)."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(name[:31])
        ws.append(list(header))
        for row in rows:
            ws.append([xlsx_cell(v) if isinstance(v, str) else v for v in map(_xlsx, row)])
        out = io.BytesIO()
        wb.save(out)
        response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralize(cell(v)) for v in row])
        response = HttpResponse(buf.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _xlsx(value: Any) -> Any:
    if isinstance(value, Cents):
        return Decimal(int(value)) / 100
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return value
    return str(value)
