"""The layout keeps one owner for each kind of code (README « Où changer quoi »)."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from devtools.databases import throwaway_database
from settings import PROJECT_ROOT
from storage.database import engine_for, migrate
from storage.schema import metadata

PRODUCT_PACKAGES = (
    "actions",
    "console",
    "conversations",
    "gdpr",
    "mail",
    "team_inbox",
    "metrics",
    "privacy",
    "rasa_addons",
    "storage",
    "training",
    "webapp",
)


def product_sources():
    files = [PROJECT_ROOT / "settings.py"]
    for package in PRODUCT_PACKAGES:
        files += sorted((PROJECT_ROOT / package).rglob("*.py"))
    return files


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrated_database_matches_the_schema_module(kind, tmp_path):
    with throwaway_database(kind, tmp_path / "app.db") as url:
        migrate(url)
        with engine_for(url).connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        engine_for(url).dispose()
    assert differences == [], "storage/schema.py and migrations/ disagree: write a migration"


def test_only_the_conversation_log_module_reads_rasas_events_table():
    readers = {
        str(path.relative_to(PROJECT_ROOT))
        for path in product_sources()
        if re.search(r"\b(FROM|INTO|UPDATE)\s+events\b", path.read_text(), re.IGNORECASE)
        or "{TABLE}" in path.read_text()
    }
    assert readers == {"conversations/log.py"}


def test_only_the_schema_module_declares_tables():
    declaring = {str(path.relative_to(PROJECT_ROOT)) for path in product_sources() if "sa.Table(" in path.read_text()}
    assert declaring == {"storage/schema.py"}


def _variables_read(text: str) -> set:
    return set(re.findall(r"os\.environ(?:\.get)?\(\s*[\"']([A-Z0-9_]+)[\"']", text)) | set(
        re.findall(r"os\.getenv\(\s*[\"']([A-Z0-9_]+)[\"']", text)
    )


def test_settings_is_the_only_reader_of_the_environment():
    readers = {str(path.relative_to(PROJECT_ROOT)) for path in product_sources() if _variables_read(path.read_text())}
    assert readers == {"settings.py"}


def test_every_setting_is_in_the_readme_configuration_table_and_back():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configurer", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", section, re.MULTILINE))
    documented |= {
        name
        for row in re.findall(r"^\| (`[A-Z0-9_]+`(?:, `[A-Z0-9_]+`)+) \|", section, re.MULTILINE)
        for name in re.findall(r"`([A-Z0-9_]+)`", row)
    }
    read_by_settings = _variables_read((PROJECT_ROOT / "settings.py").read_text()) - {"XDG_CACHE_HOME"}
    assert read_by_settings - documented == set(), "setting missing from the README's table"
    # The rest of the table is read by the launchers and configuration files, not by Python code.
    launchers = "".join(
        (PROJECT_ROOT / name).read_text()
        for name in ("Makefile", "scripts/run.sh", "scripts/shell.sh", "scripts/find-python.sh", "endpoints.yml")
    )
    for name in documented - read_by_settings:
        assert name in launchers, f"{name} is documented but nothing reads it"
