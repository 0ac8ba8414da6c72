"""Idempotency-Key on every POST under /api/: a retry is answered from the first request's
stored response and writes nothing again; another body with the key is a 409; keys belong
to their caller."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.test import override_settings
from django.utils import timezone

from claims.models import Patient
from rxrevops.models import AuditEvent, IdempotencyRecord, ImportFile, Job
from rxrevops.services.idempotency import idempotency_claim, idempotency_purge_expired
from rxrevops.services.tokens import api_token_create
from tests.support.problems import errors_by_field

PATIENTS = "/api/v1/patients/"
IMPORTS = "/api/v1/imports/"
CSV = (
    b"rx_number,fill_number,date_of_service\n"  # content does not matter: nothing runs it
    b"1000001,0,2026-01-05\n"
)


def _key(chain: SimpleNamespace, *scopes: str) -> str:
    scopes = scopes or ("claims:write", "claims:read", "jobs:read")
    return api_token_create(organization=chain.org, name="PMS", scopes=scopes).key


def _patient(chain: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    return {
        "location": chain.loc_a.ncpdp_id,
        "pms_patient_id": "IDEM-1",
        "first_name": "Ada",
        "last_name": "Replay",
        "date_of_birth": "1950-01-02",
        **overrides,
    }


def _upload(client: Any, chain: SimpleNamespace, key: str, content: bytes = CSV) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        IMPORTS,
        {
            "kind": "pms",
            "location": chain.loc_a.ncpdp_id,
            "file": SimpleUploadedFile("jan.csv", content, content_type="text/csv"),
        },
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_upload_is_answered_from_the_first_and_makes_no_second_job(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(token=_key(chain))
    first = _upload(client, chain, "upload-jan-1")
    assert first.status_code == 202, first.content
    assert "Idempotent-Replayed" not in first
    # the test client frames the retry with the same boundary; a new boundary is covered
    # by hashing the parsed form, see the next test
    again = _upload(client, chain, "upload-jan-1")
    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Job.objects.count() == 1
    assert ImportFile.objects.count() == 1


def test_a_retry_framed_with_another_multipart_boundary_is_the_same_request(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(token=_key(chain))
    body = (
        '--{b}\r\nContent-Disposition: form-data; name="kind"\r\n\r\npms\r\n'
        '--{b}\r\nContent-Disposition: form-data; name="location"\r\n\r\n{loc}\r\n'
        '--{b}\r\nContent-Disposition: form-data; name="file"; filename="jan.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n{csv}\r\n--{b}--\r\n"
    )
    answers = []
    for boundary in ("firstBoundary123", "retryBoundary456"):
        data = body.format(b=boundary, loc=chain.loc_a.ncpdp_id, csv=CSV.decode())
        answers.append(
            client.generic(
                "POST",
                IMPORTS,
                data.encode(),
                content_type=f"multipart/form-data; boundary={boundary}",
                HTTP_IDEMPOTENCY_KEY="upload-jan-2",
            )
        )
    assert [a.status_code for a in answers] == [202, 202], answers[0].content
    assert answers[1]["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_the_same_key_with_another_body_is_a_409_and_writes_nothing(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(token=_key(chain))
    first = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    other = client.post(
        PATIENTS, _patient(chain, first_name="Eve"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 409
    assert other["Content-Type"] == "application/problem+json"
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert "different request" in other.json()["detail"]
    assert Patient.objects.get(pms_patient_id="IDEM-1").first_name == "Ada"
    # the same body again, keys in another order: the stored answer, no second audit event
    reordered = dict(reversed(list(_patient(chain).items())))
    again = client.post(PATIENTS, reordered, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert AuditEvent.objects.filter(summary="API patient push").count() == 1


def test_keys_belong_to_their_token(chain: SimpleNamespace, api_login: Any) -> None:
    a = api_login(token=_key(chain))
    b = api_login(token=_key(chain))
    assert (
        a.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    # token B's "k" is its own: its different body runs (an update), no 409, no replay
    response = b.post(
        PATIENTS, _patient(chain, first_name="Bea"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 200, response.content
    assert "Idempotent-Replayed" not in response
    assert Patient.objects.get(pms_patient_id="IDEM-1").first_name == "Bea"
    assert IdempotencyRecord.objects.filter(key="k").count() == 2


def test_a_request_still_running_with_the_key_is_a_409_with_retry_after(
    chain: SimpleNamespace, api_login: Any
) -> None:
    key = _key(chain)
    client = api_login(token=key)
    prefix = key.split("_")[1]
    first = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="warm")
    assert first.status_code == 201
    # the same request under key "busy" has been claimed by a process still running it
    record = IdempotencyRecord.objects.get(principal=f"token:{prefix}", key="warm")
    claim = idempotency_claim(
        principal=record.principal,
        key="busy",
        method="POST",
        path=PATIENTS,
        request_hash=record.request_hash,
    )
    assert claim.fresh
    response = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["type"] == "/problems/idempotency-key-in-progress"


def test_refusals_and_invalid_input_do_not_use_up_the_key(
    chain: SimpleNamespace, api_login: Any
) -> None:
    reader = api_login(token=_key(chain, "claims:read"))
    refused = reader.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="r")
    assert refused.status_code == 403
    assert not IdempotencyRecord.objects.exists()
    client = api_login(token=_key(chain))
    bad = client.post(
        PATIENTS, _patient(chain, date_of_birth="soon"), format="json", HTTP_IDEMPOTENCY_KEY="v"
    )
    assert list(errors_by_field(bad)) == ["date_of_birth"]
    # a validation answer is stored: the same body gets it again, unchanged
    again = client.post(
        PATIENTS, _patient(chain, date_of_birth="soon"), format="json", HTTP_IDEMPOTENCY_KEY="v"
    )
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == bad.json()


def test_a_malformed_key_is_a_400_naming_the_header(chain: SimpleNamespace, api_login: Any) -> None:
    client = api_login(token=_key(chain))
    for key in ("x" * 256, " padded ", "tab\there"):
        response = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert errors_by_field(response) == {
            "Idempotency-Key": [
                "The key is longer than 255 characters."
                if len(key) > 255
                else "The key must be 1 to 255 printable ASCII characters, without leading "
                "or trailing spaces."
            ]
        }
    assert not Patient.objects.filter(pms_patient_id="IDEM-1").exists()
    ok = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="x" * 255)
    assert ok.status_code == 201


@override_settings(IDEMPOTENCY_KEY_TTL_HOURS=1)
def test_old_keys_expire_and_are_purged(chain: SimpleNamespace, api_login: Any) -> None:
    client = api_login(token=_key(chain))
    client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=2))
    # an expired key is free again: the other body runs instead of a 409
    response = client.post(
        PATIENTS, _patient(chain, first_name="Later"), format="json", HTTP_IDEMPOTENCY_KEY="old"
    )
    assert response.status_code == 200
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=2))
    client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="new")
    assert idempotency_purge_expired() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_a_session_user_has_keys_of_their_own(chain: SimpleNamespace, api_login: Any) -> None:
    client = api_login(chain.owner)
    first = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="s")
    assert first.status_code == 201, first.content
    again = client.post(PATIENTS, _patient(chain), format="json", HTTP_IDEMPOTENCY_KEY="s")
    assert again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().principal == f"user:{chain.owner.pk}"
