"""MTM encounters: started from a patient or a CMR gap with the medication list from fills,
saved as drafts, signed (locked, billed, closing the CMR gap), amended as new versions."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from adherence.models import WorklistItem
from claims.models import Fill, Patient, Plan
from clinical.encounter_selectors import clinical_revenue_for_user
from clinical.models import ClinicalClaim, Encounter
from clinical.services.billing import _payer, clinical_claim_update, poc_test_record
from clinical.services.encounters import (
    encounter_amend,
    encounter_save,
    encounter_sign,
    encounter_start,
)
from clinical.services.immunizations import immunization_record
from rxrevops.models import AuditEvent
from tests.factories import PatientFactory
from tests.support.adherence_world import (
    AMLODIPINE,
    AS_OF,
    ATORVASTATIN,
    LISINOPRIL,
    METFORMIN,
    build,
    dispense,
    every,
)

pytestmark = pytest.mark.django_db

OTHERS = [(f"55555{n:04d}01", f"Otherdrug{n} 10 mg tablet", "") for n in range(1, 5)]


def cmr_patient(location: Any) -> Patient:
    """Eight maintenance drugs over three chronic conditions, over $1,276 a year: due a CMR."""
    p = PatientFactory.create(
        location=location, last_name="Manymeds", date_of_birth=date(1950, 3, 4)
    )
    for spec in [METFORMIN, LISINOPRIL, ATORVASTATIN, AMLODIPINE, *OTHERS]:
        dispense(p, spec, every(date(2026, 1, 10), 30, date(2026, 11, 10)))
    return p


def ready(enc: Encounter, user: Any, **extra: Any) -> Encounter:
    fields = {"minutes": 35, "assessment": "Statin myalgia; BP at goal.", "plan": "Switch statin."}
    fields.update(extra)
    return encounter_save(
        user=user,
        encounter=enc,
        fields=fields,
        problems=[
            {
                "medication": "Atorvastatin",
                "reason_code": "SE",
                "service_code": "M0",
                "result_code": "3E",
                "talked_about": "Muscle aches since the dose went up.",
                "patient_action": "Take the new statin at night; call if aches return.",
            }
        ],
    )


def test_a_cmr_starts_with_the_medications_from_the_pharmacys_fills(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    enc = encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF)
    meds = list(enc.medications.all())
    assert [m.name for m in meds] == ["Atorvastatin calcium 20 mg tablet"]
    assert meds[0].started_on == date(2026, 1, 5)
    assert meds[0].source == "fill"
    assert enc.status == "draft"
    assert enc.version == 1
    assert enc.new_patient
    # starting again returns the open draft rather than a second one
    assert encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF).pk == enc.pk


def test_a_medication_whose_supply_ran_out_long_ago_is_not_on_the_list(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    dispense(chain.at_risk, METFORMIN, [date(2026, 5, 1)])  # ran out May 31, 176 days ago
    dispense(
        chain.at_risk, LISINOPRIL, [date(2026, 8, 1)]
    )  # ran out Aug 31, within 60 days + grace
    enc = encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF)
    names = [m.name for m in enc.medications.all()]
    assert "Metformin HCl 500 mg tablet" not in names
    assert "Lisinopril 10 mg tablet" not in names  # Aug 31 + 60 days = Oct 30 < Nov 23
    dispense(chain.at_risk, LISINOPRIL, [date(2026, 9, 1)])  # out Oct 1, + 60 = Nov 30
    enc2 = encounter_start(user=chain.owner, patient=chain.at_risk, kind="tmr", today=AS_OF)
    assert "Lisinopril 10 mg tablet" in [m.name for m in enc2.medications.all()]


def test_signing_needs_minutes_assessment_plan_and_an_action_plan(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    enc = encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF)
    with pytest.raises(ValidationError) as exc:
        encounter_sign(user=chain.owner, encounter=enc)
    assert set(exc.value.message_dict) == {"minutes", "assessment", "plan", "problems"}
    enc.refresh_from_db()
    assert enc.status == "draft"
    assert not ClinicalClaim.objects.exists()


def test_a_wrong_problem_code_is_refused_when_saving_naming_the_row_and_field(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    enc = encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF)
    with pytest.raises(ValidationError) as exc:
        encounter_save(
            user=chain.owner,
            encounter=enc,
            fields={},
            problems=[{"reason_code": "ZZ", "talked_about": "x"}],
        )
    assert exc.value.message_dict == {"problems[0].reason_code": ["'ZZ' is not a reason code."]}


def test_signing_locks_the_record_bills_it_and_audits_it(worklist_chain: SimpleNamespace) -> None:
    chain = worklist_chain
    enc = ready(encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF), chain.owner)
    encounter_sign(user=chain.owner, encounter=enc)
    enc.refresh_from_db()
    assert enc.status == "signed"
    assert enc.signed_by == chain.owner
    assert enc.signed_at
    claim = ClinicalClaim.objects.get(encounter_series=enc.series)
    # 35 minutes, new patient: 99605 for the first 15, 99607 x2 for the next 20
    assert [(line["code"], line["units"]) for line in claim.lines] == [("99605", 1), ("99607", 2)]
    assert claim.billed_cents == 7500 + 2 * 2500
    assert claim.payer == "BIN 610999 PCN VB"
    assert claim.service_date == AS_OF
    assert AuditEvent.objects.filter(summary__contains="v1 signed").exists()

    with pytest.raises(ValidationError, match="signed encounter cannot be edited"):
        encounter_save(user=chain.owner, encounter=enc, fields={"plan": "changed"})
    with pytest.raises(ValidationError):
        encounter_sign(user=chain.owner, encounter=enc)


def test_an_amendment_is_a_new_version_and_the_signed_one_stays(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    enc = ready(encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF), chain.owner)
    encounter_sign(user=chain.owner, encounter=enc)
    with pytest.raises(ValidationError):
        encounter_amend(user=chain.owner, encounter=enc, reason="  ")
    v2 = encounter_amend(user=chain.owner, encounter=enc, reason="Minutes were 50, not 35")
    assert (v2.version, v2.status, v2.series) == (2, "draft", enc.series)
    assert v2.problems.count() == 1
    assert v2.medications.count() == 1
    with pytest.raises(ValidationError, match="already in progress"):
        encounter_amend(user=chain.owner, encounter=enc, reason="again")
    encounter_save(user=chain.owner, encounter=v2, fields={"minutes": 50})
    encounter_sign(user=chain.owner, encounter=v2)
    enc.refresh_from_db()
    assert enc.minutes == 35
    assert enc.status == "signed"
    claim = ClinicalClaim.objects.get(encounter_series=enc.series)  # still one claim
    assert [(line["code"], line["units"]) for line in claim.lines] == [("99605", 1), ("99607", 3)]
    with pytest.raises(ValidationError, match="latest version"):
        encounter_amend(user=chain.owner, encounter=enc, reason="old one")


def test_a_second_patient_encounter_bills_as_established(worklist_chain: SimpleNamespace) -> None:
    chain = worklist_chain
    first = ready(
        encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF), chain.owner
    )
    encounter_sign(user=chain.owner, encounter=first)
    tmr = encounter_start(user=chain.owner, patient=chain.at_risk, kind="tmr", today=AS_OF)
    assert not tmr.new_patient
    encounter_sign(user=chain.owner, encounter=ready(tmr, chain.owner, minutes=10))
    claim = ClinicalClaim.objects.get(encounter_series=tmr.series)
    assert [(line["code"], line["units"]) for line in claim.lines] == [("99606", 1)]


def test_a_signed_cmr_closes_the_cmr_gap_at_the_next_build(worklist_chain: SimpleNamespace) -> None:
    chain = worklist_chain
    patient = cmr_patient(chain.loc_a)
    build(chain.org)
    gap = WorklistItem.objects.get(patient=patient, code="cmr:2026")
    assert gap.status == "open"
    enc = encounter_start(user=chain.owner, patient=patient, worklist_item=gap, today=AS_OF)
    assert enc.medications.count() == 8
    encounter_sign(user=chain.owner, encounter=ready(enc, chain.owner))
    build(chain.org)
    gap.refresh_from_db()
    assert gap.status != "open"
    # a TMR is not a CMR: it would not have closed the gap
    assert Encounter.objects.filter(patient=patient, kind="cmr", status="signed").count() == 1


def test_a_technician_cannot_document_and_another_store_is_refused(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    with pytest.raises(PermissionDenied):
        encounter_start(user=chain.technician_a, patient=chain.at_risk, today=AS_OF)
    with pytest.raises(PermissionDenied):
        encounter_start(user=chain.pharmacist_b, patient=chain.at_risk, today=AS_OF)


# --- pages ----------------------------------------------------------------------------------


def editor_post(enc: Encounter, **overrides: Any) -> dict[str, Any]:
    data = {
        "held_on": AS_OF.isoformat(),
        "mode": "in_person",
        "recipient": "patient",
        "minutes": "20",
        "new_patient": "on",
        "assessment": "Doing well",
        "plan": "Continue",
        "med-TOTAL_FORMS": "1",
        "med-INITIAL_FORMS": "0",
        "med-0-name": "Atorvastatin calcium 20 mg tablet",
        "med-0-source": "fill",
        "med-0-how_used": "1 tablet at bedtime",
        "problem-TOTAL_FORMS": "1",
        "problem-INITIAL_FORMS": "0",
        "problem-0-reason_code": "SC",
        "problem-0-service_code": "PE",
        "problem-0-result_code": "3K",
        "problem-0-talked_about": "Missed doses on weekends",
        "problem-0-patient_action": "Use a weekly pill box",
    }
    data.update(overrides)
    return data


def test_the_editor_autosaves_signs_and_opens_the_take_away(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    client = login(chain.pharmacist_b)
    resp = client.post(
        reverse("clinical:encounter_new", args=[chain.at_risk_b.pk]), {"kind": "cmr"}
    )
    enc = Encounter.objects.get(patient=chain.at_risk_b)
    assert resp.status_code == 302
    assert resp["Location"] == reverse("clinical:encounter", args=[enc.pk])
    assert client.get(resp["Location"]).status_code == 200

    autosave = reverse("clinical:encounter_autosave", args=[enc.pk])
    bad = client.post(autosave, editor_post(enc, **{"problem-0-reason_code": "ZZ"}))
    assert bad.status_code == 400
    assert "Not saved" in bad.content.decode()
    ok = client.post(autosave, editor_post(enc))
    assert ok.status_code == 200
    assert "Draft saved at" in ok.content.decode()
    enc.refresh_from_db()
    assert enc.minutes == 20
    assert enc.problems.get().talked_about == "Missed doses on weekends"
    assert enc.medications.get().how_used == "1 tablet at bedtime"

    signed = client.post(
        reverse("clinical:encounter", args=[enc.pk]), editor_post(enc, then="sign")
    )
    assert signed.status_code == 302
    enc.refresh_from_db()
    assert enc.status == "signed"
    assert client.post(autosave, editor_post(enc, minutes="90")).status_code == 409
    enc.refresh_from_db()
    assert enc.minutes == 20

    html = client.get(reverse("clinical:encounter_takeaway", args=[enc.pk])).content.decode()
    assert "Medication Action Plan for" in html
    assert "Use a weekly pill box" in html
    assert "Personal Medication List for" in html
    assert "1 tablet at bedtime" in html
    pdf = client.get(reverse("clinical:encounter_takeaway_pdf", args=[enc.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    home = client.get(reverse("clinical:index")).content.decode()
    assert "Bstatin" in home  # recently signed


def test_signing_from_the_editor_with_missing_fields_names_them(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    client = login(chain.owner)
    enc = encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF)
    resp = client.post(
        reverse("clinical:encounter", args=[enc.pk]),
        editor_post(enc, minutes="", assessment="", then="sign"),
    )
    assert resp.status_code == 400
    html = resp.content.decode()
    assert 'data-field="minutes"' in html
    assert 'data-field="assessment"' in html
    enc.refresh_from_db()
    assert enc.status == "draft"


def test_another_stores_encounter_is_a_404_and_a_technician_is_refused(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    enc = ready(encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF), chain.owner)
    encounter_sign(user=chain.owner, encounter=enc)
    client = login(chain.pharmacist_b)  # store B only
    for name in (
        "clinical:encounter",
        "clinical:encounter_takeaway",
        "clinical:encounter_takeaway_pdf",
    ):
        assert client.get(reverse(name, args=[enc.pk])).status_code == 404
    for name in (
        "clinical:encounter_autosave",
        "clinical:encounter_sign",
        "clinical:encounter_amend",
    ):
        assert client.post(reverse(name, args=[enc.pk]), {"reason": "x"}).status_code == 404
    new = reverse("clinical:encounter_new", args=[chain.at_risk.pk])
    assert client.post(new, {"kind": "cmr"}).status_code == 404
    assert login(chain.technician_a).get(reverse("clinical:index")).status_code == 403


def test_the_pharmacist_home_lists_cmrs_due_drafts_and_follow_ups(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    patient = cmr_patient(chain.loc_a)
    build(chain.org)
    client = login(chain.owner)
    html = client.get(reverse("clinical:index")).content.decode()
    assert html.count('data-testid="cmr-due-row"') == 1
    assert "Manymeds" in html
    enc = ready(encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF), chain.owner)
    html = client.get(reverse("clinical:index")).content.decode()
    assert html.count('data-testid="draft-row"') == 1
    encounter_save(
        user=chain.owner,
        encounter=enc,
        fields={"follow_up_on": date.today() + timedelta(days=3), "follow_up_note": "BP check"},
    )
    encounter_sign(user=chain.owner, encounter=enc)
    html = client.get(reverse("clinical:index")).content.decode()
    assert html.count('data-testid="draft-row"') == 0
    assert html.count('data-testid="follow-up-row"') == 1
    assert "BP check" in html
    assert patient.pk


def test_immunizations_and_point_of_care_tests_are_billed_and_add_up_per_service(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    common: dict[str, Any] = {
        "administered_on": AS_OF,
        "mvx": "SKB",
        "expiration": date(2027, 6, 30),
        "dose_ml": "0.5",
        "site": "LD",
        "route": "IM",
        "vis_edition_date": date(2023, 8, 6),
        "vis_given_on": AS_OF,
        "funding_eligibility": "V01",
    }
    flu = immunization_record(
        user=chain.owner, patient=chain.at_risk, cvx="150", lot="F1", **common
    )
    tdap = immunization_record(
        user=chain.owner, patient=chain.at_risk, cvx="115", lot="T1", billed_cents=3300, **common
    )
    assert [line["code"] for line in flu.claim.lines] == ["90471"]  # first vaccine of the visit
    assert flu.claim.billed_cents == 2800
    assert [line["code"] for line in tdap.claim.lines] == ["90472"]
    assert tdap.claim.billed_cents == 3300  # the pharmacist's own charge
    test = poc_test_record(
        user=chain.owner, patient=chain.at_risk, kind="flu", performed_on=AS_OF, result="Negative"
    )
    assert test.claim.lines == [
        {
            "code": "87804-QW",
            "units": 2,
            "cents": 4000,
            "description": test.claim.lines[0]["description"],
        }
    ]
    enc = ready(encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF), chain.owner)
    encounter_sign(user=chain.owner, encounter=enc)

    clinical_claim_update(user=chain.revenue, claim=flu.claim, status="paid", paid_cents=2500)
    with pytest.raises(ValidationError):
        clinical_claim_update(user=chain.revenue, claim=tdap.claim, status="denied")
    html = login(chain.owner).get(reverse("clinical:revenue") + "?from=2026-01-01&to=2026-12-31")
    text = html.content.decode()
    assert 'data-testid="revenue-immunization"' in text
    year = {"since": date(2026, 1, 1), "until": date(2026, 12, 31)}
    rows = {r.service: r for r in clinical_revenue_for_user(chain.owner, **year)}
    assert (rows["immunization"].claims, rows["immunization"].billed_cents) == (2, 6100)
    assert rows["immunization"].paid_cents == 2500
    assert rows["immunization"].open_cents == 3300
    assert rows["poc_test"].billed_cents == 4000
    assert rows["mtm"].billed_cents == 7500 + 2 * 2500
    assert "$226.00" in text  # 61.00 + 40.00 + 125.00 billed in all


def test_two_drafts_open_at_once_bill_the_second_signed_as_established(
    worklist_chain: SimpleNamespace,
) -> None:
    chain = worklist_chain
    cmr = encounter_start(user=chain.owner, patient=chain.at_risk, today=AS_OF)
    tmr = encounter_start(user=chain.owner, patient=chain.at_risk, kind="tmr", today=AS_OF)
    assert cmr.new_patient
    assert tmr.new_patient  # neither was signed when both were opened
    encounter_sign(user=chain.owner, encounter=ready(cmr, chain.owner))
    encounter_sign(user=chain.owner, encounter=ready(tmr, chain.owner, minutes=10))
    tmr.refresh_from_db()
    assert not tmr.new_patient
    claim = ClinicalClaim.objects.get(encounter_series=tmr.series)
    assert [line["code"] for line in claim.lines] == ["99606"]


def test_a_role_counts_only_where_it_is_held(worklist_chain: SimpleNamespace, login: Any) -> None:
    """Revenue staff of a buying group (reaching every member pharmacy's stores) who are also
    the pharmacist of one member's store B read and document clinical records at store B
    only; store A's stay 404 for them."""
    from rxrevops.models import Membership, Organization, Role

    chain = worklist_chain
    owner = chain.owner
    enc_a = ready(encounter_start(user=owner, patient=chain.at_risk, today=AS_OF), owner)
    encounter_sign(user=owner, encounter=enc_a)
    group = Organization.objects.create(name="Buying group", slug="group")
    Organization.objects.filter(pk=chain.org.pk).update(network=group)
    user = chain.pharmacist_b
    Membership.objects.create(user=user, organization=group, role=Role.REVENUE)
    client = login(user)
    for name in ("clinical:encounter", "clinical:encounter_takeaway_pdf"):
        assert client.get(reverse(name, args=[enc_a.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        encounter_start(user=user, patient=chain.at_risk, today=AS_OF)
    # at store B, where the pharmacist role is held, all works
    enc_b = encounter_start(user=user, patient=chain.at_risk_b, today=AS_OF)
    assert client.get(reverse("clinical:encounter", args=[enc_b.pk])).status_code == 200
    assert list(Encounter.objects.for_user(user)) == [enc_b]


def test_a_clinical_claim_is_billed_to_the_plan_of_the_latest_paid_fill_or_self_pay(
    worklist_chain: SimpleNamespace,
) -> None:
    patient = worklist_chain.at_risk
    latest = (
        Fill.objects.filter(patient=patient, status=Fill.Status.PAID, plan__isnull=False)
        .order_by("-date_of_service", "-pk")
        .first()
    )
    assert latest is not None
    assert latest.plan is not None
    assert _payer(patient.pk) == f"BIN {latest.plan.bin} PCN {latest.plan.pcn}"
    Plan.objects.filter(pk=latest.plan.pk).update(name="Prairie Part D")
    assert _payer(patient.pk) == "Prairie Part D"
    Fill.objects.filter(patient=patient).update(status=Fill.Status.REVERSED)
    assert _payer(patient.pk) == "Self-pay"
