"""Measure definitions and value sets, versioned by measurement year and loaded from data.

Each measurement year is one JSON file in `adherence/valuesets/` (`my2026.json`): the measures
(PDC-DR, PDC-RASA, PDC-STA, SUPD) with their eligibility rules, and the NDC-11 value sets
they refer to by class (DR, INSULIN, RASA, SACVAL, STA). See `valuesets/README.md` for where
the lists come from. Pure: no Django, no other project app.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Literal

VALUESETS_DIR = Path(__file__).resolve().parent / "valuesets"

MeasureKind = Literal["pdc", "supd"]


@dataclass(frozen=True, slots=True)
class Drug:
    """One product in the value sets. `drug_class` is None for a reviewed non-target drug."""

    ndc: str
    name: str
    ingredient: str  # PQA "same drug": fills of one ingredient are shifted, not overlapped
    drug_class: str | None


@dataclass(frozen=True, slots=True)
class Measure:
    """One measure's rules for one measurement year.

    - `target`: classes whose fills put a patient in the denominator (and, for PDC, whose
      days' supply covers days).
    - `exclusions`: classes of which one fill in the period excludes the patient.
    - `numerator`: SUPD only: classes of which one fill meets the measure (statins).
    - `min_period_days`: PDC only: the shortest treatment period (index date to period end).
    - `threshold`: PDC only: the PDC at or above which a patient is adherent.
    """

    code: str
    name: str
    kind: MeasureKind
    target: frozenset[str]
    exclusions: frozenset[str]
    numerator: frozenset[str]
    min_age: int
    max_age: int | None
    min_fills: int
    min_period_days: int | None
    threshold: Fraction | None


@dataclass(frozen=True, slots=True)
class MeasureYear:
    """Everything the calculation needs for one measurement year."""

    year: int
    measures: tuple[Measure, ...]
    drugs: Mapping[str, Drug]  # NDC-11 -> drug, for every NDC the value sets know

    def measure(self, code: str) -> Measure:
        for m in self.measures:
            if m.code == code:
                return m
        raise KeyError(f"no measure {code!r} in measurement year {self.year}")

    def drug_class(self, ndc: str) -> str | None:
        """The NDC's class; None for a reviewed non-target drug or an unknown NDC."""
        drug = self.drugs.get(ndc)
        return None if drug is None else drug.drug_class

    def ingredient(self, ndc: str) -> str:
        return self.drugs[ndc].ingredient

    def unknown_ndcs(self, ndcs: Iterable[str]) -> set[str]:
        """NDCs the value sets do not know: never guessed into a class, reported instead."""
        return {ndc for ndc in ndcs if ndc not in self.drugs}


def available_years() -> tuple[int, ...]:
    """Measurement years that have a value-set file."""
    return tuple(sorted(int(p.stem.removeprefix("my")) for p in VALUESETS_DIR.glob("my*.json")))


@cache
def measure_year(year: int) -> MeasureYear:
    """The measures and value sets for `year`; raises LookupError when none are on file."""
    path = VALUESETS_DIR / f"my{year}.json"
    if not path.exists():
        years = ", ".join(str(y) for y in available_years())
        raise LookupError(f"no measure definitions for {year} (have: {years})")
    return _parse(json.loads(path.read_text(encoding="utf-8")), source=path)


def _parse(doc: dict[str, Any], *, source: Path) -> MeasureYear:
    year = int(doc["measurement_year"])
    if doc.get("age_as_of") != "year_start":
        raise ValueError(f"{source}: only age as of the first day of the year is supported")
    drugs: dict[str, Drug] = {}
    for cls, value_set in doc["value_sets"].items():
        for ndc, entry in value_set["ndcs"].items():
            _add_drug(drugs, Drug(ndc, entry["name"], entry["ingredient"], cls), source)
    for ndc, entry in doc["not_targeted"].items():
        _add_drug(drugs, Drug(ndc, entry["name"], entry["ingredient"], None), source)
    measures = tuple(_parse_measure(m) for m in doc["measures"])
    classes = set(doc["value_sets"])
    for m in measures:
        missing = (m.target | m.exclusions | m.numerator) - classes
        if missing:
            raise ValueError(f"{source}: {m.code} names unknown value sets {sorted(missing)}")
    return MeasureYear(year=year, measures=measures, drugs=drugs)


def _add_drug(drugs: dict[str, Drug], drug: Drug, source: Path) -> None:
    # one NDC in two value sets would make its class ambiguous: refuse the file
    if drug.ndc in drugs:
        raise ValueError(f"{source}: NDC {drug.ndc} is listed twice")
    if len(drug.ndc) != 11 or not drug.ndc.isdigit():
        raise ValueError(f"{source}: NDC {drug.ndc!r} is not 11 digits")
    drugs[drug.ndc] = drug


def _parse_measure(m: dict[str, Any]) -> Measure:
    kind = m["kind"]
    if kind not in ("pdc", "supd"):
        raise ValueError(f"measure {m['code']}: unknown kind {kind!r}")
    threshold = m.get("threshold")
    return Measure(
        code=m["code"],
        name=m["name"],
        kind=kind,
        target=frozenset(m["target"]),
        exclusions=frozenset(m.get("exclusions", [])),
        numerator=frozenset(m.get("numerator", [])),
        min_age=int(m["min_age"]),
        max_age=None if m.get("max_age") is None else int(m["max_age"]),
        min_fills=int(m["min_fills"]),
        min_period_days=m.get("min_period_days"),
        threshold=None if threshold is None else Fraction(threshold),
    )
