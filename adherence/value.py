"""What closing a worklist item is worth, in cents, with the reason in words.

Worklists are sorted by this value so the call that matters most comes first:

- **Fee-for-service refill:** the margin the pharmacy makes on one fill of the drug (what
  plan and patient paid minus acquisition cost, from the patient's last fill), times the
  fills left to December 31 at that fill's days' supply. A drug that loses money per fill
  has a negative refill value, and says so.
- **Value-based stake:** under a value-based plan the contract pays for the measure, so a
  patient whose year can still be saved carries a quality stake on top:
  `QUALITY_STAKE_CENTS` for a patient who will fail without action this week, half of it for
  one at risk with time to spare, a quarter for one adherent to date who still needs a refill
  to stay so, nothing for one whose year is secured or already lost (a day missed cannot be
  bought back). Until contracts with their own stakes exist
  (reconciliation), the stake is this one documented estimate.
- **Med-sync call:** the margin of the fills due on the sync date.
- **Care gap:** the estimate carried by the care-gap rules file (`valuesets/caregaps-*.json`).

Pure: integers and dates only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from adherence.outlook import ADHERENT, AT_RISK, LOST, WILL_FAIL

QUALITY_STAKE_CENTS = 15_000
STAKE_SHARE = {
    WILL_FAIL: Fraction(1),
    AT_RISK: Fraction(1, 2),
    ADHERENT: Fraction(1, 4),  # adherent to date, but the year is not secured without a refill
    LOST: Fraction(0),
}


@dataclass(frozen=True, slots=True)
class Value:
    cents: int
    reason: str


def money(cents: int) -> str:
    """$1,234.56 (or -$12.30): the one formatter value reasons use."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def fills_left(*, due: date, days_supply: int, year_end: date) -> int:
    """Fills of `days_supply` from `due` to `year_end` (at least the one that is due)."""
    if days_supply <= 0:
        raise ValueError("days_supply must be positive")
    days = (year_end - due).days + 1
    return max(1, -(-days // days_supply))


def refill_value(
    *,
    measure: str,
    outlook: str,
    margin_per_fill_cents: int,
    days_supply: int,
    due: date,
    year_end: date,
    value_based: bool,
    secured: bool = False,
) -> Value:
    """`secured`: the supply on hand already carries the year over the threshold."""
    n = fills_left(
        due=max(due, date(year_end.year, 1, 1)), days_supply=days_supply, year_end=year_end
    )
    ffs = margin_per_fill_cents * n
    parts = [
        f"{money(margin_per_fill_cents)} margin per {days_supply}-day fill "
        f"x {n} fill{'s' if n != 1 else ''} left this year = {money(ffs)}"
    ]
    if margin_per_fill_cents < 0:
        parts[0] += " (this drug is dispensed below cost)"
    stake = 0
    if value_based:
        share = Fraction(0) if secured else STAKE_SHARE.get(outlook, Fraction(0))
        stake = int(QUALITY_STAKE_CENTS * share)
        if stake:
            parts.append(
                f"value-based plan: {measure} quality stake {money(QUALITY_STAKE_CENTS)}"
                f" x {_share(share)} ({outlook.replace('_', ' ')}) = {money(stake)}"
            )
        else:
            why = "secured for the year" if secured else outlook.replace("_", " ")
            parts.append(f"value-based plan: no quality stake left ({why})")
    return Value(cents=ffs + stake, reason="; ".join(parts) + ".")


def sync_value(margins_cents: Sequence[int]) -> Value:
    total = sum(margins_cents)
    n = len(margins_cents)
    return Value(
        cents=total,
        reason=f"{n} fill{'s' if n != 1 else ''} due on the sync date, {money(total)} margin.",
    )


def _share(share: Fraction) -> str:
    return "1" if share == 1 else f"{share.numerator}/{share.denominator}"
