"""How fast the reconciliation engine matches claims to payments and places PLB amounts.

Issue 6, Performance (engine part). One run prints:

- the set-based engine (`reconciliation.engine.fast.reconcile`) over 100,000 and 1,000,000
  claims with their 835 payments (about one per claim, with duplicates, take-backs, short
  pays, DIR withheld, unmatched payments) and PLB amounts (fees, forward balances and
  recoupments tied by reference): best of 2 runs each, and the growth from 100k to 1M
  (10.0 is linear);
- the baseline, measured in the same run: the reference path
  (`reconciliation.engine.matching.reconcile`, a Python loop per payment) on the 100k set,
  and the ratio; and whether both give the same outcome on it.

The rows are generated in memory with a fixed seed (no database): this measures the engine
only. The full run (`reconciliation.services.runs.reconcile_organization`: loading from
Postgres, fees and costs, writing the results with COPY) is not in this benchmark yet.
Timings are reported, never asserted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bench.report import met, print_table
from reconciliation.engine import fast, matching

AS_OF = date(2026, 11, 23)
DAY0 = date(2026, 1, 1)
SEED = 7
TARGET_FULL_1M_S = 30.0


def world(n: int, seed: int = SEED) -> tuple[list[Any], list[Any], list[Any]]:
    """`n` claims over 3 stores with their payments and PLB amounts."""
    rng = random.Random(seed)
    claims, payments, plb = [], [], []
    pid = 0
    for i in range(n):
        dos = DAY0 + timedelta(days=rng.randrange(320))
        store = 10 + i % 3
        rx, fill = 2_000_000 + i // 4, i % 4
        tx = "B2" if rng.random() < 0.1 else "B1"
        expected = rng.choice((0, 850, 1800, 4200, 12000))
        claims.append(
            matching.Claim(
                fill_id=i + 1,
                location_id=store,
                rx_number=rx,
                fill_number=fill,
                date_of_service=dos,
                transaction_code=tx,
                reversed=rng.random() < 0.12,
                has_plan=rng.random() > 0.05,
                authorization=f"A{i:09d}" if rng.random() < 0.7 else "",
                expected_cents=expected,
                due_on=dos + timedelta(days=30),
            )
        )
        if tx == "B2" or rng.random() < 0.04:  # not paid (yet)
            continue
        remit = 1 + (dos.toordinal() // 7) * 3 + i % 3
        short = rng.random() < 0.01
        dir_ = 25 if rng.random() < 0.3 else 0
        paid = expected - dir_ - (100 if short else 0)
        cas = (("CO", "295", dir_),) if dir_ else ()
        for _ in range(2 if rng.random() < 0.002 else 1):  # a duplicate payment
            pid += 1
            by_auth = claims[-1].authorization and rng.random() < 0.8
            payments.append(
                matching.Payment(
                    payment_id=pid,
                    remittance_id=remit,
                    location_id=store,
                    claim_ref=f"{rx}-{fill:02d}" if rng.random() < 0.95 else str(rx),
                    payer_claim_control=claims[-1].authorization if by_auth else "",
                    status="1",
                    paid_cents=paid,
                    service_date=dos,
                    adjustments=cas,
                )
            )
        if rng.random() < 0.01:  # taken back
            pid += 1
            payments.append(
                matching.Payment(
                    payment_id=pid,
                    remittance_id=remit + 3,
                    location_id=store,
                    claim_ref=f"{rx}-{fill:02d}",
                    payer_claim_control="",
                    status="22",
                    paid_cents=-paid,
                    service_date=dos,
                )
            )
    for k in range(n // 200):  # payments for claims the PMS never sent
        pid += 1
        payments.append(matching.Payment(pid, 1, 10, f"{9_000_000 + k}-00", "", "1", 700, DAY0, ()))
    remits = sorted({p.remittance_id for p in payments})
    for j, remit in enumerate(remits):
        plb.append(matching.ProviderAdjustment(3 * j + 1, remit, "CS", f"TXN{remit}", 150))
        if j % 5 == 0:
            plb.append(matching.ProviderAdjustment(3 * j + 2, remit, "FB", "BAL", -900))
        if j % 7 == 0:
            auth = claims[rng.randrange(n)].authorization
            plb.append(matching.ProviderAdjustment(3 * j + 3, remit, "WO", auth, 1800))
    return claims, payments, plb


def _best(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _normalized(out: matching.Outcome) -> tuple[Any, ...]:
    return (
        sorted(out.results, key=lambda r: r.fill_id),
        sorted(out.unmatched, key=lambda u: u.payment_id),
        sorted(out.allocations, key=lambda a: (a.adjustment_id, a.fill_id or 0, a.allocated)),
    )


def run() -> None:
    print("Reconciliation engine: claims matched to payments, PLB placed (in memory, no DB)")
    small = world(100_000)
    big = world(1_000_000)
    print(
        f"  100k set: {len(small[0]):,} claims, {len(small[1]):,} payments, "
        f"{len(small[2]):,} PLB; 1M set: {len(big[0]):,} claims, {len(big[1]):,} payments, "
        f"{len(big[2]):,} PLB"
    )
    t_small, fast_small = _best(2, lambda: fast.reconcile(*small, as_of=AS_OF))
    t_big, _ = _best(2, lambda: fast.reconcile(*big, as_of=AS_OF))
    t_ref, ref_small = _best(1, lambda: matching.reconcile(*small, as_of=AS_OF))
    same = _normalized(fast_small) == _normalized(ref_small)
    print_table(
        [
            ("set-based engine, 100k claims", f"{t_small:.2f} s", "", ""),
            (
                "set-based engine, 1M claims (engine only; target is the full run)",
                f"{t_big:.2f} s",
                f"<= {TARGET_FULL_1M_S:.0f} s",
                met(t_big <= TARGET_FULL_1M_S),
                f"reference, 100k: {t_ref:.2f} s",
                f"{t_ref * 10 / t_big:.1f}x (pro rata)",
            ),
            ("growth 100k -> 1M (10.0 = linear)", f"{t_big / t_small:.1f}", "~10", ""),
            ("reference path, 100k claims (baseline)", f"{t_ref:.2f} s", "", ""),
            ("set-based vs reference", f"{t_ref / t_small:.1f}x", "", ""),
            ("same outcome as the reference (100k)", "yes" if same else "NO", "yes", met(same)),
        ]
    )


if __name__ == "__main__":
    run()
