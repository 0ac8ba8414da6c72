"""The set-based path of `reconciliation.engine.matching`: the same rules over whole columns
(pandas merges and group-bys instead of a loop per payment), for runs over millions of
claims. A property test holds it equal to the reference path, row for row.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def claims_frame(claims: Sequence[Claim]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fill_id": np.fromiter((c.fill_id for c in claims), np.int64, len(claims)),
            "location_id": np.fromiter((c.location_id for c in claims), np.int64, len(claims)),
            "rx": np.fromiter((c.rx_number for c in claims), np.int64, len(claims)),
            "fill": np.fromiter((c.fill_number for c in claims), np.int64, len(claims)),
            "dos": pd.Series([c.date_of_service for c in claims], dtype=object),
            "tx": pd.Series([c.transaction_code for c in claims], dtype=object),
            "reversed": np.fromiter((c.reversed for c in claims), bool, len(claims)),
            "has_plan": np.fromiter((c.has_plan for c in claims), bool, len(claims)),
            "auth": pd.Series([c.authorization for c in claims], dtype=object),
            "expected": np.fromiter((c.expected_cents for c in claims), np.int64, len(claims)),
            "due_on": pd.Series([c.due_on for c in claims], dtype=object),
        }
    )


def payments_frame(payments: Sequence[Payment]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The payments, and their CAS adjustments as rows (payment_id, group, reason, cents)."""
    frame = pd.DataFrame(
        {
            "payment_id": np.fromiter((p.payment_id for p in payments), np.int64, len(payments)),
            "pos": np.arange(len(payments), dtype=np.int64),
            "remittance_id": np.fromiter(
                (p.remittance_id for p in payments), np.int64, len(payments)
            ),
            "location_id": pd.array([p.location_id for p in payments], dtype="Int64"),
            "claim_ref": pd.Series([p.claim_ref for p in payments], dtype=object),
            "ctrl": pd.Series([p.payer_claim_control.strip() for p in payments], dtype=object),
            "status": pd.Series([p.status for p in payments], dtype=object),
            "paid": np.fromiter((p.paid_cents for p in payments), np.int64, len(payments)),
            "service_date": pd.Series([p.service_date for p in payments], dtype=object),
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


def match(claims: pd.DataFrame, payments: pd.DataFrame) -> tuple[pd.DataFrame, list[Unmatched]]:
    """Payments with the fill they pay (`fill_id`, `how`); and the unmatched ones."""
    originals = claims[claims["tx"] != "B2"]
    out = []
    # 1. the payer's claim reference (CLP07) = the claim's authorization, when unique
    with_auth = originals[originals["auth"] != ""]
    auth = _unique_lookup(with_auth, ["auth"])
    auth = auth[auth["n"] == 1][["auth", "fill_id"]]
    step = payments.merge(auth, left_on="ctrl", right_on="auth", how="left")
    hit = step["fill_id"].notna() & (step["ctrl"] != "")
    out.append(step.loc[hit, ["payment_id", "fill_id"]].assign(how="authorization"))
    rest = payments[~payments["payment_id"].isin(step.loc[hit, "payment_id"])].copy()
    # 2. CLP01 as Rx number (and fill) + date of service + store
    parsed = rest["claim_ref"].fillna("").str.extract(_REF)
    rest["rx"] = pd.to_numeric(parsed[0], errors="coerce").astype("Int64")
    rest["fill"] = pd.to_numeric(parsed[1], errors="coerce").astype("Int64")
    unmatched: list[Unmatched] = []
    bad_ref = rest["rx"].isna()
    unmatched += [
        Unmatched(int(pid), f"CLP01 {ref!r} is not an Rx number")
        for pid, ref in rest.loc[bad_ref, ["payment_id", "claim_ref"]].itertuples(index=False)
    ]
    rest = rest[~bad_ref]
    no_day = rest["service_date"].isna()
    unmatched += [
        Unmatched(int(pid), "no date of service on the claim payment")
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
                    + f" on {dos:%Y-%m-%d}"
                )
            else:
                reason = f"{int(n)} claims fit Rx {rx} on {dos}"
            unmatched.append(Unmatched(int(pid), reason))
    matched = (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame(columns=["payment_id", "fill_id", "how"])
    )
    matched["fill_id"] = matched["fill_id"].astype(np.int64)
    return matched, sorted(unmatched, key=lambda u: u.payment_id)


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


def reconcile(
    claims: Sequence[Claim],
    payments: Sequence[Payment],
    adjustments: Sequence[ProviderAdjustment],
    *,
    as_of: date,
) -> Outcome:
    """`matching.reconcile`, set-based."""
    cf = claims_frame(claims)
    pf, cas = payments_frame(payments)
    matched, unmatched = match(cf, pf)
    paid = matched.merge(
        pf[["payment_id", "pos", "remittance_id", "status", "paid"]], on="payment_id"
    )
    paid["takeback"] = (paid["status"] == REVERSAL_STATUS) | (paid["paid"] < 0)
    per = paid.groupby("fill_id").agg(
        payments=("payment_id", "size"),
        net=("paid", "sum"),
        takebacks=("takeback", "sum"),
    )
    # how the claim's first payment (in payment order) matched, as the reference reports it
    first = paid.sort_values("pos").groupby("fill_id")["how"].first()
    per["how"] = first
    cas_m = cas.merge(matched[["payment_id", "fill_id"]], on="payment_id")
    dir_ = cas_m[cas_m["reason"].isin(DIR_REASONS)].groupby("fill_id")["cents"].sum()
    # PLB: tied by reference, carried (FB), or allocated pro rata
    adj = pd.DataFrame(
        {
            "adjustment_id": pd.Series([a.adjustment_id for a in adjustments], dtype=np.int64),
            "remittance_id": pd.Series([a.remittance_id for a in adjustments], dtype=np.int64),
            "reason": pd.Series([a.reason for a in adjustments], dtype=object),
            "reference": pd.Series([a.reference.strip() for a in adjustments], dtype=object),
            "amount": pd.Series([a.amount_cents for a in adjustments], dtype=np.int64),
        }
    )
    originals = cf[(cf["tx"] != "B2") & (cf["auth"] != "")]
    auth = _unique_lookup(originals, ["auth"])
    auth = auth[auth["n"] == 1][["auth", "fill_id"]].rename(columns={"auth": "reference"})
    adj = adj.merge(auth, on="reference", how="left")
    tied = adj[adj["fill_id"].notna() & (adj["reference"] != "")]
    rest = adj[~adj["adjustment_id"].isin(tied["adjustment_id"])]
    carried = rest[rest["reason"].isin(CARRIED_PLB)]
    spread = rest[~rest["reason"].isin(CARRIED_PLB)].drop(columns=["fill_id"])
    weights = paid.groupby(["remittance_id", "fill_id"])["paid"].sum().rename("w").reset_index()
    weights = weights[weights["w"] > 0]
    shares = spread.merge(weights, on="remittance_id", how="inner")
    spread_alloc = pro_rata_frame(shares) if not shares.empty else shares.assign(cents=[])
    nobody = spread[~spread["adjustment_id"].isin(shares["adjustment_id"])]
    allocations = (
        [
            Allocation(int(a), int(f), int(c), False)
            for a, f, c in tied[["adjustment_id", "fill_id", "amount"]].itertuples(index=False)
        ]
        + [
            Allocation(int(a), None, int(c), False)
            for a, c in carried[["adjustment_id", "amount"]].itertuples(index=False)
        ]
        + [
            Allocation(int(a), None, int(c), True)
            for a, c in nobody[["adjustment_id", "amount"]].itertuples(index=False)
        ]
        + [
            Allocation(int(a), int(f), int(c), True)
            for a, f, c in spread_alloc[["adjustment_id", "fill_id", "cents"]].itertuples(
                index=False
            )
        ]
    )
    takebacks_plb = tied[tied["reason"].isin(TAKEBACK_PLB)]
    tied_fees = tied[~tied["reason"].isin(TAKEBACK_PLB)]
    tied_sum = takebacks_plb.groupby("fill_id")["amount"].sum()
    tied_fee_sum = tied_fees.groupby("fill_id")["amount"].sum()
    spread_sum = (
        spread_alloc.groupby("fill_id")["cents"].sum()
        if not spread_alloc.empty
        else pd.Series(dtype="int64")
    )
    # statuses, column-wise
    r = cf.set_index("fill_id")
    n = per["payments"].reindex(r.index, fill_value=0)
    net = per["net"].reindex(r.index, fill_value=0)
    takebacks = per["takebacks"].reindex(r.index, fill_value=0)
    standing = n - 2 * takebacks
    recouped = tied_sum.reindex(r.index, fill_value=0).astype(np.int64)
    dir_c = dir_.reindex(r.index, fill_value=0).astype(np.int64)
    received = net + dir_c
    due = pd.to_datetime(r["due_on"])
    overdue = pd.Timestamp(as_of) > due
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
    codes: dict[int, set[str]] = {}
    for f, g, rs in cas_m[["fill_id", "group", "reason"]].drop_duplicates().itertuples(index=False):
        codes.setdefault(int(f), set()).add(f"{g}-{rs}")
    for f, rs in tied[["fill_id", "reason"]].itertuples(index=False):
        codes.setdefault(int(f), set()).add(f"PLB {rs}")
    for f in paid.loc[paid["status"] == REVERSAL_STATUS, "fill_id"].unique():
        codes.setdefault(int(f), set()).add("CLP02 22")
    how = per["how"].reindex(r.index).fillna("")
    spread_c = spread_sum.reindex(r.index, fill_value=0).astype(np.int64) + tied_fee_sum.reindex(
        r.index, fill_value=0
    ).astype(np.int64)
    results = [
        Result(
            fill_id=int(fill_id),
            status=str(st),
            matched_by=str(h),
            payments=int(k),
            remitted_cents=int(nt),
            recouped_cents=int(rc),
            dir_cents=int(dc),
            allocated_cents=int(sc),
            reasons=tuple(sorted(codes.get(int(fill_id), ()))),
        )
        for fill_id, st, h, k, nt, rc, dc, sc in zip(
            r.index, status, how, n, net, recouped, dir_c, spread_c, strict=True
        )
    ]
    matches = [
        (int(p), int(f), str(h))
        for p, f, h in matched[["payment_id", "fill_id", "how"]].itertuples(index=False)
    ]
    return Outcome(results=results, unmatched=unmatched, allocations=allocations, matches=matches)
