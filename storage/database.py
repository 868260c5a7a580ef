"""The application database (requests, drafts, audit trail): engine and migrations.

SQLite file under var/ by default, PostgreSQL when DATABASE_URL says so. The schema is
managed by Alembic (migrations/); `migrate()` brings any database to the latest version
and is safe to call from several processes at once.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import settings
from settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
_MIGRATION_LOCK_ID = 7_362_001  # PostgreSQL advisory lock serialising concurrent upgrades
_migrated: set = set()
_migrate_lock = threading.Lock()


def sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001
    """On every new SQLite connection: write-ahead log (one sync per commit, and readers no
    longer block the writer; `synchronous` stays FULL, so a commit is durable) and foreign keys."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def private_sqlite_file(database: str) -> None:
    """Create a SQLite file readable by its owner only, in a folder only its owner opens.

    SQLite gives its -wal and -shm files the database file's permissions, so the whole
    conversation log and request store stay 0600 whatever the process umask is."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def create_engine(url: str) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        private_sqlite_file(parsed.database)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, future=True)
        sa.event.listen(engine, "connect", sqlite_pragmas)
        return engine
    # pool_pre_ping: a connection broken by a database restart is replaced, not reused.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, future=True)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return create_engine(url)


def migrate(url: Optional[str] = None) -> None:
    """Upgrade the database at `url` (default DATABASE_URL) to the latest schema."""
    from alembic import command
    from alembic.config import Config

    url = url or settings.database_url()
    with _migrate_lock:
        if url in _migrated:
            return
        engine = engine_for(url)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        _migrated.add(url)


def main() -> int:
    migrate()
    print(
        f"Application database up to date ({sa.engine.make_url(settings.database_url()).render_as_string(hide_password=True)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
