"""The atheris targets (tests/fuzz/atheris_run.py), each run in a process of its own for a
fixed number of inputs from a fixed seed: libFuzzer exits 0 only when no input made a reader
raise anything but its own error type. What it found is kept in test-artifacts/atheris/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT
from tests.fuzz.pms_samples import pms_samples, xlsx_bytes
from tests.reconciliation.x12.builders import FIXTURES

# inputs per target: about 15 s each here (the PMS reader writes a file and runs pyarrow and
# pandas per input); ATHERIS_SCALE=10 for a longer session
SCALE = float(os.environ.get("ATHERIS_SCALE", "1"))
RUNS = {t: int(n * SCALE) for t, n in {"x12": 30_000, "hl7": 60_000, "pms": 4_000}.items()}
HL7_EXAMPLES = ROOT / "integrations" / "hl7" / "examples"


def _fuzz(target: str, seeds: list[bytes]) -> str:
    corpus = ARTIFACTS / "atheris" / target
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(seed)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.atheris_run",
            target,
            str(corpus),
            f"-runs={RUNS[target]}",
            "-seed=7",
            f"-artifact_prefix={corpus}/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log = run.stdout + run.stderr
    (corpus.parent / f"{target}.log").write_text(log)
    assert run.returncode == 0, log[-4000:]
    # libFuzzer's last status line: it really ran the inputs it was asked for
    assert f"Done {RUNS[target]} runs" in log, log[-2000:]
    return log


def test_the_835_reader_raises_only_its_own_errors_under_libfuzzer() -> None:
    seeds = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.name != "SOURCES.md"]
    _fuzz("x12", seeds)


def test_the_hl7_reader_and_mllp_decoder_raise_only_their_own_errors_under_libfuzzer() -> None:
    seeds = [p.read_bytes() for p in sorted(HL7_EXAMPLES.glob("*.hl7"))]
    _fuzz("hl7", [*seeds, *(b"\x0b" + s + b"\x1c\r" for s in seeds)])


def test_the_pms_reader_raises_only_its_own_errors_under_libfuzzer(world_files: Path) -> None:
    csvs, xlsxs = pms_samples(json.loads((world_files / "manifest.json").read_text()), world_files)
    seeds = [s.text(s.rows[:8]).encode() for s in csvs]
    seeds += [xlsx_bytes(s.rows[:8]) for s in xlsxs]
    _fuzz("pms", seeds)


@pytest.mark.parametrize("target", ["x12", "hl7", "pms"])
def test_a_crash_in_a_target_fails_the_run(target: str, tmp_path: Path) -> None:
    """The harness is not vacuous: an input its reader cannot take (here, a target given a
    seed directory that holds nothing) stops the run with a non-zero exit."""
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.atheris_run", target, str(tmp_path), "-runs=10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode != 0
    assert "holds no seed" in run.stderr
