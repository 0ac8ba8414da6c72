"""Production settings pass Django's deployment checks and refuse unsafe configurations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "RXREVOPS_ENV": "production",
    "SECRET_KEY": "x7$kq2!pv9@zt4#lw8^mn3&rb6*yc1(ud5)ef0-gh-ij+op=qr.st/uv;wx",
    "ALLOWED_HOSTS": "rx.example.test",
    "DJANGO_SETTINGS_MODULE": "rxrevops.settings",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    drop = {"SECRET_KEY", "DEBUG", "RXREVOPS_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_debug() -> None:
    result = manage("check", env={**PRODUCTION_ENV, "DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_development_defaults_flag_the_insecure_key_in_deploy_checks() -> None:
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env={"RXREVOPS_ENV": "development"}
    )
    assert result.returncode != 0


def test_sign_in_settings_come_from_the_environment() -> None:
    script = (
        "from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.SESSION_IDLE_MINUTES, "
        "s.REQUIRE_OWNER_TOTP, s.OTP_TOTP_ISSUER)"
    )
    defaults = manage("shell", "--no-imports", "-c", script, env=PRODUCTION_ENV)
    assert defaults.stdout.split() == ["5", "0:15:00", "30", "False", "RxRevOps"], defaults.stderr
    chosen = manage(
        "shell",
        "--no-imports",
        "-c",
        script,
        env={
            **PRODUCTION_ENV,
            "LOGIN_FAILURE_LIMIT": "3",
            "LOGIN_LOCKOUT_MINUTES": "60",
            "SESSION_IDLE_MINUTES": "10",
            "REQUIRE_OWNER_TOTP": "true",
            "TOTP_ISSUER": "Maple RevOps",
        },
    )
    assert chosen.stdout.split() == ["3", "1:00:00", "10", "True", "Maple", "RevOps"], chosen.stderr


def test_check_deploy_stays_clean_with_owner_totp_required() -> None:
    env = {**PRODUCTION_ENV, "REQUIRE_OWNER_TOTP": "true"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_an_idle_limit_below_a_minute() -> None:
    result = manage("check", env={**PRODUCTION_ENV, "SESSION_IDLE_MINUTES": "0"})
    assert result.returncode != 0
    assert "SESSION_IDLE_MINUTES must be at least 1" in result.stderr


def test_pages_send_the_content_security_policy(client: Any, db: Any) -> None:
    response = client.get("/accounts/login/")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response["Content-Security-Policy"].split("; ")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]


def test_every_database_connection_runs_without_jit_unless_asked(db: Any) -> None:
    """JIT compilation cost more than it saved on every large statement measured (the fill
    upsert, the reconciliation, the rollups): it is off on the app's connections."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW jit")
        assert cur.fetchone()[0] == "off"
    code = (
        "import django; django.setup(); from django.db import connection; "
        "print(connection.settings_dict.get('OPTIONS', {}).get('options', ''))"
    )
    on = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DB_JIT": "true", "DJANGO_SETTINGS_MODULE": "rxrevops.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert on.returncode == 0, on.stderr
    assert "jit" not in on.stdout
