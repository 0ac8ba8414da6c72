"""Production settings pass Django's deployment checks and refuse unsafe configurations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
