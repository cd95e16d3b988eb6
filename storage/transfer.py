"""`python bot.py migrate --to postgres|sqlite`: the SQLite store into PostgreSQL, or back.

Both stores have the same tables (mentions, seen, alerts, outbox, dead_letters, state), so
the copy is rows, read in batches from one and written to the other. The source is only
read. Idempotent: mentions and seen ids are merged by id on every run; alerts, the outbox,
dead letters and state go in once, with a mark, as `migrate` from TinyDB does; the next
alert and outbox ids of the target start after every id the source ever handed out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from core.domain.models import Alert
from storage.atomic_json import StorageError
from storage.migrate import BATCH, MigrationReport
from storage.postgres_repo import PostgresRepository
from storage.sqlite_repo import SQLiteRepository

Store = SQLiteRepository | PostgresRepository

MENTIONS = {  # (rid, record) after a rid, in rid order
    "sqlite": "SELECT m.rid, d.doc FROM mentions m JOIN mention_docs d ON d.rid = m.rid"
    " WHERE m.rid > %s ORDER BY m.rid LIMIT %s",
    "postgres": "SELECT rid, doc FROM mentions WHERE rid > %s ORDER BY rid LIMIT %s",
}
SEEN = "SELECT id, day FROM seen WHERE id > %s ORDER BY id LIMIT %s"


def _rows(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(store, PostgresRepository):
        with store._tx() as conn:
            return conn.execute(sql, params).fetchall()
    with store._lock:
        return store._db.execute(sql.replace("%s", "?"), params).fetchall()


def _write(store: Store, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Rows inserted; one already there (same key) is left as it is."""
    if not rows:
        return
    sql += " ON CONFLICT DO NOTHING"
    if isinstance(store, PostgresRepository):
        with store._tx() as conn, conn.cursor() as cur:
            cur.executemany(sql, rows)
    else:
        with store._tx() as db:
            db.executemany(sql.replace("%s", "?"), rows)


def _backend(store: Store) -> str:
    return "postgres" if isinstance(store, PostgresRepository) else "sqlite"


def _pages(store: Store, sql: str) -> Iterator[list[tuple[Any, ...]]]:
    after: Any = 0 if "rid" in sql else ""
    while rows := _rows(store, sql, (after, BATCH)):
        yield rows
        after = rows[-1][0]


def transfer(
    source: Store, target: Store, now_iso: str, progress: Callable[[int], None] | None = None
) -> MigrationReport:
    report = MigrationReport()
    for rows in _pages(source, MENTIONS[_backend(source)]):
        docs = [json.loads(doc) for _, doc in rows]
        with target._tx():
            target._put_mentions(docs)
        report.mentions += len(docs)
        if progress:
            progress(len(docs))
    for rows in _pages(source, SEEN):
        _write(target, "INSERT INTO seen(id, day) VALUES (%s, %s)", rows)
        report.seen += len(rows)
        if progress:
            progress(len(rows))
    mark = f"migrated_from_{_backend(source)}"
    done = target.get_state(mark)
    if done:
        report.already = str(done)
    else:
        _small_tables(source, target, report, {mark: now_iso})
    return report


def _small_tables(
    source: Store, target: Store, report: MigrationReport, mark: dict[str, str]
) -> None:
    """Alerts, outbox, dead letters, state and the id counters, with the `mark` (a state key
    saying so) in the same transaction: a run killed before the mark was written left the
    alerts in, and every run after refused, the target holding alerts "of its own"."""
    if target.find_alerts(lambda a: True) or target.pending_outbox():
        raise StorageError(
            "the target store already holds alerts or an outbox of its own: migrate into an "
            "empty one"
        )
    # (n, archived, record): written through the target's own code, which derives its columns
    alerts = _rows(source, "SELECT n, archived, doc FROM alerts ORDER BY n")
    outbox = _rows(source, "SELECT seq, alert_id, doc FROM outbox")
    dead = _rows(source, "SELECT seq, doc FROM dead_letters")
    # the id counters are the target's own (sequences or these keys), set below
    state = {k: v for k, v in source.all_state().items() if k not in ("alert_seq", "outbox_seq")}
    last_alert, last_outbox = _last_ids(source)
    last_alert = max([last_alert, *(r[0] for r in alerts)])
    last_outbox = max([last_outbox, *(r[0] for r in [*outbox, *dead])])
    with target._tx():
        for archived in (False, True):
            records = [json.loads(doc) for _, a, doc in alerts if bool(a) == archived]
            target._put_alerts([Alert.from_dict(d) for d in records], archived=archived)
        _write(target, "INSERT INTO outbox(seq, alert_id, doc) VALUES (%s, %s, %s)", outbox)
        _write(target, "INSERT INTO dead_letters(seq, doc) VALUES (%s, %s)", dead)
        for key, value in {**state, **mark}.items():
            target.set_state(key, value)
        if isinstance(target, PostgresRepository):
            with target._tx() as conn:
                conn.execute(
                    "UPDATE outbox SET destination = doc::json->>'destination'"
                    " WHERE destination IS NULL"
                )
                for seq, last in (("alert_ids", last_alert), ("outbox_ids", last_outbox)):
                    if last:
                        conn.execute("SELECT setval(%s, %s)", (seq, last))
        else:
            target.set_state("alert_seq", last_alert)
            target.set_state("outbox_seq", last_outbox)
    report.alerts = len(alerts)
    report.archived = sum(1 for r in alerts if r[1])
    report.outbox, report.dead = len(outbox), len(dead)
    report.state_keys = len(state)


def _last_ids(source: Store) -> tuple[int, int]:
    """The last alert and outbox numbers the source handed out (stored or not)."""
    if isinstance(source, SQLiteRepository):
        return int(source.get_state("alert_seq", 0)), int(source.get_state("outbox_seq", 0))
    found = []
    for seq in ("alert_ids", "outbox_ids"):
        last, called = _rows(source, f"SELECT last_value, is_called FROM {seq}")[0]
        found.append(last if called else 0)
    return found[0], found[1]
