"""Applies migrations/*.sql in name order, once each, recording them in schema_migrations."""

from __future__ import annotations

from importlib import resources

from clickhouse_connect.driver.client import Client


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("clickhouse") / "migrations"
    files = sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))
    return files


def apply_migrations(client: Client, database: str) -> list[str]:
    """Return the names of migrations applied now (an empty list when the schema is current)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY name"
    )
    done = {row[0] for row in client.query(f"SELECT name FROM {database}.schema_migrations").result_rows}
    applied = []
    for name, sql in migration_files():
        if name in done:
            continue
        # Comments go first: they may contain ";", which separates statements.
        code = "\n".join(line for line in sql.format(db=database).splitlines() if not line.lstrip().startswith("--"))
        for statement in (part.strip() for part in code.split(";")):
            if statement:
                client.command(statement)
        client.insert(f"{database}.schema_migrations", [[name]], column_names=["name"])
        applied.append(name)
    return applied
