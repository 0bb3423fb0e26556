"""State stores for tests: a SQLite file, or a fresh schema in the machine's PostgreSQL.

``store_url(kind, folder)`` gives a URL that ``open_store`` (and a ``hookline`` subprocess)
opens; a PostgreSQL URL selects a schema of its own through ``search_path``, dropped by
``drop_schemas`` at the end of the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

POSTGRES = "postgresql://127.0.0.1:5432/test"
KINDS = ("sqlite", "postgresql")


def new_schema() -> str:
    """Create a PostgreSQL schema with a unique name; return the name."""
    name = f"hookline_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return name


def drop_schema(name: str) -> None:
    """Drop a schema ``new_schema`` made, with everything in it."""
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def postgres_url(schema: str) -> str:
    """A URL of the test database whose tables live in ``schema``."""
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    """A URL of an empty store of ``kind`` (``sqlite`` or ``postgresql``) for one test."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/state.db"
        return
    schema = new_schema()
    try:
        yield postgres_url(schema)
    finally:
        drop_schema(schema)
