"""The 835 code tables spell out every code our sample files and the synthetic world use.

No database: the code tables are pure data, and the 835s are read with a deliberately tolerant
splitter here so that this test does not depend on the real X12 parser.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

from demo.world.build import build_world
from demo.world.x12 import remittance_to_x12
from reconciliation import codes

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "ingest" / "x12_835"  # copies of the shared samples

# The de-identified Nebraska Medicaid file (OopFactory ExampleFromNth.txt) masks its remark
# codes as X999; it is no real RARC, so it stays unknown on purpose.
MASKED = {("rarc", "X999")}

Found = dict[str, set[str]]


def _segments(text: str) -> Iterable[list[str]]:
    """Split one 835 into segments of elements, taking the delimiters from each ISA (element
    separator right after "ISA", terminator right after ISA16) or X12's defaults without one."""
    text = text.lstrip("\ufeff")
    element, terminator = "*", "~"
    isa = text.find("ISA")
    if isa >= 0:
        element = text[isa + 3]
        fields = text[isa:].split(element, 16)
        terminator = fields[16][1]  # ISA16 is one character, the terminator follows it
    for raw in text.split(terminator):
        segment = raw.strip()
        if segment:
            yield segment.split(element)


def _codes_in(texts: Iterable[str]) -> Found:
    """Every code value, per code table, in the segments that carry one."""
    found: Found = defaultdict(set)

    def add(table: str, *values: str) -> None:
        found[table].update(v.strip() for v in values if v.strip())

    for text in texts:
        for seg in _segments(text):
            tag, e = seg[0], [*seg[1:], *[""] * 24]  # pad so optional elements read as ""
            if tag == "CAS":
                add("group", e[0])
                add("carc", *e[1:18:3])  # CAS02, 05, 08, 11, 14, 17
            elif tag == "LQ" and e[0] == "HE":
                add("rarc", e[1])
            elif tag == "MOA":
                add("rarc", *e[2:7])  # MOA03..07
            elif tag == "MIA":
                add("rarc", e[4], *e[19:23])  # MIA05, MIA20..23
            elif tag == "PLB":
                # PLB03-1, 05-1 ...: the reason is the first component of each composite
                add("plb_reason", *(re.split(r"[:>^\x1f]", c)[0] for c in e[2:14:2]))
            elif tag == "CLP":
                add("claim_status", e[1])
                add("claim_filing", e[5])
            elif tag == "BPR":
                add("transaction_handling", e[0])
                add("payment_method", e[3])
    return found


@pytest.fixture(scope="module")
def sample_codes() -> Found:
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix != ".md")
    assert files, f"no sample 835s in {SAMPLES}"
    return _codes_in(p.read_bytes().decode("utf-8", errors="replace") for p in files)


@pytest.fixture(scope="module")
def world_codes() -> Found:
    world = build_world(seed=7, scale="small", year=2026)
    payers = {p.key: p for p in world.payers}
    locations = {loc.ncpdp: loc for loc in world.locations}
    return _codes_in(
        remittance_to_x12(
            remit,
            payer=payers[remit.payer],
            location=locations[remit.location],
            interchange_control=1,
            delimiters="standard",
        ).decode()
        for remit in world.remittances
    )


def _unresolved(found: Found, table: str) -> list[str]:
    return sorted(
        c for c in found[table] if codes.describe(table, c) is None and (table, c) not in MASKED
    )


@pytest.mark.parametrize("table", codes.TABLES)
def test_every_code_in_the_shared_sample_835s_is_spelled_out(
    sample_codes: Found, table: str
) -> None:
    assert _unresolved(sample_codes, table) == []


@pytest.mark.parametrize("table", codes.TABLES)
def test_every_code_the_synthetic_world_writes_is_spelled_out(
    world_codes: Found, table: str
) -> None:
    assert _unresolved(world_codes, table) == []


def test_the_code_scan_really_reads_the_files(sample_codes: Found, world_codes: Found) -> None:
    # guards the two tests above against passing on an empty scan
    assert {"45", "23", "94", "A2", "A7", "141"} <= sample_codes["carc"]
    assert {"N1", "MA92", "N130"} & sample_codes["rarc"]
    assert {"CO", "PR", "OA", "PI", "CR"} <= sample_codes["group"]
    assert {"CS", "CT", "CV"} <= sample_codes["plb_reason"]
    assert {"1", "2", "4", "22", "25"} <= sample_codes["claim_status"]
    assert {"3", "90", "295", "45"} <= world_codes["carc"]
    assert {"CS", "FB", "L6", "WO"} <= world_codes["plb_reason"]
    assert {"1", "22"} <= world_codes["claim_status"]
    assert {"I", "H"} & world_codes["transaction_handling"]


def test_the_masked_remark_code_is_shown_as_unknown(sample_codes: Found) -> None:
    assert "X999" in sample_codes["rarc"]
    assert codes.rarc("X999") is None


@pytest.mark.parametrize("table", codes.TABLES)
def test_every_description_is_a_non_empty_trimmed_string(table: str) -> None:
    loaded = codes.code_table(table)
    assert loaded.codes
    assert loaded.source
    assert loaded.retrieved
    for code, text in loaded.codes.items():
        assert code == code.strip().upper()
        assert isinstance(text, str)
        assert text
        assert text == text.strip()
    assert loaded.deactivated <= loaded.codes.keys()


def test_carc_and_rarc_are_the_full_published_lists() -> None:
    assert len(codes.code_table("carc").codes) >= 400
    assert len(codes.code_table("rarc").codes) >= 1200


@pytest.mark.parametrize(
    ("table", "code", "words"),
    [
        ("carc", "1", "deductible"),
        ("carc", "2", "coinsurance"),
        ("carc", "3", "co-payment"),
        ("carc", "45", "fee schedule"),
        ("carc", "90", "ingredient cost"),
        ("carc", "91", "dispensing fee"),
        ("carc", "94", "excess of charges"),
        ("carc", "295", "remuneration"),
        ("carc", "A1", "claim/service denied"),
        ("rarc", "N130", "plan benefit documents"),
        ("rarc", "M1", "x-ray"),
        ("rarc", "MA01", "appeal"),
        ("group", "PR", "patient responsibility"),
        ("group", "CO", "contractual obligation"),
        ("claim_status", "1", "processed as primary"),
        ("claim_status", "22", "reversal of previous payment"),
        ("plb_reason", "WO", "overpayment recovery"),
        ("plb_reason", "L6", "interest owed"),
        ("plb_reason", "FB", "forward"),
        ("plb_reason", "FB", "balance"),
        ("plb_reason", "CS", "adjustment"),
        ("claim_filing", "MC", "medicaid"),
        ("payment_method", "ACH", "automated clearing house"),
        ("transaction_handling", "H", "notification only"),
    ],
)
def test_known_codes_say_what_they_mean(table: str, code: str, words: str) -> None:
    description = codes.describe(table, code)
    assert description is not None
    assert words in description.lower()


def test_dir_carc_reads_exactly_as_published() -> None:
    assert codes.carc("295") == "Pharmacy Direct/Indirect Remuneration (DIR)"


def test_the_convenience_lookups_read_their_own_tables() -> None:
    assert codes.carc("45") == codes.describe("carc", "45")
    assert codes.rarc("N130") == codes.describe("rarc", "N130")
    assert codes.group("OA") == codes.describe("group", "OA")
    assert codes.plb_reason("WO") == codes.describe("plb_reason", "WO")
    assert codes.claim_status("22") == codes.describe("claim_status", "22")


@pytest.mark.parametrize(
    ("table", "code"),
    [
        ("carc", "9999"),
        ("carc", ""),
        ("rarc", "N99999"),
        ("group", "ZZ"),
        ("plb_reason", "ZZ"),
        ("claim_status", "99"),
        ("claim_filing", "XX"),
    ],
)
def test_unknown_codes_return_none(table: str, code: str) -> None:
    assert codes.describe(table, code) is None


def test_codes_are_matched_after_trimming_and_upper_casing() -> None:
    assert codes.rarc(" n130 ") == codes.rarc("N130")
    assert codes.group("pr") == "Patient Responsibility"


def test_an_unknown_table_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown code table"):
        codes.describe("ncpdp_reject", "75")


def test_retired_codes_are_kept_and_flagged() -> None:
    assert codes.carc("A2") == "Contractual adjustment."
    assert codes.is_deactivated("carc", "A2")
    assert not codes.is_deactivated("carc", "45")
    assert not codes.is_deactivated("group", "PR")


def test_each_table_is_read_once() -> None:
    assert codes.code_table("carc") is codes.code_table("carc")


def test_the_code_tables_import_without_django() -> None:
    probe = (
        "import sys, reconciliation.codes as c; c.carc('1'); "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True)
