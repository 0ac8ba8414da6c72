"""Care gaps, hand-worked against `caregaps-2026.json` (flu season Aug 1, 2026 - Mar 31,
2027; CMR thresholds for CY2026). As of Oct 15, 2026 unless said."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from adherence import caregaps
from adherence.caregaps import CmrStats, Dose, Gap, GapPatient

OCT_15 = date(2026, 10, 15)
BORN_1959 = date(1959, 3, 1)  # 67 on Oct 15, 2026
RULES_FILE = caregaps.VALUESETS_DIR / "caregaps-2026.json"
RULES = caregaps.gap_rules(2026)


def gaps(
    doses: list[tuple[str, date]], *, born: date = BORN_1959, as_of: date = OCT_15
) -> dict[str, Gap]:
    rows = caregaps.immunization_gaps(
        [GapPatient("p1", born)], [Dose("p1", cvx, given) for cvx, given in doses], as_of=as_of
    )
    return {g.code: g for g in rows}


def test_a_67_year_old_with_no_history_has_every_adult_gap_but_rsv() -> None:
    found = gaps([])
    assert list(found) == ["imm:flu:2026-27", "imm:pneumococcal", "imm:tdap", "imm:zoster:dose1"]
    flu = found["imm:flu:2026-27"]
    assert (flu.kind, flu.label, flu.due_from) == (
        "immunization",
        "Flu vaccine, 2026-27 season",
        date(2026, 8, 1),
    )
    assert flu.reason == "Age 67; no flu dose recorded since Aug 1, 2026."
    assert found["imm:zoster:dose1"].due_from == date(2009, 3, 1)  # 50th birthday
    assert found["imm:tdap"].due_from == date(1978, 3, 1)  # 19th birthday
    assert [g.value_cents for g in found.values()] == [2500, 5000, 2500, 4500]


def test_flu_counts_only_doses_inside_the_season_window() -> None:
    assert "imm:flu:2026-27" in gaps([("158", date(2026, 7, 31))])  # before Aug 1
    assert "imm:flu:2026-27" not in gaps([("158", date(2026, 8, 1))])
    assert "imm:flu:2026-27" not in gaps([("197", date(2026, 9, 10))])


def test_no_flu_gap_outside_the_season() -> None:
    # June 15, 2027: season_for -> 2026, whose window closed on Mar 31
    assert caregaps.season_for(date(2027, 6, 15)) == 2026
    assert "imm:flu:2026-27" not in gaps([], as_of=date(2027, 6, 15))
    assert "imm:flu:2026-27" in gaps([], as_of=date(2027, 3, 31))


def test_season_starts_in_august() -> None:
    assert caregaps.season_for(date(2026, 7, 31)) == 2025
    assert caregaps.season_for(date(2026, 8, 1)) == 2026


def test_age_50_on_the_as_of_date_opens_zoster_and_pneumococcal_but_49_does_not() -> None:
    fifty = gaps([], born=date(1976, 10, 15))
    assert {"imm:zoster:dose1", "imm:pneumococcal"} <= set(fifty)
    assert fifty["imm:pneumococcal"].due_from == OCT_15
    assert fifty["imm:pneumococcal"].reason == "Age 50; no pneumococcal vaccine recorded."
    forty_nine = gaps([], born=date(1976, 10, 16))
    assert set(forty_nine) == {"imm:flu:2026-27", "imm:tdap"}


def test_an_18_year_old_is_due_flu_only() -> None:
    assert list(gaps([], born=date(2008, 10, 15))) == ["imm:flu:2026-27"]


def test_second_shingrix_dose_is_due_56_days_after_the_first() -> None:
    # Aug 20 + 56 days = Oct 15: not yet on Oct 14 (55 days), due on Oct 15
    first = [("187", date(2026, 8, 20))]
    assert not {"imm:zoster:dose1", "imm:zoster:dose2"} & set(gaps(first, as_of=date(2026, 10, 14)))
    dose2 = gaps(first)["imm:zoster:dose2"]
    assert (dose2.due_from, dose2.label) == (OCT_15, "Shingles vaccine (Shingrix), dose 2")
    assert dose2.reason == (
        "First Shingrix dose Aug 20, 2026; second due from Oct 15, 2026 (2 to 6 months apart)."
    )
    assert "imm:zoster:dose2" not in gaps([*first, ("187", OCT_15)])


def test_second_shingrix_dose_past_six_months_is_late_but_not_restarted() -> None:
    # Mar 2 + 183 days = Sep 1: on time that day, late from Sep 2
    first = [("187", date(2026, 3, 2))]
    assert "Late" not in gaps(first, as_of=date(2026, 9, 1))["imm:zoster:dose2"].reason
    late = gaps(first, as_of=date(2026, 9, 2))["imm:zoster:dose2"].reason
    assert late.endswith("Late; give it now — the series is not restarted.")


def test_zostavax_does_not_count_toward_shingrix() -> None:
    history = [("121", date(2012, 5, 1))]
    assert "imm:zoster:dose1" in gaps(history)
    assert caregaps.unknown_cvx([Dose("p1", "121", date(2012, 5, 1))], RULES) == set()


def test_tdap_is_due_ten_years_after_the_last_td() -> None:
    # Td given Oct 15, 2016 (CVX "09", sent as "9"): due again from Oct 15, 2026
    td = [("9", date(2016, 10, 15))]
    assert "imm:tdap" not in gaps(td, as_of=date(2026, 10, 14))
    tdap = gaps(td)["imm:tdap"]
    assert (tdap.due_from, tdap.reason) == (
        OCT_15,
        "Last Td Oct 15, 2016; a booster is due every 10 years.",
    )


def test_pneumococcal_is_complete_with_pcv20_pcv21_or_pcv15_and_ppsv23() -> None:
    for history in (["216"], ["327"], ["215", "33"]):
        assert "imm:pneumococcal" not in gaps([(c, date(2024, 1, 10)) for c in history])


def test_pcv15_alone_makes_ppsv23_due_a_year_later() -> None:
    # PCV15 Oct 1, 2025 + 365 days = Oct 1, 2026 (due); Oct 16, 2025 would be due Oct 16
    gap = gaps([("215", date(2025, 10, 1))])["imm:pneumococcal"]
    assert gap.due_from == date(2026, 10, 1)
    assert gap.reason == "PPSV23 due ≥ 1 year after PCV15 of Oct 1, 2025."
    assert "imm:pneumococcal" not in gaps([("215", date(2025, 10, 16))])


def test_pcv13_history_alone_does_not_complete() -> None:
    gap = gaps([("133", date(2019, 4, 2))])["imm:pneumococcal"]
    assert gap.reason == "PCV20 or PCV21 due ≥ 1 year after PCV13 of Apr 2, 2019."


def test_rsv_is_one_dose_from_75() -> None:
    born = date(1951, 10, 15)  # 75 on Oct 15, 2026
    assert gaps([], born=born)["imm:rsv"].reason == "Age 75; no RSV vaccine recorded."
    assert "imm:rsv" not in gaps([], born=date(1951, 10, 16))
    assert "imm:rsv" not in gaps([("305", date(2024, 9, 20))], born=born)
    # an infant RSV antibody is not an adult vaccine
    assert "imm:rsv" in gaps([("306", date(2024, 9, 20))], born=born)


def test_unknown_cvx_is_ignored_and_reported() -> None:
    covid = [("208", date(2026, 9, 1)), ("0158", date(2026, 9, 1))]
    assert list(gaps(covid)) == ["imm:pneumococcal", "imm:tdap", "imm:zoster:dose1"]
    doses = [Dose("p1", cvx, given) for cvx, given in covid]
    assert caregaps.unknown_cvx(doses, RULES) == {"208"}


def test_doses_after_the_as_of_date_are_not_seen() -> None:
    assert "imm:flu:2026-27" in gaps([("158", date(2026, 10, 16))])


def test_gaps_are_sorted_by_patient_and_keep_their_codes_on_rebuild() -> None:
    patients = [GapPatient("p2", BORN_1959), GapPatient("p1", date(2008, 1, 1))]
    first = caregaps.immunization_gaps(patients, [], as_of=OCT_15)
    later = caregaps.immunization_gaps(patients, [], as_of=date(2026, 12, 1))
    # p1 is 18 (flu only; Tdap/Td from 19), p2 is 67
    assert [(g.patient, g.code) for g in first] == [
        ("p1", "imm:flu:2026-27"),
        ("p2", "imm:flu:2026-27"),
        ("p2", "imm:pneumococcal"),
        ("p2", "imm:tdap"),
        ("p2", "imm:zoster:dose1"),
    ]
    assert [g.code for g in first] == [g.code for g in later]


# --- CMR -------------------------------------------------------------------------------


def stats(**changes: object) -> CmrStats:
    base: dict[str, object] = {
        "patient": "p1",
        "birth_date": date(1956, 1, 20),  # 70 on Oct 15, 2026
        "distinct_drugs": 8,
        "annual_cost_cents": 127_600,
        "chronic_classes": frozenset({"DR", "RASA", "STA"}),
    }
    return CmrStats(**(base | changes))  # type: ignore[arg-type]


def cmr(*rows: CmrStats) -> list[Gap]:
    return caregaps.cmr_gaps(rows, year=2026, as_of=OCT_15)


def test_patient_meeting_every_threshold_exactly_is_due_a_cmr() -> None:
    [gap] = cmr(stats())
    assert (gap.code, gap.kind, gap.due_from, gap.value_cents) == (
        "cmr:2026",
        "cmr",
        date(2026, 1, 1),
        7500,
    )
    assert gap.reason == (
        "Age 70; 8 drugs, $1,276.00 in drug costs, 3 chronic conditions "
        "(diabetes, dyslipidemia, hypertension); no CMR recorded in 2026."
    )


def test_one_short_on_any_threshold_is_not_targeted() -> None:
    assert cmr(stats(distinct_drugs=7)) == []
    assert cmr(stats(annual_cost_cents=127_599)) == []
    # insulin and metformin both show diabetes: two conditions, not three
    assert cmr(stats(chronic_classes=frozenset({"DR", "INSULIN", "RASA"}))) == []
    assert cmr(stats(birth_date=date(2008, 10, 16))) == []  # 17 on Oct 15
    assert len(cmr(stats(birth_date=date(2008, 10, 15)))) == 1  # 18


def test_a_cmr_done_this_year_closes_the_gap_and_last_years_does_not() -> None:
    assert cmr(stats(last_cmr=date(2026, 2, 1))) == []
    [gap] = cmr(stats(last_cmr=date(2025, 5, 1)))
    assert gap.reason.endswith("no CMR recorded in 2026; last CMR May 1, 2025.")


def test_cmr_thresholds_must_be_for_the_year_asked() -> None:
    with pytest.raises(ValueError, match="for 2026, not 2027"):
        caregaps.cmr_gaps([stats()], year=2027, as_of=date(2027, 2, 1), rules=RULES)


def test_supd_gap_asks_the_prescriber_about_a_statin() -> None:
    gap = caregaps.supd_gap("p9", year=2026, as_of=OCT_15)
    assert (gap.patient, gap.code, gap.kind, gap.value_cents) == ("p9", "supd", "supd", 3000)
    assert gap.reason == (
        "Diabetes medicines filled in 2026 and no statin fill as of Oct 15, 2026 (SUPD): "
        "ask the prescriber about a statin."
    )


# --- the rules file --------------------------------------------------------------------


def test_missing_season_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match=r"no care-gap rules for 2030 \(have: .*2026"):
        caregaps.gap_rules(2030)


def test_malformed_file_names_the_file(tmp_path: Path) -> None:
    doc = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    doc["vaccines"][1]["cvx"]["141"] = "IIV3 again"  # a flu code under zoster
    bad = tmp_path / "caregaps-2026.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match=r"caregaps-2026\.json: .*CVX 141 is listed in both"):
        caregaps.rules_from_file(bad)
    del doc["vaccines"][1]["cvx"]["141"]
    del doc["cmr"]["min_distinct_drugs"]
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match=r"caregaps-2026\.json: KeyError"):
        caregaps.rules_from_file(bad)
