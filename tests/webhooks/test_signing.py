from __future__ import annotations

from webhooks.signing import signature, verify

SECRET = "whsec_test"
BODY = b'{"type":"job.succeeded"}'


def test_a_receiver_verifies_what_was_signed_with_its_secret() -> None:
    header = signature(secret=SECRET, timestamp=1_700_000_000, body=BODY)
    assert header.startswith("t=1700000000,v1=")
    assert verify(secret=SECRET, header=header, body=BODY, now=1_700_000_010)


def test_a_changed_body_a_wrong_secret_or_an_old_timestamp_fail_verification() -> None:
    header = signature(secret=SECRET, timestamp=1_700_000_000, body=BODY)
    assert not verify(secret=SECRET, header=header, body=BODY + b" ", now=1_700_000_000)
    assert not verify(secret="whsec_other", header=header, body=BODY, now=1_700_000_000)
    assert not verify(secret=SECRET, header=header, body=BODY, now=1_700_000_000 + 301)
    assert not verify(secret=SECRET, header="v1=abc", body=BODY, now=1_700_000_000)
