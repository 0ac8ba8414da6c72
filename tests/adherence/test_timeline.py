"""The fill timeline of the adherence card: pure, no database. Its covered days are the PDC
numerator, its gaps the rest of the treatment period, and early refills are shifted."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adherence.measures import measure_year
from adherence.pdc import Fill, covered_days
from adherence.timeline import (
    DAY_MS,
    DayRun,
    RatePoint,
    measure_timelines,
    rate_trend_figure,
    timeline_figure,
)

ATORVASTATIN = "60505257909"  # STA, ingredient atorvastatin
ROSUVASTATIN = "00591390419"  # STA, ingredient rosuvastatin
LISINOPRIL = "68180051301"  # RASA
METFORMIN = "68180033609"  # DR
AMLODIPINE = "68180072003"  # in no value set
AS_OF = date(2026, 11, 23)


def fill(ndc: str, day: date, days: int = 30, status: str = "paid") -> Fill:
    return Fill("p1", "1", ndc, day, days, status)


def every(start: date, step: int, until: date) -> list[date]:
    out, d = [], start
    while d <= until:
        out.append(d)
        d += timedelta(days=step)
    return out


def test_a_statin_skipped_since_september_shows_one_gap_to_the_as_of_date() -> None:
    fills = [fill(ATORVASTATIN, d) for d in every(date(2026, 1, 5), 30, date(2026, 9, 2))]
    (sta,) = measure_timelines(fills, year=2026, as_of=AS_OF)
    # 9 fills Jan 5 - Sep 2 cover Jan 5 - Oct 1: 270 of the 323 days Jan 5 - Nov 23
    assert (sta.measure, sta.index_date, sta.period_end) == ("PDC-STA", date(2026, 1, 5), AS_OF)
    assert (sta.covered_days, sta.days_in_period, sta.uncovered_days) == (270, 323, 53)
    assert sta.covered == (DayRun(date(2026, 1, 5), date(2026, 10, 1)),)
    assert sta.gaps == (DayRun(date(2026, 10, 2), AS_OF),)
    (row,) = sta.rows
    assert row.ingredient == "atorvastatin"
    assert [s.filled_on for s in row.spans] == every(date(2026, 1, 5), 30, date(2026, 9, 2))
    assert all(s.shifted_days == 0 for s in row.spans)


def test_an_early_refill_starts_when_the_previous_supply_runs_out() -> None:
    fills = [fill(LISINOPRIL, date(2026, 3, 1)), fill(LISINOPRIL, date(2026, 3, 21))]
    (rasa,) = measure_timelines(fills, year=2026, as_of=date(2026, 6, 30))
    first, second = rasa.rows[0].spans
    assert (first.first, first.last) == (date(2026, 3, 1), date(2026, 3, 30))
    assert (second.filled_on, second.first, second.shifted_days) == (
        date(2026, 3, 21),
        date(2026, 3, 31),
        10,
    )
    assert rasa.covered == (DayRun(date(2026, 3, 1), date(2026, 4, 29)),)
    assert rasa.gaps == (DayRun(date(2026, 4, 30), date(2026, 6, 30)),)


def test_two_statins_on_the_same_days_count_each_day_once_on_their_own_rows() -> None:
    fills = [fill(ATORVASTATIN, date(2026, 2, 1)), fill(ROSUVASTATIN, date(2026, 2, 15))]
    (sta,) = measure_timelines(fills, year=2026, as_of=date(2026, 6, 1))
    assert [r.ingredient for r in sta.rows] == ["atorvastatin", "rosuvastatin"]
    # Feb 1 - Mar 2 and Feb 15 - Mar 16 overlap, different drugs are not shifted: Feb 1 - Mar 16
    assert sta.rows[1].spans[0].first == date(2026, 2, 15)
    assert sta.covered == (DayRun(date(2026, 2, 1), date(2026, 3, 16)),)
    assert sta.covered_days == 44


def test_only_pdc_measures_with_counted_target_fills_get_a_timeline() -> None:
    fills = [
        fill(AMLODIPINE, date(2026, 2, 1)),  # no measure's drug
        fill(LISINOPRIL, date(2026, 2, 1), status="reversed"),  # never taken home
        fill(METFORMIN, date(2026, 3, 1)),  # PDC-DR (and SUPD, which has no timeline)
        fill(ATORVASTATIN, date(2026, 12, 1)),  # after the as-of date: not seen yet
    ]
    timelines = measure_timelines(fills, year=2026, as_of=date(2026, 6, 1))
    assert [t.measure for t in timelines] == ["PDC-DR"]


def test_a_year_without_value_sets_is_refused() -> None:
    with pytest.raises(LookupError):
        measure_timelines([fill(LISINOPRIL, date(2031, 2, 1))], year=2031)


fill_strategy = st.builds(
    fill,
    st.sampled_from([ATORVASTATIN, ROSUVASTATIN, LISINOPRIL, METFORMIN, AMLODIPINE]),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(min_value=1, max_value=100),
    st.sampled_from(["paid", "cash", "reversed"]),
)


@settings(max_examples=150, deadline=None)
@given(
    fills=st.lists(fill_strategy, max_size=12), as_of=st.dates(date(2026, 1, 1), date(2026, 12, 31))
)
def test_covered_days_are_the_pdc_numerator_and_gaps_the_rest_of_the_period(
    fills: list[Fill], as_of: date
) -> None:
    spec = measure_year(2026)
    for t in measure_timelines(fills, year=2026, as_of=as_of):
        measure = spec.measure(t.measure)
        target = [
            f
            for f in fills
            if spec.drug_class(f.ndc) in measure.target
            and f.status != "reversed"
            and f.date_of_service <= as_of
        ]
        assert t.index_date == min(f.date_of_service for f in target)
        assert t.covered_days == covered_days(
            target, ingredient_of=spec.ingredient, start=t.index_date, end=as_of
        )
        # covered runs and gaps alternate and tile the period exactly
        runs = sorted([*t.covered, *t.gaps], key=lambda r: r.first)
        assert runs[0].first == t.index_date
        assert runs[-1].last == t.period_end
        for before, after in itertools.pairwise(runs):
            assert after.first == before.last + timedelta(days=1)
            assert (before in t.covered) != (after in t.covered)
        assert t.covered_days + t.uncovered_days == t.days_in_period


def test_the_figure_draws_supply_shifted_supply_and_gaps_on_the_measure_rows() -> None:
    fills = [fill(LISINOPRIL, date(2026, 3, 1)), fill(LISINOPRIL, date(2026, 3, 21))]
    figure = timeline_figure(measure_timelines(fills, year=2026, as_of=AS_OF), as_of=AS_OF)
    traces = {t["name"]: t for t in figure["data"]}
    supply = traces["Days' supply"]
    shifted = traces["Days' supply, shifted (filled early)"]
    gap = traces["Days without supply"]
    assert (supply["base"], supply["x"]) == (["2026-03-01"], [30 * DAY_MS])
    assert (shifted["base"], shifted["x"]) == (["2026-03-31"], [30 * DAY_MS])
    # Apr 30 - Nov 23 without supply: 208 days
    assert (gap["base"], gap["x"]) == (["2026-04-30"], [208 * DAY_MS])
    assert gap["y"] == ["PDC-RASA · lisinopril"]
    assert figure["layout"]["yaxis"]["categoryarray"] == ["PDC-RASA · lisinopril"]


def test_the_trend_figure_has_one_line_per_measure_and_skips_empty_months() -> None:
    figure = rate_trend_figure(
        [
            RatePoint("PDC-STA", date(2026, 2, 28), 4, 3),
            RatePoint("PDC-STA", date(2026, 1, 31), 0, 0),
            RatePoint("PDC-RASA", date(2026, 2, 28), 8, 8),
        ]
    )
    lines = {t["name"]: (t["x"], t["y"]) for t in figure["data"]}
    assert lines == {"PDC-RASA": (["2026-02-28"], [100.0]), "PDC-STA": (["2026-02-28"], [75.0])}
