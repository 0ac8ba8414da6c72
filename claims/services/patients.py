"""Patients pushed by a pharmacy system (the REST API, HL7 ADT^A08): create or update one by
its real-world key, the store and the PMS's own patient number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from claims.models import Patient
from rxrevops.models import Location

# the fields a push may set; a field left out keeps its stored value
FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "postal_code",
    "phone",
    "med_sync_enrolled",
    "med_sync_day",
)
# needed to create a patient (the model has no default for them)
REQUIRED_TO_CREATE = ("first_name", "last_name", "date_of_birth")
SEXES = ("F", "M", "U", "")


def patient_upsert(*, location: Location, data: Mapping[str, object]) -> tuple[Patient, bool]:
    """Create or update the patient `data["pms_patient_id"]` of `location` with the fields of
    `data` (see FIELDS; others are refused). Returns the patient and whether it was created.
    Raises ValidationError keyed by field for a value that cannot be stored, before anything
    is written: no savepoint is needed around it inside a caller's transaction (an HL7
    message's), and none is taken (each one is a round trip to Postgres)."""
    pms_patient_id, values = _checked(data)
    missing = _missing_to_create(values)
    if not missing:
        # everything a new patient needs: created or updated in one statement, which also
        # settles two first pushes of one patient at once (the unique key decides, and the
        # loser updates what the winner created)
        patient, created = _insert(location, pms_patient_id, values, on_conflict="update")
        if patient is None:  # stored, and already equal to what was sent
            patient = Patient.objects.get(location=location, pms_patient_id=pms_patient_id)
        return patient, created
    with transaction.atomic(savepoint=False):
        # a partial update: the row lock makes two pushes of one patient apply in turn
        known = (
            Patient.objects.select_for_update()
            .filter(location=location, pms_patient_id=pms_patient_id)
            .first()
        )
        if known is not None:
            changed = [k for k, v in values.items() if getattr(known, k) != v]
            for name, value in values.items():
                setattr(known, name, value)
            if changed:
                known.save(update_fields=[*changed, "updated_at"])
            return known, False
    raise _cannot_create(missing)


def patient_get_or_create(*, location: Location, data: Mapping[str, object]) -> tuple[int, bool]:
    """The id of the patient `data["pms_patient_id"]` of `location`, created from `data` when
    the store does not know it yet; a known patient is left as it is (an HL7 VXU names the
    patient it is about but does not correct demographics: ADT^A08 does). Returns (id,
    created). ValidationError as `patient_upsert`, before anything is written; a known
    patient is never refused for what `data` lacks."""
    try:
        pms_patient_id, values = _checked(data)
    except ValidationError:
        # what could not create the patient does not matter for one the store knows
        known = _known(location, str(data.get("pms_patient_id") or "").strip())
        if known is None:
            raise
        return known, False
    missing = _missing_to_create(values)
    if not missing:
        patient, created = _insert(location, pms_patient_id, values, on_conflict="nothing")
        if patient is not None:
            return patient.pk, created
    known = _known(location, pms_patient_id)
    if known is not None:
        return known, False
    raise _cannot_create(missing)


def _missing_to_create(values: Mapping[str, object]) -> list[str]:
    return [f for f in REQUIRED_TO_CREATE if not values.get(f)]


def _cannot_create(missing: list[str]) -> ValidationError:
    return ValidationError(
        {f: "Required to create a patient the store does not know yet." for f in missing}
    )


def _known(location: Location, pms_patient_id: str) -> int | None:
    if not pms_patient_id:
        return None
    found: int | None = (
        Patient.objects.filter(location=location, pms_patient_id=pms_patient_id)
        .values_list("pk", flat=True)
        .first()
    )
    return found


def _checked(data: Mapping[str, object]) -> tuple[str, dict[str, Any]]:
    """The PMS patient number and the typed values of `data`, every value checked against
    the model's fields (lengths, choices) without a query; ValidationError by field."""
    unknown = sorted(str(k) for k in data if k not in (*FIELDS, "pms_patient_id"))
    if unknown:
        raise ValidationError({k: "Unknown field." for k in unknown})
    pms_patient_id = str(data.get("pms_patient_id") or "").strip()
    if not pms_patient_id:
        raise ValidationError({"pms_patient_id": "This field is required."})
    values = _clean({k: data[k] for k in FIELDS if k in data})
    probe = Patient(pms_patient_id=pms_patient_id, **values)
    # only the fields given: a partial update leaves the others as stored
    exclude = [f.name for f in Patient._meta.fields if f.name not in (*values, "pms_patient_id")]
    probe.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    return pms_patient_id, values


def _insert(
    location: Location, pms_patient_id: str, values: dict[str, Any], *, on_conflict: str
) -> tuple[Patient | None, bool]:
    """One INSERT ... ON CONFLICT on the store's patient key, in one round trip: the row as
    stored and whether this statement created it. `on_conflict="update"` sets `values` on a
    stored patient where they differ (None when they are all equal already); `"nothing"`
    leaves a stored patient as it is (None)."""
    patient = Patient(location=location, pms_patient_id=pms_patient_id, **values)
    fields = [f for f in Patient._meta.concrete_fields if not f.primary_key]
    params = [f.get_db_prep_save(f.pre_save(patient, add=True), connection) for f in fields]
    column = {f.name: connection.ops.quote_name(str(f.column)) for f in fields}
    table = Patient._meta.db_table
    if on_conflict == "update":
        given = [column[name] for name in values]
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in [*given, column["updated_at"]])
            + f" WHERE ({', '.join(f'{table}.{c}' for c in given)}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{c}' for c in given)})"
        )
    else:
        action = "DO NOTHING"
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} ({', '.join(column.values())}) "  # noqa: S608 (model names)
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT (location_id, pms_patient_id) {action} "
            f"RETURNING xmax = 0, id, {', '.join(column.values())}",
            params,
        )
        row = cur.fetchone()
    if row is None:
        return None, False
    stored = Patient.from_db(connection.alias, ["id", *(f.attname for f in fields)], row[1:])
    return stored, bool(row[0])


def _clean(values: dict[str, object]) -> dict[str, Any]:
    """Text trimmed, the date of birth from ISO text, sex as one letter, the sync flag and day
    typed; ValidationError naming each field that cannot be read."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in values.items():
        if name == "date_of_birth":
            if isinstance(value, dt.date):
                out[name] = value
                continue
            try:
                out[name] = dt.date.fromisoformat(str(value).strip())
            except ValueError:
                errors[name] = "Not a date in the form YYYY-MM-DD."
        elif name == "med_sync_enrolled":
            if isinstance(value, bool):
                out[name] = value
            elif str(value).strip().upper() in ("Y", "N"):
                out[name] = str(value).strip().upper() == "Y"
            else:
                errors[name] = "Must be true or false (or Y / N)."
        elif name == "med_sync_day":
            text = "" if value is None else str(value).strip()
            if text == "":
                out[name] = None  # not synced
            elif text.isdigit() and 1 <= int(text) <= 31:
                out[name] = int(text)
            else:
                errors[name] = "Must be a day of the month (1-31) or empty."
        elif name == "sex":
            text = "" if value is None else str(value).strip().upper()
            if text in SEXES:
                out[name] = text
            else:
                errors[name] = "Must be F, M, U or empty."
        else:
            out[name] = "" if value is None else str(value).strip()
    if errors:
        raise ValidationError(errors)
    return out
