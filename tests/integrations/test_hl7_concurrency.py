"""Inbound immunization messages about different patients write at once; an immunization file
import (which locks the organization's doses exclusively) waits for them."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from clinical.models import Immunization
from integrations.services.hl7 import hl7_receive
from tests.integrations.samples import field, vxu

# how long a message may wait on another's open transaction before the test calls it blocked
# (it is done in milliseconds when not blocked; the bound only keeps a failure from hanging)
BLOCKED_AFTER_S = 20


@pytest.mark.django_db(transaction=True)
def test_vxus_for_two_patients_do_not_wait_for_each_other_and_a_file_import_waits(
    chain: SimpleNamespace,
) -> None:
    first_open = threading.Event()
    release_first = threading.Event()
    answers: dict[str, str] = {}

    def receive(name: str, patient_id: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                _, ack = hl7_receive(
                    organization=chain.org,
                    text=vxu(
                        facility=chain.loc_a.ncpdp_id,
                        patient_id=patient_id,
                        control_id=f"VXU-{name}",
                    ),
                    transport="http",
                )
                answers[name] = ack
                if hold:  # keep the transaction (and its locks) open
                    first_open.set()
                    release_first.wait(3 * BLOCKED_AFTER_S)
        finally:
            connection.close()

    first = threading.Thread(target=receive, args=("A", chain.patient_a.pms_patient_id, True))
    first.start()
    try:
        assert first_open.wait(60)
        second = threading.Thread(target=receive, args=("B", "P-OTHER-1", False))
        second.start()
        second.join(BLOCKED_AFTER_S)
        assert not second.is_alive(), "a message about another patient waited for the first"
        assert field(answers["B"], "MSA", 1) == "AA", answers["B"]
        # the exclusive lock an immunization file import takes is not to be had meanwhile
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(7301, %s)", [chain.org.pk])
            got = cur.fetchone()[0]
            if got:
                cur.execute("SELECT pg_advisory_unlock(7301, %s)", [chain.org.pk])
        assert got is False
    finally:
        release_first.set()
        first.join(60)
    assert field(answers["A"], "MSA", 1) == "AA", answers["A"]
    assert Immunization.objects.count() == 2
