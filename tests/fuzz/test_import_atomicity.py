"""End to end through the real import services into Postgres, one property per importer:
a structurally broken file is rejected whole and writes nothing (never a partial write); a
file with bad rows keeps exactly the good rows and reports each bad one with where, what and
why. Each example runs in a transaction rolled back afterwards, so examples do not see each
other's rows."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.models import Fill, Patient
from claims.services.pms_import import pms_import_create
from clinical.models import Immunization
from integrations.models import Hl7Message
from integrations.services.hl7 import hl7_receive
from reconciliation.models import Adjustment, ClaimPayment, ProviderAdjustment, Remittance
from reconciliation.services.remit_import import remit_import_create
from reconciliation.x12 import X12Error, read_835_file
from rxrevops.models import Job, QuarantinedRow
from rxrevops.services.imports import UploadRefused
from rxrevops.services.jobs import job_execute
from tests.factories import LocationFactory
from tests.fuzz.mutations import byte_step, mutate_bytes, mutate_records, record_step
from tests.fuzz.pms_samples import xlsx_bytes
from tests.integrations.samples import rds, vxu

pytestmark = pytest.mark.django_db
# each example imports a file into Postgres: fewer of them than the pure fuzz tests
E2E = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _RolledBack(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the body in a transaction and undo everything it wrote."""
    try:
        with transaction.atomic():
            yield
            raise _RolledBack
    except _RolledBack:
        pass


def run(create: Any, data: bytes, batch_rows: int | None = None, **kwargs: Any) -> Job:
    """Store `data` as an upload and run its import job here, as the worker would."""
    job = create(stream=io.BytesIO(data), original_name="upload", enqueue=False, **kwargs)
    if batch_rows is not None:  # several batches (each committed on its own) in a small file
        job.params["batch_rows"] = batch_rows
        Job.objects.filter(pk=job.pk).update(params=job.params)
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


# --- PMS exports ---------------------------------------------------------------------------


@pytest.fixture
def export(stores: SimpleNamespace, world_files: Path) -> SimpleNamespace:
    """A store and 24 rows of its canonical January export."""
    manifest = json.loads((world_files / "manifest.json").read_text())
    loc = stores.locations[0]
    entry = next(
        e
        for e in manifest["files"]
        if e["kind"] == "pms" and e["layout"] == "canonical" and e["location"] == loc.ncpdp_id
    )
    lines = list(csv.reader((world_files / entry["path"]).open(newline="")))
    return SimpleNamespace(location=loc, header=lines[0], rows=lines[1:25])


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    return buf.getvalue().encode()


def _pms_written() -> tuple[int, int, int]:
    return Fill.objects.count(), Patient.objects.count(), QuarantinedRow.objects.count()


def _broken_export(export: SimpleNamespace, data: Any) -> bytes:
    """An export broken as a whole, anywhere in the file (past the first batch too)."""
    text = csv_bytes(export.header, export.rows)
    where = data.draw(st.integers(len(text) // 4, len(text) - 2))
    how = data.draw(
        st.sampled_from(
            ["latin-1", "nul", "cut", "binary head", "repeated header", "no layout", "xlsx"]
        )
    )
    if how == "latin-1":  # a stray byte that is not UTF-8
        return (
            text[:where] + data.draw(st.sampled_from([b"\xe9", b"\xff", b"\xc3("])) + text[where:]
        )
    if how == "nul":
        return text[:where] + b"\x00" + text[where:]
    if how == "cut":  # inside the last row, before its last field
        last_row = text.rstrip(b"\n").rfind(b"\n") + 1
        return text[: data.draw(st.integers(last_row + 1, text.rindex(b",") - 1))]
    if how == "binary head":
        return b"\x89PNG\r\n\x1a\n\x00" + text
    if how == "repeated header":
        return csv_bytes([*export.header, export.header[3]], [[*r, r[3]] for r in export.rows])
    if how == "no layout":
        steps = data.draw(st.lists(record_step, min_size=1, max_size=3))
        header = ",".join(f"col{i}" for i in range(len(export.header)))
        rows = text.decode().splitlines()[1:]
        return "\n".join([header, *mutate_records(rows, ",", steps)]).encode() + b"\n"
    # a workbook whose zip or sheet XML is damaged
    book = xlsx_bytes([export.header, *export.rows])
    if data.draw(st.booleans()):
        cut = mutate_bytes(book[: len(book) // 2], data.draw(st.lists(byte_step, max_size=2)))
        return cut or b"PK\x03\x04"  # (an empty upload is refused before it is stored)
    original = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for name in original.namelist():
            body = original.read(name)
            if "worksheets" in name:
                body = body[: data.draw(st.integers(len(body) // 8, len(body) - 10))]
            damaged.writestr(name, body)
    return out.getvalue()


@E2E
@given(data=st.data())
def test_a_broken_pms_export_is_rejected_whole_and_writes_nothing(
    export: SimpleNamespace, data: Any
) -> None:
    broken = _broken_export(export, data)
    # the file is read whole before its first batch is written, so small batches must not
    # change that
    small = data.draw(st.sampled_from([None, 5]))
    with rolled_back():
        job = run(pms_import_create, broken, small, location=export.location)
        assert job.status == Job.Status.FAILED, job.counts
        assert not job.message.startswith("Internal error"), job.message
        assert _pms_written() == (0, 0, 0)


def test_a_workbook_damaged_after_its_first_batch_writes_nothing(
    export: SimpleNamespace,
) -> None:
    book = xlsx_bytes([export.header, *export.rows])
    original = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as damaged:
        for name in original.namelist():
            body = original.read(name)
            damaged.writestr(name, body[: len(body) * 3 // 4] if "worksheets" in name else body)
    job = run(pms_import_create, out.getvalue(), batch_rows=5, location=export.location)
    assert job.status == Job.Status.FAILED
    assert "The XLSX file is damaged: its first sheet cannot be read after row" in job.message
    assert _pms_written() == (0, 0, 0)


def test_a_csv_that_cannot_be_parsed_past_its_middle_writes_nothing(
    export: SimpleNamespace,
) -> None:
    """A quoted field running on for more than pyarrow's read block, half-way down: the
    rows before it parse, the file is still rejected whole."""
    middle = len(export.rows) // 2
    head = csv_bytes(export.header, export.rows[:middle])
    tail = csv_bytes(export.header, export.rows[middle:]).split(b"\n", 1)[1]
    broken = head + b'"' + b"x" * (3 << 20) + b'"\n' + tail
    job = run(pms_import_create, broken, 5, location=export.location)
    assert job.status == Job.Status.FAILED
    # the row of the opening quote: pyarrow hands out the rows before it
    assert f"cannot be read at or after row {middle + 2}: a quoted value runs on" in job.message
    assert "(a missing closing quote?). Nothing from it was loaded" in job.message
    assert _pms_written() == (0, 0, 0)


# (column, a value that cannot load, a words of the reason)
BAD_VALUES = [
    ("date_of_service", "2026-02-30", "not a date"),
    ("date_of_service", "", "not a date"),
    ("patient_dob", "1960-13-01", "not a date"),
    ("ndc", "12345", "NDC must be 11 digits"),
    ("ndc", "9" * 40, "NDC must be 11 digits"),
    ("days_supply", "-30", "days supply must be more than 0"),
    ("days_supply", "9" * 30, "must be a whole number"),
    ("rx_number", "1e999", "must be a whole number"),
    ("fill_number", "\u0663", "must be a whole number"),
    ("quantity_dispensed", "0", "quantity dispensed is 0"),
    ("quantity_dispensed", "NaN", "quantity must be a number"),
    ("ingredient_cost_paid", "9" * 25, "not an amount of money"),
    ("ingredient_cost_paid", "twelve", "not an amount of money"),
    ("patient_pay_amount", "$1,2", "not an amount of money"),
    ("total_amount_paid", "99999.99", "does not equal total paid"),
    ("transaction_code", "B9", "unknown transaction type"),
    ("patient_id", "", "patient id is empty"),
    ("bin", "0000000", "longer than the 6 characters"),
    ("patient_sex", "Female", "longer than the 1 characters"),
    ("patient_last_name", "X" * 101, "longer than the 100 characters"),
]


@E2E
@given(
    data=st.data(),
    bad=st.dictionaries(st.integers(0, 23), st.sampled_from(BAD_VALUES), min_size=1, max_size=8),
    batch_rows=st.sampled_from([None, 5, 7]),
)
def test_a_pms_export_with_bad_rows_keeps_exactly_the_good_ones(
    export: SimpleNamespace,
    data: Any,
    bad: dict[int, tuple[str, str, str]],
    batch_rows: int | None,
) -> None:
    rows = [list(r) for r in export.rows]
    for i, (column, value, _) in bad.items():
        rows[i][export.header.index(column)] = value
    key = [export.header.index(c) for c in ("rx_number", "fill_number", "date_of_service")]
    good = sorted(
        (int(r[key[0]]), int(r[key[1]]), r[key[2]]) for i, r in enumerate(rows) if i not in bad
    )
    with rolled_back():
        job = run(
            pms_import_create, csv_bytes(export.header, rows), batch_rows, location=export.location
        )
        assert job.status == Job.Status.SUCCEEDED, job.message
        stored = sorted(
            (int(rx), fill, dos.isoformat())
            for rx, fill, dos in Fill.objects.values_list(
                "prescription__rx_number", "fill_number", "date_of_service"
            )
        )
        assert stored == good
        quarantined = {q.line: q for q in QuarantinedRow.objects.filter(job=job)}
        assert sorted(quarantined) == sorted(i + 2 for i in bad)  # the header is line 1
        for i, (column, value, reason) in bad.items():
            q = quarantined[i + 2]
            # the first problem found in a row is reported: this one, or a later check's
            # reason about the same value
            assert q.reason
            if q.field == column:
                assert q.value == value
                assert reason in q.reason
        assert (job.counts["inserted"], job.counts["quarantined"]) == (len(good), len(bad))


# --- 835 remittances -------------------------------------------------------------------------


@pytest.fixture
def remits(stores: SimpleNamespace, world_files: Path) -> list[bytes]:
    manifest = json.loads((world_files / "manifest.json").read_text())
    entries = sorted(
        (e for e in manifest["files"] if e["kind"] == "remit_835"), key=lambda e: e["bytes"]
    )
    by_style: dict[str, bytes] = {}
    for e in entries:
        by_style.setdefault(e["delimiters"], (world_files / e["path"]).read_bytes())
    return list(by_style.values())


def _remit_written() -> tuple[int, int, int, int]:
    return (
        Remittance.objects.count(),
        ClaimPayment.objects.count(),
        Adjustment.objects.count(),
        ProviderAdjustment.objects.count(),
    )


@E2E
@given(data=st.data(), steps=st.lists(byte_step, min_size=1, max_size=3))
def test_an_835_is_loaded_whole_or_not_at_all(
    stores: SimpleNamespace, remits: list[bytes], data: Any, steps: list[Any]
) -> None:
    """The import agrees with the pure reader: a file it rejects (often after it has read the
    first payments) writes nothing; one it reads is loaded payment for payment, the ones that
    do not balance flagged with where and why."""
    sample = remits[data.draw(st.integers(0, len(remits) - 1))]
    cut = data.draw(st.integers(len(sample) // 3, len(sample)))  # past the first payment
    damaged = mutate_bytes(sample[:cut], steps)
    if not damaged.strip():
        with rolled_back(), pytest.raises(UploadRefused, match="empty"):
            run(remit_import_create, damaged, organization=stores.org)
        assert _remit_written() == (0, 0, 0, 0)
        return
    try:
        expected = read_835_file(damaged, "upload")
    except X12Error:
        expected = None
    with rolled_back():
        job = run(remit_import_create, damaged, organization=stores.org)
        if expected is None or not expected.remittances:
            assert job.status == Job.Status.FAILED, job.counts
            assert _remit_written() == (0, 0, 0, 0)
            assert job.message.endswith(".")
            assert not job.message.startswith("Internal error"), job.message
            return
        assert job.status == Job.Status.SUCCEEDED, job.message
        assert Remittance.objects.count() == len(expected.remittances), (job.counts, damaged)
        assert ClaimPayment.objects.count() == sum(len(r.claims) for r in expected.remittances)
        # flagged: does not balance, or has a value that cannot be read
        flagged = [
            r
            for r in expected.remittances
            if not r.balanced or any(i.severity == "error" for i in r.issues)
        ]
        assert Remittance.objects.filter(balanced=False).count() == len(flagged)
        assert job.counts["flagged"] == len(flagged)
        for row in job.errors:
            assert row["reason"]
            assert row["where"]


@E2E
@given(data=st.data(), delta=st.integers(1, 10**6))
def test_an_835_payment_that_does_not_balance_is_kept_flagged_and_located(
    stores: SimpleNamespace, remits: list[bytes], data: Any, delta: int
) -> None:
    """A CLP04 (claim paid) changed in one payment: every payment still loads, that one
    flagged, its issue naming the segment."""
    sample = remits[0].decode()
    element = sample[3]
    clps = [i for i in range(len(sample)) if sample.startswith("CLP" + element, i)]
    at = data.draw(st.sampled_from(clps))
    fields = sample[at:].split(element, 5)
    paid = round(float(fields[4]) * 100) + delta
    fields[4] = f"{paid // 100}.{paid % 100:02d}"
    damaged = (sample[:at] + element.join(fields)).encode()
    expected = read_835_file(damaged, "upload")
    with rolled_back():
        job = run(remit_import_create, damaged, organization=stores.org)
        assert job.status == Job.Status.SUCCEEDED, job.message
        assert Remittance.objects.count() == len(expected.remittances)
        assert Remittance.objects.filter(balanced=False).count() == 1
        assert job.counts["flagged"] == 1
        errors = [e for e in job.errors if e["severity"] == "error"]
        assert errors
        assert all(e["where"].startswith("segment ") and e["reason"] for e in errors)


# --- HL7 v2 messages ------------------------------------------------------------------------

FACILITY = "5500001"


@pytest.fixture
def hl7_store(stores: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(
        org=stores.org, location=LocationFactory.create(organization=stores.org, ncpdp_id=FACILITY)
    )


def _hl7_written() -> tuple[int, int, int]:
    return Fill.objects.count(), Patient.objects.count(), Immunization.objects.count()


@E2E
@given(
    sample=st.sampled_from([rds(), vxu()]),
    steps=st.lists(record_step, min_size=1, max_size=4),
)
def test_an_hl7_message_is_taken_or_refused_whole(
    hl7_store: SimpleNamespace, sample: str, steps: list[Any]
) -> None:
    """A message that cannot be taken (AR) writes nothing but its own filed copy; one that is
    taken is answered what its ACK says, and is never an internal error."""
    segments = [s for s in sample.split("\r") if s]
    text = "\r".join(mutate_records(segments, "|", steps))
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")  # as the listener
    with rolled_back():
        message, ack = hl7_receive(organization=hl7_store.org, text=text, transport="mllp")
        # an internal error is answered AE 207 with its cause kept on the row for support
        assert not [e for e in message.errors if "internal" in e], message.errors
        assert Hl7Message.objects.count() == 1
        if message.outcome == "AR":
            assert _hl7_written() == (0, 0, 0)
        assert f"MSA|{message.outcome}|" in ack


@E2E
@given(
    bad=st.sets(st.integers(0, 3), min_size=1, max_size=3),
    field=st.sampled_from(
        [("ndc", "12345"), ("quantity", "lots"), ("days", "-x"), ("zcl", "ZCL|B1|||||||||")]
    ),
)
def test_an_rds_with_bad_order_groups_keeps_exactly_the_good_ones(
    hl7_store: SimpleNamespace, bad: set[int], field: tuple[str, str]
) -> None:
    """Four dispenses in one RDS^O13; the bad ones are left out, each named in an ERR with
    its segment, field and reason, and the others are written."""
    groups = []
    for i in range(4):
        kwargs: dict[str, Any] = {"rx": f"77000{i}"}
        if i in bad:
            if field[0] == "zcl":
                kwargs["zcl"] = field[1]
            else:
                kwargs[field[0]] = field[1]
        one = rds(**kwargs).split("\r")
        groups.append([s for s in one[2:] if s])  # ORC .. ZCL
    header = rds().split("\r")[:2]
    text = "\r".join(header + [s for g in groups for s in g]) + "\r"
    with rolled_back():
        message, ack = hl7_receive(organization=hl7_store.org, text=text, transport="http")
        assert message.outcome == "AE"
        rx_numbers = sorted(
            Fill.objects.values_list("prescription__rx_number", flat=True).distinct()
        )
        assert rx_numbers == sorted(int(f"77000{i}") for i in range(4) if i not in bad)
        errors = [e for e in message.errors if e.get("severity") == "E"]
        assert errors
        for e in errors:
            assert e["location"]  # e.g. "RXD-2", "ZCL-8"
            assert e["reason"]
        assert ack.count("\rERR|") >= len(bad)
