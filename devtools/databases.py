"""Throw-away stores for tests: a SQLite file or a fresh PostgreSQL database; Redis keys under a fresh prefix."""

from __future__ import annotations

import contextlib
import os
import uuid

import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.contextmanager
def fresh_redis_prefix():
    """An alphanumeric key prefix no other test uses; its keys are deleted afterwards."""
    import redis

    prefix = "test" + uuid.uuid4().hex[:10]
    try:
        yield prefix
    finally:
        client = redis.StrictRedis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


@contextlib.contextmanager
def fresh_postgres_database():
    """Create an empty PostgreSQL database on the local server; drop it afterwards."""
    name = f"mds_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from storage.database import engine_for

        engine_for(url).dispose()
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextlib.contextmanager
def throwaway_database(kind: str, sqlite_file):
    """A URL for an empty database: "sqlite" (the given file) or "postgresql" (a fresh database)."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_file}"
    else:
        with fresh_postgres_database() as url:
            yield url
