"""No patient data in log lines or error pages, even when the database quotes the row it refused."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from rxrevops.logs import REDACTED, PhiSafeFormatter, redact

NAME, DOB = "Quillfeather", "1950-01-02"


def _write_a_bad_patient_row(request: HttpRequest) -> HttpResponse:
    """A view that fails the way a bug would: Postgres refuses a row and quotes all of it."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO claims_patient (pms_patient_id, first_name, last_name, date_of_birth, "
            "phone, created_at, updated_at, location_id, med_sync_enrolled, postal_code, sex) "
            "VALUES ('P-LOG-1', 'Marguerite', %s, %s, '555-0100', now(), now(), NULL, false, "
            "'50309', 'F')",
            [NAME, DOB],
        )
    return HttpResponse("unreachable")


urlpatterns = [path("broken/", _write_a_bad_patient_row)]


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the application's configured console handler writes, captured."""
    handlers = [
        h for h in logging.getLogger().handlers if isinstance(h.formatter, PhiSafeFormatter)
    ]
    assert handlers, "the root logger's console handler does not use PhiSafeFormatter"
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    was = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(was)


@pytest.mark.urls("tests.test_phi_logging")
@pytest.mark.django_db
def test_a_failing_request_logs_the_error_without_the_patients_name_or_birth_date(
    console: io.StringIO,
) -> None:
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    page = response.content.decode()
    logged = console.getvalue()
    # the fault is still there to find: the request, the error and the column
    assert "Internal Server Error: /broken/" in logged
    assert "NotNullViolation" in logged or "IntegrityError" in logged
    assert 'null value in column "location_id"' in logged
    assert f"Failing row contains {REDACTED}" in logged
    for value in (NAME, DOB, "Marguerite", "555-0100"):
        assert value not in logged
        assert value not in page


def test_key_values_in_a_unique_violation_are_withheld_and_the_columns_kept() -> None:
    text = (
        'duplicate key value violates unique constraint "patient_unique_per_location"\n'
        "DETAIL:  Key (location_id, pms_patient_id)=(3, P-77 (Rivera)) already exists."
    )
    out = redact(text)
    assert "Key (location_id, pms_patient_id)=" + REDACTED in out
    assert "Rivera" not in out
    assert "P-77" not in out
    assert 'unique constraint "patient_unique_per_location"' in out


def test_any_other_detail_with_values_is_withheld() -> None:
    out = redact('check failed\nDETAIL:  Token "Rivera" is invalid (1950-01-02).\nnext line stays')
    assert out == f"check failed\nDETAIL:  {REDACTED}\nnext line stays"


def test_celery_workers_log_through_the_same_formatter() -> None:
    from celery.signals import setup_logging

    import rxrevops.celery  # noqa: F401 (connects the worker's logging set-up)

    root = logging.getLogger()
    before = list(root.handlers)
    try:
        answered = setup_logging.send(
            sender=None, loglevel="INFO", logfile=None, format="", colorize=False
        )
        assert answered, "nothing answers Celery's setup_logging: Celery would set up its own"
        assert any(isinstance(h.formatter, PhiSafeFormatter) for h in root.handlers)
    finally:
        for handler in root.handlers:
            if handler not in before:
                root.removeHandler(handler)
        for handler in before:
            if handler not in root.handlers:
                root.addHandler(handler)
