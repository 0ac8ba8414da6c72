"""Claim-level amounts agree with pyx12's tokenizer on every sample pyx12 accepts.

pyx12 reads the file as text; a UTF-8 BOM is not X12, so it is removed first (pyx12 opens
files as ASCII and would fail on it). Files we reject are left out: there is nothing of ours
to compare."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import pyx12.errors
import pyx12.x12file

from reconciliation.x12 import X12Error, read_835_file
from tests.reconciliation.x12.builders import FIXTURES

PYX12_ACCEPTS = {
    "edi835parser_emedny-ny-medicaid_denials-lq.txt",
    "edi835parser_uhc-legacy_gt-component-separator.txt",
    "lfh_cob-contractual_negative-cas.835",
    "lfh_managed-care_claim-and-line-cas.835",
    "lfh_medicare-part-a_ts3-ts2-mia-moa-plb.835",
    "lfh_secondary-payment_multi-triplet-cas_composite-mismatch.835",
    "oopfactory_nebraska-medicaid-deident_3-isa_bom-indented.txt",
    "pyx12_mult-loops_zero-pay-denial-ts3.txt",
    "x12parserjs_emedny_newline-segment-terminator.edi",
}
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md")

Amounts = list[tuple[str, int | None, int | None, int]]


def _cents(value: str | None) -> int | None:
    return None if not value else int(Decimal(value) * 100)


def pyx12_claims(name: str) -> Amounts | None:
    """(CLP01, CLP03, CLP04, CLP05) per claim as pyx12 tokenizes them; None if it refuses."""
    text = (FIXTURES / name).read_bytes().decode("utf-8-sig")
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
        return [
            (
                seg.get_value("CLP01") or "",
                _cents(seg.get_value("CLP03")),
                _cents(seg.get_value("CLP04")),
                _cents(seg.get_value("CLP05")) or 0,
            )
            for seg in reader
            if seg.get_seg_id() == "CLP"
        ]
    except pyx12.errors.X12Error:
        return None


def our_claims(name: str) -> Amounts | None:
    try:
        parsed = read_835_file(FIXTURES / name)
    except X12Error:
        return None
    return [
        (c.claim_ref, c.charge_cents, c.paid_cents, c.patient_resp_cents or 0)
        for r in parsed.remittances
        for c in r.claims
    ]


def test_pyx12_accepts_the_samples_we_expect() -> None:
    accepted = {name for name in SAMPLES if pyx12_claims(name) is not None}
    # plus example1 (with its truncated CLP), which we reject
    assert accepted == PYX12_ACCEPTS | {
        "oopfactory_example1_reversals-clp22-plb_bom-crlf-indented.txt"
    }


@pytest.mark.parametrize("name", sorted(PYX12_ACCEPTS))
def test_claim_amounts_agree_with_pyx12(name: str) -> None:
    theirs = pyx12_claims(name)
    assert theirs  # every accepted sample has claims
    assert our_claims(name) == theirs
