"""The 835 reader is a pure core: importing it pulls in no Django and no other app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APPS = ("django", "rest_framework", "rxrevops", "claims", "adherence", "clinical", "dashboards")


def test_the_parser_imports_no_django_and_no_other_app() -> None:
    script = "import json, sys, reconciliation.x12; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules = json.loads(out.stdout)
    assert [m for m in modules if m.split(".")[0] in APPS] == []
    assert [m for m in modules if m.startswith("reconciliation.") and ".x12" not in m] == []
