"""The reconciliation workbench: exceptions with the dollars at stake, one claim's story,
cases worked through their statuses, MAC appeals, exports, the API, and who sees what.

The book below is hand-made: ten claims at two stores, 835 payments written as the loader
writes them, then a real reconciliation run as of Feb 28, 2026."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from claims.models import Drug, Fill, Patient, Plan, Prescription
from reconciliation.case_models import CaseNote, ExceptionCase
from reconciliation.models import (
    Adjustment,
    ClaimPayment,
    ClaimResult,
    NadacPrice,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from reconciliation.result_selectors import (
    claim_story_for_user,
    exception_summary_for_user,
    exceptions_for_user,
    mac_appeals_for_user,
    reconcile_runs_for_user,
)
from reconciliation.services.cases import case_update
from reconciliation.services.runs import reconcile_now
from rxrevops.models import AuditEvent, Job, Role
from rxrevops.services.tokens import api_token_create
from tests.factories import member

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 2, 28)
DOS = date(2026, 1, 5)  # due Feb 4 (30 days to pay): overdue on Feb 28, 54 days old
_rx_numbers = itertools.count(3100001)
_traces = itertools.count(1)


def claim(
    location: Any,
    patient: Patient,
    *,
    drug: Drug,
    plan: Plan | None,
    paid: int,
    acquisition: int,
    patient_pay: int = 0,
    dos: date = DOS,
    status: str = Fill.Status.PAID,
    auth: str = "",
    quantity: int = 30,
) -> Fill:
    rx = Prescription.objects.create(
        location=location, rx_number=next(_rx_numbers), patient=patient, drug=drug
    )
    return Fill.objects.create(
        location=location,
        rx_number=rx.rx_number,
        fill_number=1,
        date_of_service=dos,
        transaction_code="B1",
        transaction_date=dos,
        status=status,
        prescription=rx,
        patient=patient,
        drug=drug,
        plan=plan,
        quantity=Decimal(quantity),
        days_supply=30,
        usual_customary_cents=paid + patient_pay + 1000,
        ingredient_cost_paid_cents=paid + patient_pay - 200,
        dispensing_fee_paid_cents=200,
        patient_pay_cents=patient_pay,
        total_paid_cents=paid,
        acquisition_cost_cents=acquisition,
        basis_of_reimbursement="07",
        authorization_number=auth,
        row_hash="0" * 32,
    )


def remit(
    org: Any,
    location: Any,
    lines: list[tuple[Fill, int, list[tuple[str, str, int]]]],
    *,
    plb: tuple[tuple[str, str, int], ...] = (),
    clp07: dict[int, str] | None = None,
) -> Remittance:
    """One 835 payment as the loader stores it: a claim payment (CLP01 = Rx-fill) with one
    NDC line and its CAS adjustments per claim, and PLB amounts."""
    trace = f"TRC{next(_traces):05d}"
    paid = sum(p for _, p, _ in lines)
    r = Remittance.objects.create(
        organization=org,
        location=location,
        transaction_control="0001",
        first_segment=1,
        last_segment=99,
        payer_name="Acme PBM",
        payer_id="ACME",
        paid_cents=paid - sum(a for _, _, a in plb),
        method="ACH",
        payment_date=date(2026, 2, 10),
        trace_number=trace,
        trace_originator="1999999999",
        claim_count=len(lines),
        claim_paid_cents=paid,
        provider_adjustment_cents=sum(a for _, _, a in plb),
        balanced=True,
        fingerprint=trace,
    )
    for i, (fill, cents, cas) in enumerate(lines, 1):
        cp = ClaimPayment.objects.create(
            remittance=r,
            organization=org,
            location=location,
            position=i,
            segment=10 * i,
            claim_ref=f"{fill.rx_number}-{fill.fill_number:02d}",
            status="1",
            charge_cents=fill.usual_customary_cents,
            paid_cents=cents,
            patient_resp_cents=fill.patient_pay_cents,
            payer_claim_control=(clp07 or {}).get(fill.pk, ""),
            service_date=fill.date_of_service,
            balanced=True,
        )
        line = ServicePayment.objects.create(
            claim=cp,
            position=1,
            segment=10 * i + 2,
            qualifier="N4",
            code=fill.drug.ndc,
            charge_cents=fill.usual_customary_cents,
            paid_cents=cents,
            units=fill.quantity,
            service_date=fill.date_of_service,
            balanced=True,
        )
        for j, (group, reason, amount) in enumerate(cas):
            Adjustment.objects.create(
                claim=cp,
                service=line,
                segment=10 * i + 3 + j,
                group=group,
                reason=reason,
                amount_cents=amount,
            )
    for reason, reference, amount in plb:
        ProviderAdjustment.objects.create(
            remittance=r, segment=90, reason=reason, reference=reference, amount_cents=amount
        )
    return r


def book(chain: SimpleNamespace) -> SimpleNamespace:
    """Ten claims, one of each outcome, reconciled as of Feb 28, 2026."""
    acme = Plan.objects.create(bin="610011", pcn="ACME", group="G1", name="Acme Part D")
    birch = Plan.objects.create(bin="004336", pcn="BRX", group="C2", name="Birch Commercial")
    lisinopril = Drug.objects.create(ndc="68180051201", name="Lisinopril 10 mg")
    atorva = Drug.objects.create(ndc="00093505898", name="Atorvastatin 40 mg")
    eliquis = Drug.objects.create(ndc="00003089421", name="Eliquis 5 mg", is_brand=True)
    for day, per_unit in ((date(2025, 6, 1), "0.05000"), (date(2026, 1, 1), "0.30000")):
        NadacPrice.objects.create(
            organization=chain.org,
            ndc=lisinopril.ndc,
            effective_date=day,
            per_unit=Decimal(per_unit),
            pricing_unit="EA",
            updated_at="2026-02-01T00:00:00Z",
        )
    NadacPrice.objects.create(  # published after the date of service: not the one to use
        organization=chain.org,
        ndc=lisinopril.ndc,
        effective_date=date(2026, 2, 1),
        per_unit=Decimal("0.90000"),
        pricing_unit="EA",
        updated_at="2026-02-01T00:00:00Z",
    )
    a, b, pa, pb = chain.loc_a, chain.loc_b, chain.patient_a, chain.patient_b
    c = SimpleNamespace(acme=acme, birch=birch)
    c.paid = claim(a, pa, drug=atorva, plan=acme, paid=1800, acquisition=600)
    c.short = claim(a, pa, drug=atorva, plan=acme, paid=5000, acquisition=3000)
    c.unpaid = claim(a, pa, drug=atorva, plan=birch, paid=2500, acquisition=1000)
    c.below = claim(
        a,
        pa,
        drug=lisinopril,
        plan=acme,
        paid=300,
        patient_pay=200,
        acquisition=1200,
        dos=date(2026, 1, 20),
    )
    c.rbp = claim(
        a, pa, drug=atorva, plan=acme, paid=1500, acquisition=600, status=Fill.Status.REVERSED
    )
    c.over = claim(a, pa, drug=atorva, plan=acme, paid=1000, acquisition=400)
    c.recouped = claim(a, pa, drug=atorva, plan=acme, paid=2000, acquisition=800, auth="AUTHREC1")
    c.short_b = claim(b, pb, drug=atorva, plan=birch, paid=8000, acquisition=3000, auth="AUTHB1")
    c.unpaid_b = claim(b, pb, drug=atorva, plan=acme, paid=1200, acquisition=500)
    c.brand_b = claim(b, pb, drug=eliquis, plan=acme, paid=40000, acquisition=50000)
    remit(
        chain.org,
        a,
        [
            (c.paid, 1800, []),
            (c.short, 4000, [("CO", "295", 300), ("CO", "45", 700)]),
            (c.below, 300, []),
            (c.rbp, 1500, []),
            (c.over, 1000, []),
            (c.recouped, 2000, []),
        ],
        plb=(("WO", "AUTHREC1", 2000),),
    )
    remit(chain.org, a, [(c.over, 1000, [])])  # the same claim paid again
    remit(
        chain.org,
        b,
        [(c.short_b, 6000, [("CO", "45", 2000)]), (c.brand_b, 40000, [])],
        clp07={c.short_b.pk: "AUTHB1"},
    )
    c.run = reconcile_now(organization=chain.org, as_of=AS_OF)
    assert c.run.status == Job.Status.SUCCEEDED, c.run.message
    return c


@pytest.fixture
def recon(chain: SimpleNamespace) -> SimpleNamespace:
    return book(chain)


def stakes(rows: Any) -> dict[int, tuple[str, int]]:
    return {r.fill_id: (r.kind, r.at_stake_cents) for r in rows}


# --- selectors ------------------------------------------------------------------------------


def test_each_exception_carries_its_kind_and_the_dollars_at_stake(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    c = recon
    assert stakes(exceptions_for_user(chain.owner)) == {
        c.short.pk: ("short_paid", 700),  # 5000 expected - 4000 remitted - 300 DIR
        c.unpaid.pk: ("unpaid", 2500),
        c.below.pk: ("below_cost", 400),  # 900 at NADAC - (300 plan + 200 patient)
        c.rbp.pk: ("reversed_but_paid", 1500),
        c.over.pk: ("overpaid", 1000),  # 2000 remitted - 1000 expected
        c.recouped.pk: ("recouped", 2000),  # the PLB WO took all of it back
        c.short_b.pk: ("short_paid", 2000),
        c.unpaid_b.pk: ("unpaid", 1200),
        c.brand_b.pk: ("below_cost", 10000),
    }
    # most money first, and no case yet means "open"
    rows = list(exceptions_for_user(chain.owner))
    assert rows[0].fill_id == c.brand_b.pk
    assert {r.case_status for r in rows} == {"open"}


def test_the_summary_gives_count_and_dollars_per_kind_in_one_query(
    chain: SimpleNamespace, recon: SimpleNamespace, django_assert_num_queries: Any
) -> None:
    exceptions_for_user(chain.owner).count()
    with django_assert_num_queries(1):
        summary = exception_summary_for_user(chain.owner)
    assert [(t.kind, t.count, t.cents) for t in summary] == [
        ("short_paid", 2, 2700),
        ("unpaid", 2, 3700),
        ("overpaid", 1, 1000),
        ("reversed_but_paid", 1, 1500),
        ("recouped", 1, 2000),
        ("below_cost", 2, 10400),
    ]
    at_a = {
        t.kind: (t.count, t.cents)
        for t in exception_summary_for_user(chain.owner, location_id=chain.loc_a.pk, min_cents=1000)
    }
    assert at_a["unpaid"] == (1, 2500)
    assert at_a["short_paid"] == (0, 0)  # the $7.00 short-pay is under the minimum
    assert at_a["below_cost"] == (0, 0)


def test_filters_narrow_by_kind_store_payer_age_amount_and_case_status(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    c, owner = recon, chain.owner

    def ids(**kw: Any) -> set[int]:
        return {r.fill_id for r in exceptions_for_user(owner, **kw)}

    assert ids(kind="short_paid") == {c.short.pk, c.short_b.pk}
    assert ids(kind="short_paid", location_id=chain.loc_b.pk) == {c.short_b.pk}
    assert ids(kind="below_cost") == {c.below.pk, c.brand_b.pk}
    assert ids(payer="birch") == {c.unpaid.pk, c.short_b.pk}
    assert ids(payer="004336") == {c.unpaid.pk, c.short_b.pk}
    assert ids(age="31-60") == {c.short.pk, c.unpaid.pk, c.short_b.pk, c.unpaid_b.pk}
    assert ids(age="0-30") == set()
    assert ids(min_cents=2000) == {c.unpaid.pk, c.recouped.pk, c.short_b.pk, c.brand_b.pk}
    case_update(user=chain.revenue, fill_id=c.unpaid.pk, status="appealed", note="Appealed")
    assert ids(case_status="appealed") == {c.unpaid.pk}
    assert c.unpaid.pk not in ids(case_status="open")
    assert len(ids(case_status="open")) == 8


def test_a_store_user_sees_only_their_stores_exceptions_and_runs_are_org_wide(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    revenue_a = member(organization=chain.org, role=Role.REVENUE, locations=[chain.loc_a])
    seen = {r.location_id for r in exceptions_for_user(revenue_a)}
    assert seen == {chain.loc_a.pk}
    summary = {t.kind: t.count for t in exception_summary_for_user(revenue_a)}
    assert sum(summary.values()) == 6  # five by status and the below-cost generic
    assert summary["below_cost"] == 1
    assert list(reconcile_runs_for_user(chain.owner)) == [recon.run]
    assert list(reconcile_runs_for_user(revenue_a)) == []
    with pytest.raises(Http404):
        claim_story_for_user(user=revenue_a, fill_id=recon.short_b.pk)


def test_the_claim_story_has_every_payment_line_adjustment_plb_cost_and_margin(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    c = recon
    story = claim_story_for_user(user=chain.owner, fill_id=c.short.pk)
    assert story.kind == "short_paid"
    assert story.at_stake_cents == 700
    assert story.result is not None
    assert story.result.dir_cents == 300
    [payment] = story.payments
    [line] = payment.services.all()
    assert [(a.group, a.reason, a.amount_cents) for a in line.adjustments.all()] == [
        ("CO", "295", 300),
        ("CO", "45", 700),
    ]
    assert story.case is None
    assert story.case_status == "open"

    over = claim_story_for_user(user=chain.owner, fill_id=c.over.pk)
    assert [p.paid_cents for p in over.payments] == [1000, 1000]

    recouped = claim_story_for_user(user=chain.owner, fill_id=c.recouped.pk)
    assert [(a.adjustment.reason, a.amount_cents, a.allocated) for a in recouped.plb] == [
        ("WO", 2000, False)
    ]

    # matched by CLP07 = the authorization number at store B
    by_auth = claim_story_for_user(user=chain.owner, fill_id=c.short_b.pk)
    assert [p.payer_claim_control for p in by_auth.payments] == ["AUTHB1"]

    below = claim_story_for_user(user=chain.owner, fill_id=c.below.pk)
    assert below.nadac is not None
    assert below.nadac.per_unit == Decimal("0.30000")
    assert below.nadac_cents == 900  # $0.30 x 30 on the date of service, not February's price
    assert below.reimbursement_cents == 500
    assert below.result is not None
    assert below.result.acquisition_source == "nadac"  # no invoice: the run costs it at NADAC
    assert below.result.net_margin_cents == 500 - 900

    unpaid = claim_story_for_user(user=chain.owner, fill_id=c.unpaid.pk)
    assert unpaid.payments == []
    assert unpaid.kind == "unpaid"


def test_mac_appeals_list_below_cost_generics_with_nadac_and_shortfall(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    [row] = mac_appeals_for_user(chain.owner)  # the brand below cost is no MAC matter
    assert row.fill_id == recon.below.pk
    assert (row.paid_cents, row.acquisition_cents, row.shortfall_cents) == (500, 900, 400)
    assert row.nadac_per_unit == Decimal("0.30000")
    assert row.nadac_cents == 900
    assert list(mac_appeals_for_user(chain.owner, location_id=chain.loc_b.pk)) == []


# --- cases ----------------------------------------------------------------------------------


def test_a_case_opens_on_first_touch_and_each_step_records_who_when_and_what(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    c = recon
    step = case_update(user=chain.revenue, fill_id=c.short.pk, status="in_progress", note="")
    case = ExceptionCase.objects.get(fill=c.short)
    assert (case.kind, case.amount_cents, case.status) == ("short_paid", 700, "in_progress")
    assert case.opened_by == chain.revenue
    assert case.location == chain.loc_a
    assert (step.status_from, step.status_to, step.author) == ("open", "in_progress", chain.revenue)

    step = case_update(
        user=chain.owner, fill_id=c.short.pk, status="appealed", note="Appeal #A-19 filed"
    )
    assert (step.status_from, step.status_to, step.text) == (
        "in_progress",
        "appealed",
        "Appeal #A-19 filed",
    )
    note_only = case_update(user=chain.revenue, fill_id=c.short.pk, note="PBM called back")
    assert (note_only.status_from, note_only.status_to) == ("", "")
    assert list(CaseNote.objects.filter(case=case).values_list("author", flat=True)) == [
        chain.revenue.pk,
        chain.owner.pk,
        chain.revenue.pk,
    ]
    case.refresh_from_db()
    assert (case.status, case.updated_by) == ("appealed", chain.revenue)
    events = AuditEvent.objects.filter(object_type="reconciliation.ExceptionCase")
    assert sorted(events.values_list("action", flat=True)) == ["create", "update", "update"]

    # a new run rebuilds results and leaves the people's work alone
    reconcile_now(organization=chain.org, as_of=AS_OF)
    assert ExceptionCase.objects.get(fill=c.short).status == "appealed"
    assert CaseNote.objects.filter(case=case).count() == 3
    [row] = exceptions_for_user(chain.owner, case_status="appealed")
    assert row.fill_id == c.short.pk


def test_a_case_step_must_change_the_status_or_say_something(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    with pytest.raises(ValidationError, match="Unknown case status"):
        case_update(user=chain.revenue, fill_id=recon.short.pk, status="closed", note="x")
    with pytest.raises(ValidationError, match="nothing would change"):
        case_update(user=chain.revenue, fill_id=recon.short.pk, status="", note="   ")
    assert not ExceptionCase.objects.exists()  # nothing half-written
    case_update(user=chain.revenue, fill_id=recon.short.pk, status="resolved", note="")
    with pytest.raises(ValidationError, match="nothing would change"):
        case_update(user=chain.revenue, fill_id=recon.short.pk, status="resolved", note="")


def test_only_owners_and_revenue_staff_work_cases_and_only_at_their_stores(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    with pytest.raises(PermissionDenied):
        case_update(user=chain.technician_a, fill_id=recon.short.pk, note="hello")
    with pytest.raises(PermissionDenied):
        case_update(user=chain.pharmacist_b, fill_id=recon.short_b.pk, note="hello")
    revenue_a = member(organization=chain.org, role=Role.REVENUE, locations=[chain.loc_a])
    with pytest.raises(Http404):
        case_update(user=revenue_a, fill_id=recon.short_b.pk, note="not mine")
    assert not ExceptionCase.objects.exists()


# --- pages ----------------------------------------------------------------------------------


def test_workbench_page_shows_tiles_filters_and_rows_linking_to_the_story(
    chain: SimpleNamespace, recon: SimpleNamespace, login: Any
) -> None:
    client = login(chain.revenue)
    html = client.get("/reconciliation/workbench/").content.decode()
    assert 'data-testid="tile-short_paid-count">2<' in html
    assert 'data-testid="tile-below_cost-cents">$104.00 at stake<' in html
    assert html.count('data-testid="exception-row"') == 9
    assert f"/reconciliation/workbench/claims/{recon.short.pk}/" in html

    filtered = client.get(
        "/reconciliation/workbench/",
        {"kind": "short_paid", "location": chain.loc_b.pk},
        HTTP_HX_REQUEST="true",
    )
    body = filtered.content.decode()
    assert "<html" not in body  # htmx gets the results fragment only
    assert body.count('data-testid="exception-row"') == 1
    assert f"/reconciliation/workbench/claims/{recon.short_b.pk}/" in body
    assert "$20.00" in body


def test_claim_story_page_tells_the_story_and_the_case_form_marks_it_appealed(
    chain: SimpleNamespace, recon: SimpleNamespace, login: Any
) -> None:
    client = login(chain.revenue)
    url = f"/reconciliation/workbench/claims/{recon.short.pk}/"
    html = client.get(url).content.decode()
    assert "CO-295" in html
    assert "Pharmacy Direct/Indirect Remuneration" in html
    assert "$7.00" in html
    assert "Short-paid" in html
    response = client.post(
        url + "case/", {"status": "appealed", "note": "Appeal filed with Acme, ref A-19"}
    )
    assert response.status_code == 302
    assert response["Location"] == url
    html = client.get(url).content.decode()
    assert "<strong>Appealed</strong>" in html
    assert "Open → Appealed" in html
    assert "Appeal filed with Acme, ref A-19" in html
    assert chain.revenue.username in html

    # a refused step explains itself and writes nothing
    client.post(url + "case/", {"status": "", "note": ""})
    assert "nothing would change" in client.get(url).content.decode()
    assert CaseNote.objects.count() == 1


def test_workbench_pages_are_for_owners_and_revenue_and_their_stores(
    chain: SimpleNamespace, recon: SimpleNamespace, login: Any
) -> None:
    tech = login(chain.technician_a)
    assert tech.get("/reconciliation/workbench/").status_code == 403
    assert tech.get(f"/reconciliation/workbench/claims/{recon.short.pk}/").status_code == 403
    assert (
        tech.post(
            f"/reconciliation/workbench/claims/{recon.short.pk}/case/", {"note": "x"}
        ).status_code
        == 403
    )
    revenue_a = login(member(organization=chain.org, role=Role.REVENUE, locations=[chain.loc_a]))
    assert revenue_a.get(f"/reconciliation/workbench/claims/{recon.short_b.pk}/").status_code == 404
    assert (
        revenue_a.post(
            f"/reconciliation/workbench/claims/{recon.short_b.pk}/case/", {"note": "x"}
        ).status_code
        == 404
    )
    html = revenue_a.get("/reconciliation/workbench/").content.decode()
    assert f"/claims/{recon.short_b.pk}/" not in html
    assert html.count('data-testid="exception-row"') == 6
    exported = b"".join(revenue_a.get("/reconciliation/workbench/export/").streaming_content)
    assert chain.loc_b.ncpdp_id not in exported.decode()


# --- exports --------------------------------------------------------------------------------


def test_the_filtered_list_exports_as_csv_and_xlsx(
    chain: SimpleNamespace, recon: SimpleNamespace, login: Any
) -> None:
    client = login(chain.revenue)
    response = client.get("/reconciliation/workbench/export/", {"kind": "short_paid"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["rx_number"], r["exception"], r["at_stake"]) for r in rows] == [
        (str(recon.short_b.rx_number), "short_paid", "20.00"),
        (str(recon.short.rx_number), "short_paid", "7.00"),
    ]
    assert rows[0]["payer"] == "Birch Commercial"
    assert rows[0]["case_status"] == "open"

    from openpyxl import load_workbook

    xlsx = client.get("/reconciliation/workbench/export/", {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][:3] == ("store_ncpdp", "rx_number", "fill_number")
    assert len(values) == 1 + 9
    assert AuditEvent.objects.filter(action="export").count() == 2


def test_mac_appeal_packet_downloads_as_csv_and_pdf(
    chain: SimpleNamespace, recon: SimpleNamespace, login: Any
) -> None:
    client = login(chain.revenue)
    html = client.get("/reconciliation/workbench/mac-appeals/").content.decode()
    assert html.count('data-testid="appeal-row"') == 1
    assert "$9.00" in html
    response = client.get("/reconciliation/workbench/mac-appeals/", {"export": "csv"})
    [row] = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert (row["ndc"], row["total_reimbursed"], row["acquisition_cost"]) == (
        "68180051201",
        "5.00",
        "9.00",
    )
    assert (row["nadac_per_unit"], row["nadac_extended"], row["shortfall"]) == (
        "0.30000",
        "9.00",
        "4.00",
    )
    pdf = client.get("/reconciliation/workbench/mac-appeals/", {"export": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


# --- API ------------------------------------------------------------------------------------


def test_api_lists_results_exceptions_and_runs(
    chain: SimpleNamespace, recon: SimpleNamespace, api_login: Any
) -> None:
    api = api_login(chain.revenue)
    results = api.get("/api/v1/reconciliation/claims/").json()["results"]
    assert len(results) == 10
    short = api.get(
        "/api/v1/reconciliation/claims/",
        {"status": "short_paid", "location": chain.loc_b.ncpdp_id},
    ).json()["results"]
    assert [(r["fill"], r["expected_cents"], r["remitted_cents"]) for r in short] == [
        (recon.short_b.pk, 8000, 6000)
    ]
    since = api.get("/api/v1/reconciliation/claims/", {"since": "2026-01-10"}).json()
    assert [r["fill"] for r in since["results"]] == [recon.below.pk]
    assert api.get("/api/v1/reconciliation/claims/", {"since": "Jan 10"}).status_code == 400

    exceptions = api.get("/api/v1/reconciliation/exceptions/").json()["results"]
    assert {(e["fill"], e["kind"], e["at_stake_cents"], e["case_status"]) for e in exceptions} >= {
        (recon.short.pk, "short_paid", 700, "open"),
        (recon.brand_b.pk, "below_cost", 10000, "open"),
    }
    assert len(exceptions) == 9
    unpaid = api.get("/api/v1/reconciliation/exceptions/", {"kind": "unpaid", "min_cents": 2000})
    assert [e["fill"] for e in unpaid.json()["results"]] == [recon.unpaid.pk]

    [run] = api.get("/api/v1/reconciliation/runs/").json()["results"]
    assert run["id"] == recon.run.pk
    assert run["as_of"] == "2026-02-28"
    assert run["counts"]["status_short_paid"] == 2

    story = api.get(f"/api/v1/reconciliation/claims/{recon.recouped.pk}/").json()
    assert story["kind"] == "recouped"
    assert story["at_stake_cents"] == 2000
    assert story["provider_adjustments"][0]["reason"] == "WO"
    assert story["payments"][0]["services"][0]["code"] == "00093505898"


def test_api_isolation_roles_and_token_scopes(
    chain: SimpleNamespace, recon: SimpleNamespace, api_login: Any
) -> None:
    revenue_a = member(organization=chain.org, role=Role.REVENUE, locations=[chain.loc_a])
    api = api_login(revenue_a)
    assert api.get(f"/api/v1/reconciliation/claims/{recon.short_b.pk}/").status_code == 404
    assert api.get(f"/api/v1/reconciliation/claims/{recon.short.pk}/").status_code == 200
    stores = {
        r["location"] for r in api.get("/api/v1/reconciliation/exceptions/").json()["results"]
    }
    assert stores == {chain.loc_a.ncpdp_id}
    assert api.get("/api/v1/reconciliation/runs/").json()["results"] == []

    assert api_login(chain.technician_a).get("/api/v1/reconciliation/claims/").status_code == 403
    assert (
        api_login(chain.pharmacist_b).get("/api/v1/reconciliation/exceptions/").status_code == 403
    )

    reader = api_token_create(organization=chain.org, name="BI", scopes=["remits:read"])
    token = api_login(token=reader.key)
    assert len(token.get("/api/v1/reconciliation/exceptions/").json()["results"]) == 9
    other = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    assert api_login(token=other.key).get("/api/v1/reconciliation/runs/").status_code == 403


def test_results_for_claims_the_run_never_saw_are_not_invented(
    chain: SimpleNamespace, recon: SimpleNamespace
) -> None:
    assert ClaimResult.objects.count() == 10
    story = claim_story_for_user(user=chain.owner, fill_id=recon.paid.pk)
    assert story.result is not None
    assert story.result.status == "paid"
    assert story.kind == "paid"
