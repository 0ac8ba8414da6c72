"""Benchmark steps that run in a child process of their own (a database of their own, gevent's
monkey-patching, a clean peak RSS): `python -m <module> <args>`, progress on stderr, the JSON
answer on the last line of stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def json_child(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module args...` from the repository root; its answer, or RuntimeError
    (after printing what it wrote) when it fails."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode:
        print(done.stdout)
        raise RuntimeError(f"{module} {' '.join(args)} exited with {done.returncode}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer
