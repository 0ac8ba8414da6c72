"""Trust: every figure the margin API gives, for every grouping, equals the same figure
recomputed straight from the raw rows (claims, 835 payments matched to them, fee-statement
lines, the payer contracts and the value sets) and the run's per-claim results, with plain
SQL written here, independently of the rollups, to the cent."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from dashboards.selectors import GROUP_BYS
from reconciliation.models import ClaimResult

pytestmark = pytest.mark.django_db

VALUESETS = Path(__file__).resolve().parents[2] / "adherence" / "valuesets"

FIGURES = (
    "claims", "generic_claims", "revenue_cents", "plan_paid_cents", "acquisition_cents",
    "fees_actual_cents", "fees_estimated_cents", "dir_cents", "net_margin_cents",
    "below_cost_claims", "below_cost_cents", "remitted_cents", "unreconciled_0_30_cents",
    "unreconciled_31_60_cents", "unreconciled_61_90_cents", "unreconciled_90_plus_cents",
)  # fmt: skip

# One row per claim, from the raw rows where there are raw rows: revenue and plan paid from
# the PMS claim, remitted from the 835 payments matched to it, actual fees from the
# statements' lines, the contract type from the contract rows (BIN equal, PCN/group equal or
# "*", the most specific in effect that day), the drug class from the value-set files; the
# acquisition cost, the fee estimate, DIR withheld and the net margin as the run computed them.
# Dispensed is the run's rule: not a B2, and not a claim the run found reversed with nothing
# paid on it (a claim reversed in the PMS but paid keeps its cost and its margin).
_PER_CLAIM = """
SELECT r.location_id, r.date_of_service AS day, f.plan_id,
  coalesce(nullif(d.adherence_class, ''), vs.cls, '') AS drug_class,
  CASE WHEN f.plan_id IS NULL OR f.status = 'cash' THEN '' ELSE coalesce(ct.contract_type, '')
  END AS contract_type,
  disp AS dispensed, (disp AND NOT d.is_brand) AS generic,
  CASE WHEN disp THEN f.total_paid_cents + f.patient_pay_cents ELSE 0 END AS revenue,
  CASE WHEN tp THEN f.total_paid_cents ELSE 0 END AS plan_paid,
  r.acquisition_cents AS acquisition,
  CASE WHEN tp THEN coalesce(fl.cents, 0) ELSE 0 END AS fees_actual,
  CASE WHEN tp AND fl.cents IS NULL THEN r.fees_estimated_cents ELSE 0 END AS fees_estimated,
  r.dir_cents AS dir, r.net_margin_cents AS net_margin,
  f.transaction_code <> 'B2' AND f.total_paid_cents + f.patient_pay_cents < r.acquisition_cents
    AS below,
  r.acquisition_cents - f.total_paid_cents - f.patient_pay_cents AS shortfall,
  coalesce(pm.paid, 0) AS remitted,
  CASE WHEN r.status IN ('pending', 'unpaid', 'short_paid')
    THEN f.total_paid_cents - coalesce(pm.paid, 0) - r.dir_cents ELSE 0 END AS owed,
  %(as_of)s::date - r.date_of_service AS age
FROM reconciliation_claimresult r
JOIN claims_fill f ON f.id = r.fill_id
JOIN claims_drug d ON d.id = f.drug_id
LEFT JOIN claims_plan p ON p.id = f.plan_id
LEFT JOIN unnest(%(ndcs)s::text[], %(classes)s::text[]) AS vs(ndc, cls) ON vs.ndc = d.ndc
CROSS JOIN LATERAL (SELECT f.transaction_code <> 'B2' AND r.status <> 'reversed' AS disp) v
CROSS JOIN LATERAL (
  SELECT disp AND f.plan_id IS NOT NULL AND f.status <> 'cash' AS tp) w
LEFT JOIN LATERAL (
  SELECT sum(l.amount_cents) AS cents FROM reconciliation_feeline l
  WHERE l.organization_id = r.organization_id AND l.location_id = f.location_id
    AND l.rx_number = f.rx_number AND l.fill_number = f.fill_number
    AND l.date_of_service = f.date_of_service AND l.transaction_code = f.transaction_code
  HAVING count(*) > 0) fl ON true
LEFT JOIN LATERAL (
  SELECT sum(coalesce(cp.paid_cents, 0)) AS paid FROM reconciliation_paymentmatch m
  JOIN reconciliation_claimpayment cp ON cp.id = m.payment_id WHERE m.fill_id = f.id) pm ON true
LEFT JOIN LATERAL (
  SELECT c.contract_type FROM reconciliation_payercontract c
  WHERE c.organization_id = r.organization_id AND trim(c.bin) = trim(p.bin)
    AND (c.pcn = '*' OR c.pcn = upper(trim(p.pcn)))
    AND (c."group" = '*' OR c."group" = upper(trim(p."group")))
    AND c.effective_from <= r.date_of_service
    AND (c.effective_to IS NULL OR c.effective_to >= r.date_of_service)
  ORDER BY (c."group" <> '*')::int * 2 + (c.pcn <> '*')::int DESC, c.effective_from DESC,
    c.id DESC
  LIMIT 1) ct ON true
WHERE r.organization_id = %(org)s AND r.date_of_service BETWEEN %(start)s AND %(end)s
"""
_GROUP = {
    "location": "location_id::text",
    "payer": "plan_id::text",
    "drug_class": "drug_class",
    "contract_type": "contract_type",
    "day": "to_char(day, 'YYYY-MM-DD')",
    "month": "to_char(date_trunc('month', day), 'YYYY-MM-DD')",
}
_SUMS = """
SELECT {group} AS g,
  count(*) FILTER (WHERE dispensed), count(*) FILTER (WHERE generic),
  sum(revenue), sum(plan_paid), sum(acquisition), sum(fees_actual), sum(fees_estimated),
  sum(dir), sum(net_margin), count(*) FILTER (WHERE below),
  coalesce(sum(shortfall) FILTER (WHERE below), 0), sum(remitted),
  coalesce(sum(owed) FILTER (WHERE age <= 30), 0),
  coalesce(sum(owed) FILTER (WHERE age BETWEEN 31 AND 60), 0),
  coalesce(sum(owed) FILTER (WHERE age BETWEEN 61 AND 90), 0),
  coalesce(sum(owed) FILTER (WHERE age > 90), 0)
FROM ({per_claim}) c GROUP BY 1
"""


def value_set_classes() -> dict[str, str]:
    """NDC -> class from the value-set files (a later year's file wins)."""
    out: dict[str, str] = {}
    for path in sorted(VALUESETS.glob("my*.json")):
        for cls, value_set in json.loads(path.read_text())["value_sets"].items():
            out.update(dict.fromkeys(value_set["ndcs"], cls))
    return out


def recomputed(
    world: SimpleNamespace, group_by: str, start: date, end: date
) -> dict[str | None, tuple[int, ...]]:
    classes = value_set_classes()
    params = {
        "org": world.org.pk,
        "as_of": world.as_of,
        "start": start,
        "end": end,
        "ndcs": list(classes),
        "classes": list(classes.values()),
    }
    sql = _SUMS.format(group=_GROUP[group_by], per_claim=_PER_CLAIM)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0]: tuple(int(v) for v in row[1:]) for row in cur.fetchall()}


def from_api(
    client: Any, group_by: str, start: date, end: date
) -> tuple[dict[str | None, tuple[int, ...]], dict[str, Any]]:
    response = client.get(f"/api/v1/metrics/margin/?group_by={group_by}&from={start}&to={end}")
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {r["key"]: tuple(r[f] for f in FIGURES) for r in body["results"]}
    assert len(rows) == len(body["results"])  # one row per group
    return rows, body


def test_every_grouping_equals_plain_sql_over_the_raw_rows_to_the_cent(
    margin_world: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(margin_world.owner)
    start, end = date(2026, 1, 1), margin_world.as_of
    for group_by in GROUP_BYS:
        ours, body = from_api(client, group_by, start, end)
        assert ours == recomputed(margin_world, group_by, start, end), group_by
        # the totals are the sum of the rows
        totals = tuple(body["totals"][f] for f in FIGURES)
        assert totals == tuple(sum(col) for col in zip(*ours.values(), strict=True)), group_by
    # and a range that cuts months in the middle
    start, end = date(2026, 2, 10), date(2026, 3, 20)
    for group_by in ("month", "payer", "contract_type"):
        ours, _ = from_api(client, group_by, start, end)
        assert ours == recomputed(margin_world, group_by, start, end), group_by


def test_the_world_exercises_every_figure_and_remitted_balances_with_the_run(
    margin_world: SimpleNamespace, api_login: Any
) -> None:
    """Guards the test above against a world where a figure is always zero (a wrong rule
    would then still agree)."""
    client = api_login(margin_world.owner)
    rows, body = from_api(client, "contract_type", date(2026, 1, 1), margin_world.as_of)
    t = body["totals"]
    assert {"ffs", "value_based", ""} <= set(rows)  # both contract kinds, and cash
    for figure in FIGURES:
        assert t[figure] != 0, figure
    assert 0 < t["generic_claims"] < t["claims"]
    # every claim result is counted once: what the 835s paid on claims is the run's total
    assert t["remitted_cents"] == margin_world.run.counts["matched_cents"]
    dispensed = ClaimResult.objects.exclude(status__in=("reversal", "reversed")).count()
    assert t["claims"] == dispensed
    by_class, _ = from_api(client, "drug_class", date(2026, 1, 1), margin_world.as_of)
    assert {"DR", "RASA", "STA", ""} <= set(by_class)
