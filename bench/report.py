"""How every benchmark prints its results: one aligned table of measure, result, target, met."""

from __future__ import annotations

from collections.abc import Sequence

Row = tuple[str, str, str, str]


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def print_table(rows: Sequence[Row]) -> None:
    w = (
        max(len(r[0]) for r in rows) + 2,
        max(len(r[1]) for r in rows),
        max(len(r[2]) for r in rows) + 2,
        5,
    )
    print(f"{'measure':<{w[0]}}{'result':>{w[1]}}{'target':>{w[2]}}{'met':>{w[3]}}")
    for name, result, goal, ok in rows:
        print(f"{name:<{w[0]}}{result:>{w[1]}}{goal:>{w[2]}}{ok:>{w[3]}}")
