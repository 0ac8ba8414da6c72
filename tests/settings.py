"""Test settings: the real local Postgres (pytest-django makes `test_rxrevops`) and the real
Redis on a database index of its own, so a running demo is never disturbed."""

import os

os.environ.setdefault("RXREVOPS_ENV", "test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from rxrevops.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
MEDIA_ROOT = BASE_DIR / "var" / "test-uploads"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (WhiteNoise warns about a missing root)
# Live-server request threads and the test worker must not keep connections open past a
# request, or the test database cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Tests that import files do not want a worklist build racing them on the test worker; the
# test of the rebuild-after-import turns it back on.
WORKLISTS_AFTER_IMPORT = False
# (a worker started with RECONCILE_AFTER_IMPORT=true queues it: the import-races-run fault test)
RECONCILE_AFTER_IMPORT = env.bool("RECONCILE_AFTER_IMPORT", default=False)  # noqa: F405
# nor a margin rollup refresh racing the tests that reconcile (the rollup tests turn it on)
ROLLUPS_AFTER_RECONCILE = False
# the webhook tests' receiver listens on loopback
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
