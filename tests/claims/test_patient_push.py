"""patient_upsert: a pushed patient is created once per store and PMS number, then updated
field by field; what cannot be stored is refused naming the field."""

from __future__ import annotations

import datetime as dt
import threading
import time
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from claims.models import Patient
from claims.services.patients import patient_upsert


def test_a_patient_is_created_then_updated_only_in_the_fields_given(chain: SimpleNamespace) -> None:
    patient, created = patient_upsert(
        location=chain.loc_a,
        data={
            "pms_patient_id": "77",
            "first_name": "Synthia",
            "last_name": "Testperson",
            "date_of_birth": "1961-07-04",
            "med_sync_enrolled": "Y",
            "med_sync_day": "9",
        },
    )
    assert created
    assert patient.date_of_birth == dt.date(1961, 7, 4)
    assert (patient.med_sync_enrolled, patient.med_sync_day) == (True, 9)
    again, created = patient_upsert(
        location=chain.loc_a, data={"pms_patient_id": "77", "phone": "2175550199"}
    )
    assert not created
    assert again.pk == patient.pk
    again.refresh_from_db()
    assert (again.first_name, again.phone, again.med_sync_day) == ("Synthia", "2175550199", 9)


def test_the_same_pms_number_at_another_store_is_another_patient(chain: SimpleNamespace) -> None:
    data = {
        "pms_patient_id": "77",
        "first_name": "A",
        "last_name": "B",
        "date_of_birth": dt.date(1970, 1, 1),
    }
    a, _ = patient_upsert(location=chain.loc_a, data=data)
    b, created = patient_upsert(location=chain.loc_b, data=data)
    assert created
    assert a.pk != b.pk
    assert Patient.objects.filter(pms_patient_id="77").count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_of_birth", "1961-02-30"),
        ("med_sync_day", "40"),
        ("med_sync_enrolled", "maybe"),
        ("sex", "X"),
        ("nickname", "Syn"),
    ],
)
def test_a_value_that_cannot_be_stored_is_refused_naming_its_field(
    chain: SimpleNamespace, field: str, value: str
) -> None:
    data = {
        "pms_patient_id": "78",
        "first_name": "A",
        "last_name": "B",
        "date_of_birth": "1961-02-03",
        field: value,
    }
    with pytest.raises(ValidationError) as refused:
        patient_upsert(location=chain.loc_a, data=data)
    assert field in refused.value.message_dict
    assert not Patient.objects.filter(pms_patient_id="78").exists()


def test_a_new_patient_needs_names_and_birth_date(chain: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as refused:
        patient_upsert(location=chain.loc_a, data={"pms_patient_id": "79", "first_name": "A"})
    assert set(refused.value.message_dict) == {"last_name", "date_of_birth"}


@pytest.mark.django_db(transaction=True)
def test_two_first_pushes_of_one_patient_at_once_make_one_patient(chain: SimpleNamespace) -> None:
    """The first push of a patient takes no row lock (there is no row yet): two at once
    both try to create it. The store's patient key decides; the loser updates the
    winner's row instead of failing, and only the winner reports it created."""
    # the first push holds its transaction open after its INSERT, so the second's INSERT
    # meets the key while the first has not committed (it waits, then finds the row)
    inserted = threading.Event()
    results: dict[str, tuple[int, bool, str]] = {}
    failures: list[BaseException] = []

    def push(name: str, phone: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                patient, created = patient_upsert(
                    location=chain.loc_a,
                    data={
                        "pms_patient_id": "RACE-1",
                        "first_name": "Synthia",
                        "last_name": "Testperson",
                        "date_of_birth": "1961-07-04",
                        "phone": phone,
                    },
                )
                results[name] = (patient.pk, created, patient.phone)
                if hold:
                    inserted.set()
                    time.sleep(0.5)  # the second push is now waiting on the key
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            inserted.set()
        finally:
            connection.close()

    first = threading.Thread(target=push, args=("first", "2175550101", True))
    first.start()
    assert inserted.wait(30)
    second = threading.Thread(target=push, args=("second", "2175550202", False))
    second.start()
    first.join(30)
    second.join(30)
    assert not failures, failures
    assert results["first"][1] is True
    assert results["second"][1] is False
    assert results["first"][0] == results["second"][0]
    stored = Patient.objects.get(location=chain.loc_a, pms_patient_id="RACE-1")
    assert stored.pk == results["first"][0]
    assert stored.phone == "2175550202"  # the loser's values, applied to the winner's row
    assert results["second"][2] == "2175550202"


def test_the_same_patient_pushed_again_writes_nothing(chain: SimpleNamespace) -> None:
    data = {
        "pms_patient_id": "88",
        "first_name": "Synthia",
        "last_name": "Testperson",
        "date_of_birth": "1961-07-04",
        "phone": "2175550100",
    }
    first, created = patient_upsert(location=chain.loc_a, data=data)
    assert created
    stamp = Patient.objects.get(pk=first.pk).updated_at
    again, created = patient_upsert(location=chain.loc_a, data=dict(data))
    assert (again.pk, created) == (first.pk, False)
    assert Patient.objects.get(pk=first.pk).updated_at == stamp  # no write at all
    changed, created = patient_upsert(location=chain.loc_a, data={**data, "phone": "2175550111"})
    assert (changed.pk, created, changed.phone) == (first.pk, False, "2175550111")
    assert Patient.objects.get(pk=first.pk).updated_at > stamp
    assert (changed.first_name, changed.med_sync_enrolled) == ("Synthia", False)
