"""Recording an immunization through the page, and the links to it on the adherence card."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from django.urls import reverse
from django.utils import timezone

from adherence.models import WorklistItem
from adherence.services.build import JOB_KIND
from clinical.models import Immunization
from rxrevops.models import Job

FLU = "imm:flu:2026-27"


def new_url(patient: Any, gap: WorklistItem | None = None) -> str:
    url = reverse("clinical:immunization_new", args=[patient.pk])
    return f"{url}?gap={gap.pk}" if gap else url


def flu_post(**overrides: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data = {
        "administered_on": today.isoformat(),
        "cvx": "150",
        "mvx": "SKB",
        "lot": "FL2026B",
        "expiration": "2027-06-30",
        "dose_ml": "0.5",
        "site": "LD",
        "route": "C28161",
        "vis_edition_date": "2023-08-06",
        "vis_given_on": today.isoformat(),
        "funding_eligibility": "V01",
        "administering_npi": "1598000011",
        "billed_amount": "19.99",
    }
    data.update(overrides)
    return data


def test_a_pharmacist_records_a_flu_dose_for_a_patient_of_her_store(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    patient = chain.at_risk_b
    gap = WorklistItem.objects.get(patient=patient, code=FLU)
    client = login(chain.pharmacist_b)

    response = client.post(new_url(patient, gap), flu_post())

    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("adherence:patient_card", args=[patient.pk])
    imm = Immunization.objects.get(patient=patient)
    assert (imm.cvx, imm.mvx, imm.lot, imm.site, imm.route) == (
        "150",
        "SKB",
        "FL2026B",
        "LD",
        "C28161",
    )
    assert imm.billed_cents == 1999  # $19.99 exactly, not 1998 from a float
    assert str(imm.dose_ml) == "0.50"
    assert imm.funding_eligibility == "V01"
    assert imm.administered_on == timezone.localdate()
    assert imm.location_id == chain.loc_b.pk
    assert imm.recorded_by == chain.pharmacist_b
    # a rebuild is queued so the gap closes soon
    assert Job.objects.filter(organization=chain.org, kind=JOB_KIND, status="queued").exists()
    card = client.get(response["Location"])
    assert "Immunization recorded; the care gap closes at the next worklist build" in (
        card.content.decode()
    )


def test_the_form_from_a_zoster_gap_offers_shingrix_and_its_one_maker(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    gap = WorklistItem.objects.filter(
        patient__location=chain.loc_b, code__startswith="imm:zoster"
    ).first()
    assert gap is not None
    form = login(chain.pharmacist_b).get(new_url(gap.patient, gap)).context["form"]
    assert form["cvx"].value() == "187"
    assert [code for code, _ in form.fields["mvx"].choices] == ["", "SKB"]
    assert form["dose_ml"].value() == form.initial["dose_ml"]
    assert str(form.initial["dose_ml"]) == "0.5"
    assert form["funding_eligibility"].value() == "V01"


def test_a_technician_may_not_record_an_immunization(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    client = login(chain.technician_a)
    assert client.get(new_url(chain.late)).status_code == 403
    assert client.post(new_url(chain.late), flu_post()).status_code == 403
    assert not Immunization.objects.exists()


def test_another_stores_patient_is_not_found(worklist_chain: SimpleNamespace, login: Any) -> None:
    chain = worklist_chain
    client = login(chain.pharmacist_b)
    assert client.get(new_url(chain.late)).status_code == 404
    assert client.post(new_url(chain.late), flu_post()).status_code == 404
    assert not Immunization.objects.exists()


def test_an_expired_lot_is_refused_next_to_the_expiration_field_and_nothing_is_written(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    client = login(chain.pharmacist_b)
    response = client.post(new_url(chain.at_risk_b), flu_post(expiration="2025-01-31"))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-expiration"' in html
    assert "The lot expired on 2025-01-31" in html
    assert response.context["form"].errors["expiration"]
    assert not Immunization.objects.exists()
    assert not Job.objects.filter(kind=JOB_KIND, status="queued").exists()


def test_the_card_links_an_immunization_gap_to_the_form_for_the_owner_not_the_technician(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    gap = WorklistItem.objects.get(patient=chain.late, code=FLU)
    card = reverse("adherence:patient_card", args=[chain.late.pk])
    link = f'href="{new_url(chain.late, gap)}"'

    owner_html = login(chain.owner).get(card).content.decode()
    assert link in owner_html
    assert ">Record immunization</a>" in owner_html
    assert ">Record an immunization</a>" in owner_html

    technician_html = login(chain.technician_a).get(card).content.decode()
    assert "Record immunization" not in technician_html
    assert "Record an immunization" not in technician_html


def test_the_clinical_page_lists_the_stores_latest_doses(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    chain = worklist_chain
    client = login(chain.pharmacist_b)
    assert (
        "No immunizations recorded at your stores yet."
        in client.get(reverse("clinical:index")).content.decode()
    )

    assert client.post(new_url(chain.at_risk_b), flu_post(lot="BLOT1")).status_code == 302
    earlier = date(2026, 11, 2).isoformat()
    by_owner = flu_post(lot="ALOT1", administered_on=earlier, vis_given_on=earlier)
    assert login(chain.owner).post(new_url(chain.late), by_owner).status_code == 302
    assert Immunization.objects.count() == 2

    html = client.get(reverse("clinical:index")).content.decode()
    assert html.count('data-testid="immunization-row"') == 1
    assert "BLOT1" in html
    assert "1598000011" in html
    assert "ALOT1" not in html
