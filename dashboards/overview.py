"""The chain overview's figures: headline tiles with their period-over-period change, read
from the margin rollups (`selectors`), the adherence rates and the clinical claims.

A tile knows its formula (shown on the page) and the claims behind it (`figure`, the drill
page's filter). Changes: money and counts as a fraction of the earlier period's figure
(None when that was zero), rates as the difference in percentage points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from adherence.selectors import (
    AdherenceHealth,
    adherence_health_for_user,
    adherence_measures_for_user,
)
from clinical.encounter_selectors import clinical_revenue_for_user
from dashboards.periods import Period, previous_period
from dashboards.rollup_cache import rollup_rows
from dashboards.selectors import MarginReport, MarginRow, margin_for_user, per_script, rate
from rxrevops.access import Principal

MEASURE_LABELS = {
    "PDC-DR": "Diabetes (PDC-DR)",
    "PDC-RASA": "RAS antagonists (PDC-RASA)",
    "PDC-STA": "Statins (PDC-STA)",
    "SUPD": "Statin use in diabetes (SUPD)",
}


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    kind: str  # cents | rate | count
    value: Any
    previous: Any
    formula: str
    figure: str = ""  # the claims behind it (the drill page's `figure`), "" for none
    better: str = "up"  # which way is good: up | down
    href: str = ""  # where the tile leads instead, when not to the claims

    @property
    def change(self) -> Decimal | None:
        """Money/counts: fraction of the earlier figure; rates: percentage points."""
        if self.value is None or self.previous is None:
            return None
        if self.kind == "rate":
            return (Decimal(self.value) - Decimal(self.previous)) * 100
        if not self.previous:
            return None
        return (Decimal(self.value - self.previous) / abs(Decimal(self.previous))).quantize(
            Decimal("0.001")
        )

    @property
    def trend(self) -> str:
        """good | bad | flat, for the arrow's colour."""
        change = self.change
        if change is None or change == 0:
            return "flat"
        return "good" if (change > 0) == (self.better == "up") else "bad"


@dataclass(frozen=True)
class Overview:
    period: Period
    previous: Period
    current: MarginReport  # per location
    earlier: MarginReport
    tiles: list[Tile]
    unreconciled: list[tuple[str, int]]  # (age bucket, cents)
    clinical_billed_cents: int
    clinical_billed_before_cents: int
    adherence: AdherenceHealth
    notes: list[str] = field(default_factory=list)

    @property
    def totals(self) -> MarginRow:
        return self.current.totals


NET_MARGIN = (
    "Σ per script: paid by the plan (what the 835s paid; the adjudicated amount while not "
    "yet due) + patient pay - PLB fees tied to it - fees (PBM statements, else the contract's "
    "estimate) - acquisition cost (invoice, else NADAC x quantity, else PMS cost)"
)


def _margin_tiles(cur: MarginRow, prev: MarginRow) -> list[Tile]:
    return [
        Tile("net_margin", "Net margin", "cents", cur.net_margin_cents, prev.net_margin_cents,
             NET_MARGIN, figure="net_margin"),
        Tile("net_margin_per_script", "Net margin per script", "cents",
             cur.net_margin_per_script_cents, prev.net_margin_per_script_cents,
             "net margin ÷ scripts dispensed (reversals left out)", figure="net_margin"),
        Tile("revenue", "Revenue", "cents", cur.revenue_cents, prev.revenue_cents,
             "Σ plan paid at adjudication + patient pay, scripts dispensed", figure="revenue"),
        Tile("scripts", "Scripts", "count", cur.claims, prev.claims,
             "claims dispensed (reversal transactions and claims reversed in the PMS left "
             "out)", figure="revenue"),
        Tile("fees_per_script", "Fees + DIR per script", "cents",
             per_script(cur.fees_cents + cur.dir_cents, cur.claims),
             per_script(prev.fees_cents + prev.dir_cents, prev.claims),
             "(statement fees + estimated fees + DIR withheld on 835s) ÷ scripts",
             figure="fees", better="down"),
        Tile("below_cost_rate", "Below-cost rate", "rate", cur.below_cost_rate,
             prev.below_cost_rate,
             "scripts paid below cost (plan paid + patient pay < acquisition cost) ÷ scripts",
             figure="below_cost", better="down"),
        Tile("gdr", "Generic dispensing rate", "rate", cur.generic_dispensing_rate,
             prev.generic_dispensing_rate, "generic scripts ÷ scripts", figure="generic"),
        Tile("unreconciled", "Unreconciled", "cents", cur.unreconciled_cents,
             prev.unreconciled_cents,
             "Σ plan paid - remitted - DIR withheld, of claims not yet paid in full "
             "(pending, unpaid, short-paid)", figure="unreconciled", better="down"),
    ]  # fmt: skip


def overview_for_user(
    user: Principal,
    *,
    period: Period,
    location: int | None = None,
    payer: int | None = None,
) -> Overview:
    """Everything the overview's tiles show for `period` and the period before it, in the
    principal's stores, narrowed to one store or plan."""
    before = previous_period(period)
    current = margin_for_user(
        user, group_by="location", start=period.start, end=period.end,
        location=location, payer=payer,
    )  # fmt: skip
    earlier = margin_for_user(
        user, group_by="location", start=before.start, end=before.end,
        location=location, payer=payer,
    )  # fmt: skip
    tiles = _margin_tiles(current.totals, earlier.totals)
    t = current.totals
    unreconciled = [
        ("0-30", t.unreconciled_0_30_cents),
        ("31-60", t.unreconciled_31_60_cents),
        ("61-90", t.unreconciled_61_90_cents),
        ("90+", t.unreconciled_90_plus_cents),
    ]
    clinical = clinical_revenue_for_user(user, since=period.start, until=period.end)
    clinical_before = clinical_revenue_for_user(user, since=before.start, until=before.end)
    notes: list[str] = []
    billed = sum(s.billed_cents for s in clinical)
    billed_before = sum(s.billed_cents for s in clinical_before)
    if location is not None or payer is not None:
        notes.append("Clinical revenue and adherence are the whole chain's (not narrowed).")
    tiles.append(
        Tile("clinical", "Clinical revenue billed", "cents", billed, billed_before,
             "Σ billed of MTM, immunization and point-of-care claims (void left out)",
             href="clinical"),
    )  # fmt: skip
    # measure rows change only with a worklist build, which lets the kept answers go
    kept = partial(rollup_rows, user=user)
    health = adherence_health_for_user(user, on=period.end, read=kept)
    tiles.append(
        Tile("med_sync", "Med-sync enrollment", "rate",
             rate(health.sync_enrolled, health.chronic_patients), None,
             "patients on an active med-sync plan ÷ patients in a PDC measure this year",
             href="adherence"),
    )  # fmt: skip
    # each measure's rate at the period's end, against the rate at the earlier period's end
    earlier_rates = {
        m.measure: m.rate for m in adherence_measures_for_user(user, on=before.end, read=kept)
    }
    for m in health.measures:
        tiles.append(
            Tile(f"pdc_{m.measure.lower().replace('-', '_')}",
                 MEASURE_LABELS.get(m.measure, m.measure), "rate", m.rate,
                 earlier_rates.get(m.measure),
                 f"patients adherent ÷ patients measured (PQA {m.measure}, year to date as of "
                 f"{m.as_of:%b %d})", href="adherence"),
        )  # fmt: skip
    return Overview(
        period=period,
        previous=before,
        current=current,
        earlier=earlier,
        tiles=tiles,
        unreconciled=unreconciled,
        clinical_billed_cents=billed,
        clinical_billed_before_cents=billed_before,
        adherence=health,
        notes=notes,
    )
