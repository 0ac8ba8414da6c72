from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from demo.world.build import build_world
from demo.world.model import World
from demo.world.writers import write_world

SMALL = {"seed": 7, "scale": "small", "year": 2026}


@pytest.fixture(scope="session")
def small_world() -> World:
    return build_world(**SMALL)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def small_files(small_world: World, tmp_path_factory: Any) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("world-small")
    write_world(small_world, out)
    return out, json.loads((out / "manifest.json").read_text())
