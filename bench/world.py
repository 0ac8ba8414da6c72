"""How fast the synthetic world is generated, per scale.

Baseline: the small world in the same run. Reported: seconds to simulate and to write,
claims per second, and the per-claim cost relative to the small world (1.00 = scales
linearly).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from demo.world.build import build_world
from demo.world.writers import write_world


def _measure(scale: str) -> tuple[int, float, float, int]:
    started = time.perf_counter()
    world = build_world(seed=7, scale=scale, year=2026)
    simulated = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_world(world, Path(tmp))
        written = time.perf_counter()
        size = sum(e["bytes"] for e in manifest["files"])
    return len(world.claims), simulated - started, written - simulated, size


def run(*, include_large: bool) -> None:
    scales = ["small", "medium"] + (["large"] if include_large else [])
    print("world generation (seed 7, year 2026)")
    print(
        f"{'scale':<8}{'claims':>11}{'simulate s':>12}{'write s':>10}{'MB':>8}"
        f"{'claims/s':>11}{'cost/claim vs small':>21}"
    )
    baseline = None
    for scale in scales:
        claims, sim, write, size = _measure(scale)
        per_claim = (sim + write) / claims
        baseline = baseline or per_claim
        print(
            f"{scale:<8}{claims:>11,}{sim:>12.1f}{write:>10.1f}{size / 1e6:>8.1f}"
            f"{claims / (sim + write):>11,.0f}{per_claim / baseline:>21.2f}"
        )
