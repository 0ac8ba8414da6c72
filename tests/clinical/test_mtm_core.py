"""The pure MTM and billing rules, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from clinical import billing, mtm, takeaway

FEES = billing.fee_schedule()


@pytest.mark.parametrize(
    ("minutes", "extra"),
    [(1, 0), (15, 0), (16, 1), (30, 1), (31, 2), (45, 2), (46, 3), (90, 5)],
)
def test_each_further_15_minutes_or_part_adds_one_99607(minutes: int, extra: int) -> None:
    assert billing.mtm_units(minutes) == extra
    lines = billing.mtm_lines(minutes=minutes, new_patient=False, fees=FEES)
    assert lines[0].code == "99606"
    assert sum(line.units for line in lines if line.code == "99607") == extra


def test_mtm_charges_add_up_per_unit_and_no_minutes_bills_nothing() -> None:
    lines = billing.mtm_lines(minutes=40, new_patient=True, fees=FEES)
    assert [(line.code, line.units, line.cents) for line in lines] == [
        ("99605", 1, 7500),
        ("99607", 2, 5000),
    ]
    assert billing.total_cents(lines) == 12500
    with pytest.raises(ValueError, match="no minutes"):
        billing.mtm_lines(minutes=0, new_patient=True, fees=FEES)


def test_immunization_and_test_codes() -> None:
    assert billing.immunization_lines(first_of_visit=True, fees=FEES)[0].code == "90471"
    assert billing.immunization_lines(first_of_visit=False, fees=FEES)[0].code == "90472"
    [flu] = billing.poc_lines(kind="flu", fees=FEES)
    assert (flu.code, flu.units) == ("87804-QW", 2)
    assert billing.poc_lines(kind="a1c", fees=FEES)[0].code == "83036-QW"


def draft(**overrides: object) -> mtm.EncounterDraft:
    values: dict[str, object] = {
        "kind": "cmr",
        "held_on": date(2026, 11, 20),
        "minutes": 30,
        "mode": "phone",
        "assessment": "ok",
        "plan": "continue",
        "medications": 3,
        "problems": (mtm.ProblemRow("SC", "PE", "3K", "Missed doses"),),
    }
    values.update(overrides)
    return mtm.EncounterDraft(**values)  # type: ignore[arg-type]


def fields(**overrides: object) -> set[str]:
    return {p.field for p in mtm.signature_problems(draft(**overrides), today=date(2026, 11, 23))}


def test_a_complete_cmr_can_be_signed() -> None:
    assert fields() == set()


def test_what_a_signature_needs_is_named_field_by_field() -> None:
    assert fields(held_on=date(2026, 11, 24)) == {"held_on"}
    assert fields(minutes=0) == {"minutes"}
    assert fields(minutes=241) == {"minutes"}
    assert fields(assessment="  ", plan="") == {"assessment", "plan"}
    assert fields(medications=0) == {"medications"}
    assert fields(kind="tmr", medications=0) == set()  # a TMR need not list every medication
    assert fields(problems=()) == {"problems"}
    assert fields(follow_up_on=date(2026, 11, 20)) == {"follow_up_on"}
    bad = (mtm.ProblemRow("ZZ", "QQ", "9Z", ""),)
    assert fields(problems=bad) == {
        "problems[0].reason_code",
        "problems[0].service_code",
        "problems[0].result_code",
        "problems[0].talked_about",
    }


def fill(ndc: str, dos: date, days: int = 30, name: str = "Drug") -> mtm.FillRow:
    return mtm.FillRow(
        drug=name,
        ndc=ndc,
        rx_number=1,
        date_of_service=dos,
        days_supply=days,
        prescriber="Dr. A",
        first_filled=dos,
    )


def test_the_medication_list_has_one_row_per_product_kept_60_days_after_it_runs_out() -> None:
    as_of = date(2026, 11, 23)
    rows = mtm.current_medications(
        [
            fill("11111222201", date(2026, 3, 1), name="Statin 20"),
            fill("11111222299", date(2026, 10, 1), name="Statin 20"),  # same product, other pack
            # runs out Sep 24; + 60 days = Nov 23: still on the list
            fill("33333444401", date(2026, 8, 25), name="Beta"),
            # runs out Sep 23; + 60 days = Nov 22: gone
            fill("55555666601", date(2026, 8, 24), name="Alpha"),
        ],
        as_of=as_of,
    )
    assert [(r.name, r.ndc, r.started_on) for r in rows] == [
        ("Beta", "33333444401", date(2026, 8, 25)),
        ("Statin 20", "11111222299", date(2026, 3, 1)),
    ]


def test_the_take_away_pdf_has_the_three_standardized_format_pages() -> None:
    t = takeaway.TakeAway(
        patient_name="Ada Quill",
        date_of_birth=date(1948, 5, 6),
        prepared_on=date(2026, 11, 20),
        pharmacy_name="Prairie Pharmacy \u2014 Main Street",
        pharmacy_address="1 Main St, Ames, IA",
        pharmacist_name="Priya Halvorsen",
        review_kind="cmr",
        mode="phone",
        allergies="Penicillin",
        actions=[takeaway.ActionRow("Missed doses", "Use the pill box \u201cdaily\u201d")],
        medications=[
            takeaway.MedicationEntry(
                "Atorvastatin", "1 at night", "cholesterol", "Dr. A", date(2024, 1, 1), None, ""
            ),
        ],
    )
    pdf = takeaway.takeaway_pdf(t)
    assert pdf.startswith(b"%PDF")
    # cover letter, action plan, medication list: one page each
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 3
    assert "by phone on November 20, 2026" in t.cover_letter[1]
    assert t.cover_letter[0] == "Dear Ada Quill,"
