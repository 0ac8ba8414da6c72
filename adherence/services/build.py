"""The worklist build: from an organization's fills to measure results, rates and worklists.

One job (`worklists`, on the `analytics` queue) per organization and as-of date, run
nightly by beat, after each PMS import, and by `manage.py build_worklists`:

1. read the organization's dispensed fills of the last 400 days with one COPY;
2. measure results year to date (`engine.measure_frame`) with the outlook
   (`engine.outlook_frame`), and rates at each month end for the trend;
3. worklist items: refills at risk (PDC outlook), med-sync calls (enrolments whose sync date
   is 5-7 days away, with the short fills to align), care gaps (immunizations by the rules
   file, statin use for SUPD, CMR eligibility), each with its value;
4. write it all in ONE transaction: results and rates replaced whole, items upserted by
   (patient, code) so call history and outcomes survive, and open items the build no longer
   produces marked "no longer due". Readers see the old lists or the new, never half.

A rerun (a crashed worker's retry, beat firing twice) gives the same end state.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from adherence import caregaps, engine, medsync
from adherence.measures import measure_year
from adherence.models import GapReason, SyncEnrollment, WorklistItem
from adherence.outlook import ADHERENT, AT_RISK, WILL_FAIL
from adherence.services import history
from adherence.value import refill_value, sync_value
from rxrevops.models import Job, Location, Organization
from rxrevops.services.jobs import (
    JobFailed,
    Progress,
    job_create,
    job_execute,
    job_handler,
    job_request_lock,
)

logger = logging.getLogger(__name__)

JOB_KIND = "worklists"
# Sent when a build has rewritten an organization's measure results and rates, inside its
# transaction (kwargs: organization_id): whatever keeps answers derived from them (the
# dashboards' kept answers) lets them go once it commits.
measures_rebuilt = Signal()
HISTORY_DAYS = 400  # fills read: the measurement year and the last fills of a sync plan
ACTIVE_DAYS = 180  # care gaps only for patients with a fill this recent
LATE_DAYS = 7  # an adherent patient this many days past their run-out date is a late refill
MAINTENANCE_DAYS = 28  # a prescription filled for >= 28 days is treated as maintenance
SYNC_LOOKBACK_DAYS = 120  # a maintenance prescription filled this recently is active
# insulins, liquids, drops, inhalers and as-needed meds keep their own dates (DOMAIN 4.1)
NOT_SYNCABLE = re.compile(
    r"insulin|solution|suspension|syrup|drops|ophth|inhal|\bprn\b|as needed", re.IGNORECASE
)

_FILLS_SQL = """
COPY (
    SELECT f.patient_id AS patient, f.location_id AS location, d.ndc, d.name AS drug_name,
           coalesce(nullif(d.generic_name, ''), d.name) AS generic,
           f.date_of_service, f.days_supply, f.status, f.prescription_id, f.quantity,
           f.total_paid_cents + f.patient_pay_cents AS revenue_cents,
           f.total_paid_cents + f.patient_pay_cents - f.acquisition_cost_cents AS margin_cents,
           coalesce(p.contract_type, '') AS contract_type
    FROM claims_fill f
    JOIN claims_drug d ON d.id = f.drug_id
    LEFT JOIN claims_plan p ON p.id = f.plan_id
    WHERE f.location_id IN ({locations})
      AND f.status IN ('paid', 'cash')
      AND f.date_of_service BETWEEN '{since}' AND '{until}'
) TO STDOUT WITH (FORMAT csv, HEADER)
"""
_FILL_TYPES = {
    "patient": pa.int64(),
    "location": pa.int64(),
    "ndc": pa.string(),
    "drug_name": pa.string(),
    "generic": pa.string(),
    "date_of_service": pa.date32(),
    "days_supply": pa.int64(),
    "status": pa.string(),
    "prescription_id": pa.int64(),
    "quantity": pa.string(),  # Decimal text: never through float
    "revenue_cents": pa.int64(),
    "margin_cents": pa.int64(),
    "contract_type": pa.string(),
}


# -- running ---------------------------------------------------------------------------------


def worklists_request(
    *, organization: Organization, as_of: date | None = None, created_by: Any = None
) -> Job:
    """Queue a build, unless one for the same organization and date is already waiting."""
    day = (as_of or timezone.localdate()).isoformat()
    with job_request_lock(organization=organization):
        waiting = (
            Job.objects.filter(
                organization=organization,
                kind=JOB_KIND,
                status=Job.Status.QUEUED,
                params__as_of=day,
            )
            .order_by("pk")
            .first()
        )
        if waiting is not None:
            return waiting
        return _build_job(organization, day, created_by=created_by, enqueue=True)


def worklists_build_now(*, organization: Organization, as_of: date) -> Job:
    """Run a build in this process as a job (the command, the demo seed): same handler, same
    job row and counts as a queued build."""
    job = _build_job(organization, as_of.isoformat(), created_by=None, enqueue=False)
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def _build_job(organization: Organization, day: str, *, created_by: Any, enqueue: bool) -> Job:
    return job_create(
        organization=organization,
        kind=JOB_KIND,
        params={"as_of": day},
        label=f"Worklists as of {day}",
        created_by=created_by,
        enqueue=enqueue,
    )


@job_handler(JOB_KIND, queue="analytics")
def _run(job: Job, progress: Progress) -> Mapping[str, Any]:
    try:
        as_of = date.fromisoformat(job.params["as_of"])
    except (KeyError, TypeError, ValueError):
        raise JobFailed("The job has no valid as_of date.") from None
    return worklists_build(organization=job.organization, as_of=as_of, job=job, progress=progress)


def worklists_build(
    *,
    organization: Organization,
    as_of: date,
    job: Job | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Rebuild the organization's results, rates and worklists as of `as_of` (see module)."""
    year = as_of.year
    try:
        measure_year(year)  # a year without value sets fails here, before any work
    except LookupError:
        raise JobFailed(
            f"No measure definitions for {year}: add adherence/valuesets/my{year}.json "
            "(see the README there)."
        ) from None
    locations = list(
        Location.objects.filter(organization=organization).values_list("pk", flat=True)
    )
    step = _Steps(progress, total=5)
    fills = _load_fills(locations, since=as_of - timedelta(days=HISTORY_DAYS), until=as_of)
    patients = _load_patients(locations)
    step.done()
    in_year = fills[fills["date_of_service"] >= pd.Timestamp(date(year, 1, 1))]
    frame = engine.measure_frame(
        in_year[list(engine.FILL_COLUMNS)], patients=patients, year=year, as_of=as_of
    )
    outlook = engine.outlook_frame(
        in_year[list(engine.FILL_COLUMNS)], patients=patients, as_of=as_of
    )
    rates = _rates(in_year, patients=patients, as_of=as_of)
    unknown = engine.unknown_ndcs(in_year[list(engine.FILL_COLUMNS)], year=year)
    step.done()
    items: list[dict[str, Any]] = []
    with transaction.atomic():
        enrolled = _enroll_from_pms(locations, as_of=as_of)
        explained = _explained(locations, as_of=as_of)
        items += _refill_items(outlook, fills=in_year, explained=explained, as_of=as_of)
        items += _sync_items(locations, fills=fills, as_of=as_of)
        gap_items, unknown_cvx, notes = _care_gap_items(
            organization, fills=fills, patients=patients, frame=frame, as_of=as_of
        )
        items += gap_items
        step.done()
        owner = patients.set_index("patient")["location"]
        for item in items:
            item["location"] = int(owner[item["patient"]])
        results_written = _write_results(
            organization, frame=frame, outlook=outlook, owner=owner, as_of=as_of, job=job
        )
        rates_written = _write_rates(organization, rates, year=year)
        measures_rebuilt.send(sender=worklists_build, organization_id=organization.pk)
        step.done()
        upserted, resolved = _write_items(organization, items, job=job)
        if job is not None:
            job.message = " ".join(
                m for m in [*notes, _unknown_ndc_message(unknown, fills=in_year, year=year)] if m
            )
            Job.objects.filter(pk=job.pk).update(message=job.message)
        step.done()
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    return {
        "fills": len(fills),
        "measure_results": results_written,
        "rates": rates_written,
        "items": len(items),
        "items_written": upserted,  # new or changed; the rest were left as they were
        "refill_items": kinds.get(WorklistItem.Kind.REFILL, 0),
        "med_sync_items": kinds.get(WorklistItem.Kind.MED_SYNC, 0),
        "care_gap_items": kinds.get(WorklistItem.Kind.CARE_GAP, 0),
        "resolved_items": resolved,
        "enrolled_from_pms": enrolled,
        "unknown_ndcs": len(unknown),
        "unknown_cvx": len(unknown_cvx),
    }


def _unknown_ndc_message(unknown: set[str], *, fills: pd.DataFrame, year: int) -> str:
    """Report, never guess: the NDCs dispensed this year that no value set of `year` knows."""
    if not unknown:
        return ""
    names = fills.drop_duplicates("ndc").set_index("ndc")["drug_name"]
    listed = [f"{ndc} ({names.get(ndc, '?')})" for ndc in sorted(unknown)[:20]]
    more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
    one = len(unknown) == 1
    return (
        f"{len(unknown)} NDC{'' if one else 's'} dispensed in {year} {'is' if one else 'are'} "
        f"in no {year} value set, so {'it counts' if one else 'they count'} toward no "
        f"measure: {', '.join(listed)}{more}. Review them in "
        f"adherence/valuesets/my{year}.json (a value set, or `not_targeted`)."
    )


class _Steps:
    def __init__(self, progress: Progress | None, *, total: int) -> None:
        self.progress = progress
        self.n = 0
        if progress is not None:
            progress.set_total(total)

    def done(self) -> None:
        self.n += 1
        if self.progress is not None:
            self.progress.advance(self.n)


# -- reading ---------------------------------------------------------------------------------


def _load_fills(locations: list[int], *, since: date, until: date) -> pd.DataFrame:
    if not locations:
        return _empty_fills()
    sql = _FILLS_SQL.format(
        locations=",".join(str(int(pk)) for pk in locations),
        since=since.isoformat(),
        until=until.isoformat(),
    )
    buf = io.BytesIO()
    with connection.cursor() as cur, cur.copy(sql) as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    table = pacsv.read_csv(buf, convert_options=pacsv.ConvertOptions(column_types=_FILL_TYPES))
    if table.num_rows == 0:
        return _empty_fills()
    frame = table.to_pandas(date_as_object=False)
    frame["date_of_service"] = pd.to_datetime(frame["date_of_service"])
    return frame


def _empty_fills() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="object") for name in _FILL_TYPES})
    frame["date_of_service"] = pd.Series(dtype="datetime64[ns]")
    return frame


def _load_patients(locations: list[int]) -> pd.DataFrame:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, location_id, date_of_birth FROM claims_patient WHERE location_id = ANY(%s)",
            [locations],
        )
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["patient", "location", "birth_date"])


def _explained(locations: list[int], *, as_of: date) -> set[tuple[int, str]]:
    """(patient, measure) pairs with a gap reason in force; measure "" means every measure."""
    reasons = GapReason.objects.filter(location__in=locations, starts_on__lte=as_of).exclude(
        ends_on__lt=as_of
    )
    return {(r.patient_id, r.measure) for r in reasons}


# -- results and rates -------------------------------------------------------------------------


def _rates(fills: pd.DataFrame, *, patients: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Measured and adherent counts per attributed store and measure at each month end of
    the year before `as_of`, and at `as_of`."""
    ends = [date(as_of.year, m + 1, 1) - timedelta(days=1) for m in range(1, 12)]
    days = [d for d in ends if d < as_of] + [as_of]
    out = []
    base = fills[list(engine.FILL_COLUMNS)]
    for day in days:
        f = engine.measure_frame(base, patients=patients, year=as_of.year, as_of=day)
        measured = f[(f["status"] == "measured") & f["location"].notna()]
        if measured.empty:
            continue
        counts = measured.groupby(["location", "measure"]).agg(
            measured=("patient", "size"), adherent=("adherent", "sum")
        )
        counts = counts.reset_index()
        counts["as_of"] = day
        out.append(counts)
    if not out:
        return pd.DataFrame(columns=["location", "measure", "measured", "adherent", "as_of"])
    return pd.concat(out, ignore_index=True)


def _write_results(
    organization: Organization,
    *,
    frame: pd.DataFrame,
    outlook: pd.DataFrame,
    owner: pd.Series,
    as_of: date,
    job: Job | None,
) -> int:
    rows = frame.merge(
        outlook[
            [
                "patient",
                "measure",
                "status",
                "covered_to_date",
                "days_to_date",
                "days_needed",
                "days_can_miss",
                "next_fill_due",
                "refill_by",
            ]
        ].rename(columns={"status": "outlook"}),
        on=["patient", "measure"],
        how="left",
    )
    out = pd.DataFrame(
        {
            "organization_id": organization.pk,
            "location_id": rows["patient"].map(owner).astype("int64"),
            "patient_id": rows["patient"].astype("int64"),
            "year": as_of.year,
            "measure": rows["measure"],
            "as_of": as_of.isoformat(),
            "status": rows["status"],
            "index_date": _iso(rows["index_date"]),
            "period_end": _iso(rows["period_end"]),
            "days_in_period": rows["days_in_period"].astype("int64"),
            "covered_days": rows["covered_days"].astype("int64"),
            "adherent": rows["adherent"].map({True: "t", False: "f"}),
            "attributed_location_id": rows["location"].astype("Int64"),
            "outlook": rows["outlook"].fillna(""),
            "covered_to_date": rows["covered_to_date"].astype("Int64"),
            "days_to_date": rows["days_to_date"].astype("Int64"),
            "days_needed": rows["days_needed"].astype("Int64"),
            "days_can_miss": rows["days_can_miss"].astype("Int64"),
            "next_fill_due": _iso(rows["next_fill_due"]),
            "refill_by": _iso(rows["refill_by"]),
            "job_id": pd.array([job.pk if job else None] * len(rows), dtype="Int64"),
        }
    )
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM adherence_measureresult WHERE organization_id = %s AND year = %s",
            [organization.pk, as_of.year],
        )
        _copy(cur, "adherence_measureresult", out)
    return len(out)


def _write_rates(organization: Organization, rates: pd.DataFrame, *, year: int) -> int:
    out = pd.DataFrame(
        {
            "organization_id": organization.pk,
            "location_id": rates["location"].astype("int64"),
            "year": year,
            "measure": rates["measure"],
            "as_of": [d.isoformat() for d in rates["as_of"]],
            "measured": rates["measured"].astype("int64"),
            "adherent": rates["adherent"].astype("int64"),
        }
    )
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM adherence_measurerate WHERE organization_id = %s AND year = %s",
            [organization.pk, year],
        )
        _copy(cur, "adherence_measurerate", out)
    return len(out)


def _iso(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def _copy(cur: Any, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    text = frame.to_csv(index=False, header=False, na_rep="\\N")  # "" stays an empty string
    columns = ", ".join(frame.columns)
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
        copy.write(text)


# -- worklist items ----------------------------------------------------------------------------


def _item(
    *,
    patient: int,
    kind: str,
    code: str,
    title: str,
    due: date,
    value_cents: int,
    value_reason: str,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "patient": int(patient),
        "kind": kind,
        "code": code,
        "title": title[:200],
        "due_date": due,
        "value_cents": int(value_cents),
        "value_reason": value_reason[:400],
        "details": dict(details),
    }


def _last_fills(fills: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    ordered = fills.sort_values(["date_of_service", "prescription_id"], kind="stable")
    return ordered.groupby(keys, sort=False).tail(1).set_index(keys)


def _refill_items(
    outlook: pd.DataFrame, *, fills: pd.DataFrame, explained: set[tuple[int, str]], as_of: date
) -> list[dict[str, Any]]:
    """Refills at risk for a PDC measure, and adherent patients a week or more late."""
    if outlook.empty:
        return []
    spec = measure_year(as_of.year)
    classes = {ndc: d.drug_class for ndc, d in spec.drugs.items()}
    fills = fills.assign(cls=fills["ndc"].map(classes))
    year_end = date(as_of.year, 12, 31)
    late_cutoff = pd.Timestamp(as_of - timedelta(days=LATE_DAYS))
    due = pd.to_datetime(outlook["next_fill_due"])
    wanted = outlook[
        outlook["status"].isin([WILL_FAIL, AT_RISK])
        | ((outlook["status"] == ADHERENT) & (due <= late_cutoff))
    ]
    items = []
    for m in spec.measures:
        rows = wanted[wanted["measure"] == m.code]
        if rows.empty:
            continue
        last = _last_fills(fills[fills["cls"].isin(m.target)], ["patient"])
        for r in rows.itertuples(index=False):
            patient = int(r.patient)
            if (patient, m.code) in explained or (patient, "") in explained:
                continue
            fill = last.loc[patient]
            runs_out = pd.Timestamp(r.next_fill_due).date()
            refill_by = None if pd.isna(r.refill_by) else pd.Timestamp(r.refill_by).date()
            value = refill_value(
                measure=m.code,
                outlook=str(r.status),
                margin_per_fill_cents=int(fill["margin_cents"]),
                days_supply=int(fill["days_supply"]),
                due=max(runs_out, as_of),
                year_end=year_end,
                value_based=fill["contract_type"] == "value_based",
                secured=refill_by is None and r.status == ADHERENT,
            )
            pdc = 100 * r.covered_to_date / r.days_to_date
            drug = str(fill["drug_name"])
            if r.status == WILL_FAIL:
                title = f"{drug}: refill by {_day(refill_by)} or {m.code} fails for the year"
            elif r.status == AT_RISK:
                title = f"{drug}: {m.code} {pdc:.0f}% to date, supply ran out {_day(runs_out)}"
            elif refill_by is not None:
                title = (
                    f"{drug}: out since {_day(runs_out)} ({(as_of - runs_out).days} days); "
                    f"refill by {_day(refill_by)} to stay at 80%"
                )
            else:
                title = f"{drug}: refill {(as_of - runs_out).days} days late"
            items.append(
                _item(
                    patient=patient,
                    kind=WorklistItem.Kind.REFILL,
                    code=f"refill:{m.code}:{runs_out.isoformat()}",
                    title=title,
                    due=refill_by or runs_out,
                    value_cents=value.cents,
                    value_reason=value.reason,
                    details={
                        "measure": m.code,
                        "outlook": str(r.status),
                        "pdc_to_date": f"{pdc:.1f}",
                        "covered_to_date": int(r.covered_to_date),
                        "days_to_date": int(r.days_to_date),
                        "days_can_miss": int(r.days_can_miss),
                        "next_fill_due": runs_out.isoformat(),
                        "refill_by": refill_by.isoformat() if refill_by else None,
                        "drug": drug,
                        "prescription": int(fill["prescription_id"]),
                        "last_fill": pd.Timestamp(fill["date_of_service"]).date().isoformat(),
                        "days_supply": int(fill["days_supply"]),
                    },
                )
            )
    return items


def _enroll_from_pms(locations: list[int], *, as_of: date) -> int:
    """Patients the PMS flags as synced get an enrolment: first sync on their PMS sync day
    (the first one at least 5 days after `as_of`, so the call can be made), every 30 days
    after. Staff can change it; the build never does."""
    from claims.models import Patient

    flagged = Patient.objects.filter(
        location__in=locations, med_sync_enrolled=True, sync_enrollment__isnull=True
    )
    # the first sync day leaves time for the call, which is due 5 days before it
    first = as_of + timedelta(days=medsync.CALL_LATEST_DAYS)
    new = [
        SyncEnrollment(
            location_id=p.location_id,
            patient_id=p.pk,
            first_sync_date=_next_day_of_month(first, p.med_sync_day or first.day),
            cycle_days=30,
            source=SyncEnrollment.Source.PMS,
        )
        for p in flagged.only("pk", "location_id", "med_sync_day")
    ]
    SyncEnrollment.objects.bulk_create(new, batch_size=5000)
    return len(new)


def _next_day_of_month(start: date, day: int) -> date:
    d = start
    for _ in range(62):
        last = (date(d.year + d.month // 12, d.month % 12 + 1, 1) - timedelta(days=1)).day
        if d.day == min(day, last):
            return d
        d += timedelta(days=1)
    return start


def sync_meds(
    fills: pd.DataFrame, *, patient: int, prescriptions: Iterable[int], as_of: date
) -> list[medsync.SyncMed]:
    """The patient's meds for a sync plan, from each prescription's last fill: the chosen
    prescriptions, or else every maintenance prescription filled in the last 120 days."""
    mine = fills[fills["patient"] == patient]
    chosen = set(prescriptions)
    if chosen:
        mine = mine[mine["prescription_id"].isin(chosen)]
    last = _last_fills(mine, ["prescription_id"])
    if not chosen:
        recent = pd.Timestamp(as_of - timedelta(days=SYNC_LOOKBACK_DAYS))
        last = last[(last["days_supply"] >= MAINTENANCE_DAYS) & (last["date_of_service"] >= recent)]
    spec = measure_year(as_of.year)
    meds = []
    for rx, f in last.sort_values("drug_name").iterrows():
        name = str(f["drug_name"])
        insulin = spec.drug_class(str(f["ndc"])) == "INSULIN"
        meds.append(
            medsync.SyncMed(
                key=str(rx),
                name=name,
                last_fill=pd.Timestamp(f["date_of_service"]).date(),
                days_supply=int(f["days_supply"]),
                quantity=Decimal(str(f["quantity"])),
                cost_cents=int(f["revenue_cents"]),
                syncable=not insulin and NOT_SYNCABLE.search(name) is None,
            )
        )
    return meds


def _sync_items(locations: list[int], *, fills: pd.DataFrame, as_of: date) -> list[dict[str, Any]]:
    enrollments = SyncEnrollment.objects.filter(location__in=locations, active=True)
    due = []
    for e in enrollments.prefetch_related("prescriptions"):
        if e.cycle_days not in medsync.CYCLES:
            continue
        sync = medsync.sync_date_on_or_after(e.first_sync_date, e.cycle_days, as_of)
        if medsync.should_call(sync, today=as_of):
            due.append((e, sync))
    # each due patient's fills, split once (not one scan of the chain's fills per patient)
    mine = fills[fills["patient"].isin([e.patient_id for e, _ in due])]
    by_patient = {int(k): g for k, g in mine.groupby("patient")}
    latest = mine.sort_values("date_of_service", kind="stable")
    margins = latest.groupby("prescription_id")["margin_cents"].last()
    items = []
    for e, sync in due:
        chosen = [rx.pk for rx in e.prescriptions.all()]
        meds = sync_meds(
            by_patient.get(e.patient_id, mine.iloc[:0]),
            patient=e.patient_id,
            prescriptions=chosen,
            as_of=as_of,
        )
        lines = medsync.alignment(meds, sync_date=sync, cycle=e.cycle_days, today=as_of)
        dispensed = [ln for ln in lines if ln.days > 0]
        if not dispensed:
            continue  # nothing to pick up this cycle: no appointment, no call
        value = sync_value([int(margins.get(int(ln.key), 0)) for ln in dispensed])
        items.append(
            _item(
                patient=e.patient_id,
                kind=WorklistItem.Kind.MED_SYNC,
                code=f"sync:{sync.isoformat()}",
                title=f"Med-sync call for the {_day(sync)} pickup",
                due=medsync.call_window(sync)[1],
                value_cents=value.cents,
                value_reason=value.reason,
                details={
                    "sync_date": sync.isoformat(),
                    "cycle_days": e.cycle_days,
                    "anchor": e.anchor_id,
                    "lines": [_line_json(ln) for ln in lines],
                    "short_fills": sum(1 for ln in lines if ln.action == medsync.SHORT),
                    "refill_too_soon": any(ln.refill_too_soon for ln in lines),
                },
            )
        )
    return items


def _line_json(line: medsync.SyncLine) -> dict[str, Any]:
    out = asdict(line)
    out["fill_on"] = line.fill_on.isoformat()
    out["quantity"] = str(line.quantity)
    return out


def _care_gap_items(
    organization: Organization,
    *,
    fills: pd.DataFrame,
    patients: pd.DataFrame,
    frame: pd.DataFrame,
    as_of: date,
) -> tuple[list[dict[str, Any]], set[str], list[str]]:
    notes: list[str] = []
    season = caregaps.season_for(as_of)
    try:
        rules = caregaps.gap_rules(season)
    except LookupError:
        notes.append(
            f"No care-gap rules for the {season}-{(season + 1) % 100:02d} season "
            f"(adherence/valuesets/caregaps-{season}.json): no care gaps were listed."
        )
        return [], set(), notes
    recent = fills[fills["date_of_service"] >= pd.Timestamp(as_of - timedelta(days=ACTIVE_DAYS))]
    active = patients[patients["patient"].isin(recent["patient"].unique())]
    gap_patients = [
        caregaps.GapPatient(patient=str(p), birth_date=b)
        for p, b in zip(active["patient"], active["birth_date"], strict=True)
    ]
    doses = history.immunization_history(organization.pk)
    gaps = caregaps.immunization_gaps(gap_patients, doses, as_of=as_of, rules=rules)
    supd = frame[(frame["measure"] == "SUPD") & (frame["status"] == "measured")]
    for patient in supd.loc[supd["adherent"] == False, "patient"]:  # noqa: E712
        gaps.append(caregaps.supd_gap(str(patient), year=as_of.year, as_of=as_of, rules=rules))
    cmr_rules = _cmr_rules(rules, year=as_of.year)
    if cmr_rules is None:
        notes.append(
            f"No CMR targeting rules for {as_of.year} (adherence/valuesets/"
            f"caregaps-{as_of.year}.json): CMR-eligible patients were not listed."
        )
    else:
        gaps += caregaps.cmr_gaps(
            _cmr_stats(
                fills,
                patients=active,
                as_of=as_of,
                done=history.cmr_history(organization.pk, as_of.year),
            ),
            year=as_of.year,
            as_of=as_of,
            rules=cmr_rules,
        )
    items = [
        _item(
            patient=int(g.patient),
            kind=WorklistItem.Kind.CARE_GAP,
            code=g.code,
            title=g.label,
            due=g.due_from,
            value_cents=g.value_cents,
            value_reason=g.reason,
            details={"gap": g.kind},
        )
        for g in gaps
    ]
    return items, caregaps.unknown_cvx(doses, rules), notes


def _cmr_rules(rules: caregaps.GapRules, *, year: int) -> caregaps.GapRules | None:
    """The rules file whose CMR thresholds are for `year` (the season's file covers its
    first calendar year; January to July need the next year's file), or None."""
    if rules.cmr.calendar_year == year:
        return rules
    try:
        other = caregaps.gap_rules(year)
    except LookupError:
        return None
    return other if other.cmr.calendar_year == year else None


def _cmr_stats(
    fills: pd.DataFrame, *, patients: pd.DataFrame, as_of: date, done: Mapping[str, date]
) -> list[caregaps.CmrStats]:
    year_fills = fills[
        (fills["date_of_service"] >= pd.Timestamp(date(as_of.year, 1, 1)))
        & fills["patient"].isin(patients["patient"])
    ]
    if year_fills.empty:
        return []
    spec = measure_year(as_of.year)
    classes = year_fills["ndc"].map({ndc: d.drug_class for ndc, d in spec.drugs.items()})
    per = year_fills.groupby("patient")
    drugs = per["generic"].nunique()
    cost = per["revenue_cents"].sum()
    seen = pd.DataFrame({"patient": year_fills["patient"], "cls": classes}).dropna()
    chronic: dict[Any, set[str]] = {}
    for p, c in seen.drop_duplicates().itertuples(index=False):
        chronic.setdefault(p, set()).add(c)
    births = patients.set_index("patient")["birth_date"].to_dict()
    return [
        caregaps.CmrStats(
            patient=str(p),
            birth_date=births[p],
            distinct_drugs=int(n),
            annual_cost_cents=int(c),
            chronic_classes=frozenset(chronic.get(p, ())),
            last_cmr=done.get(str(p)),
        )
        for p, n, c in zip(drugs.index, drugs.to_numpy(), cost.to_numpy(), strict=True)
    ]


_STAGE_SQL = """
CREATE TEMP TABLE worklist_stage (
    location_id bigint, patient_id bigint, kind text, code text, title text, due_date date,
    value_cents bigint, value_reason text, details jsonb
) ON COMMIT DROP
"""
_UPSERT_SQL = """
INSERT INTO adherence_worklistitem AS w (
    organization_id, location_id, patient_id, kind, code, title, due_date, value_cents,
    value_reason, details, status, last_outcome, attempts, job_id, built_at, created_at)
SELECT %(org)s, location_id, patient_id, kind, code, title, due_date, value_cents,
       value_reason, details, 'open', '', 0, %(job)s, %(built)s, now()
FROM worklist_stage
ON CONFLICT (patient_id, code) DO UPDATE SET
    location_id = EXCLUDED.location_id, kind = EXCLUDED.kind, title = EXCLUDED.title,
    due_date = EXCLUDED.due_date, value_cents = EXCLUDED.value_cents,
    value_reason = EXCLUDED.value_reason, details = EXCLUDED.details,
    job_id = EXCLUDED.job_id, built_at = EXCLUDED.built_at,
    status = CASE WHEN w.status = 'resolved' THEN 'open' ELSE w.status END
-- an item the build produces unchanged is not rewritten (no dead rows, no WAL)
WHERE w.status = 'resolved'
   OR (w.location_id, w.kind, w.title, w.due_date, w.value_cents, w.value_reason, w.details)
      IS DISTINCT FROM (EXCLUDED.location_id, EXCLUDED.kind, EXCLUDED.title, EXCLUDED.due_date,
                        EXCLUDED.value_cents, EXCLUDED.value_reason, EXCLUDED.details)
"""
_RESOLVE_SQL = """
UPDATE adherence_worklistitem w SET status = 'resolved', job_id = %(job)s, built_at = %(built)s
WHERE w.organization_id = %(org)s AND w.status = 'open'
  AND NOT EXISTS (
      SELECT 1 FROM worklist_stage s WHERE s.patient_id = w.patient_id AND s.code = w.code)
"""


def _write_items(
    organization: Organization, items: list[dict[str, Any]], *, job: Job | None
) -> tuple[int, int]:
    built = timezone.now()
    stage = pd.DataFrame(
        {
            "location_id": [i["location"] for i in items],
            "patient_id": [i["patient"] for i in items],
            "kind": [i["kind"] for i in items],
            "code": [i["code"] for i in items],
            "title": [i["title"] for i in items],
            "due_date": [i["due_date"].isoformat() for i in items],
            "value_cents": [i["value_cents"] for i in items],
            "value_reason": [i["value_reason"] for i in items],
            "details": [json.dumps(i["details"], default=_json_default) for i in items],
        }
    )
    params = {"org": organization.pk, "job": job.pk if job else None, "built": built}
    with connection.cursor() as cur:
        cur.execute(_STAGE_SQL)
        _copy(cur, "worklist_stage", stage)
        cur.execute("ANALYZE worklist_stage")
        cur.execute(_UPSERT_SQL, params)
        upserted = cur.rowcount
        # the items just written are this transaction's: the planner's statistics may not
        # count them (a first build, autovacuum behind) and a nested loop over a guessed few
        # items rescans the stage for each of hundreds of thousands (measured: over 12
        # minutes at 1M claims); hashing the stage is right at any size
        cur.execute("SET LOCAL enable_nestloop = off")
        cur.execute(_RESOLVE_SQL, params)
        resolved = cur.rowcount
        cur.execute("RESET enable_nestloop")
        cur.execute("DROP TABLE worklist_stage")
    return upserted, resolved


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal | np.integer):
        return str(value) if isinstance(value, Decimal) else int(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _day(d: date | None) -> str:
    return "-" if d is None else f"{d:%b} {d.day}"
