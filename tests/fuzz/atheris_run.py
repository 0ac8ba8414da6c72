"""Coverage-guided fuzzing with atheris (libFuzzer) of the three readers that take files from
outside: the 835 reader, the inbound HL7 v2 reader with its MLLP decoder, and the PMS export
reader (read, layout detection, normalization).

    python -m tests.fuzz.atheris_run x12|hl7|pms CORPUS_DIR [libFuzzer flags, e.g. -runs=20000]

CORPUS_DIR starts as the target's seed samples (the 835 and HL7 samples, or PMS exports of
every layout; tests/fuzz/test_atheris.py writes them) and collects the inputs libFuzzer finds
that reach new code. libFuzzer mutates them, guided by which lines of the
reader each input reaches. A reader may refuse an input only with its own error type
(X12Error, Rejected/FramingError, FileRejected/UnknownLayout); anything else escapes, and
atheris prints the input and exits non-zero. tests/fuzz/test_atheris.py runs each target for
a fixed number of inputs with a fixed seed.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(
    include=["reconciliation.x12", "integrations.hl7", "clinical.hl7", "claims.ingest"]
):
    from claims.ingest.normalize import normalize
    from claims.ingest.profiles import UnknownLayout, detect_profile
    from claims.ingest.read import FileRejected, open_batches
    from integrations.hl7.messages import Rejected, parse_message, peek_header
    from integrations.hl7.mllp import Frame, FramingError, MllpDecoder
    from reconciliation.x12 import X12Error, read_835_file

MAX_LEN = 64 * 1024


def _x12(data: bytes) -> None:
    try:
        read_835_file(data, "fuzz.835")
    except X12Error as exc:
        if not exc.issues:
            raise AssertionError("a rejection names its issues") from exc


def _hl7(data: bytes) -> None:
    text = data.decode("utf-8", errors="surrogateescape")
    peek_header(text)  # documented never to raise
    try:
        parse_message(text)
    except Rejected as exc:
        if not exc.issue.reason:
            raise AssertionError("a rejection says why") from exc
    for piece in MllpDecoder(max_frame=4096).feed(data):  # frames and framing errors, any bytes
        assert isinstance(piece, Frame | FramingError)


_UPLOAD = Path(tempfile.mkdtemp(prefix="atheris-pms-")) / "upload"


def _pms(data: bytes) -> None:
    _UPLOAD.write_bytes(data)
    try:
        batches = open_batches(_UPLOAD, batch_rows=50)
        profile = detect_profile(batches.headers)
        for batch in batches.batches:
            normalize(batch, profile)
    except (FileRejected, UnknownLayout) as exc:
        if not str(exc):
            raise AssertionError("a rejection says why") from exc


TARGETS: dict[str, Callable[[bytes], None]] = {"x12": _x12, "hl7": _hl7, "pms": _pms}


def main(argv: list[str]) -> None:
    target, corpus, flags = argv[1], Path(argv[2]), argv[3:]
    if not any(corpus.iterdir()):
        raise SystemExit(f"{corpus} holds no seed for {target}")
    atheris.Setup([argv[0], *flags, f"-max_len={MAX_LEN}", str(corpus)], TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
