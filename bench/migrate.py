"""`python bot.py migrate` of a busy TinyDB folder, checked record by record (issue 15).

    python bench/migrate.py [--mentions 100000] [--alerts 10000] [--store DIR]

Builds a TinyDB data folder as months of running leave it: mentions over 30 days (bench/
storage.py's), seen ids for them and for as many posts that named no brand, alerts (10% open,
15% acked or assigned, 75% resolved, those older than 14 days archived), a post queued for
each open alert, some of them dead letters, and a source's state. --store DIR keeps it in
DIR/tinydb-migrate-<mentions>-<alerts> and reuses it (each run migrates a fresh copy).

Then `python bot.py migrate` on the copy, as a user types it (its output shown), timed, with
its peak RSS; then every record is compared through both repositories: each mention's stored
document, each alert (the archived ones too), the outbox, the dead letters, the state and
every seen id. A second run must change nothing. Prints what is missing or different (0).
Next to it, the same folder read whole through the TinyDB repository (what the bot did at
every start before the SQLite store).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.storage import END, add_alerts, mention_batches  # noqa: E402
from core.alerting.lifecycle import outbox_items  # noqa: E402
from core.domain.clock import FakeClock  # noqa: E402
from core.domain.models import Alert, OutboxStatus, Status  # noqa: E402
from core.domain.repository import Repository  # noqa: E402
from storage.sqlite_repo import SQLiteRepository  # noqa: E402
from storage.tinydb_repo import TinyDBRepository  # noqa: E402
from tests.conftest import BASE_CONFIG  # noqa: E402


def build(folder: Path, n_mentions: int, n_alerts: int) -> float:
    t0 = time.perf_counter()
    repo = TinyDBRepository(folder, clock=FakeClock(END))
    for batch in mention_batches(n_mentions):
        unmatched = [f"nobrand-{m.id}" for m in batch]  # posts seen that named no brand
        repo.save_cycle(batch, [m.id for m in batch] + unmatched, [], [])
    add_alerts(repo, n_alerts)
    rng = random.Random(15)
    now = END - timedelta(hours=1)
    for alert in repo.find_alerts(lambda a: a.status == Status.OPEN.value):
        repo.add_outbox(outbox_items(alert, "post", now))
    for item in rng.sample(repo.pending_outbox(), k=min(50, n_alerts // 100)):
        item.status = OutboxStatus.DEAD.value
        repo.save_outbox(item)
    repo.set_state("source:weibo", {"etag": '"e1"', "modified": "Mon, 30 Nov 2026 08:00:00 GMT"})
    repo.close()
    return time.perf_counter() - t0


def seen_ids(folder: Path) -> list[str]:
    """Every id in the folder's seen files (one per line)."""
    ids: list[str] = []
    for path in sorted((folder / "seen").glob("*.txt")):
        ids += [line for line in path.read_text("utf-8").splitlines() if line]
    return ids


def migrate(folder: Path) -> tuple[float, int, str]:
    """`python bot.py migrate` on the folder: seconds, peak RSS (KB), its output."""
    config = dict(BASE_CONFIG, data_dir=str(folder))
    path = folder.parent / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "bot.py", "migrate", "--config", str(path)]
    cmd += ["--no-progress"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"migrate failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    peak = int(done.stderr.strip().splitlines()[-1])
    return took, peak, done.stdout


def compare(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Per kind of record: how many the TinyDB folder holds, how many of those are missing
    or different in the SQLite store, and how many more it holds (a second copy)."""
    old = TinyDBRepository(folder, read_only=True)
    new = SQLiteRepository(folder, clock=FakeClock(END))
    try:
        figures = {
            "mentions": _diff(list(old.iter_mentions(None)), list(new.iter_mentions(None))),
            "alerts": _diff(_every_alert(old), _every_alert(new)),
            "outbox items": _diff(old.pending_outbox(), new.pending_outbox()),
            "dead letters": _diff(old.dead_letters(), new.dead_letters()),
        }
        state = {k: v for k, v in old.all_state().items() if k != "cycle_seen_ids"}
        now = new.all_state()
        figures["state keys"] = (len(state), sum(now.get(k) != v for k, v in state.items()), 0)
        ids = seen_ids(folder)
        figures["seen ids"] = (len(ids), len(new.unseen(ids)), 0)
        return figures
    finally:
        old.close()
        new.close()


def _every_alert(repo: Repository) -> list[Alert]:
    """Every alert ever made, the archived ones too (by id: A1 up to the last one issued)."""
    last = int(repo.get_state("alert_seq", 0))
    found = (repo.get_alert(f"A{n}") for n in range(1, last + 1))
    return [a for a in found if a is not None]


def _id(record: Any) -> str:
    return record["id"] if isinstance(record, dict) else record.id


def _diff(old: list[Any], new: list[Any]) -> tuple[int, int, int]:
    by_id = {_id(r): r for r in new}
    return len(old), sum(by_id.get(_id(r)) != r for r in old), len(new) - len(old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=100_000)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--store", type=Path, help="keep the built TinyDB folder here, reuse it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as tmp:
        kept = args.store / f"tinydb-migrate-{args.mentions}-{args.alerts}" if args.store else None
        source = kept or Path(tmp) / "built"
        if not (source / "BUILT").exists():
            shutil.rmtree(source, ignore_errors=True)
            took = build(source, args.mentions, args.alerts)
            (source / "BUILT").write_text(f"{took:.1f}\n")
            print(f"TinyDB folder built in {took:.0f} s: {source}")
        folder = Path(tmp) / "data"
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("BUILT", ".lock"))

        t0 = time.perf_counter()
        old = TinyDBRepository(folder, read_only=True)
        read = sum(1 for _ in old.iter_mentions(None)) + sum(1 for _ in old.iter_alerts())
        old.close()
        print(
            f"TinyDB: every mention and alert read in {time.perf_counter() - t0:.1f} s ({read:,})"
        )

        took, peak, out = migrate(folder)
        print(f"\n$ python bot.py migrate  ({took:.1f} s, peak RSS {peak / 1024:.0f} MB)")
        print("   " + out.strip().replace("\n", "\n   "))
        figures = compare(folder)
        print(f"\n{'record':<14}{'in TinyDB':>12}{'missing/different':>20}{'extra':>8}")
        for kind, (held, wrong, extra) in figures.items():
            print(f"{kind:<14}{held:>12,}{wrong:>20,}{extra:>8,}")

        again, _, out = migrate(folder)
        after = compare(folder)
        print(f"\nsecond run ({again:.1f} s): " + out.strip().splitlines()[0])
        same = after == figures
        print(f"second run changed nothing: {'yes' if same else 'NO'}")
        bad = sum(wrong + abs(extra) for _, wrong, extra in figures.values())
        if bad or not same:
            sys.exit(f"round trip FAILED: {bad} record(s) missing or different")


if __name__ == "__main__":
    main()
