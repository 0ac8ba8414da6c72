"""Recording immunizations: roles, refusals, store isolation, and the care gap it closes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from adherence.models import WorklistItem
from claims.models import Patient
from claims.selectors import patient_get_for_user
from clinical.models import Immunization
from clinical.selectors import immunization_get_for_user, immunizations_for_user
from clinical.services.immunizations import immunization_record
from rxrevops.models import AuditEvent
from tests.support.adherence_world import build

FLU = "imm:flu:2026-27"


def flu_dose(user: Any, patient: Patient, **overrides: Any) -> Immunization:
    fields: dict[str, Any] = {
        "administered_on": date(2026, 10, 1),
        "cvx": "150",
        "mvx": "SKB",
        "lot": "FL2026A",
        "expiration": date(2027, 6, 30),
        "dose_ml": Decimal("0.5"),
        "site": "LD",
        "route": "IM",
        "vis_edition_date": date(2023, 8, 6),
        "vis_given_on": date(2026, 10, 1),
        "funding_eligibility": "V01",
        "administering_npi": "1598000011",
        "billed_cents": 4000,
    }
    fields.update(overrides)
    return immunization_record(user=user, patient=patient, **fields)


def flu_item_status(patient: Patient) -> str:
    return str(WorklistItem.objects.get(patient=patient, code=FLU).status)


def test_a_recorded_flu_dose_closes_that_patients_flu_gap_at_the_next_build(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    target, others = chain.late, [chain.at_risk, chain.supd, *chain.synced_a]
    assert flu_item_status(target) == "open"
    assert all(flu_item_status(p) == "open" for p in others)

    imm = flu_dose(chain.owner, target)
    build(chain.org, chain.as_of)

    assert flu_item_status(target) == "resolved"
    assert all(flu_item_status(p) == "open" for p in others)
    assert imm.cvx == "150"
    assert imm.route == "C28161"  # "IM" stored as its NCIT code
    assert imm.vaccine == "Influenza, injectable, quadrivalent, preservative free"
    assert imm.organization_id == chain.org.pk
    assert imm.location_id == target.location_id
    assert imm.recorded_by == chain.owner
    event = AuditEvent.objects.get(object_type="clinical.Immunization", object_id=str(imm.pk))
    assert "CVX 150" in event.summary


def test_a_technician_cannot_record_an_immunization(chain: SimpleNamespace) -> None:
    with pytest.raises(PermissionDenied):
        flu_dose(chain.technician_a, chain.patient_a)
    assert not Immunization.objects.exists()


def test_a_pharmacist_records_at_their_store_only(chain: SimpleNamespace) -> None:
    imm = flu_dose(chain.pharmacist_b, chain.patient_b)
    assert imm.administered_by == chain.pharmacist_b
    with pytest.raises(PermissionDenied):
        flu_dose(chain.pharmacist_b, chain.patient_a)


def test_another_stores_patient_and_doses_are_not_reachable(chain: SimpleNamespace) -> None:
    at_a = flu_dose(chain.owner, chain.patient_a)
    at_b = flu_dose(chain.owner, chain.patient_b)
    with pytest.raises(Http404):
        patient_get_for_user(user=chain.pharmacist_b, patient_id=chain.patient_a.pk)
    with pytest.raises(Http404):
        immunization_get_for_user(user=chain.pharmacist_b, immunization_id=at_a.pk)
    assert list(immunizations_for_user(chain.pharmacist_b)) == [at_b]
    assert list(immunizations_for_user(chain.pharmacist_b, patient_id=chain.patient_a.pk)) == []
    assert set(immunizations_for_user(chain.owner)) == {at_a, at_b}


def test_an_expired_lot_is_refused_with_the_reason(chain: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as caught:
        flu_dose(chain.owner, chain.patient_a, expiration=date(2026, 9, 30))
    errors = caught.value.message_dict
    assert list(errors) == ["expiration"]
    assert "expired on 2026-09-30" in errors["expiration"][0]
    assert not Immunization.objects.exists()


def test_a_cvx_mvx_mismatch_is_refused_with_the_reason(chain: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as caught:
        flu_dose(chain.owner, chain.patient_a, cvx="187", mvx="PFR")
    assert list(caught.value.message_dict) == ["mvx"]
    assert "MVX PFR makes no CVX 187" in caught.value.message_dict["mvx"][0]


def test_missing_and_unknown_fields_are_each_named(chain: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as caught:
        flu_dose(
            chain.owner,
            chain.patient_a,
            lot=" ",
            vis_given_on=None,
            site="ZZ",
            funding_eligibility="V99",
            administering_npi="123",
        )
    assert set(caught.value.message_dict) == {
        "lot",
        "vis_given_on",
        "site",
        "funding_eligibility",
        "administering_npi",
    }


def test_the_same_dose_twice_is_refused_by_field(chain: SimpleNamespace) -> None:
    flu_dose(chain.owner, chain.patient_a)
    with pytest.raises(ValidationError) as caught:
        flu_dose(chain.owner, chain.patient_a)
    assert list(caught.value.message_dict) == ["lot"]
    assert "already recorded" in caught.value.message_dict["lot"][0]
    assert Immunization.objects.count() == 1
