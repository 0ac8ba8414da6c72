"""What each inbound message type writes, through the services that own the rows:

- RDS^O13: each readable order group is a fill row pushed through
  `claims.services.fill_push.push_fills` (the file import's normalize and upsert);
- VXU^V04: each dose checked like a row of the immunization file
  (`clinical.ingest.immunizations.check_row`) and upserted on its natural key with
  `clinical.services.immunization_import.immunization_doses_upsert`;
- ADT^A08: the patient created or updated with `claims.services.patients.patient_upsert`.

A refusal by one of them becomes an `Issue` at the HL7 field the value came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

from claims.services.fill_push import push_fills
from claims.services.patients import patient_get_or_create, patient_upsert
from clinical.ingest.immunizations import DoseRow, check_row
from clinical.services.immunization_import import immunization_doses_upsert
from integrations.hl7.messages import Issue, Parsed, PatientData
from rxrevops.access import Principal
from rxrevops.models import Location

# patient_upsert's fields -> where an HL7 message carries them
PATIENT_FIELDS = {
    "pms_patient_id": ("PID", 3),
    "last_name": ("PID", 5),
    "first_name": ("PID", 5),
    "date_of_birth": ("PID", 7),
    "sex": ("PID", 8),
    "postal_code": ("PID", 11),
    "phone": ("PID", 13),
}
TABLE_COLUMNS = {"cvx", "mvx", "site", "route", "funding_eligibility"}


@dataclass
class Applied:
    issues: list[Issue] = field(default_factory=list)
    linked: dict[str, object] = field(default_factory=dict)


def _at(where: str, reason: str, *, sequence: int = 1, code: str = "102") -> Issue:
    """An issue at "RXD-2" / "OBX-5 (64994-7)" / "ZCL-8" / "" ."""
    head = where.split(" ", 1)[0]
    segment, _, position = head.partition("-")
    if not (len(segment) == 3 and segment.isalnum() and segment.isupper()):
        return Issue(f"{where}: {reason}" if where else reason, "", None, sequence, code)
    detail = f" {where.split(' ', 1)[1]}" if " " in where else ""
    return Issue(
        f"{head}{detail}: {reason}" if head else reason,
        segment,
        int(position) if position.isdigit() else None,
        sequence,
        code,
    )


def _patient_data(p: PatientData) -> dict[str, object]:
    data: dict[str, object] = {
        "pms_patient_id": p.patient_id,
        "last_name": p.last_name,
        "first_name": p.first_name,
        "date_of_birth": p.birth_date,
    }
    # a field the sender left empty keeps what the store has
    for name, value in (("sex", p.sex), ("postal_code", p.postal_code), ("phone", p.phone)):
        if value:
            data[name] = value
    return data


def _patient_issues(exc: ValidationError) -> list[Issue]:
    issues = []
    for name, messages in exc.message_dict.items():
        segment, position = PATIENT_FIELDS.get(name, ("PID", None))
        where = f"{segment}-{position}" if position else segment
        issues.append(_at(where, " ".join(messages)))
    return issues


# --- ADT^A08 -------------------------------------------------------------------------------


def apply_adt(parsed: Parsed, *, location: Location) -> Applied:
    out = Applied()
    if parsed.patient is None:
        return out  # the PID's problems are already issues
    try:
        patient, created = patient_upsert(location=location, data=_patient_data(parsed.patient))
    except ValidationError as exc:
        out.issues += _patient_issues(exc)
        return out
    out.linked = {"patients": [patient.pk], "created": created}
    return out


# --- VXU^V04 -------------------------------------------------------------------------------


def _vxu_patient(location: Location, data: PatientData, out: Applied) -> int | None:
    """The store's patient's id; one the store does not know yet is created from the PID (a
    VXU does not overwrite demographics: ADT^A08 does that)."""
    try:
        patient_id, created = patient_get_or_create(location=location, data=_patient_data(data))
    except ValidationError as exc:
        out.issues += _patient_issues(exc)
        return None
    if created:
        out.linked["patients_created"] = [patient_id]
    return patient_id


def apply_vxu(parsed: Parsed, *, location: Location) -> Applied:
    out = Applied()
    if parsed.patient is None or not parsed.doses:
        return out
    patient_id = _vxu_patient(location, parsed.patient, out)
    if patient_id is None:
        return out
    today = timezone.localdate()
    rows: list[tuple[DoseRow, int, int]] = []
    keys: set[tuple[str, date, str]] = set()
    records: dict[tuple[str, date, str], str] = {}
    for dose in parsed.doses:
        values = {**dose.values, "pharmacy_ncpdp": location.ncpdp_id}
        row, problems = check_row(dose.group, values, today=today)
        for p in problems:
            code = (
                "101" if "required" in p.reason else "103" if p.column in TABLE_COLUMNS else "102"
            )
            out.issues.append(
                _at(dose.where.get(p.column, p.column), p.reason, sequence=dose.group, code=code)
            )
        if row is None:
            continue
        given = dose.vis_given_on or row.administered_on
        if given > row.administered_on:
            out.issues.append(
                _at(
                    "OBX-5 (29769-7)",
                    "The VIS is given on or before the administration date.",
                    sequence=dose.group,
                )
            )
            continue
        row = replace(row, vis_given_on=given)
        key = (row.cvx, row.administered_on, row.lot)
        if key in keys:
            out.issues.append(
                Issue(
                    f"Order group {dose.group} repeats a dose of this message (same vaccine, "
                    "day and lot): recorded once.",
                    "RXA",
                    15,
                    dose.group,
                    "205",
                    "W",
                )
            )
            continue
        keys.add(key)
        records[key] = dose.record_id
        rows.append((row, location.pk, patient_id))
    if rows:
        done = immunization_doses_upsert(organization_id=location.organization_id, doses=rows)
        ids = {(cvx, day, lot): pk for (_, _, cvx, day, lot), pk in done.ids.items()}
        out.linked.update(
            {
                "immunizations": [ids[k] for k in keys if k in ids],
                "records": {records[k]: ids[k] for k in keys if k in ids and records[k]},
                "counts": {
                    "inserted": done.inserted,
                    "updated": done.updated,
                    "unchanged": done.unchanged,
                },
            }
        )
    out.linked.setdefault("patients", [patient_id])
    return out


# --- RDS^O13 -------------------------------------------------------------------------------


def apply_rds(parsed: Parsed, *, location: Location, principal: Principal | None) -> Applied:
    out = Applied()
    if not parsed.dispenses:
        return out
    rows = [{**d.row, "pharmacy_ncpdp": location.ncpdp_id} for d in parsed.dispenses]
    result = push_fills(location=location, rows=rows, source="hl7", user=principal)
    fills = []
    for dispense, item in zip(parsed.dispenses, result.items, strict=True):
        if item.fill_id is not None:
            fills.append(item.fill_id)
        for error in item.errors:
            name = error.get("field", "")
            where = dispense.where.get(name, name)
            value = error.get("value", "")
            reason = error.get("reason", "refused")
            out.issues.append(
                _at(
                    where,
                    f"{name} {value!r} {reason}" if value else f"{name} {reason}",
                    sequence=dispense.group,
                )
            )
    out.linked = {
        "fills": fills,
        "job": result.job.pk,
        "statuses": [i.status for i in result.items],
    }
    return out
