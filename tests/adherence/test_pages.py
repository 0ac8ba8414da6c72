"""The adherence pages with the Django test client, on the worklist chain built as of
Nov 23, 2026: what a store-A technician sees and can do, and what stays out of reach."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from adherence.models import GapReason, Outreach, SyncEnrollment, WorklistItem
from claims.models import Prescription
from rxrevops.models import Job

DAY = "date=2026-11-23"


def text(response: Any) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    body = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def section(response: Any, testid: str) -> str:
    html = response.content.decode()
    match = re.search(rf'<table[^>]*data-testid="{testid}".*?</table>', html, re.S)
    assert match, f"no table {testid}"
    return match.group(0)


def row_patients(html: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}" data-patient="([^"]+)"', html)


def item(patient: Any, kind: str) -> WorklistItem:
    return WorklistItem.objects.get(patient=patient, kind=kind, status="open")


# -- the technician's home -------------------------------------------------------------------


def test_home_lists_todays_calls_refills_and_care_gaps_of_the_technicians_store(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    response = login(worklist_chain.technician_a).get(f"/adherence/?{DAY}")
    assert response.status_code == 200
    calls = section(response, "calls")
    # the three synced patients, by call due date (sync Nov 28, 29, 30)
    assert row_patients(calls, "call-row") == ["Syncwell5", "Syncwell6", "Syncwell7"]
    assert "555-0100" in calls
    page = text(response)
    # what is due on the Nov 28 pickup, with the short-fill count
    assert "Amlodipine besylate 5 mg tablet : Short fill 23 days, qty 23 on Nov 28" in page
    refills = section(response, "refills")
    # most valuable first: the value-based statin patient, $61.50 with its why
    assert row_patients(refills, "refill-row")[0] == "Statinskip"
    assert set(row_patients(refills, "refill-row")) == {"Statinskip", "Latefill", "Nostatin"}
    assert "$61.50" in refills
    assert "value-based plan" in refills
    gaps = section(response, "care-gaps")
    # the ten most valuable of the store's 25 gaps: pneumococcal ($50) and Shingrix ($45);
    # the $30 SUPD gap is on the full list
    assert "Pneumococcal vaccine" in gaps
    assert "Showing the top 10 of 25" in page
    assert "Statin for a patient with diabetes (SUPD)" not in gaps
    built = Job.objects.get(kind="worklists").finished_at
    assert (
        f"Lists last built {timezone.localtime(built):%b} {timezone.localtime(built).day}, " in page
    )
    for other_store in ("Syncbee", "Bstatin", "Maple B"):
        assert other_store not in page
    assert "Rebuild now" not in page  # technicians do not rebuild the lists


def test_a_call_still_open_after_its_due_day_is_marked_late(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    response = login(worklist_chain.technician_a).get("/adherence/?date=2026-11-24")
    rows = re.findall(r'data-patient="(\w+)">(.*?)</tr>', section(response, "calls"), re.S)
    late = {patient: 'data-testid="late"' in row for patient, row in rows}
    # the Nov 28 call was due by Nov 23; the Nov 29 call is due today
    assert late == {"Syncwell5": True, "Syncwell6": False, "Syncwell7": False}


def test_home_says_honestly_when_nothing_was_built_yet(chain: SimpleNamespace, login: Any) -> None:
    page = text(login(chain.technician_a).get("/adherence/"))
    assert "No worklists have been built yet" in page
    assert "Nothing to call yet" in page


def test_a_store_b_location_parameter_shows_nothing_of_store_b(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    b = worklist_chain.loc_b.pk
    for path in ("/adherence/", "/adherence/worklist/refill/", "/adherence/worklist/med_sync/"):
        response = client.get(f"{path}?{DAY}&location={b}")
        assert response.status_code == 200
        page = text(response)
        assert "Syncbee" not in page
        assert "Bstatin" not in page
        assert "Maple B" not in page
        assert "Ignored location" in page
    assert client.get(f"/adherence/locations/{b}/").status_code == 404


def test_the_owner_picks_a_store_and_sees_only_its_rows(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.owner)
    both = client.get(f"/adherence/?{DAY}")
    assert 'name="location"' in both.content.decode()  # several stores: a store picker
    assert {"Syncwell5", "Syncbee"} <= set(row_patients(section(both, "calls"), "call-row"))
    only_b = client.get(f"/adherence/?{DAY}&location={worklist_chain.loc_b.pk}")
    assert row_patients(section(only_b, "calls"), "call-row") == ["Syncbee"]
    assert row_patients(section(only_b, "refills"), "refill-row") == ["Bstatin"]


def test_a_revenue_user_is_not_allowed_on_the_call_lists(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.revenue)
    assert client.get("/adherence/").status_code == 403
    call = item(worklist_chain.synced_a[0], "med_sync")
    response = client.post(
        f"/adherence/items/{call.pk}/outreach/", {"outcome": "reached_no_changes"}
    )
    assert response.status_code == 403
    assert not Outreach.objects.exists()


# -- logging calls ---------------------------------------------------------------------------


def test_logging_reached_closes_the_item_and_htmx_gets_the_row_back(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    call = item(worklist_chain.synced_a[0], "med_sync")
    response = login(worklist_chain.technician_a).post(
        f"/adherence/items/{call.pk}/outreach/",
        {
            "outcome": "reached_no_changes",
            "note": "all good",
            "layout": "call",
            "date": "2026-11-23",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    row = response.content.decode()
    assert row.lstrip().startswith(f'<tr id="item-{call.pk}"')
    assert "Reached: no changes" in row
    assert "Done" in row
    assert "1 attempt" in row
    call.refresh_from_db()
    assert (call.status, call.last_outcome, call.attempts) == ("done", "reached_no_changes", 1)
    (entry,) = Outreach.objects.filter(item=call)
    assert (entry.outcome, entry.note, entry.by) == (
        "reached_no_changes",
        "all good",
        worklist_chain.technician_a,
    )


def test_not_reached_leaves_the_item_open_with_one_attempt_and_a_plain_post_goes_back(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    refill = item(worklist_chain.at_risk, "refill")
    response = login(worklist_chain.technician_a).post(
        f"/adherence/items/{refill.pk}/outreach/",
        {"outcome": "not_reached", "next": f"/adherence/?{DAY}"},
    )
    assert (response.status_code, response["Location"]) == (302, f"/adherence/?{DAY}")
    refill.refresh_from_db()
    assert (refill.status, refill.last_outcome, refill.attempts) == ("open", "not_reached", 1)
    assert list(Outreach.objects.values_list("item_id", "outcome")) == [(refill.pk, "not_reached")]


def test_an_unknown_outcome_logs_nothing(worklist_chain: SimpleNamespace, login: Any) -> None:
    refill = item(worklist_chain.at_risk, "refill")
    response = login(worklist_chain.technician_a).post(
        f"/adherence/items/{refill.pk}/outreach/", {"outcome": "maybe"}, HTTP_HX_REQUEST="true"
    )
    assert "Pick one of the five outcomes." in response.content.decode()
    assert not Outreach.objects.exists()


def test_another_stores_item_answers_404_and_logs_nothing(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    b_call = item(worklist_chain.synced_b, "med_sync")
    response = login(worklist_chain.technician_a).post(
        f"/adherence/items/{b_call.pk}/outreach/", {"outcome": "reached_no_changes"}
    )
    assert response.status_code == 404
    b_call.refresh_from_db()
    assert (b_call.status, b_call.attempts) == ("open", 0)
    assert not Outreach.objects.exists()


def test_a_confirmed_med_sync_call_goes_on_the_refill_queue_with_its_lines(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    assert "No confirmed med-sync fills" in text(client.get(f"/adherence/refill-queue/?{DAY}"))
    call = item(worklist_chain.synced_a[2], "med_sync")
    client.post(f"/adherence/items/{call.pk}/outreach/", {"outcome": "ready_to_fill"})
    queue = client.get(f"/adherence/refill-queue/?{DAY}")
    table = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section(queue, "refill-queue")))
    assert "Syncwell7" in table
    assert "Ready to fill" in table
    assert "Short fill 25 days, qty 25 on Nov 30" in table
    assert "Bridge 2 days, qty 2 on Nov 28" in table
    home = text(client.get(f"/adherence/?{DAY}"))
    assert "Refill queue: 1 confirmed med-sync fill" in home


# -- full lists ------------------------------------------------------------------------------


def test_full_lists_are_paginated_by_value_and_unknown_lists_are_404(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    refills = client.get(f"/adherence/worklist/refill/?{DAY}")
    # $61.50 first; then the two $24.00 refills, the earlier due first
    assert row_patients(section(refills, "worklist"), "refill-row") == [
        "Statinskip",
        "Latefill",
        "Nostatin",
    ]
    gaps = client.get(f"/adherence/worklist/care_gap/?{DAY}")
    values = [
        int(v.replace(",", "").replace(".", ""))
        for v in re.findall(r'<td class="num">\$([\d,.]+)', section(gaps, "worklist"))
    ]
    assert len(values) == 25
    assert values == sorted(values, reverse=True)
    assert client.get("/adherence/worklist/everything/").status_code == 404


# -- the patient card ------------------------------------------------------------------------


def test_the_patient_card_shows_pdc_the_timeline_and_the_items(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    response = login(worklist_chain.technician_a).get(
        f"/adherence/patients/{worklist_chain.at_risk.pk}/?{DAY}"
    )
    assert response.status_code == 200
    pdc = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section(response, "pdc-table")))
    # 270 of 323 days covered; can miss 19 more, refill by Dec 13 (as the build computed)
    assert "PDC-STA 83.6% 270 of 323 days" in pdc
    assert "19" in pdc
    assert "Oct 2, 2026" in pdc
    assert "Dec 13, 2026" in pdc
    html = response.content.decode()
    assert "pharmacy-data estimate" in html
    assert 'data-plotly="fill-timeline-data"' in html
    assert '"base": ["2026-10-02"]' in html  # the gap since the supply ran out
    page = text(response)
    assert "270 of 323 days covered" in page
    assert "53 days without supply in 1 gap" in page
    assert "Atorvastatin calcium 20 mg tablet: out since Oct 2 (52 days); refill by Dec 13" in page
    assert "/static/vendor/plotly/plotly.min.js" in html  # the app's own copy, no CDN


def test_the_card_lists_the_calls_made_on_each_item(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    refill = item(worklist_chain.late, "refill")
    client.post(f"/adherence/items/{refill.pk}/outreach/", {"outcome": "not_reached"})
    client.post(
        f"/adherence/items/{refill.pk}/outreach/", {"outcome": "declined", "note": "moving"}
    )
    page = text(client.get(f"/adherence/patients/{worklist_chain.late.pk}/?{DAY}"))
    assert "Not reached" in page
    assert "Declined" in page
    assert "“moving”" in page
    assert "2 attempts" in page


def test_another_stores_patient_card_and_forms_answer_404(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    b = worklist_chain.at_risk_b.pk
    assert client.get(f"/adherence/patients/{b}/").status_code == 404
    assert client.get(f"/adherence/patients/{b}/sync/preview/").status_code == 404
    gap = {"reason": "hospital", "measure": "", "starts_on": "2026-11-20"}
    assert client.post(f"/adherence/patients/{b}/gap-reasons/", gap).status_code == 404
    stop = client.post(f"/adherence/patients/{worklist_chain.synced_b.pk}/sync/stop/")
    assert stop.status_code == 404
    assert not GapReason.objects.exists()
    assert SyncEnrollment.objects.get(patient=worklist_chain.synced_b).active


def test_a_gap_reason_resolves_the_patients_open_refill(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    refill = item(worklist_chain.late, "refill")
    response = login(worklist_chain.technician_a).post(
        f"/adherence/patients/{worklist_chain.late.pk}/gap-reasons/?{DAY}",
        {"reason": "hospital", "measure": "PDC-RASA", "starts_on": "2026-11-09", "note": "ER"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/adherence/patients/{worklist_chain.late.pk}/?{DAY}"
    refill.refresh_from_db()
    assert refill.status == WorklistItem.Status.RESOLVED
    (reason,) = GapReason.objects.filter(patient=worklist_chain.late)
    assert (reason.reason, reason.measure, reason.starts_on, reason.ends_on) == (
        "hospital",
        "PDC-RASA",
        date(2026, 11, 9),
        None,
    )


def test_a_gap_reason_ending_before_it_starts_is_refused(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    response = login(worklist_chain.technician_a).post(
        f"/adherence/patients/{worklist_chain.late.pk}/gap-reasons/?{DAY}",
        {"reason": "samples", "starts_on": "2026-11-09", "ends_on": "2026-11-01"},
    )
    assert response.status_code == 400
    assert "The end date is before the start date." in text(response)
    assert not GapReason.objects.exists()
    assert item(worklist_chain.late, "refill").status == "open"


def test_the_enrol_form_proposes_the_maintenance_meds_and_previews_the_alignment(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    (rx,) = Prescription.objects.filter(patient=worklist_chain.late)
    card = client.get(f"/adherence/patients/{worklist_chain.late.pk}/?{DAY}")
    html = card.content.decode()
    assert re.search(rf'name="prescriptions" value="{rx.pk}"[^>]*checked', html)
    # the anchor ran out Nov 9, so the proposed first sync date is today
    assert 'name="first_sync_date" value="2026-11-23"' in html
    preview = client.get(
        f"/adherence/patients/{worklist_chain.late.pk}/sync/preview/",
        {
            "prescriptions": rx.pk,
            "cycle_days": 28,
            "first_sync_date": "2026-12-01",
            "date": "2026-11-23",
        },  # (a GET's data replaces the path's query)
    )
    table = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section(preview, "sync-preview")))
    # it ran out Nov 9: bridged from today (Nov 23) to the Dec 1 sync date, 8 days
    assert "Ran out Nov 9, 14 days before Nov 23: bridge 8 days (qty 8) on Nov 23" in table


def test_enrolling_a_patient_creates_the_plan_and_stopping_ends_it(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    patient = worklist_chain.late
    (rx,) = Prescription.objects.filter(patient=patient)
    response = client.post(
        f"/adherence/patients/{patient.pk}/sync/?{DAY}",
        {
            "prescriptions": [rx.pk],
            "cycle_days": "30",
            "first_sync_date": "2026-12-01",
            "anchor": str(rx.pk),
        },
    )
    assert response.status_code == 302
    enrollment = SyncEnrollment.objects.get(patient=patient)
    assert (enrollment.first_sync_date, enrollment.cycle_days, enrollment.active) == (
        date(2026, 12, 1),
        30,
        True,
    )
    assert (enrollment.anchor, list(enrollment.prescriptions.all())) == (rx, [rx])
    assert enrollment.enrolled_by == worklist_chain.technician_a
    card = text(client.get(f"/adherence/patients/{patient.pk}/?{DAY}"))
    assert "Every 30 days from Dec 1, 2026" in card
    assert "Stop med sync" in card
    client.post(f"/adherence/patients/{patient.pk}/sync/stop/?{DAY}")
    enrollment.refresh_from_db()
    assert enrollment.active is False


def test_an_enrolment_without_prescriptions_is_refused(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    response = login(worklist_chain.technician_a).post(
        f"/adherence/patients/{worklist_chain.late.pk}/sync/?{DAY}", {"cycle_days": "30"}
    )
    assert response.status_code == 400
    assert not SyncEnrollment.objects.filter(patient=worklist_chain.late).exists()


def test_the_patient_record_links_to_the_adherence_card_for_the_roles_that_work_it(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    path = f"/patients/{worklist_chain.late.pk}/"
    card = f"/adherence/patients/{worklist_chain.late.pk}/"
    assert card in login(worklist_chain.technician_a).get(path).content.decode()
    assert card not in login(worklist_chain.revenue).get(path).content.decode()


# -- the location panel and the rebuild --------------------------------------------------------


def test_the_location_panel_shows_latest_rates_trend_and_open_counts(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    client = login(worklist_chain.technician_a)
    home = client.get(f"/adherence/?{DAY}").content.decode()
    panel_url = f"/adherence/locations/{worklist_chain.loc_a.pk}/"
    assert panel_url in home
    response = client.get(f"{panel_url}?{DAY}")
    assert response.status_code == 200
    rates = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section(response, "rates")))
    assert "PDC-RASA 4 4 100.0% Nov 23, 2026" in rates
    assert "SUPD 0 1 0.0% Nov 23, 2026" in rates
    html = response.content.decode()
    assert 'data-plotly="rate-trend-data"' in html
    assert '"name": "PDC-STA"' in html
    counts = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split('data-testid="open-counts"')[1])
    )
    assert "Med-sync call 3 Late or at-risk refill 3 Care gap 25" in counts


def test_an_owner_rebuilds_the_lists_and_lands_on_the_job(
    worklist_chain: SimpleNamespace, login: Any
) -> None:
    owner = login(worklist_chain.owner)
    assert "Rebuild now" in text(owner.get("/adherence/"))
    response = owner.post("/adherence/rebuild/")
    job = Job.objects.get(kind="worklists", status=Job.Status.QUEUED)
    assert job.organization == worklist_chain.org
    assert (response.status_code, response["Location"]) == (302, f"/jobs/{job.pk}/")
    technician = login(worklist_chain.technician_a).post("/adherence/rebuild/")
    assert technician.status_code == 403
    # the fixture's own build, and the one the owner queued
    assert Job.objects.filter(kind="worklists").count() == 2


@pytest.mark.parametrize("who", ["owner", "pharmacist_b"])
def test_owners_and_pharmacists_work_the_lists_too(
    worklist_chain: SimpleNamespace, login: Any, who: str
) -> None:
    response = login(getattr(worklist_chain, who)).get(f"/adherence/?{DAY}")
    assert response.status_code == 200
    assert "Syncbee" in text(response)
