"""Patients pushed by a pharmacy system (the REST API, HL7 ADT^A08): create or update one by
its real-world key, the store and the PMS's own patient number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

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
    Raises ValidationError keyed by field for a value that cannot be stored."""
    unknown = sorted(str(k) for k in data if k not in (*FIELDS, "pms_patient_id"))
    if unknown:
        raise ValidationError({k: "Unknown field." for k in unknown})
    pms_patient_id = str(data.get("pms_patient_id") or "").strip()
    if not pms_patient_id:
        raise ValidationError({"pms_patient_id": "This field is required."})
    values = _clean({k: data[k] for k in FIELDS if k in data})
    with transaction.atomic():
        # the row lock makes two pushes of one patient apply one after the other
        patient = (
            Patient.objects.select_for_update()
            .filter(location=location, pms_patient_id=pms_patient_id)
            .first()
        )
        created = patient is None
        if patient is None:
            missing = [f for f in REQUIRED_TO_CREATE if not values.get(f)]
            if missing:
                raise ValidationError(
                    {
                        f: "Required to create a patient the store does not know yet."
                        for f in missing
                    }
                )
            patient = Patient(location=location, pms_patient_id=pms_patient_id)
        changed = [k for k, v in values.items() if getattr(patient, k) != v]
        for name, value in values.items():
            setattr(patient, name, value)
        patient.full_clean(exclude=["location"], validate_unique=False, validate_constraints=False)
        if created:
            # a concurrent first push of the same patient: the unique key decides, and the
            # loser updates what the winner created
            with transaction.atomic():
                saved, created = Patient.objects.get_or_create(
                    location=location, pms_patient_id=pms_patient_id, defaults=values
                )
            if not created:
                for name, value in values.items():
                    setattr(saved, name, value)
                saved.save()
            return saved, created
        if changed:
            patient.save(update_fields=[*changed, "updated_at"])
    return patient, False


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
