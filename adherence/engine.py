"""PDC and SUPD for a whole chain, set-based: pandas/numpy over one DataFrame of fills.

The same rules as the reference in `adherence.pdc` (read that first), computed without a
Python loop over patients or days:

- supply of one ingredient is shifted with a running maximum: for fills sorted by date, the
  end of fill i is `max(dos_i, end_{i-1}) + ds_i`. Writing S_i for the running total of days'
  supply, `end_i - S_i = max(dos_i - S_{i-1}, end_{i-1} - S_{i-1})`, so `end_i` is
  `S_i + cummax(dos_j - S_{j-1})`: one cumulative sum and one cumulative max per group;
- the union of the shifted spans of a patient's ingredients is measured by sorting them by
  start and counting, for each, the days beyond the furthest end seen so far.

Days are integers counted from January 1 of the measurement year; PDC stays exact as the
two integers `covered_days / days_in_period`, and the adherent flag compares integers.
Pure: no Django, no other project app.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import numpy as np
import pandas as pd

from adherence.measures import Measure, MeasureYear, measure_year
from adherence.outlook import ADHERENT, AT_RISK, LOST, WILL_FAIL, Outlook
from adherence.pdc import (
    ATTRIBUTION_SHARE,
    COUNTED_STATUSES,
    EXCLUDED,
    MEASURED,
    OUT_OF_AGE,
    SHORT_PERIOD,
    SINGLE_FILL,
    MeasureResult,
    period_end_for,
)

FILL_COLUMNS = ("patient", "location", "ndc", "date_of_service", "days_supply", "status")
PATIENT_COLUMNS = ("patient", "birth_date")
RESULT_COLUMNS = (
    "patient",
    "measure",
    "status",
    "index_date",
    "period_end",
    "days_in_period",
    "covered_days",
    "pdc",
    "adherent",
    "location",
)


def measure_frame(
    fills: pd.DataFrame, *, patients: pd.DataFrame, year: int, as_of: date | None = None
) -> pd.DataFrame:
    """One row per patient and measure with a target fill in the period (RESULT_COLUMNS),
    sorted by patient then measure. `fills` has FILL_COLUMNS; `patients` has PATIENT_COLUMNS
    for every patient with a target fill (a missing birth date raises KeyError)."""
    _require_columns(fills, FILL_COLUMNS, "fills")
    _require_columns(patients, PATIENT_COLUMNS, "patients")
    spec = measure_year(year)
    end = period_end_for(year, as_of)
    end_day = (end - date(year, 1, 1)).days
    f, patient_keys = _prepare_fills(fills, spec=spec, end_day=end_day)
    ages = _ages(patients, patient_keys, year=year)
    frames = [
        _measure_rows(f, ages, measure=m, order=n, end_day=end_day)
        for n, m in enumerate(spec.measures)
    ]
    rows = pd.concat(frames, ignore_index=True)
    rows["patient_key"] = patient_keys[rows["pid"].to_numpy()]
    rows = rows.sort_values(["patient_key", "order"], kind="stable", ignore_index=True)
    jan1 = np.datetime64(date(year, 1, 1), "D")
    return pd.DataFrame(
        {
            "patient": rows["patient_key"],
            "measure": rows["measure"],
            "status": rows["status"],
            "index_date": jan1 + rows["index_day"].to_numpy().astype("timedelta64[D]"),
            "period_end": np.datetime64(end, "D"),
            "days_in_period": rows["days_in_period"].astype("int64"),
            "covered_days": rows["covered_days"].astype("int64"),
            "pdc": rows["pdc"],
            "adherent": rows["adherent"],
            "location": rows["location"],
        },
        columns=list(RESULT_COLUMNS),
    )


OUTLOOK_COLUMNS = (
    "patient",
    "measure",
    "status",
    "index_date",
    "covered_to_date",
    "days_to_date",
    "days_in_year",
    "days_needed",
    "days_can_miss",
    "next_fill_due",
    "refill_by",
    "location",
)


def outlook_frame(
    fills: pd.DataFrame, *, patients: pd.DataFrame, as_of: date, urgent_days: int = 7
) -> pd.DataFrame:
    """What is still possible, as `adherence.outlook` defines it, for every patient and PDC
    measure at once (OUTLOOK_COLUMNS; `refill_by` is NaT when lost or already secured).
    Fills after `as_of` are ignored; supply already dispensed counts past it."""
    _require_columns(fills, FILL_COLUMNS, "fills")
    _require_columns(patients, PATIENT_COLUMNS, "patients")
    year = as_of.year
    spec = measure_year(year)
    jan1 = date(year, 1, 1)
    today = (as_of - jan1).days
    year_end = (date(year, 12, 31) - jan1).days
    f, patient_keys = _prepare_fills(fills, spec=spec, end_day=today)
    ages = _ages(patients, patient_keys, year=year)
    frames = []
    for order, m in enumerate(spec.measures):
        if m.kind != "pdc" or m.threshold is None:
            continue
        rows = _measure_rows(f, ages, measure=m, order=order, end_day=today)
        rows = rows[~rows["status"].isin([EXCLUDED, OUT_OF_AGE])]
        rows = rows.assign(days_in_year=year_end - rows["index_day"] + 1)
        if m.min_period_days is not None:
            rows = rows[rows["days_in_year"] >= m.min_period_days]
        if rows.empty:
            continue
        target = f[f["cls"].isin(m.target) & f["pid"].isin(rows["pid"])]
        spans = _shifted_spans(target)
        merged = _merged_spans(spans[spans["stop"] > spans["start"]])
        to_date = np.clip(np.minimum(merged["stop"], today + 1) - merged["start"], 0, None)
        covered = to_date.groupby(merged["pid"]).sum()
        inside = merged[(merged["start"] <= today) & (merged["stop"] > today)]
        ended = merged[merged["stop"] <= today].groupby("pid")["stop"].max()
        pid = rows["pid"]
        due = (
            pid.map(inside.set_index("pid")["stop"])
            .fillna(pid.map(ended))
            .fillna(rows["index_day"])
            .astype("int64")
        )
        covered_to_date = pid.map(covered).fillna(0).astype("int64")
        t = m.threshold
        days_needed = -(-(t.numerator * rows["days_in_year"]) // t.denominator)
        slack = covered_to_date + (year_end - today) - days_needed
        last = np.maximum(due, today + 1) + slack
        refill_by = last.where((slack >= 0) & (last <= year_end))
        days_to_date = today - rows["index_day"] + 1
        status = np.select(
            [
                slack < 0,
                refill_by.isna(),
                refill_by <= today + urgent_days,
                covered_to_date * t.denominator < days_to_date * t.numerator,
            ],
            [LOST, ADHERENT, WILL_FAIL, AT_RISK],
            default=ADHERENT,
        )
        frames.append(
            pd.DataFrame(
                {
                    "pid": pid,
                    "order": order,
                    "measure": m.code,
                    "status": status,
                    "index_day": rows["index_day"],
                    "covered_to_date": covered_to_date,
                    "days_to_date": days_to_date,
                    "days_in_year": rows["days_in_year"],
                    "days_needed": days_needed,
                    "days_can_miss": slack,
                    "due": due,
                    "refill_by": refill_by,
                    "location": rows["location"],
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in OUTLOOK_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["patient"] = patient_keys[out["pid"].to_numpy()]
    out = out.sort_values(["patient", "order"], kind="stable", ignore_index=True)
    start = np.datetime64(jan1, "D")
    refill = out["refill_by"].to_numpy(dtype="float64")
    refill_dates = np.where(
        np.isnan(refill),
        np.datetime64("NaT", "D"),
        start + np.nan_to_num(refill).astype("int64").astype("timedelta64[D]"),
    )
    return pd.DataFrame(
        {
            "patient": out["patient"],
            "measure": out["measure"],
            "status": out["status"],
            "index_date": start + out["index_day"].to_numpy().astype("timedelta64[D]"),
            "covered_to_date": out["covered_to_date"].astype("int64"),
            "days_to_date": out["days_to_date"].astype("int64"),
            "days_in_year": out["days_in_year"].astype("int64"),
            "days_needed": out["days_needed"].astype("int64"),
            "days_can_miss": out["days_can_miss"].astype("int64"),
            "next_fill_due": start + out["due"].to_numpy().astype("timedelta64[D]"),
            "refill_by": refill_dates,
            "location": out["location"],
        },
        columns=list(OUTLOOK_COLUMNS),
    )


def outlooks_from_frame(frame: pd.DataFrame, *, as_of: date) -> list[Outlook]:
    """The frame's rows as reference-path dataclasses, e.g. to compare with `outlook`."""
    out = []
    for row in frame.itertuples(index=False):
        refill_by = None if pd.isna(row.refill_by) else pd.Timestamp(row.refill_by).date()
        out.append(
            Outlook(
                patient=str(row.patient),
                measure=str(row.measure),
                as_of=as_of,
                status=str(row.status),
                index_date=pd.Timestamp(row.index_date).date(),
                pdc_to_date=Fraction(int(row.covered_to_date), int(row.days_to_date)),
                days_in_year=int(row.days_in_year),
                days_needed=int(row.days_needed),
                days_can_miss=int(row.days_can_miss),
                next_fill_due=pd.Timestamp(row.next_fill_due).date(),
                refill_by=refill_by,
                unrecoverable_from=None if refill_by is None else refill_by + timedelta(days=1),
            )
        )
    return out


def unknown_ndcs(fills: pd.DataFrame, *, year: int) -> set[str]:
    """NDCs of counted fills that the year's value sets do not know (to report, not guess)."""
    counted = fills.loc[fills["status"].isin(COUNTED_STATUSES), "ndc"].unique()
    return measure_year(year).unknown_ndcs(str(ndc) for ndc in counted)


def results_from_frame(frame: pd.DataFrame) -> list[MeasureResult]:
    """The frame's rows as reference-path dataclasses (exact PDC), e.g. to compare or store."""
    out = []
    for row in frame.itertuples(index=False):
        measured_pdc = row.status == MEASURED and not pd.isna(row.pdc)
        out.append(
            MeasureResult(
                patient=str(row.patient),
                measure=str(row.measure),
                status=str(row.status),
                index_date=pd.Timestamp(row.index_date).date(),
                period_end=pd.Timestamp(row.period_end).date(),
                days_in_period=int(row.days_in_period),
                covered_days=int(row.covered_days),
                pdc=Fraction(int(row.covered_days), int(row.days_in_period))
                if measured_pdc
                else None,
                adherent=None if pd.isna(row.adherent) else bool(row.adherent),
                location=None if pd.isna(row.location) else str(row.location),
            )
        )
    return out


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns: {', '.join(missing)}")


def _prepare_fills(
    fills: pd.DataFrame, *, spec: MeasureYear, end_day: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Counted fills in the period with integer keys: pid (patient), day (since January 1),
    ds (days' supply), cls (class name or None), ingr (ingredient code), location."""
    counted = fills[fills["status"].isin(COUNTED_STATUSES)]
    jan1 = np.datetime64(date(spec.year, 1, 1), "D")
    dos = pd.to_datetime(counted["date_of_service"]).to_numpy().astype("datetime64[D]")
    day = (dos - jan1).astype("int64")
    keep = (day >= 0) & (day <= end_day)
    counted = counted[keep]
    pid, patient_keys = pd.factorize(counted["patient"], sort=True)
    ndc = counted["ndc"].astype(str)
    ingredients = {n: d.ingredient for n, d in spec.drugs.items()}
    classes = {n: d.drug_class for n, d in spec.drugs.items()}
    ingr, _ = pd.factorize(ndc.map(ingredients))
    f = pd.DataFrame(
        {
            "pid": pid,
            "day": day[keep],
            "ds": counted["days_supply"].to_numpy().astype("int64"),
            "cls": ndc.map(classes).to_numpy(),
            "ingr": ingr,
            "location": counted["location"].to_numpy(),
        }
    )
    return f, np.asarray(patient_keys)


def _ages(patients: pd.DataFrame, patient_keys: np.ndarray, *, year: int) -> np.ndarray:
    """Age on January 1 of `year` for each patient key (aligned with patient_keys)."""
    births = patients.drop_duplicates("patient").set_index("patient")["birth_date"]
    births = births.reindex(patient_keys)
    if births.isna().any():
        missing = list(births[births.isna()].index[:5])
        raise KeyError(f"no birth date for patients {missing}")
    birth = pd.to_datetime(births)
    # On January 1 only those born on January 1 have had this year's birthday.
    born_jan1 = (birth.dt.month == 1) & (birth.dt.day == 1)
    return (year - birth.dt.year - (~born_jan1).astype("int64")).to_numpy()


def _measure_rows(
    f: pd.DataFrame, ages: np.ndarray, *, measure: Measure, order: int, end_day: int
) -> pd.DataFrame:
    target = f[f["cls"].isin(measure.target)]
    per = target.groupby("pid").agg(index_day=("day", "min"))
    per["dates"] = target.drop_duplicates(["pid", "day"]).groupby("pid").size()
    pids = per.index.to_numpy()
    excluded = np.isin(pids, f.loc[f["cls"].isin(measure.exclusions), "pid"].unique())
    age = ages[pids]
    in_age = (age >= measure.min_age) & (
        True if measure.max_age is None else age <= measure.max_age
    )
    per["days_in_period"] = end_day - per["index_day"] + 1
    short = (
        per["days_in_period"].to_numpy() < measure.min_period_days
        if measure.min_period_days is not None
        else np.zeros(len(per), dtype=bool)
    )
    status = np.select(
        [~in_age, excluded, per["dates"].to_numpy() < measure.min_fills, short],
        [OUT_OF_AGE, EXCLUDED, SINGLE_FILL, SHORT_PERIOD],
        default=MEASURED,
    )
    per["status"] = status
    measured = status == MEASURED
    per["covered_days"] = 0
    per["pdc"] = np.nan
    per["adherent"] = pd.array([pd.NA] * len(per), dtype="boolean")
    if measure.kind == "pdc":
        covered = _covered_days(target[target["pid"].isin(pids[measured])], end_day=end_day)
        per.loc[measured, "covered_days"] = covered.reindex(pids[measured]).fillna(0).to_numpy()
        c = per.loc[measured, "covered_days"].to_numpy()
        d = per.loc[measured, "days_in_period"].to_numpy()
        per.loc[measured, "pdc"] = c / d
        if measure.threshold is not None:
            t = measure.threshold
            per.loc[measured, "adherent"] = c * t.denominator >= d * t.numerator
    else:
        statin = np.isin(pids, f.loc[f["cls"].isin(measure.numerator), "pid"].unique())
        per.loc[measured, "adherent"] = statin[measured]
    per["location"] = _attributed_locations(target).reindex(pids).to_numpy()
    per["measure"] = measure.code
    per["order"] = order
    return per.reset_index()


def _covered_days(target: pd.DataFrame, *, end_day: int) -> pd.Series:
    """Covered days per pid in [index, end_day]: shift per ingredient, then union."""
    spans = _shifted_spans(target)
    spans["stop"] = np.minimum(spans["stop"].to_numpy(), end_day + 1)  # cut at period end
    spans = spans.sort_values(["pid", "start"], kind="stable")
    furthest = spans.groupby("pid", sort=False)["stop"].cummax()
    prior = furthest.groupby(spans["pid"], sort=False).shift(1)
    begin = np.maximum(spans["start"].to_numpy(), prior.fillna(-1).astype("int64").to_numpy())
    days = np.clip(spans["stop"].to_numpy() - begin, 0, None)
    return pd.Series(days, index=spans.index).groupby(spans["pid"]).sum()


def _shifted_spans(target: pd.DataFrame) -> pd.DataFrame:
    """One span per fill, [start, stop) in days, shifted per (pid, ingredient), uncut."""
    t = target.sort_values(["pid", "ingr", "day"], kind="stable")
    series = t.groupby(["pid", "ingr"], sort=False)
    total = series["ds"].cumsum()  # S_i
    before = total - t["ds"]  # S_{i-1}
    reach = (t["day"] - before).groupby([t["pid"], t["ingr"]], sort=False).cummax()
    return pd.DataFrame(
        {
            "pid": t["pid"].to_numpy(),
            "start": (reach + before).to_numpy(),  # shifted first day
            "stop": (reach + total).to_numpy(),  # first day without this fill's supply
        }
    )


def _merged_spans(spans: pd.DataFrame) -> pd.DataFrame:
    """The union of each pid's spans as disjoint, non-touching [start, stop) intervals."""
    s = spans.sort_values(["pid", "start"], kind="stable", ignore_index=True)
    furthest = s.groupby("pid", sort=False)["stop"].cummax()
    prior = furthest.groupby(s["pid"], sort=False).shift(1)
    opens = prior.isna().to_numpy() | (s["start"].to_numpy() > prior.fillna(0).to_numpy())
    s["run"] = np.cumsum(opens)
    return s.groupby("run", sort=False).agg(
        pid=("pid", "first"), start=("start", "min"), stop=("stop", "max")
    )


def _attributed_locations(target: pd.DataFrame) -> pd.Series:
    """pid -> the location with >= 51% of the days' supply (absent when none has)."""
    supply = target.groupby(["pid", "location"])["ds"].sum().reset_index()
    total = supply.groupby("pid")["ds"].transform("sum")
    share = ATTRIBUTION_SHARE
    winners = supply[supply["ds"] * share.denominator >= total * share.numerator]
    return winners.set_index("pid")["location"]
