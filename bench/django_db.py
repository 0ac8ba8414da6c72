"""Django set up on a benchmark's own database: the one way every benchmark does it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

SERVER = "postgres://postgres@127.0.0.1:5432"


def database_url(name: str) -> str:
    return f"{SERVER}/{name}"


def django_on(
    name: str,
    *,
    url: str | None = None,
    env: Mapping[str, str] | None = None,
    migrate: bool = True,
    say: Callable[[str], None] = print,
) -> None:
    """Create database `name` if missing, point this process (and the children it starts) at
    it with `env` set over whatever the caller or .env says, set Django up, refuse to go on if
    Django reads another database, and migrate (unless told not to). `url` replaces the
    database's plain URL (to add connection options)."""
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")
    os.environ["DATABASE_URL"] = url or database_url(name)
    os.environ.update(env or {})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxrevops.settings")
    import django
    from django.conf import settings

    django.setup()
    if settings.DATABASES["default"]["NAME"] != name:
        raise RuntimeError(f"Django is not pointed at {name}; refusing to benchmark")
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def settle(tables: tuple[str, ...], *, vacuum: bool = True) -> str:
    """Bring `tables` to the state a live server's autovacuum would keep them in (VACUUM
    ANALYZE, or ANALYZE only), then CHECKPOINT, so the timed step that follows writes back
    only its own dirty pages, not those an earlier benchmark left in shared buffers. Untimed;
    returns the server's autovacuum setting."""
    from django.db import connection

    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"VACUUM (ANALYZE) {table}" if vacuum else f"ANALYZE {table}")
        cur.execute("CHECKPOINT")
        cur.execute("SHOW autovacuum")
        return str(cur.fetchone()[0])
