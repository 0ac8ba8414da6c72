"""Medication synchronization (the Appointment-Based Model): one pickup day for every med.

A synced patient picks up all maintenance meds on one sync date, then every `cycle` days
(28, 30 or 90). The rules (DOMAIN.md §4.1):

- **Which meds.** Insulins, liquids, eye drops, controlled and as-needed meds are not
  synced (`SyncMed.syncable` False): they are listed for the call but keep their own dates.
- **Anchor and sync date.** The proposed anchor is the syncable med with the highest total
  paid on its last fill (ties: the longer days' supply, then the key): the one you least
  want to short-fill. The proposed sync date is the day its supply runs out, never before
  today; staff may pick another day.
- **Alignment at sync date S, cycle C**, for a med whose supply runs out on R (the first day
  without supply: last fill + days' supply) and with R - S days on hand at S:
  - R before S: `bridge` S - R days on R, so it runs out on S with the rest;
  - nothing on hand at S: `full` cycle on S;
  - a whole cycle or more on hand: `skip`, nothing this cycle;
  - otherwise `short` fill C minus the days on hand on S, so it runs out on S + C.
- **Quantity** = days x (quantity / days' supply) of the last fill: a last fill of whole
  units gives whole units (rounded up, never short); a fractional one is rounded half-up to
  3 decimals.
- **Refill too soon.** Plans commonly reject a refill (NCPDP reject 79) before about 75%
  of the previous fill's days' supply has elapsed. A short or full fill dispensed before
  that share is used is flagged, so the pharmacy can plan an override or a later date.
  A bridge is dispensed on the run-out day (100% used) and so is never too soon.
- **The call.** The patient appears on the call list 7 days before the sync date; the call
  is due by 5 days before. A call not made by then stays on the list, marked late, until
  the sync date.

Pure: dates, integers, Decimal and Fraction; no Django, no other app.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

CYCLES = (28, 30, 90)
CALL_EARLIEST_DAYS = 7  # the call list shows a patient from 7 days before their sync date...
CALL_LATEST_DAYS = 5  # ...and the call is "due" by 5 days before
REFILL_TOO_SOON_SHARE = Fraction(3, 4)  # a refill before 75% of the last supply risks reject 79

SHORT = "short"
FULL = "full"
SKIP = "skip"
BRIDGE = "bridge"
NOT_SYNCED = "not_synced"
ACTIONS = (SHORT, FULL, SKIP, BRIDGE, NOT_SYNCED)


@dataclass(frozen=True, slots=True)
class SyncMed:
    """One prescription of a synced patient, as its last dispensed fill describes it."""

    key: str  # prescription id as text
    name: str  # drug name for display
    last_fill: date  # date of service of the last dispensed fill
    days_supply: int  # of that last fill (> 0)
    quantity: Decimal  # of that last fill (> 0)
    cost_cents: int  # what the last fill paid (plan + patient), to propose the anchor
    refills_left: int | None = None  # None = unknown
    syncable: bool = True  # False for insulins, liquids, eye drops, controlled, PRN

    @property
    def runs_out(self) -> date:
        """The first day without supply."""
        return self.last_fill + timedelta(days=self.days_supply)


@dataclass(frozen=True, slots=True)
class SyncLine:
    """What to do with one med for one sync date (see the module docstring)."""

    key: str
    name: str
    action: str  # one of ACTIONS
    fill_on: date  # the day to dispense: the sync date, or the run-out day for a bridge
    days: int  # days' supply to dispense (0 for skip / not_synced)
    quantity: Decimal  # quantity to dispense (0 for skip / not_synced)
    on_hand_days: int  # days of supply still on hand on the sync date (>= 0)
    refill_too_soon: bool  # dispensing on fill_on is before REFILL_TOO_SOON_SHARE is used
    needs_new_rx: bool  # refills_left == 0
    note: str  # one plain-English sentence for the technician, with the arithmetic


def sync_date_on_or_after(first: date, cycle: int, day: date) -> date:
    """The sync date `first + k * cycle` (k >= 0) on or after `day`."""
    _check_cycle(cycle)
    if day <= first:
        return first
    return first + timedelta(days=cycle * math.ceil((day - first).days / cycle))


def propose_anchor(meds: Sequence[SyncMed]) -> SyncMed | None:
    """The syncable med with the highest cost (ties: longest days' supply, then key)."""
    candidates = [m for m in meds if m.syncable]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (-m.cost_cents, -m.days_supply, m.key))


def propose_sync_date(meds: Sequence[SyncMed], *, anchor: SyncMed, today: date) -> date:
    """The day the anchor runs out, but never before today."""
    if anchor not in meds:
        raise ValueError(f"anchor {anchor.key} ({anchor.name}) is not one of the meds")
    return max(anchor.runs_out, today)


def alignment(
    meds: Sequence[SyncMed], *, sync_date: date, cycle: int, today: date | None = None
) -> list[SyncLine]:
    """One line per med, in input order, aligning every syncable med to `sync_date`. With
    `today`, a med that has already run out is bridged from today, not from a past day
    (and gets the full cycle on the sync date when that is today)."""
    _check_cycle(cycle)
    for med in meds:
        if med.days_supply <= 0 or med.quantity <= 0:
            raise ValueError(
                f"{med.key} ({med.name}): days' supply {med.days_supply} and quantity "
                f"{med.quantity} must both be positive"
            )
    return [_line(med, sync_date=sync_date, cycle=cycle, today=today) for med in meds]


def call_window(sync_date: date) -> tuple[date, date]:
    """(first day on the call list, day the call is due by)."""
    return (
        sync_date - timedelta(days=CALL_EARLIEST_DAYS),
        sync_date - timedelta(days=CALL_LATEST_DAYS),
    )


def should_call(sync_date: date, *, today: date) -> bool:
    """On the call list: from 7 days before the sync date through the sync date itself."""
    return call_window(sync_date)[0] <= today <= sync_date


def call_is_late(sync_date: date, *, today: date) -> bool:
    """Still on the list after the day the call was due by."""
    return call_window(sync_date)[1] < today <= sync_date


def dispense_quantity(med: SyncMed, days: int) -> Decimal:
    """`days` x the last fill's daily quantity. A last fill of whole units (tablets,
    capsules, pens, whole mL) gives whole units, rounded up so the patient is never short
    (40 tablets over 30 days for 17 days: 22.67, dispense 23); a fractional last quantity
    (e.g. 2.5 g of cream) is rounded half-up to 3 decimals."""
    exact = Fraction(med.quantity) * days / med.days_supply
    if med.quantity == med.quantity.to_integral_value():
        return Decimal(math.ceil(exact))
    thousandths = math.floor(exact * 1000 + Fraction(1, 2))
    return Decimal(thousandths).scaleb(-3)


def _line(med: SyncMed, *, sync_date: date, cycle: int, today: date | None) -> SyncLine:
    runs_out = med.runs_out
    bridge_from = runs_out if today is None else max(runs_out, min(today, sync_date))
    gap = (runs_out - sync_date).days  # > 0: days on hand at sync; < 0: runs out before it
    on_hand = max(0, gap)
    if not med.syncable:
        action, fill_on, days = NOT_SYNCED, runs_out, 0
    elif gap < 0 and bridge_from < sync_date:
        action, fill_on, days = BRIDGE, bridge_from, (sync_date - bridge_from).days
    elif on_hand >= cycle:
        action, fill_on, days = SKIP, sync_date, 0
    elif on_hand == 0:  # runs out on the sync date, or already out and the sync is today
        action, fill_on, days = FULL, sync_date, cycle
    else:
        action, fill_on, days = SHORT, sync_date, cycle - on_hand
    quantity = dispense_quantity(med, days) if days else Decimal(0)
    used = Fraction((fill_on - med.last_fill).days, med.days_supply)
    too_soon = action in (SHORT, FULL) and used < REFILL_TOO_SOON_SHARE
    needs_new_rx = med.refills_left == 0

    s, r, q = _day(sync_date), _day(runs_out), _qty(quantity)
    if action == NOT_SYNCED:
        note = f"Not synced (refills on its own schedule); runs out {r}."
    elif action == BRIDGE and fill_on > runs_out:
        note = (
            f"Ran out {r}, {_days((fill_on - runs_out).days)} before {_day(fill_on)}: bridge "
            f"{_days(days)} (qty {q}) on {_day(fill_on)}, then the full {cycle}-day cycle "
            f"on {s}."
        )
    elif action == BRIDGE:
        note = (
            f"Runs out {r}, {_days(-gap)} before the {s} sync date: bridge {_days(days)} "
            f"(qty {q}) on {r}, then the full {cycle}-day cycle on {s}."
        )
    elif action == SKIP:
        note = (
            f"Runs out {r}, {_days(on_hand)} after the {s} sync date, a {cycle}-day cycle "
            f"or more on hand: nothing to fill this cycle."
        )
    elif action == FULL:
        note = f"Runs out on the {s} sync date: fill the full {cycle} days (qty {q}) on {s}."
    else:
        note = (
            f"Runs out {r}, {_days(on_hand)} after the {s} sync date: short fill "
            f"{cycle} - {on_hand} = {_days(days)} (qty {q}) on {s}."
        )
    if too_soon:
        elapsed = (fill_on - med.last_fill).days
        note += (
            f" Refill too soon for many plans: {elapsed} of {med.days_supply} days of the "
            f"{_day(med.last_fill)} fill used, under {_percent(REFILL_TOO_SOON_SHARE)}"
            f" (reject 79)."
        )
    if needs_new_rx and action != SKIP:
        note += " No refills left: ask the prescriber for a new prescription."
    return SyncLine(
        key=med.key,
        name=med.name,
        action=action,
        fill_on=fill_on,
        days=days,
        quantity=quantity,
        on_hand_days=on_hand,
        refill_too_soon=too_soon,
        needs_new_rx=needs_new_rx,
        note=note,
    )


def _check_cycle(cycle: int) -> None:
    if cycle not in CYCLES:
        raise ValueError(f"cycle {cycle} days is not one of {', '.join(map(str, CYCLES))}")


def _day(d: date) -> str:
    return f"{d:%b} {d.day}"


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _qty(q: Decimal) -> str:
    return f"{q:f}"


def _percent(share: Fraction) -> str:
    return f"{round(share * 100)}%"
