"""Column-mapping profiles: how a PMS layout spells the canonical fields.

A profile is a JSON file in `profiles/` (a new layout is a new file, not new code). Its
`columns` map canonical field -> the vendor's header; `patient_full_name` stands for a
"LAST, FIRST" column that is split on the way in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path

PROFILE_DIR = Path(__file__).parent / "profiles"

REQUIRED = (
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "patient_id",
    "patient_dob",
    "ndc",
    "quantity_dispensed",
    "days_supply",
    "ingredient_cost_paid",
    "dispensing_fee_paid",
    "patient_pay_amount",
    "total_amount_paid",
)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    file_type: str
    columns: dict[str, str]
    date_format: str
    dob_format: str
    transaction_codes: dict[str, str]
    yes_values: tuple[str, ...] = ("Y",)
    brand_generic_values: dict[str, str] = field(default_factory=dict)

    def header_for(self, canonical: str) -> str | None:
        return self.columns.get(canonical)

    def missing(self, headers: list[str]) -> list[str]:
        """Required canonical fields whose column is absent from `headers`."""
        present = set(headers)
        missing = [f for f in REQUIRED if self.columns.get(f) not in present]
        has_names = {"patient_last_name", "patient_first_name"} <= {
            f for f, h in self.columns.items() if h in present
        }
        if not has_names and self.columns.get("patient_full_name") not in present:
            missing.append("patient name")
        return missing

    def match_score(self, headers: list[str]) -> float:
        expected = set(self.columns.values())
        return len(expected & set(headers)) / len(expected)


@cache
def all_profiles() -> dict[str, Profile]:
    profiles = {}
    for path in sorted(PROFILE_DIR.glob("*.json")):
        raw = json.loads(path.read_text())
        raw["yes_values"] = tuple(raw.get("yes_values", ("Y",)))
        profiles[raw["name"]] = Profile(**raw)
    return profiles


class UnknownLayout(ValueError):
    def __init__(self, headers: list[str], missing: list[str], closest: str | None) -> None:
        self.headers, self.missing, self.closest = headers, missing, closest
        shown = ", ".join(headers[:40]) + (" …" if len(headers) > 40 else "")
        super().__init__(
            f"Unrecognized PMS export layout. Headers found: {shown}. "
            f"Required fields missing: {', '.join(missing)}."
            + (f" Closest known profile: {closest}." if closest else "")
        )


def detect_profile(headers: list[str], requested: str | None = None) -> Profile:
    """The profile named `requested`, or the known profile whose headers all match.
    Raises UnknownLayout listing what was found, what is missing, and the closest profile."""
    profiles = all_profiles()
    if requested is not None:
        if requested not in profiles:
            raise ValueError(f"Unknown profile {requested!r}. Known: {', '.join(sorted(profiles))}")
        candidates = [profiles[requested]]
    else:
        candidates = sorted(profiles.values(), key=lambda p: -p.match_score(headers))
    for profile in candidates:
        if not profile.missing(headers):
            return profile
    closest = candidates[0] if candidates else None
    if closest is not None and closest.match_score(headers) == 0:
        closest = max(profiles.values(), key=lambda p: _fuzzy(p, headers))
    raise UnknownLayout(
        headers,
        closest.missing(headers) if closest else list(REQUIRED),
        closest.name if closest else None,
    )


def _fuzzy(profile: Profile, headers: list[str]) -> float:
    joined = " ".join(sorted(h.lower() for h in headers))
    return SequenceMatcher(None, joined, " ".join(sorted(profile.columns.values())).lower()).ratio()
