"""The worklist build against real Postgres: what lands on which list, idempotent reruns."""

from __future__ import annotations

from types import SimpleNamespace

from adherence.models import WorklistItem


def test_smoke(worklist_chain: SimpleNamespace) -> None:
    assert WorklistItem.objects.filter(kind="med_sync", location=worklist_chain.loc_a).count() == 3
