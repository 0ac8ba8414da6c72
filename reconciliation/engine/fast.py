"""The set-based path of `reconciliation.engine.matching`: the same rules over whole columns
(pandas merges and group-bys instead of a loop per payment), for runs over millions of
claims. A property test holds it equal to the reference path, row for row.

`reconcile_frames` is the entry point for runs: columns in (claims, payments, their CAS rows,
PLB amounts), columns out. It can also settle a part of an organization (an incremental run):
payments whose match is already known and unchanged come in `fixed_matches`, and PLB
placements outside the part in `fixed_allocations`; the part's claims are then settled with
everything that touches them, and only the part's payments and PLB amounts are placed anew.
`reconcile` wraps it for the reference path's rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from reconciliation.engine.matching import (
    CARRIED_PLB,
    DIR_REASONS,
    REVERSAL_STATUS,
    TAKEBACK_PLB,
    Allocation,
    Claim,
    Outcome,
    Payment,
    ProviderAdjustment,
    Result,
    Unmatched,
)

_REF = r"^\s*(?:[Rr][Xx])?\s*0*(\d{1,12})\s*(?:[-/ ]\s*(\d{1,3}))?\s*$"

CLAIM_COLUMNS = (
    "fill_id", "location_id", "rx", "fill", "dos", "tx", "reversed", "has_plan", "auth",
    "expected", "due_on",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "payment_id", "remittance_id", "location_id", "claim_ref", "ctrl", "status", "paid",
    "service_date",
)  # fmt: skip
CAS_COLUMNS = ("payment_id", "group", "reason", "cents")
PLB_COLUMNS = ("adjustment_id", "remittance_id", "reason", "reference", "amount")
ALLOCATION_COLUMNS = ("adjustment_id", "fill_id", "cents", "allocated", "reason")


@dataclass
class Frames:
    """A run's outcome as columns.

    results: fill_id, status, matched_by, payments, remitted, recouped, dir, allocated,
    reasons (a JSON list of codes, sorted); matches: payment_id, fill_id, how; unmatched:
    payment_id, reason; allocations: adjustment_id, fill_id (nullable), cents, allocated,
    reason.
    """

    results: pd.DataFrame
    matches: pd.DataFrame
    unmatched: pd.DataFrame
    allocations: pd.DataFrame


def _dates(values: Sequence[date | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")


def claims_frame(claims: Sequence[Claim]) -> pd.DataFrame:
    n = len(claims)
    return pd.DataFrame(
        {
            "fill_id": np.fromiter((c.fill_id for c in claims), np.int64, n),
            "location_id": np.fromiter((c.location_id for c in claims), np.int64, n),
            "rx": np.fromiter((c.rx_number for c in claims), np.int64, n),
            "fill": np.fromiter((c.fill_number for c in claims), np.int64, n),
            "dos": _dates([c.date_of_service for c in claims]),
            "tx": pd.Series([c.transaction_code for c in claims], dtype=object),
            "reversed": np.fromiter((c.reversed for c in claims), bool, n),
            "has_plan": np.fromiter((c.has_plan for c in claims), bool, n),
            "auth": pd.Series([c.authorization for c in claims], dtype=object),
            "expected": np.fromiter((c.expected_cents for c in claims), np.int64, n),
            "due_on": _dates([c.due_on for c in claims]),
        }
    )


def payments_frame(payments: Sequence[Payment]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The payments (`pos`: their order, which decides a claim's `matched_by` when several
    pay it), and their CAS adjustments as rows (payment_id, group, reason, cents)."""
    n = len(payments)
    frame = pd.DataFrame(
        {
            "payment_id": np.fromiter((p.payment_id for p in payments), np.int64, n),
            "pos": np.arange(n, dtype=np.int64),
            "remittance_id": np.fromiter((p.remittance_id for p in payments), np.int64, n),
            "location_id": pd.array([p.location_id for p in payments], dtype="Int64"),
            "claim_ref": pd.Series([p.claim_ref for p in payments], dtype=object),
            "ctrl": pd.Series([p.payer_claim_control.strip() for p in payments], dtype=object),
            "status": pd.Series([p.status for p in payments], dtype=object),
            "paid": np.fromiter((p.paid_cents for p in payments), np.int64, n),
            "service_date": _dates([p.service_date for p in payments]),
        }
    )
    rows = [(p.payment_id, g, r, c) for p in payments for g, r, c in p.adjustments]
    cas = pd.DataFrame(
        {
            "payment_id": pd.Series([x[0] for x in rows], dtype=np.int64),
            "group": pd.Series([x[1] for x in rows], dtype=object),
            "reason": pd.Series([x[2] for x in rows], dtype=object),
            "cents": pd.Series([x[3] for x in rows], dtype=np.int64),
        }
    )
    return frame, cas


def plb_frame(adjustments: Sequence[ProviderAdjustment]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "adjustment_id": pd.Series([a.adjustment_id for a in adjustments], dtype=np.int64),
            "remittance_id": pd.Series([a.remittance_id for a in adjustments], dtype=np.int64),
            "reason": pd.Series([a.reason for a in adjustments], dtype=object),
            "reference": pd.Series([a.reference.strip() for a in adjustments], dtype=object),
            "amount": pd.Series([a.amount_cents for a in adjustments], dtype=np.int64),
        }
    )


def _unique_lookup(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per key: the one fill id when exactly one claim has it, and how many claims do."""
    counted = frame.groupby(keys, sort=False).agg(
        n=("fill_id", "size"), fill_id=("fill_id", "first")
    )
    return counted.reset_index()


def _key_lookup(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`_unique_lookup` for CLP01 keys, where a key shared by a reversed claim and its live
    rebill goes to the live one (`ok` says the key names one claim)."""
    out = _unique_lookup(frame, keys)
    live = (
        frame[~frame["reversed"]]
        .groupby(keys, sort=False)
        .agg(n_live=("fill_id", "size"), live_id=("fill_id", "first"))
        .reset_index()
    )
    out = out.merge(live, on=keys, how="left")
    pick = (out["n"] > 1) & (out["n_live"] == 1)
    out.loc[pick, "fill_id"] = out.loc[pick, "live_id"]
    out["ok"] = (out["n"] == 1) | pick
    return out.drop(columns=["n_live", "live_id"])


def _auth_lookup(claims: pd.DataFrame) -> pd.DataFrame:
    """auth -> the one original claim carrying it (authorizations carried by one claim)."""
    originals = claims[(claims["tx"] != "B2") & (claims["auth"] != "")]
    auth = _unique_lookup(originals, ["auth"])
    return auth[auth["n"] == 1][["auth", "fill_id"]]


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}"


def match(claims: pd.DataFrame, payments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Payments with the fill they pay (payment_id, fill_id, how); and the unmatched ones
    (payment_id, reason)."""
    originals = claims[claims["tx"] != "B2"]
    out = []
    unmatched: list[tuple[int, str]] = []
    # 1. the payer's claim reference (CLP07) = the claim's authorization, when unique
    step = payments.merge(_auth_lookup(claims), left_on="ctrl", right_on="auth", how="left")
    hit = step["fill_id"].notna() & (step["ctrl"] != "")
    out.append(step.loc[hit, ["payment_id", "fill_id"]].assign(how="authorization"))
    rest = payments[~payments["payment_id"].isin(step.loc[hit, "payment_id"])].copy()
    # 2. CLP01 as Rx number (and fill) + date of service + store
    parsed = rest["claim_ref"].fillna("").str.extract(_REF)
    rest["rx"] = pd.to_numeric(parsed[0], errors="coerce").astype("Int64")
    rest["fill"] = pd.to_numeric(parsed[1], errors="coerce").astype("Int64")
    bad_ref = rest["rx"].isna()
    unmatched += [
        (int(pid), f"CLP01 {ref!r} is not an Rx number")
        for pid, ref in rest.loc[bad_ref, ["payment_id", "claim_ref"]].itertuples(index=False)
    ]
    rest = rest[~bad_ref]
    no_day = rest["service_date"].isna()
    unmatched += [
        (int(pid), "no date of service on the claim payment")
        for pid in rest.loc[no_day, "payment_id"]
    ]
    rest = rest[~no_day]
    found = []
    for store_known in (True, False):
        for fill_known in (True, False):
            part = rest[
                (rest["location_id"].notna() == store_known) & (rest["fill"].notna() == fill_known)
            ]
            if part.empty:
                continue
            keys = (
                (["location_id"] if store_known else [])
                + ["rx"]
                + (["fill"] if fill_known else [])
                + ["dos"]
            )
            lookup = _key_lookup(originals, keys)
            left = part.rename(columns={"service_date": "dos"}).astype(
                {k: "int64" for k in keys if k != "dos"}
            )
            merged = left.merge(lookup, on=keys, how="left")
            found.append(merged[["payment_id", "rx", "fill", "dos", "n", "fill_id", "ok"]])
    if found:
        tried = pd.concat(found, ignore_index=True)
        ok = tried["ok"].fillna(False).astype(bool)
        out.append(tried.loc[ok, ["payment_id", "fill_id"]].assign(how="rx_fill_date"))
        for pid, rx, fill, dos, n in tried.loc[
            ~ok, ["payment_id", "rx", "fill", "dos", "n"]
        ].itertuples(index=False):
            if pd.isna(n):
                reason = (
                    f"no claim for Rx {rx}"
                    + (f" fill {fill}" if not pd.isna(fill) else "")
                    + f" on {_day(dos)}"
                )
            else:
                reason = f"{int(n)} claims fit Rx {rx} on {_day(dos)}"
            unmatched.append((int(pid), reason))
    matched = (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame({"payment_id": [], "fill_id": [], "how": []})
    )
    matched = matched.astype({"payment_id": np.int64, "fill_id": np.int64, "how": object})
    lost = pd.DataFrame(
        {
            "payment_id": pd.Series([u[0] for u in unmatched], dtype=np.int64),
            "reason": pd.Series([u[1] for u in unmatched], dtype=object),
        }
    )
    return matched, lost.sort_values("payment_id", ignore_index=True)


def pro_rata_frame(shares: pd.DataFrame) -> pd.DataFrame:
    """Columns adjustment_id, amount, fill_id, w -> the cents each fill gets, exactly as
    `matching.pro_rata` (largest remainders, ties to the lower fill id)."""
    total = shares.groupby("adjustment_id")["w"].transform("sum")
    amount = shares["amount"].abs()
    floor = amount * shares["w"] // total
    rem = amount * shares["w"] % total
    frame = shares.assign(floor=floor, rem=rem)
    frame = frame.sort_values(["adjustment_id", "rem", "fill_id"], ascending=[True, False, True])
    left = amount - frame.groupby("adjustment_id")["floor"].transform("sum")
    rank = frame.groupby("adjustment_id").cumcount()
    frame["cents"] = (frame["floor"] + (rank < left.loc[frame.index]).astype(np.int64)) * np.sign(
        frame["amount"]
    )
    return frame[frame["cents"] != 0]


def _empty_allocations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "adjustment_id": pd.Series(dtype=np.int64),
            "fill_id": pd.Series(dtype="Int64"),
            "cents": pd.Series(dtype=np.int64),
            "allocated": pd.Series(dtype=bool),
            "reason": pd.Series(dtype=object),
        }
    )


def place_plb(claims: pd.DataFrame, paid: pd.DataFrame, adj: pd.DataFrame) -> pd.DataFrame:
    """Where each PLB amount goes: tied to the claim whose authorization is its reference,
    carried (FB), or spread pro rata over the remittance's paid claims (allocated); with no
    paid claim in the remittance, held at the remittance (no fill, allocated)."""
    if adj.empty:
        return _empty_allocations()
    auth = _auth_lookup(claims).rename(columns={"auth": "reference"})
    adj = adj.merge(auth, on="reference", how="left")
    tied = adj[adj["fill_id"].notna() & (adj["reference"] != "")]
    rest = adj[~adj["adjustment_id"].isin(tied["adjustment_id"])]
    carried = rest[rest["reason"].isin(CARRIED_PLB)]
    spread = rest[~rest["reason"].isin(CARRIED_PLB)].drop(columns=["fill_id"])
    weights = paid.groupby(["remittance_id", "fill_id"])["paid"].sum().rename("w").reset_index()
    weights = weights[weights["w"] > 0]
    shares = spread.merge(weights, on="remittance_id", how="inner")
    nobody = spread[~spread["adjustment_id"].isin(shares["adjustment_id"])]
    parts = [
        pd.DataFrame(
            {
                "adjustment_id": tied["adjustment_id"],
                "fill_id": tied["fill_id"].astype("Int64"),
                "cents": tied["amount"],
                "allocated": False,
                "reason": tied["reason"],
            }
        ),
        pd.DataFrame(
            {
                "adjustment_id": carried["adjustment_id"],
                "fill_id": pd.array([pd.NA] * len(carried), dtype="Int64"),
                "cents": carried["amount"],
                "allocated": False,
                "reason": carried["reason"],
            }
        ),
        pd.DataFrame(
            {
                "adjustment_id": nobody["adjustment_id"],
                "fill_id": pd.array([pd.NA] * len(nobody), dtype="Int64"),
                "cents": nobody["amount"],
                "allocated": True,
                "reason": nobody["reason"],
            }
        ),
    ]
    if not shares.empty:
        spread_alloc = pro_rata_frame(shares)
        parts.append(
            pd.DataFrame(
                {
                    "adjustment_id": spread_alloc["adjustment_id"],
                    "fill_id": spread_alloc["fill_id"].astype("Int64"),
                    "cents": spread_alloc["cents"].astype(np.int64),
                    "allocated": True,
                    "reason": spread_alloc["reason"],
                }
            )
        )
    out = pd.concat([p for p in parts if not p.empty] or [_empty_allocations()], ignore_index=True)
    return out.astype(
        {"adjustment_id": np.int64, "fill_id": "Int64", "cents": np.int64, "allocated": bool}
    )


def _reasons_json(codes: pd.DataFrame, index: pd.Index) -> pd.Series:
    """(fill_id, code) rows -> per fill a JSON list of its distinct codes, sorted."""
    if codes.empty:
        return pd.Series("[]", index=index, dtype=object)
    codes = codes.drop_duplicates()
    distinct = np.sort(codes["code"].unique().astype(object))
    if len(distinct) > 62:  # more codes than bits: join per fill (slow, but exact)
        codes = codes.sort_values(["fill_id", "code"])
        quoted = codes["code"].map({c: json.dumps(c) for c in distinct})
        joined = quoted.groupby(codes["fill_id"].to_numpy(), sort=False).agg(", ".join)
        return ("[" + joined + "]").reindex(index, fill_value="[]")
    # each fill's set of codes as a bit mask (bit i = i-th code in sorted order), so only the
    # few distinct sets are turned into text
    bit = pd.Series(
        np.left_shift(np.int64(1), np.arange(len(distinct), dtype=np.int64)), index=distinct
    )
    masks = bit.reindex(codes["code"].to_numpy()).to_numpy().astype(np.int64)
    per_fill = pd.Series(masks).groupby(codes["fill_id"].to_numpy(), sort=False).sum()
    text = {
        int(m): json.dumps(
            [str(c) for i, c in enumerate(distinct) if m >> i & 1], separators=(", ", ": ")
        )
        for m in per_fill.unique()
    }
    return per_fill.map(text).reindex(index, fill_value="[]")


def reconcile_frames(
    claims: pd.DataFrame,
    payments: pd.DataFrame,
    cas: pd.DataFrame,
    plb: pd.DataFrame,
    *,
    as_of: date,
    fixed_matches: pd.DataFrame | None = None,
    fixed_allocations: pd.DataFrame | None = None,
) -> Frames:
    """`matching.reconcile` over columns (see `CLAIM_COLUMNS`, `PAYMENT_COLUMNS`,
    `CAS_COLUMNS`, `PLB_COLUMNS`; `payments` may carry `pos`, else payment id order).

    For a part of an organization: `fixed_matches` (payment_id, fill_id, how) are payments in
    `payments` already matched (not matched again, not reported again), and
    `fixed_allocations` (`ALLOCATION_COLUMNS`) PLB placements on the part's claims from PLB
    amounts not in `plb`. Every payment a claim in `claims` could be matched to must be in
    `payments`, and every claim sharing a key with them in `claims`."""
    if "pos" not in payments.columns:
        payments = payments.assign(pos=payments["payment_id"])
    fixed = fixed_matches if fixed_matches is not None else pd.DataFrame()
    if not fixed.empty:
        to_match = payments[~payments["payment_id"].isin(fixed["payment_id"])]
    else:
        to_match = payments
    matched, unmatched = match(claims, to_match)
    if not fixed.empty:
        every = pd.concat(
            [matched, fixed[["payment_id", "fill_id", "how"]].astype(matched.dtypes.to_dict())],
            ignore_index=True,
        )
    else:
        every = matched
    paid = every.merge(
        payments[["payment_id", "pos", "remittance_id", "status", "paid"]], on="payment_id"
    )
    paid["takeback"] = (paid["status"] == REVERSAL_STATUS) | (paid["paid"] < 0)
    per = paid.groupby("fill_id").agg(
        payments=("payment_id", "size"),
        net=("paid", "sum"),
        takebacks=("takeback", "sum"),
    )
    # how the claim's first payment (in payment order) matched, as the reference reports it
    per["how"] = paid.sort_values("pos").groupby("fill_id")["how"].first()
    cas_m = cas.merge(every[["payment_id", "fill_id"]], on="payment_id")
    dir_ = cas_m[cas_m["reason"].isin(DIR_REASONS)].groupby("fill_id")["cents"].sum()
    # PLB: tied by reference, carried (FB), or allocated pro rata
    placed = place_plb(claims, paid, plb)
    on_claims = placed
    if fixed_allocations is not None and not fixed_allocations.empty:
        on_claims = pd.concat([placed, fixed_allocations], ignore_index=True)
    on_claims = on_claims[on_claims["fill_id"].notna()].astype({"fill_id": np.int64})
    tied = on_claims[~on_claims["allocated"]]
    takeback_plb = tied["reason"].isin(TAKEBACK_PLB)
    tied_sum = tied[takeback_plb].groupby("fill_id")["cents"].sum()
    fee_sum = on_claims[on_claims["allocated"] | ~on_claims["reason"].isin(TAKEBACK_PLB)]
    fee_sum = fee_sum.groupby("fill_id")["cents"].sum()
    # statuses, column-wise
    r = claims.set_index("fill_id")
    n = per["payments"].reindex(r.index, fill_value=0)
    net = per["net"].reindex(r.index, fill_value=0)
    takebacks = per["takebacks"].reindex(r.index, fill_value=0)
    standing = n - 2 * takebacks
    recouped = tied_sum.reindex(r.index, fill_value=0).astype(np.int64)
    dir_c = dir_.reindex(r.index, fill_value=0).astype(np.int64)
    received = net + dir_c
    overdue = pd.Timestamp(as_of) > r["due_on"]
    status = np.select(
        [
            r["tx"] == "B2",
            ~r["has_plan"],
            r["reversed"] & (standing <= 0) & (net <= 0),
            r["reversed"] & (standing > 1),
            r["reversed"],
            (n == 0) & overdue,
            n == 0,
            (recouped > 0) | ((takebacks > 0) & (standing <= 0)),
            standing > 1,
            received == r["expected"],
            received < r["expected"],
        ],
        [
            "reversal",
            "cash",
            "reversed",
            "overpaid",
            "reversed_but_paid",
            "unpaid",
            "pending",
            "recouped",
            "overpaid",
            "paid",
            "short_paid",
        ],
        default="overpaid",
    )
    # reasons: CAS group-reason codes, PLB reasons tied, CLP02 22
    codes = pd.concat(
        [
            pd.DataFrame(
                {"fill_id": cas_m["fill_id"], "code": cas_m["group"] + "-" + cas_m["reason"]}
            ),
            pd.DataFrame({"fill_id": tied["fill_id"], "code": "PLB " + tied["reason"]}),
            pd.DataFrame(
                {
                    "fill_id": paid.loc[paid["status"] == REVERSAL_STATUS, "fill_id"],
                    "code": "CLP02 22",
                }
            ),
        ],
        ignore_index=True,
    )
    results = pd.DataFrame(
        {
            "fill_id": r.index.to_numpy(),
            "status": status,
            "matched_by": per["how"].reindex(r.index).fillna("").to_numpy(),
            "payments": n.to_numpy(),
            "remitted": net.to_numpy(),
            "recouped": recouped.to_numpy(),
            "dir": dir_c.to_numpy(),
            "allocated": fee_sum.reindex(r.index, fill_value=0).astype(np.int64).to_numpy(),
            "reasons": _reasons_json(codes, r.index).to_numpy(),
        }
    )
    return Frames(
        results=results,
        matches=matched[["payment_id", "fill_id", "how"]].reset_index(drop=True),
        unmatched=unmatched,
        allocations=placed,
    )


def reconcile(
    claims: Sequence[Claim],
    payments: Sequence[Payment],
    adjustments: Sequence[ProviderAdjustment],
    *,
    as_of: date,
) -> Outcome:
    """`matching.reconcile`, set-based."""
    pf, cas = payments_frame(payments)
    out = reconcile_frames(claims_frame(claims), pf, cas, plb_frame(adjustments), as_of=as_of)
    return outcome_of(out)


def outcome_of(out: Frames) -> Outcome:
    """The frames as the reference path's rows."""
    results = [
        Result(
            fill_id=int(f),
            status=str(st),
            matched_by=str(h),
            payments=int(k),
            remitted_cents=int(nt),
            recouped_cents=int(rc),
            dir_cents=int(dc),
            allocated_cents=int(sc),
            reasons=tuple(json.loads(rs)),
        )
        for f, st, h, k, nt, rc, dc, sc, rs in out.results[
            ["fill_id", "status", "matched_by", "payments", "remitted", "recouped", "dir",
             "allocated", "reasons"]
        ].itertuples(index=False)
    ]  # fmt: skip
    allocations = [
        Allocation(int(a), None if pd.isna(f) else int(f), int(c), bool(al))
        for a, f, c, al in out.allocations[
            ["adjustment_id", "fill_id", "cents", "allocated"]
        ].itertuples(index=False)
    ]
    return Outcome(
        results=results,
        unmatched=[Unmatched(int(p), str(r)) for p, r in out.unmatched.itertuples(index=False)],
        allocations=allocations,
        matches=[(int(p), int(f), str(h)) for p, f, h in out.matches.itertuples(index=False)],
    )
