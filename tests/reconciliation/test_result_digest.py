"""A result row's digest depends on its values, not on the dtypes a frame happened to get
(an incremental run's few rows and a full run's many must hash alike), and changes with any
compared value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconciliation.services.runs import _with_digest


def frame(**overrides: object) -> pd.DataFrame:
    columns: dict[str, object] = {
        "organization_id": [1, 1],
        "location_id": [7, 8],
        "fill_id": [100, 101],
        "date_of_service": pd.to_datetime(["2026-03-01", "2026-03-02"]),
        "status": ["paid", "unpaid"],
        "expected_cents": [1250, 99],
        "due_on": pd.to_datetime(["2026-03-31", None]),
        "below_cost": [False, True],
        "reasons": ['["CO-45"]', "[]"],
        "job_id": pd.array([5, 5], dtype="Int64"),
        "computed_at": ["2026-12-04T10:00:00", "2026-12-04T10:00:00"],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_same_values_in_other_dtypes_give_the_same_digest() -> None:
    base = _with_digest(frame())["digest"].tolist()
    as_floats = frame(location_id=[7.0, 8.0], expected_cents=np.array([1250.0, 99.0]))
    nullable = frame(location_id=pd.array([7, 8], dtype="Int64"))
    assert _with_digest(as_floats)["digest"].tolist() == base
    assert _with_digest(nullable)["digest"].tolist() == base
    # which run wrote the row, and when, are not content
    other_run = frame(job_id=pd.array([9, 9], dtype="Int64"), computed_at=["x", "y"])
    assert _with_digest(other_run)["digest"].tolist() == base
    # a row hashes alone as it does among others
    assert _with_digest(frame().iloc[1:])["digest"].tolist() == base[1:]


def test_any_compared_value_changes_the_digest() -> None:
    base = _with_digest(frame())["digest"].tolist()
    for change in (
        {"location_id": [7, 9]},
        {"expected_cents": [1250, 100]},
        {"status": ["paid", "paid"]},
        {"due_on": pd.to_datetime(["2026-03-31", "2026-04-01"])},
        {"below_cost": [False, False]},
        {"reasons": ['["CO-45"]', '["PR-1"]']},
        {"date_of_service": pd.to_datetime(["2026-03-01", "2026-03-03"])},
    ):
        got = _with_digest(frame(**change))["digest"].tolist()
        assert got[0] == base[0], change
        assert got[1] != base[1], change
