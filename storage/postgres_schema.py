"""The PostgreSQL store's schema, versioned in a table, schema_migrations(version):
MIGRATIONS[i] takes version i to i+1, run under an advisory lock so processes starting
together migrate once. (Not Alembic: it works through SQLAlchemy, which the project does not
use.)
"""

from __future__ import annotations

import psycopg

from storage.atomic_json import StorageError
from storage.common import scalar

MIGRATE_LOCK = 0x42575A01  # advisory lock key: any constant the app owns

_V1 = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE mentions(
    rid bigserial PRIMARY KEY, id text COLLATE "C" NOT NULL UNIQUE,
    fetched_at text COLLATE "C" NOT NULL, at text COLLATE "C" NOT NULL,
    source_cf text COLLATE "C" NOT NULL, brands_cf text COLLATE "C" NOT NULL,
    flags text COLLATE "C" NOT NULL, sentiment double precision NOT NULL,
    search text COLLATE "C" NOT NULL, grams text[] NOT NULL, doc text NOT NULL);
CREATE INDEX mentions_at ON mentions(at, rid);
CREATE INDEX mentions_fetched ON mentions(fetched_at);
CREATE INDEX mentions_search ON mentions USING gin (search gin_trgm_ops);
CREATE INDEX mentions_grams ON mentions USING gin (grams);
CREATE TABLE seen(id text COLLATE "C" PRIMARY KEY, day text NOT NULL);
CREATE SEQUENCE alert_ids;
CREATE TABLE alerts(
    n bigint PRIMARY KEY, status text NOT NULL, created_at text COLLATE "C" NOT NULL,
    resolved_at text COLLATE "C" NOT NULL, kind text NOT NULL,
    dedup_key text COLLATE "C" NOT NULL, archived boolean NOT NULL DEFAULT false,
    fingerprint bigint NOT NULL DEFAULT 0, doc text NOT NULL);
CREATE INDEX alerts_active ON alerts(status) WHERE status != 'resolved';
CREATE INDEX alerts_created ON alerts(created_at);
CREATE INDEX alerts_key ON alerts(dedup_key) WHERE status != 'resolved';
CREATE SEQUENCE outbox_ids;
CREATE TABLE outbox(seq bigint PRIMARY KEY, alert_id text, doc text NOT NULL);
CREATE INDEX outbox_alert ON outbox(alert_id);
CREATE TABLE dead_letters(seq bigint PRIMARY KEY, doc text NOT NULL);
CREATE TABLE state(key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
"""

# Which process polls which source: a lease, renewed while its process polls the source
# (storage/postgres_leases.py), so the sources of a process that dies are taken over.
# The same for delivering to a destination (one sender at a time keeps its order and its
# rate limit), with the outbox's destination as a column.
_V2 = """
CREATE TABLE source_leases(
    name text COLLATE "C" PRIMARY KEY, owner text NOT NULL, until text COLLATE "C" NOT NULL);
CREATE TABLE destination_leases(
    destination text COLLATE "C" PRIMARY KEY, owner text NOT NULL,
    until text COLLATE "C" NOT NULL);
ALTER TABLE outbox ADD COLUMN destination text COLLATE "C";
UPDATE outbox SET destination = doc::json->>'destination';
"""

# The keys of signed chat requests already acted on (Repository.remember_once), until then.
_V3 = """
CREATE TABLE once_keys(key text COLLATE "C" PRIMARY KEY, until text COLLATE "C" NOT NULL);
CREATE INDEX once_keys_until ON once_keys(until);
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: psycopg.Connection) -> int:
    if scalar(conn.execute("SELECT to_regclass('schema_migrations')").fetchone()) is None:
        return 0
    return int(scalar(conn.execute("SELECT max(version) FROM schema_migrations").fetchone()) or 0)


def migrate(conn: psycopg.Connection) -> None:
    """Bring the database to SCHEMA_VERSION, in the caller's transaction."""
    if schema_version(conn) == SCHEMA_VERSION:
        return  # (no lock then: a read-only run would hold it until it closes)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations("
        "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"the database's schema is version {version}, newer than this Buzzwatch "
            f"knows ({SCHEMA_VERSION}): upgrade Buzzwatch"
        )
    for v in range(version, SCHEMA_VERSION):
        conn.execute(MIGRATIONS[v])
        conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (v + 1,))
