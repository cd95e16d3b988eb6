"""Writes to a repository (argv: data folder, backend) as fast as it can, printing each cycle number once it is stored.

Run by test_crash.py, which kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.alerting.lifecycle import new_alert, outbox_items
from core.domain.models import Mention
from storage.factory import open_repository


def main(data_dir: str, backend: str = "tinydb") -> None:
    repo = open_repository(backend, Path(data_dir))
    cycle = int(repo.get_state("cycles", 0))
    while True:
        cycle += 1
        now = datetime.now(UTC)
        mentions = [
            Mention(
                id=f"c{cycle}m{i}",
                source="s",
                url="",
                title=f"Acme story {cycle}-{i}",
                text="x" * 300,
                brands=["Acme"],
                fetched_at=now,
            )
            for i in range(20)
        ]
        ids = repo.next_alert_ids(2)
        alerts = [
            new_alert(aid, m, "r", ["console"], now) for aid, m in zip(ids, mentions, strict=False)
        ]
        outbox = [item for a in alerts for item in outbox_items(a, "post", now)]
        repo.save_cycle(mentions, [m.id for m in mentions], alerts, outbox)
        repo.change_alert(ids[0], lambda a: setattr(a, "status", "acked"))
        repo.set_state("cycles", cycle)
        print(cycle, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
