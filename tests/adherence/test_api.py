"""The adherence and worklist API on the worklist chain built as of Mon Nov 23, 2026: what each
list holds, store isolation, scopes and roles, and logging a call."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adherence.models import Outreach, WorklistItem
from rxrevops.models import AuditEvent
from rxrevops.services.tokens import api_token_create
from tests.support.problems import errors_by_field

ON = "date=2026-11-23"
READ_URLS = [
    "/api/v1/adherence/pdc/?year=2026",
    "/api/v1/adherence/rates/?year=2026",
    f"/api/v1/worklists/med-sync/?{ON}",
    "/api/v1/worklists/care-gaps/",
    "/api/v1/worklists/refills/",
]


def _token(chain: SimpleNamespace, *scopes: str, **kwargs: Any) -> str:
    return api_token_create(organization=chain.org, name="PMS", scopes=list(scopes), **kwargs).key


def _sync_item(patient: Any) -> WorklistItem:
    return WorklistItem.objects.get(patient=patient, kind=WorklistItem.Kind.MED_SYNC)


def test_call_list_of_store_a_has_the_three_syncwell_patients_with_their_sync_dates(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.technician_a)
    response = client.get(f"/api/v1/worklists/med-sync/?{ON}")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [(r["patient"]["last_name"], r["sync_date"]) for r in rows] == [
        ("Syncwell5", "2026-11-28"),
        ("Syncwell6", "2026-11-29"),
        ("Syncwell7", "2026-11-30"),
    ]
    first = rows[0]
    assert first["patient"]["phone"] == "555-0100"
    assert first["location"] == worklist_chain.loc_a.ncpdp_id
    assert (first["kind"], first["status"], first["last_outcome"]) == ("med_sync", "open", "")
    assert first["cycle_days"] == 30
    assert isinstance(first["value_cents"], int)
    assert first["value_reason"]
    names = {line["name"] for line in first["lines"]}
    assert any("Lisinopril" in n for n in names)
    assert any("Amlodipine" in n for n in names)
    assert all(line["fill_on"] and line["note"] for line in first["lines"])


def test_owner_sees_every_stores_calls_and_can_narrow_to_one_store(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.owner)
    everyone = client.get(f"/api/v1/worklists/med-sync/?{ON}").json()["results"]
    assert sorted(r["patient"]["last_name"] for r in everyone) == [
        "Syncbee",
        "Syncwell5",
        "Syncwell6",
        "Syncwell7",
    ]
    store_b = client.get(
        f"/api/v1/worklists/med-sync/?{ON}&location={worklist_chain.loc_b.ncpdp_id}"
    ).json()["results"]
    assert [(r["patient"]["last_name"], r["sync_date"]) for r in store_b] == [
        ("Syncbee", "2026-11-29")
    ]


def test_call_list_a_week_later_no_longer_holds_this_weeks_pickups(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.technician_a)
    assert client.get("/api/v1/worklists/med-sync/?date=2026-12-01").json()["results"] == []


def test_another_stores_item_is_not_found_for_reading_or_logging_a_call(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    theirs = _sync_item(worklist_chain.synced_b)
    mine = _sync_item(worklist_chain.synced_a[0])
    client = api_login(worklist_chain.technician_a)
    assert client.get(f"/api/v1/worklists/items/{mine.pk}/").status_code == 200
    assert client.get(f"/api/v1/worklists/items/{theirs.pk}/").status_code == 404
    missing = max(WorklistItem.objects.values_list("pk", flat=True)) + 1000
    assert client.get(f"/api/v1/worklists/items/{missing}/").status_code == 404
    posted = client.post(
        f"/api/v1/worklists/items/{theirs.pk}/outreach/",
        {"outcome": "reached_no_changes"},
        format="json",
    )
    assert posted.status_code == 404
    assert posted.json() == client.get(f"/api/v1/worklists/items/{missing}/").json()
    theirs.refresh_from_db()
    assert (theirs.status, theirs.attempts) == ("open", 0)
    assert not Outreach.objects.filter(item=theirs).exists()


def test_a_store_token_gets_404_for_another_stores_item(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    key = _token(
        worklist_chain, "worklists:read", "worklists:write", locations=[worklist_chain.loc_a]
    )
    theirs = _sync_item(worklist_chain.synced_b)
    client = api_login(token=key)
    assert client.get(f"/api/v1/worklists/items/{theirs.pk}/").status_code == 404
    posted = client.post(
        f"/api/v1/worklists/items/{theirs.pk}/outreach/", {"outcome": "declined"}, format="json"
    )
    assert posted.status_code == 404
    assert not Outreach.objects.exists()


def test_naming_another_store_gives_an_empty_list_like_the_patient_list(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.technician_a)
    b = worklist_chain.loc_b.ncpdp_id
    # the house convention (/api/v1/patients/?location=): a store you do not reach lists nothing
    assert client.get(f"/api/v1/patients/?location={b}").json()["results"] == []
    for url in READ_URLS:
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}location={b}")
        assert response.status_code == 200, url
        assert response.json()["results"] == [], url
    # and the unfiltered lists hold only store A's rows
    for url in READ_URLS:
        rows = client.get(url).json()["results"]
        assert rows, url
        assert {r["location"] for r in rows} == {worklist_chain.loc_a.ncpdp_id}, url


def test_token_without_worklists_read_is_forbidden(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(token=_token(worklist_chain, "claims:read", "jobs:read"))
    item = _sync_item(worklist_chain.synced_a[0])
    for url in [*READ_URLS, f"/api/v1/worklists/items/{item.pk}/"]:
        assert client.get(url).status_code == 403, url
    assert client.get("/api/v1/patients/").status_code == 200


def test_token_with_read_but_not_write_cannot_log_a_call(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(token=_token(worklist_chain, "worklists:read"))
    item = _sync_item(worklist_chain.synced_a[0])
    for url in READ_URLS:
        assert client.get(url).status_code == 200, url
    assert client.get(f"/api/v1/worklists/items/{item.pk}/").status_code == 200
    posted = client.post(
        f"/api/v1/worklists/items/{item.pk}/outreach/",
        {"outcome": "reached_no_changes"},
        format="json",
    )
    assert posted.status_code == 403
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("open", 0)
    assert not Outreach.objects.exists()


def test_metrics_read_token_reads_pdc_and_rates_but_not_worklists(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(token=_token(worklist_chain, "metrics:read"))
    assert client.get("/api/v1/adherence/pdc/?year=2026").status_code == 200
    assert client.get("/api/v1/adherence/rates/?year=2026").status_code == 200
    assert client.get(f"/api/v1/worklists/med-sync/?{ON}").status_code == 403
    assert client.get("/api/v1/worklists/refills/").status_code == 403


def test_revenue_users_do_not_work_the_lists(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.revenue)
    item = _sync_item(worklist_chain.synced_a[0])
    for url in [*READ_URLS, f"/api/v1/worklists/items/{item.pk}/"]:
        assert client.get(url).status_code == 403, url
    posted = client.post(
        f"/api/v1/worklists/items/{item.pk}/outreach/", {"outcome": "declined"}, format="json"
    )
    assert posted.status_code == 403
    assert not Outreach.objects.exists()


def test_logging_a_reached_call_closes_the_item_and_records_it_as_an_api_call(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    item = _sync_item(worklist_chain.synced_a[0])
    client = api_login(worklist_chain.technician_a)
    response = client.post(
        f"/api/v1/worklists/items/{item.pk}/outreach/",
        {"outcome": "ready_to_fill", "note": "Picks up Saturday"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["id"], body["status"], body["last_outcome"], body["attempts"]) == (
        item.pk,
        "done",
        "ready_to_fill",
        1,
    )
    assert body["last_outreach_at"]
    assert [(o["outcome"], o["note"], o["via_api"]) for o in body["outreach"]] == [
        ("ready_to_fill", "Picks up Saturday", True)
    ]
    assert body["outreach"][0]["by"] == worklist_chain.technician_a.username
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_outcome) == ("done", 1, "ready_to_fill")
    entry = Outreach.objects.get(item=item)
    assert (entry.via_api, entry.by, entry.location_id) == (
        True,
        worklist_chain.technician_a,
        worklist_chain.loc_a.pk,
    )
    # worked today, so it stays on today's call list, now done
    rows = client.get(f"/api/v1/worklists/med-sync/?{ON}").json()["results"]
    assert [(r["id"], r["status"]) for r in rows if r["id"] == item.pk] == [(item.pk, "done")]


def test_a_call_not_reached_leaves_the_item_open_and_counts_the_attempt(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    item = _sync_item(worklist_chain.synced_a[1])
    client = api_login(worklist_chain.owner)
    url = f"/api/v1/worklists/items/{item.pk}/outreach/"
    assert client.post(url, {"outcome": "not_reached"}, format="json").status_code == 201
    body = client.post(url, {"outcome": "not_reached"}, format="json").json()
    assert (body["status"], body["attempts"], body["last_outcome"]) == ("open", 2, "not_reached")
    assert len(body["outreach"]) == 2
    detail = client.get(f"/api/v1/worklists/items/{item.pk}/").json()
    assert detail == body


def test_an_unknown_outcome_is_refused_naming_the_field(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    item = _sync_item(worklist_chain.synced_a[0])
    client = api_login(worklist_chain.technician_a)
    url = f"/api/v1/worklists/items/{item.pk}/outreach/"
    response = client.post(url, {"outcome": "left_voicemail"}, format="json")
    assert response.status_code == 400
    assert list(errors_by_field(response)) == ["outcome"]
    assert "left_voicemail" in errors_by_field(response)["outcome"][0]
    missing = client.post(url, {"note": "no outcome"}, format="json")
    assert (missing.status_code, list(errors_by_field(missing))) == (400, ["outcome"])
    too_long = client.post(url, {"outcome": "declined", "note": "x" * 501}, format="json")
    assert (too_long.status_code, list(errors_by_field(too_long))) == (400, ["note"])
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("open", 0)
    assert not Outreach.objects.exists()


def test_token_with_worklists_write_logs_a_call(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    item = _sync_item(worklist_chain.synced_a[2])
    client = api_login(token=_token(worklist_chain, "worklists:read", "worklists:write"))
    response = client.post(
        f"/api/v1/worklists/items/{item.pk}/outreach/",
        {"outcome": "reached_no_changes"},
        format="json",
    )
    assert response.status_code == 201, response.content
    entry = Outreach.objects.get(item=item)
    assert (entry.via_api, entry.by) == (True, None)


def test_pdc_gives_statinskips_statin_row_with_its_covered_days(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.technician_a)
    response = client.get(
        f"/api/v1/adherence/pdc/?year=2026&measure=PDC-STA&patient={worklist_chain.at_risk.pk}"
    )
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    # nine 30-day fills from Jan 5 cover Jan 5 - Oct 1 (270 days) of Jan 5 - Nov 23 (323 days)
    assert (row["patient"], row["measure"], row["year"], row["status"]) == (
        worklist_chain.at_risk.pk,
        "PDC-STA",
        2026,
        "measured",
    )
    assert (row["covered_days"], row["days_in_period"], row["pdc"]) == (270, 323, "0.8359")
    assert (row["index_date"], row["period_end"]) == ("2026-01-05", "2026-11-23")
    assert row["pms_patient_id"] == worklist_chain.at_risk.pms_patient_id
    assert row["location"] == row["attributed_location"] == worklist_chain.loc_a.ncpdp_id
    assert row["next_fill_due"] == "2026-10-02"
    assert row["outlook"]


def test_pdc_filters_by_measure_and_store_and_defaults_to_nothing_for_other_years(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.owner)
    rows = client.get("/api/v1/adherence/pdc/?year=2026&measure=PDC-STA").json()["results"]
    assert {r["patient"] for r in rows} == {worklist_chain.at_risk.pk, worklist_chain.at_risk_b.pk}
    store_b = client.get(
        f"/api/v1/adherence/pdc/?year=2026&measure=PDC-STA&location={worklist_chain.loc_b.ncpdp_id}"
    ).json()["results"]
    assert [r["patient"] for r in store_b] == [worklist_chain.at_risk_b.pk]
    assert client.get("/api/v1/adherence/pdc/?year=2025").json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("year=twenty", "year"),
        ("year=1999", "year"),
        ("year=2026&measure=PDC-XYZ", "measure"),
        ("location=12", "location"),
        ("patient=abc", "patient"),
    ],
)
def test_bad_pdc_parameters_are_refused_naming_the_parameter(
    worklist_chain: SimpleNamespace, api_login: Any, query: str, field: str
) -> None:
    response = api_login(worklist_chain.owner).get(f"/api/v1/adherence/pdc/?{query}")
    assert response.status_code == 400
    assert list(errors_by_field(response)) == [field]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/adherence/rates/?year=abc",
        "/api/v1/worklists/med-sync/?date=23/11/2026",
        "/api/v1/worklists/refills/?status=closed",
        "/api/v1/worklists/care-gaps/?location=A",
    ],
)
def test_bad_list_parameters_are_refused(
    worklist_chain: SimpleNamespace, api_login: Any, url: str
) -> None:
    response = api_login(worklist_chain.owner).get(url)
    assert response.status_code == 400
    assert len(errors_by_field(response)) == 1


def test_rates_give_store_as_statin_rate_at_the_build_date(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.technician_a)
    response = client.get("/api/v1/adherence/rates/?year=2026")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    at_build = [r for r in rows if r["measure"] == "PDC-STA" and r["as_of"] == "2026-11-23"]
    # Statinskip is store A's only statin patient, at 83.6% to date
    assert at_build == [
        {
            "location": worklist_chain.loc_a.ncpdp_id,
            "location_name": "Maple A",
            "year": 2026,
            "measure": "PDC-STA",
            "as_of": "2026-11-23",
            "measured": 1,
            "adherent": 1,
            "rate": "1.0000",
        }
    ]


def test_refill_and_care_gap_lists_hold_store_as_open_items(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(worklist_chain.technician_a)
    refills = client.get("/api/v1/worklists/refills/").json()["results"]
    by_patient = {r["patient"]["id"]: r for r in refills}
    assert by_patient[worklist_chain.at_risk.pk]["details"]["measure"] == "PDC-STA"
    assert by_patient[worklist_chain.late.pk]["details"]["measure"] == "PDC-RASA"
    assert {r["kind"] for r in refills} == {"refill"}
    assert {r["status"] for r in refills} == {"open"}
    values = [r["value_cents"] for r in refills]
    assert values == sorted(values, reverse=True)
    gaps = client.get("/api/v1/worklists/care-gaps/").json()["results"]
    assert {r["kind"] for r in gaps} == {"care_gap"}
    nostatin = [r for r in gaps if r["patient"]["id"] == worklist_chain.supd.pk]
    assert [(r["code"], r["details"]["gap"]) for r in nostatin if r["code"] == "supd"] == [
        ("supd", "supd")
    ]
    assert client.get("/api/v1/worklists/care-gaps/?status=done").json()["results"] == []


def test_lists_naming_patients_are_audited(worklist_chain: SimpleNamespace, api_login: Any) -> None:
    api_login(worklist_chain.technician_a).get(f"/api/v1/worklists/med-sync/?{ON}")
    event = AuditEvent.objects.get(action="view", actor_user=worklist_chain.technician_a)
    assert event.summary == "API med-sync call list (3 rows)"
    assert event.path == f"/api/v1/worklists/med-sync/?{ON}"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/adherence/pdc/?year=2026",
        "/api/v1/adherence/rates/?year=2026",
        f"/api/v1/worklists/med-sync/?{ON}",
        "/api/v1/worklists/care-gaps/",
    ],
)
def test_walking_the_pages_gives_every_row_once_in_order(
    worklist_chain: SimpleNamespace, api_login: Any, url: str
) -> None:
    client = api_login(worklist_chain.owner)
    whole = client.get(url).json()["results"]
    assert len(whole) > 3
    walked: list[dict[str, Any]] = []
    page = client.get(f"{url}&page_size=2" if "?" in url else f"{url}?page_size=2").json()
    while True:
        walked += page["results"]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert walked == whole
