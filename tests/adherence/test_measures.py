"""Measure definitions and value sets load from data, per measurement year."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from adherence import measures
from adherence.measures import measure_year


def test_both_shipped_years_define_the_four_measures() -> None:
    assert set(measures.available_years()) >= {2025, 2026}
    for year in (2025, 2026):
        spec = measure_year(year)
        assert [m.code for m in spec.measures] == ["PDC-DR", "PDC-RASA", "PDC-STA", "SUPD"]


def test_2026_rules_match_pqa() -> None:
    spec = measure_year(2026)
    dr, rasa, sta, supd = (spec.measure(c) for c in ("PDC-DR", "PDC-RASA", "PDC-STA", "SUPD"))
    assert (dr.exclusions, rasa.exclusions, sta.exclusions) == (
        {"INSULIN"},
        {"SACVAL"},
        frozenset(),
    )
    assert {m.threshold for m in (dr, rasa, sta)} == {Fraction(4, 5)}
    assert {(m.min_fills, m.min_period_days, m.min_age) for m in (dr, rasa, sta)} == {(2, 91, 18)}
    assert (supd.kind, supd.min_age, supd.max_age) == ("supd", 40, 75)
    assert (supd.target, supd.numerator) == ({"DR", "INSULIN"}, {"STA"})


def test_value_sets_map_ndc_to_class_and_ingredient() -> None:
    spec = measure_year(2026)
    assert spec.drug_class("68180033609") == "DR"
    assert spec.ingredient("00093726701") == "metformin"  # ER product, same ingredient
    assert spec.drug_class("00078065920") == "SACVAL"
    assert spec.drug_class("00088221905") == "INSULIN"
    assert spec.drug_class("65862001705") is None  # amoxicillin: known, not targeted
    assert spec.unknown_ndcs(["65862001705", "12345678901"]) == {"12345678901"}


def test_a_year_without_definitions_is_refused() -> None:
    with pytest.raises(LookupError, match="no measure definitions for 1999"):
        measure_year(1999)


def test_an_ndc_listed_in_two_value_sets_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.loads((measures.VALUESETS_DIR / "my2026.json").read_text())
    doc["measurement_year"] = 2099
    doc["value_sets"]["STA"]["ndcs"]["68180033609"] = {"name": "x", "ingredient": "x"}
    (tmp_path / "my2099.json").write_text(json.dumps(doc))
    monkeypatch.setattr(measures, "VALUESETS_DIR", tmp_path)
    with pytest.raises(ValueError, match="68180033609 is listed twice"):
        measures.measure_year(2099)
