"""Small hand-written 835s for the tests: `interchange(...)` wraps body segments in a correct
ISA/GS/ST..SE/GE/IEA envelope, rendered with any delimiters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciliation.x12 import Issue, ParsedFile, read_835_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ingest" / "x12_835"

# One paid pharmacy claim with copay, ingredient cost and DIR, plus a PLB fee: 29.26 - 0.18.
BODY = [
    "BPR*I*29.08*C*ACH*CCP*01*075098762*DA*91234509876*1234509876**01*045678934*DA*3123*20260306",
    "TRN*1*98760010260306*1234509876",
    "DTM*405*20260306",
    "N1*PR*ACME RX MEDICARE PART D",
    "REF*2U*1234509876",
    "N1*PE*ELM STREET PHARMACY*XX*1234567893",
    "REF*D3*4499001",
    "LX*1",
    "CLP*2200397-00*1*70.44*29.26*30.00*16*0102600002200397",
    "NM1*QC*1*NGUYEN*ADA****MI*AC123456789",
    "SVC*N4:00093505601*70.44*29.26**30",
    "DTM*472*20260301",
    "CAS*PR*3*30.00",
    "CAS*CO*90*9.18**295*2.00",
    "REF*6R*2200397-00",
    "PLB*1234567893*20261231*CS:TXNFEE0306*0.18",
]


def transaction(body: Sequence[str], control: str = "0001") -> list[str]:
    """ST, the body, and an SE with the right count."""
    return [f"ST*835*{control}", *body, f"SE*{len(body) + 2}*{control}"]


def interchange(
    body: Sequence[str] = BODY,
    *,
    control: int = 42,
    transactions: int = 1,
    component: str = ":",
) -> list[str]:
    """A whole interchange as segments written with `*` (render() swaps delimiters)."""
    isa = (
        "ISA*00*          *00*          *ZZ*1234509876     *ZZ*1234567893     *260306*0800*^*"
        f"00501*{control:09d}*0*P*{component}"
    )
    segments = [isa, f"GS*HP*1234509876*1234567893*20260306*0800*{control}*X*005010X221A1"]
    for number in range(1, transactions + 1):
        segments.extend(transaction(body, f"{number:04d}"))
    segments += [f"GE*{transactions}*{control}", f"IEA*1*{control:09d}"]
    return segments


def render(
    segments: Sequence[str],
    *,
    element: str = "*",
    terminator: str = "~",
    line_end: str = "",
    indent: str = "",
    bom: bool = False,
    wrap: int | None = None,
) -> bytes:
    """Join segments with the given delimiters (segments are written with `*`)."""
    text = "".join(indent + s.replace("*", element) + terminator + line_end for s in segments)
    if wrap:
        text = "".join(text[i : i + wrap] + "\r\n" for i in range(0, len(text), wrap))
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("ascii")


def read_bytes(data: bytes, name: str = "test.835") -> ParsedFile:
    return read_835_file(data, name)


def codes(issues: Sequence[Issue]) -> list[tuple[str, int | None]]:
    """Issues as (code, segment number), the way golden tests compare them."""
    return [(i.code, i.segment) for i in issues]
