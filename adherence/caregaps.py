"""Care gaps: vaccines due, a CMR to offer, a statin to ask about, from versioned rules.

The rules are data, one file per season year in `adherence/valuesets/caregaps-<year>.json`
(see `valuesets/README.md`): the flu season window, one entry per vaccine group (its CVX
codes, minimum age, series rule, estimated value), MTM/CMR targeting thresholds for the
calendar year, and the SUPD gap's value. A new season is a new file, not new code.

The rules (DOMAIN.md §4.2 adult immunizations, §2.1 MTM targeting):

- Age is completed years on the as-of date. Doses dated after the as-of date are not seen;
  doses with a CVX code the file does not list are ignored and reported (`unknown_cvx`).
- A gap is open only once it is due (`due_from` <= as-of): the day the patient reaches the
  minimum age, or the day the next dose of a series becomes due.
- `annual_season` (flu): open only while the as-of date is inside the season window, and
  closed by any dose given inside it.
- `two_dose_series` (Shingrix): no dose: dose 1 is due; one dose: dose 2 is due from
  `min_interval_days` after it, and flagged late (not restarted) past `max_interval_days`;
  doses on two different dates complete it.
- `once` (pneumococcal, RSV): complete when the doses include one of `complete_with` (by
  default any single dose). A partial history (PCV15 alone, PCV13 or PPSV23 alone) makes
  the `next_dose` for the latest dose due `next_dose_after_days` after it.
- `every_years` (Tdap/Td): due `years` after the latest dose, or from the minimum age.
- CMR: a patient meeting every threshold (age, distinct drugs, annual cost, chronic
  conditions counted from drug classes) with no CMR in the calendar year.
- SUPD: the adherence engine finds the patients; this builds their gap item.

Gap codes are stable per patient (`imm:flu:2026-27`, `imm:zoster:dose2`, `cmr:2026`), so
rebuilding the gaps keeps the outreach history attached to them. Pure: no Django.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from adherence.pdc import age_on
from adherence.value import money

VALUESETS_DIR = Path(__file__).resolve().parent / "valuesets"
SERIES = ("annual_season", "two_dose_series", "once", "every_years")


@dataclass(frozen=True, slots=True)
class Dose:
    patient: str
    cvx: str
    given: date


@dataclass(frozen=True, slots=True)
class GapPatient:
    patient: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class Gap:
    patient: str
    code: str  # stable per patient: "imm:flu:2026-27", "imm:zoster:dose2", "supd", "cmr:2026"
    kind: str  # "immunization" | "supd" | "cmr"
    label: str
    due_from: date
    reason: str  # plain English with the facts
    value_cents: int


@dataclass(frozen=True, slots=True)
class CmrStats:
    patient: str
    birth_date: date
    distinct_drugs: int
    annual_cost_cents: int
    chronic_classes: frozenset[str]
    last_cmr: date | None = None


@dataclass(frozen=True, slots=True)
class Season:
    label: str  # "2026-27"
    flu_start: date
    flu_end: date


@dataclass(frozen=True, slots=True)
class Vaccine:
    code: str
    label: str  # for the gap's label
    name: str  # in reasons: "no Shingrix dose recorded"
    series: str  # one of SERIES
    min_age: int
    value_cents: int
    cvx: Mapping[str, str]  # normalized CVX -> short name ("PCV15")
    complete_with: tuple[frozenset[str], ...]  # dose sets that complete a `once` series
    min_interval_days: int = 0  # two_dose_series
    max_interval_days: int = 0  # two_dose_series
    years: int = 0  # every_years
    next_dose_after_days: int = 0  # once: wait after a partial history
    next_dose: Mapping[str, str] = field(default_factory=dict)  # once: latest CVX -> next


@dataclass(frozen=True, slots=True)
class CmrRules:
    calendar_year: int
    min_age: int
    min_distinct_drugs: int
    min_annual_cost_cents: int
    min_chronic_conditions: int
    chronic_classes: Mapping[str, str]  # drug class -> chronic condition it shows
    value_cents: int


@dataclass(frozen=True, slots=True)
class GapRules:
    season_year: int
    season: Season
    vaccines: tuple[Vaccine, ...]
    not_counted: Mapping[str, str]  # reviewed CVX codes that close no gap
    cmr: CmrRules
    supd_value_cents: int

    def vaccine_for(self, cvx: str) -> Vaccine | None:
        code = normalize_cvx(cvx)
        return next((v for v in self.vaccines if code in v.cvx), None)


def normalize_cvx(cvx: str) -> str:
    # CVX arrives as "09" or "9" (HL7 vs PMS exports): compare without leading zeros
    return cvx.strip().lstrip("0") or "0"


def season_for(as_of: date) -> int:
    """The season year whose file applies: seasons start in August."""
    return as_of.year if as_of.month >= 8 else as_of.year - 1


def available_seasons() -> tuple[int, ...]:
    files = VALUESETS_DIR.glob("caregaps-*.json")
    return tuple(sorted(int(p.stem.removeprefix("caregaps-")) for p in files))


@cache
def gap_rules(season_year: int) -> GapRules:
    """The rules for the season starting in August of `season_year` (and CMR for that
    calendar year); LookupError when no file is on record."""
    path = VALUESETS_DIR / f"caregaps-{season_year}.json"
    if not path.exists():
        have = ", ".join(str(y) for y in available_seasons())
        raise LookupError(f"no care-gap rules for {season_year} (have: {have})")
    rules = rules_from_file(path)
    if rules.season_year != season_year:
        raise ValueError(f"{path}: holds season_year {rules.season_year}, not {season_year}")
    return rules


def rules_from_file(path: Path) -> GapRules:
    """Parse one rules file; ValueError naming the file when it is malformed."""
    try:
        return _parse(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: {type(exc).__name__}: {exc}") from exc


def unknown_cvx(doses: Iterable[Dose], rules: GapRules) -> set[str]:
    """CVX codes (as given) the rules neither count nor list as reviewed: to report."""
    known = {c for v in rules.vaccines for c in v.cvx} | set(rules.not_counted)
    return {d.cvx for d in doses if normalize_cvx(d.cvx) not in known}


def immunization_gaps(
    patients: Iterable[GapPatient],
    doses: Iterable[Dose],
    *,
    as_of: date,
    rules: GapRules | None = None,
) -> list[Gap]:
    """Open vaccine gaps as of `as_of`, sorted by patient then code."""
    rules = rules if rules is not None else gap_rules(season_for(as_of))
    seen: dict[tuple[str, str], list[Dose]] = {}
    for d in doses:
        vaccine = rules.vaccine_for(d.cvx)
        if vaccine is not None and d.given <= as_of:
            seen.setdefault((d.patient, vaccine.code), []).append(d)
    gaps = []
    for p in patients:
        for v in rules.vaccines:
            history = sorted(seen.get((p.patient, v.code), []), key=lambda d: d.given)
            gap = _vaccine_gap(p, v, history, rules=rules, as_of=as_of)
            if gap is not None and gap.due_from <= as_of:
                gaps.append(gap)
    return sorted(gaps, key=lambda g: (g.patient, g.code))


def cmr_gaps(
    stats: Iterable[CmrStats], *, year: int, as_of: date, rules: GapRules | None = None
) -> list[Gap]:
    """Patients who meet every CMR targeting threshold and have no CMR in `year`."""
    rules = rules if rules is not None else gap_rules(year)
    cmr = rules.cmr
    if cmr.calendar_year != year:
        raise ValueError(f"the CMR thresholds on file are for {cmr.calendar_year}, not {year}")
    gaps = []
    for s in stats:
        age = age_on(s.birth_date, as_of)
        conditions = sorted(
            {cmr.chronic_classes[c] for c in s.chronic_classes if c in cmr.chronic_classes}
        )
        if (
            age < cmr.min_age
            or s.distinct_drugs < cmr.min_distinct_drugs
            or s.annual_cost_cents < cmr.min_annual_cost_cents
            or len(conditions) < cmr.min_chronic_conditions
            or (s.last_cmr is not None and s.last_cmr.year == year)
        ):
            continue
        last = "" if s.last_cmr is None else f"; last CMR {_day(s.last_cmr)}"
        reason = (
            f"Age {age}; {s.distinct_drugs} drugs, {money(s.annual_cost_cents)} in drug "
            f"costs, {len(conditions)} chronic conditions ({', '.join(conditions)}); "
            f"no CMR recorded in {year}{last}."
        )
        due = max(date(year, 1, 1), _years_after(s.birth_date, cmr.min_age))
        gaps.append(
            Gap(
                patient=s.patient,
                code=f"cmr:{year}",
                kind="cmr",
                label=f"Comprehensive medication review (CMR), {year}",
                due_from=due,
                reason=reason,
                value_cents=cmr.value_cents,
            )
        )
    return sorted(gaps, key=lambda g: (g.patient, g.code))


def supd_gap(patient: str, *, year: int, as_of: date, rules: GapRules | None = None) -> Gap:
    """The gap item for a patient the adherence engine measured for SUPD with no statin."""
    if as_of < date(year, 1, 1):
        raise ValueError(f"as_of {as_of} is before measurement year {year}")
    rules = rules if rules is not None else gap_rules(year)
    reason = (
        f"Diabetes medicines filled in {year} and no statin fill as of {_day(as_of)} "
        f"(SUPD): ask the prescriber about a statin."
    )
    return Gap(
        patient=patient,
        code="supd",
        kind="supd",
        label="Statin for a patient with diabetes (SUPD)",
        due_from=date(year, 1, 1),
        reason=reason,
        value_cents=rules.supd_value_cents,
    )


def _vaccine_gap(
    p: GapPatient, v: Vaccine, history: list[Dose], *, rules: GapRules, as_of: date
) -> Gap | None:
    age = age_on(p.birth_date, as_of)
    of_age = _years_after(p.birth_date, v.min_age)
    code, label = f"imm:{v.code}", v.label
    if v.series == "annual_season":
        season = rules.season
        if not season.flu_start <= as_of <= season.flu_end:
            return None
        if any(season.flu_start <= d.given <= season.flu_end for d in history):
            return None
        code, label = f"{code}:{season.label}", f"{label}, {season.label} season"
        due = max(season.flu_start, of_age)
        reason = f"Age {age}; no {v.name} dose recorded since {_day(season.flu_start)}."
    elif v.series == "two_dose_series":
        dates = sorted({d.given for d in history})
        if len(dates) >= 2:
            return None
        if not dates:
            code, label, due = f"{code}:dose1", f"{label}, dose 1", of_age
            reason = f"Age {age}; no {v.name} dose recorded."
        else:
            first = dates[0]
            due = first + timedelta(days=v.min_interval_days)
            code, label = f"{code}:dose2", f"{label}, dose 2"
            reason = (
                f"First {v.name} dose {_day(first)}; second due from {_day(due)} "
                f"({_months(v.min_interval_days)} to {_months(v.max_interval_days)} months apart)."
            )
            if (as_of - first).days > v.max_interval_days:
                reason += " Late; give it now — the series is not restarted."
    elif v.series == "once":
        given = {normalize_cvx(d.cvx) for d in history}
        if any(combo <= given for combo in v.complete_with):
            return None
        if not history:
            due, reason = of_age, f"Age {age}; no {v.name} recorded."
        else:
            last = history[-1]
            cvx = normalize_cvx(last.cvx)
            after = v.next_dose_after_days
            due = max(of_age, last.given + timedelta(days=after))
            wanted = v.next_dose.get(cvx, v.name)
            reason = f"{wanted} due ≥ {_interval(after)} after {v.cvx[cvx]} of {_day(last.given)}."
    else:  # every_years
        if not history:
            due, reason = of_age, f"Age {age}; no {v.name} recorded."
        else:
            last = history[-1]
            due = _years_after(last.given, v.years)
            name = v.cvx[normalize_cvx(last.cvx)]
            reason = f"Last {name} {_day(last.given)}; a booster is due every {v.years} years."
    return Gap(p.patient, code, "immunization", label, due, reason, v.value_cents)


def _parse(doc: dict[str, Any]) -> GapRules:
    s = doc["season"]
    season = Season(
        s["label"], date.fromisoformat(s["flu_start"]), date.fromisoformat(s["flu_end"])
    )
    if season.flu_start >= season.flu_end:
        raise ValueError("flu_start must be before flu_end")
    not_counted = {normalize_cvx(c): str(why) for c, why in doc["not_counted"].items()}
    vaccines = tuple(_parse_vaccine(v) for v in doc["vaccines"])
    owner: dict[str, str] = dict.fromkeys(not_counted, "not_counted")
    for v in vaccines:
        for c in v.cvx:
            if c in owner:
                raise ValueError(f"CVX {c} is listed in both {owner[c]} and {v.code}")
            owner[c] = v.code
    c = doc["cmr"]
    cmr = CmrRules(
        calendar_year=int(c["calendar_year"]),
        min_age=int(c["min_age"]),
        min_distinct_drugs=int(c["min_distinct_drugs"]),
        min_annual_cost_cents=int(c["min_annual_cost_cents"]),
        min_chronic_conditions=int(c["min_chronic_conditions"]),
        chronic_classes={str(k): str(v) for k, v in c["chronic_classes"].items()},
        value_cents=int(c["value_cents"]),
    )
    return GapRules(
        season_year=int(doc["season_year"]),
        season=season,
        vaccines=vaccines,
        not_counted=not_counted,
        cmr=cmr,
        supd_value_cents=int(doc["supd"]["value_cents"]),
    )


def _parse_vaccine(v: dict[str, Any]) -> Vaccine:
    code, series = v["code"], v["series"]
    if series not in SERIES:
        raise ValueError(f"vaccine {code}: unknown series {series!r}")
    cvx = {normalize_cvx(k): str(name) for k, name in v["cvx"].items()}
    combos = tuple(
        frozenset(normalize_cvx(c) for c in combo) for combo in v.get("complete_with", [])
    )
    next_dose = {normalize_cvx(k): str(w) for k, w in v.get("next_dose", {}).items()}
    for c in {c for combo in combos for c in combo} | set(next_dose):
        if c not in cvx:
            raise ValueError(f"vaccine {code}: CVX {c} is not in its cvx list")
    required = {
        "two_dose_series": ("min_interval_days", "max_interval_days"),
        "every_years": ("years",),
    }
    for key in required.get(series, ()):
        if not isinstance(v.get(key), int) or v[key] <= 0:
            raise ValueError(f"vaccine {code}: series {series} needs an integer {key}")
    return Vaccine(
        code=code,
        label=v["label"],
        name=v["name"],
        series=series,
        min_age=int(v["min_age"]),
        value_cents=int(v["value_cents"]),
        cvx=cvx,
        complete_with=combos or tuple(frozenset({c}) for c in cvx),
        min_interval_days=int(v.get("min_interval_days", 0)),
        max_interval_days=int(v.get("max_interval_days", 0)),
        years=int(v.get("years", 0)),
        next_dose_after_days=int(v.get("next_dose_after_days", 0)),
        next_dose=next_dose,
    )


def _years_after(d: date, years: int) -> date:
    """The same calendar day `years` later; Feb 29 falls on Mar 1 in a common year
    (the day `age_on` first counts the birthday)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return date(d.year + years, 3, 1)


def _day(d: date) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def _months(days: int) -> int:
    return (days + 15) // 30  # 56 days ~ 2 months, 183 ~ 6


def _interval(days: int) -> str:
    return "1 year" if days == 365 else f"{days} days"
