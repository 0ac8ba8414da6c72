"""How fast an 835 is parsed, against the str.split floor and other Python 835 parsers.

One run prints, for a single ~100,000-claim pharmacy 835 built from the medium world (seed 7,
every remittance re-labelled under one payer, one interchange with one ST..SE per store and
payment cycle):

- our `read_835`: MB/s, claims/s, peak RSS, on that file and on the same file twice (two
  interchanges with distinct control and trace numbers), so peak RSS can be seen not to grow
  with the file;
- the floor: decode the file and `str.split` it into segments and elements, nothing else;
- pyx12 (tokenizer only: X12Reader; and full validation: x12n_document), linuxforhealth-x12
  (X12ModelReader) and edi-835-parser (parse), installed into their own venv under
  `var/bench/competitors/` by this benchmark. A parser that cannot be installed or fails on
  the file is reported with the reason.

Every parser runs in a child process; its time is the parse alone (imports excluded), its
peak RSS the kernel's rusage of that child. The file is generated once into `var/bench/` and
reused. Timings are reported, never asserted.

Then `bench.x12_load` imports both files into Postgres (parse + load, re-import, peak RSS).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import x12_load

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
FILE = CACHE / "x12-835-100k.edi"
# the file twice over, the copy relabelled (ISA13/GS06, TRN02) so a load sees new payments
DOUBLE = CACHE / "x12-835-200k.edi"
COMPETITORS = CACHE / "competitors"
VENV = COMPETITORS / "venv"
# linuxforhealth-x12 0.57 imports pydantic.BaseSettings, which pydantic 2 removed
REQUIREMENTS = ("pyx12", "linuxforhealth-x12", "pydantic<2", "edi-835-parser")
TARGET_CLAIMS = 100_000
FILE_VERSION = 2  # 2: payer traces kept unique when re-labelled under one payer
TIMEOUT_S = 600  # a competitor still running after this is stopped and reported
FULL_PARSERS = ("pyx12 full validation", "linuxforhealth-x12", "edi-835-parser")
TARGET_MULTIPLE = 5.0

# Each child prints {"seconds": ..., "claims": ...} for `sys.argv[1]`.
OURS = """
import json, sys, time
from reconciliation.x12 import read_835
if sys.argv[3:] == ["no-memo"]:  # every amount parsed afresh, as in a file with no repeats
    from reconciliation.x12 import transaction
    transaction.parse_cents = transaction.parse_cents.__wrapped__
best, claims = None, 0
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    claims = sum(len(r.claims) for r in read_835(sys.argv[1]))
    took = time.perf_counter() - started
    best = took if best is None else min(best, took)
print(json.dumps({"seconds": best, "claims": claims}))
"""

FLOOR = """
import json, sys, time
best, claims = None, 0
for _ in range(3):
    started = time.perf_counter()
    with open(sys.argv[1], "rb") as f:
        text = f.read().decode()
    claims = 0
    for segment in text.replace("\\n", "").split("~"):
        if segment.split("*")[0] == "CLP":
            claims += 1
    took = time.perf_counter() - started
    best = took if best is None else min(best, took)
print(json.dumps({"seconds": best, "claims": claims}))
"""

PYX12_TOKENIZER = """
import json, sys, time
import pyx12.x12file
started = time.perf_counter()
claims = sum(1 for s in pyx12.x12file.X12Reader(sys.argv[1]) if s.get_seg_id() == "CLP")
print(json.dumps({"seconds": time.perf_counter() - started, "claims": claims}))
"""

PYX12_FULL = """
import io, json, logging, sys, time
import pyx12.params, pyx12.x12n_document
logging.disable(logging.CRITICAL)
started = time.perf_counter()
ok = pyx12.x12n_document.x12n_document(
    pyx12.params.params(), sys.argv[1], fd_997=io.StringIO(), fd_html=None
)
print(json.dumps({"seconds": time.perf_counter() - started, "claims": None, "valid": ok}))
"""

LINUXFORHEALTH = """
import json, sys, time
from linuxforhealth.x12.io import X12ModelReader
started = time.perf_counter()
claims = 0
with X12ModelReader(sys.argv[1]) as reader:
    for model in reader.models():
        claims += sum(len(header.loop_2100) for header in (model.loop_2000 or []))
print(json.dumps({"seconds": time.perf_counter() - started, "claims": claims}))
"""

EDI_835_PARSER = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from edi_835_parser import parse
started = time.perf_counter()
claims = sum(len(t.claims) for t in parse(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - started, "claims": claims}))
"""


@dataclass(frozen=True)
class Result:
    name: str
    seconds: float | None = None
    claims: int | None = None
    rss_mb: float | None = None
    failure: str | None = None


# --- data -------------------------------------------------------------------------------


def _bench_files() -> tuple[Path, int]:
    """The ~100k-claim 835 and the same file twice, generated once (about a minute) in a
    child process: the world would otherwise stay in this process, and every child's peak
    RSS starts from its parent's."""
    meta = FILE.with_suffix(".json")
    scripts = []
    current = meta.exists() and json.loads(meta.read_text()).get("version") == FILE_VERSION
    if not (FILE.exists() and current):
        print("generating the medium world (seed 7) for the 835 benchmark ...", flush=True)
        scripts.append("from bench.x12_parse import write_files; write_files()")
    if scripts or not DOUBLE.exists():
        scripts.append("from bench.x12_parse import write_double; write_double()")
    for script in scripts:
        subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
        )
    return FILE, int(json.loads(meta.read_text())["claims"])


def write_files() -> None:
    """Every remittance of the medium world re-labelled under its first payer, in order, until
    TARGET_CLAIMS claims: one interchange, one ST..SE per store and payment cycle. A trace is
    unique per payer id only, so each gets its original payer's number appended: under one
    payer id, two payers' equal traces would be one payment and its corrected re-send."""
    from demo.world.build import build_world
    from demo.world.x12 import remittances_to_x12

    world = build_world(seed=7, scale="medium", year=2026)
    payer = world.payers[0]
    number = {p.key: n for n, p in enumerate(world.payers)}
    remits, claims = [], 0
    for remit in world.remittances:
        if claims >= TARGET_CLAIMS:
            break
        trace = f"{remit.trace_number}{number[remit.payer]:02d}"
        remits.append(dataclasses.replace(remit, payer=payer.key, trace_number=trace))
        claims += len(remit.claims)
    data = remittances_to_x12(
        remits,
        payer=payer,
        locations={loc.ncpdp: loc for loc in world.locations},
        interchange_control=1,
        delimiters="standard",
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    FILE.write_bytes(data)
    FILE.with_suffix(".json").write_text(
        json.dumps({"claims": claims, "transactions": len(remits), "version": FILE_VERSION})
    )


def write_double() -> None:
    """FILE, then FILE again as a second interchange with its own ISA13/IEA02 and GS06/GE02
    and every TRN02 extended by one character: to the loader, new payments, not duplicates."""
    data = FILE.read_bytes()
    DOUBLE.write_bytes(data + relabelled(data, control=2, trace_suffix=b"2"))


def relabelled(data: bytes, *, control: int, trace_suffix: bytes) -> bytes:
    """One interchange with new interchange and group control numbers and new payer traces;
    the delimiters are read from its ISA (element at byte 3, terminator after ISA16)."""
    element, terminator = data[3:4], data[105:106]
    fields = data[:105].split(element)
    fields[13] = b"%09d" % control
    data = element.join(fields) + data[105:]
    e, t = re.escape(element), re.escape(terminator)
    value = b"[^" + e + t + b"]*"
    start = b"(" + t + rb"\s*"  # a segment's id follows the previous terminator
    patterns = (
        (start + b"IEA" + e + value + e + b")" + value, b"%09d" % control),  # IEA02
        (start + b"GS" + (e + value) * 5 + e + b")" + value, b"%d" % control),  # GS06
        (start + b"GE" + e + value + e + b")" + value, b"%d" % control),  # GE02
    )
    for pattern, new in patterns:
        data, found = re.subn(pattern, rb"\g<1>" + new, data)
        assert found == 1, (pattern, found)
    trn = start + b"TRN" + e + value + e + value + b")"  # TRN02
    data, found = re.subn(trn, rb"\g<1>" + trace_suffix.replace(b"\\", b"\\\\"), data)
    assert found, "no TRN segment"
    return data


def _competitor_python() -> tuple[Path | None, str]:
    """The competitors' venv interpreter, created and installed on first use."""
    python = VENV / "bin" / "python"
    log = COMPETITORS / "install.log"
    marker = COMPETITORS / "installed.txt"
    wanted = "\n".join(REQUIREMENTS)
    if not python.exists():
        COMPETITORS.mkdir(parents=True, exist_ok=True)
        made = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
            [sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True
        )
        if made.returncode:
            return None, f"venv creation failed: {made.stderr.strip()[-300:]}"
    if not marker.exists() or marker.read_text() != wanted:
        print(f"installing {', '.join(REQUIREMENTS)} into {VENV.relative_to(ROOT)} ...")
        pip = subprocess.run(  # noqa: S603 (the bench venv's pip, fixed requirements)
            [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
            capture_output=True,
            text=True,
        )
        log.write_text(pip.stdout + pip.stderr)
        if pip.returncode:
            return python, f"pip install failed (see {log.relative_to(ROOT)})"
        marker.write_text(wanted)
    return python, ""


# --- measuring ----------------------------------------------------------------------------


def _child(name: str, python: Path | str, script: str, *args: str) -> Result:
    """Run `script` in a child: its JSON line (parse time, claims) and, from the kernel's
    rusage of that very child (wait4), its peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(  # noqa: S603 (our scripts, our interpreters)
            [str(python), "-c", script, *args], cwd=ROOT, env=env, stdout=out, stderr=err
        )
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                return Result(name, failure=f"did not finish within {TIMEOUT_S} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return Result(name, rss_mb=rss_mb, failure=f"failed: {last[:160]}")
    report = json.loads(stdout.strip().splitlines()[-1])
    return Result(name, report["seconds"], report["claims"], rss_mb)


# --- report -------------------------------------------------------------------------------


def run() -> None:
    path, claims = _bench_files()
    size_mb = path.stat().st_size / 1e6
    print(f"835 parse: {path.relative_to(ROOT)} ({size_mb:.1f} MB, {claims:,} claims)")
    floor = _child("str.split floor", sys.executable, FLOOR, str(path))
    ours = _child("ours (read_835)", sys.executable, OURS, str(path), "3")
    twice = _child("ours, file twice", sys.executable, OURS, str(DOUBLE), "1")
    fresh = _child("ours, no amount memo", sys.executable, OURS, str(path), "3", "no-memo")
    results = [floor, ours, twice, fresh]
    python, problem = _competitor_python()
    scripts = (
        ("pyx12 tokenizer", PYX12_TOKENIZER),
        ("pyx12 full validation", PYX12_FULL),
        ("linuxforhealth-x12", LINUXFORHEALTH),
        ("edi-835-parser", EDI_835_PARSER),
    )
    for name, script in scripts:
        if python is None:
            results.append(Result(name, failure=problem))
        else:
            started = time.perf_counter()
            print(f"  running {name} ...", flush=True)
            result = _child(name, python, script, str(path))
            if problem and result.failure:
                result = dataclasses.replace(result, failure=f"{result.failure}; {problem}")
            results.append(result)
            print(f"    done in {time.perf_counter() - started:.0f} s", flush=True)
    _print(results, path, size_mb, claims)
    print()
    x12_load.run(single=path, double=DOUBLE, claims=claims, parse_rss=(ours.rss_mb, twice.rss_mb))


def _print(results: list[Result], path: Path, size_mb: float, claims: int) -> None:
    ours = results[1]
    print(
        f"{'parser':<24}{'seconds':>9}{'MB/s':>8}{'claims/s':>11}{'peak RSS MB':>13}"
        f"{'ours is x faster':>18}"
    )
    for r in results:
        if r.seconds is None:
            print(f"{r.name:<24}  {r.failure}")
            continue
        mb = (DOUBLE.stat().st_size if "twice" in r.name else path.stat().st_size) / 1e6
        counted = r.claims if r.claims is not None else claims
        ratio = (r.seconds * size_mb / mb) / ours.seconds if ours.seconds else 0.0
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else "?"
        print(
            f"{r.name:<24}{r.seconds:>9.2f}{mb / r.seconds:>8.1f}{counted / r.seconds:>11,.0f}"
            f"{rss:>13}{ratio:>18.1f}"
        )
        if r.claims is not None and "twice" not in r.name and r.claims != claims:
            print(f"{'':<24}  (counted {r.claims:,} claims, not {claims:,})")
    full = [r for r in results if r.name in FULL_PARSERS and r.seconds is not None]
    if ours.seconds and full:
        fastest = min(full, key=lambda r: r.seconds or 0.0)
        multiple = (fastest.seconds or 0.0) / ours.seconds
        verdict = "meets" if multiple >= TARGET_MULTIPLE else "misses"
        print(
            f"target: {TARGET_MULTIPLE:.0f}x the fastest full parser ({fastest.name}): "
            f"{multiple:.1f}x, {verdict} it"
        )
    if ours.rss_mb and results[2].rss_mb:
        print(
            f"peak RSS: {ours.rss_mb:.0f} MB for the file, {results[2].rss_mb:.0f} MB for it "
            "twice over (memory follows the largest transaction, not the file)"
        )
