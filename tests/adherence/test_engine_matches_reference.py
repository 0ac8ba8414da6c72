"""Property tests: on random histories the set-based engine gives exactly the reference rows."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adherence import engine, outlook, pdc
from adherence.pdc import Fill, MeasureResult

YEAR = 2026
# Two products of one ingredient (metformin), other DR drugs, insulin, RASA (incl. a
# combination product), Entresto, statins, a non-target drug and an NDC no value set knows.
NDCS = (
    "68180033609",
    "00093726701",
    "60505014101",
    "00006027731",
    "00088221905",
    "68180051301",
    "68180051401",
    "00378181501",
    "00781570692",
    "00078065920",
    "60505257909",
    "60505258009",
    "00591390419",
    "65862001705",
    "99999000001",
)
PATIENTS = ("p1", "p2", "p3", "p4", "p5", "p6")

fills_strategy = st.lists(
    st.builds(
        Fill,
        patient=st.sampled_from(PATIENTS),
        location=st.sampled_from(("A", "B", "C")),
        ndc=st.sampled_from(NDCS),
        # a little of the year before and after, to exercise the period bounds
        date_of_service=st.integers(-40, 400).map(lambda n: date(YEAR, 1, 1) + timedelta(n)),
        days_supply=st.sampled_from((1, 5, 7, 28, 30, 30, 30, 60, 90, 120)),
        status=st.sampled_from(("paid", "paid", "paid", "cash", "reversed")),
    ),
    max_size=60,
)
births_strategy = st.fixed_dictionaries(
    {p: st.dates(date(1935, 1, 1), date(2010, 12, 31)) for p in PATIENTS}
)
as_of_strategy = st.none() | st.dates(date(YEAR, 1, 1), date(YEAR, 12, 31))


def engine_results(
    fills: list[Fill], births: dict[str, date], as_of: date | None
) -> list[MeasureResult]:
    frame = engine.measure_frame(
        pd.DataFrame([asdict(f) for f in fills], columns=list(engine.FILL_COLUMNS)),
        patients=pd.DataFrame({"patient": list(births), "birth_date": list(births.values())}),
        year=YEAR,
        as_of=as_of,
    )
    return engine.results_from_frame(frame)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fills=fills_strategy, births=births_strategy, as_of=as_of_strategy)
def test_engine_equals_reference_on_random_histories(
    fills: list[Fill], births: dict[str, date], as_of: date | None
) -> None:
    reference = pdc.measure_results(fills, year=YEAR, birth_dates=births, as_of=as_of)
    assert engine_results(fills, births, as_of) == reference


@settings(max_examples=100, deadline=None)
@given(fills=fills_strategy, births=births_strategy, as_of=as_of_strategy)
def test_covered_days_never_exceed_the_period_and_pdc_is_exact(
    fills: list[Fill], births: dict[str, date], as_of: date | None
) -> None:
    for row in pdc.measure_results(fills, year=YEAR, birth_dates=births, as_of=as_of):
        assert 0 <= row.covered_days <= row.days_in_period
        if row.pdc is not None:
            assert row.pdc * row.days_in_period == row.covered_days


@settings(max_examples=40, deadline=None)
@given(fills=fills_strategy, births=births_strategy, data=st.data())
def test_order_and_reversed_fills_do_not_change_the_result(
    fills: list[Fill], births: dict[str, date], data: st.DataObject
) -> None:
    before = pdc.measure_results(fills, year=YEAR, birth_dates=births)
    shuffled = data.draw(st.permutations(fills))
    reversed_copies = [replace(f, status="reversed") for f in fills]
    after = engine_results(list(shuffled) + reversed_copies, births, None)
    assert after == before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fills=fills_strategy,
    births=births_strategy,
    as_of=st.dates(date(YEAR, 1, 1), date(YEAR, 12, 31)),
    urgent=st.sampled_from((0, 7, 30)),
)
def test_set_based_outlook_equals_reference_on_random_histories(
    fills: list[Fill], births: dict[str, date], as_of: date, urgent: int
) -> None:
    frame = engine.outlook_frame(
        pd.DataFrame([asdict(f) for f in fills], columns=list(engine.FILL_COLUMNS)),
        patients=pd.DataFrame({"patient": list(births), "birth_date": list(births.values())}),
        as_of=as_of,
        urgent_days=urgent,
    )
    reference = outlook.outlooks(
        fills, year=YEAR, as_of=as_of, birth_dates=births, urgent_days=urgent
    )
    assert engine.outlooks_from_frame(frame, as_of=as_of) == reference
