"""The narrow reads (`status`, the SLA check, the storm watch): every backend gives the same
answers as the full reads they stand for."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from core.domain.models import SlaView, Status
from core.domain.repository import Repository
from storage import narrow_reads
from storage.narrow_reads import count_spans
from tests.storage.repository_contract import NOW, Opener, mention, reopen, store_alerts

HOUR = timedelta(hours=1)


def test_active_alert_counts_and_the_oldest_first_pages(
    repo: Repository, open_repo: Opener
) -> None:
    shapes = [  # (status, created hours ago)
        (Status.OPEN, 5),
        (Status.ACKED, 9),
        (Status.OPEN, 7),
        (Status.RESOLVED, 1),
        (Status.SNOOZED, 2),
        (Status.OPEN, 7),  # the same age as A3: the id number decides
        (Status.ASSIGNED, 3),
        (Status.RESOLVED, 100),  # archived below
        (Status.OPEN, 1),
    ]
    alerts = store_alerts(repo, len(shapes))
    for a, (status, age) in zip(alerts, shapes, strict=True):
        a.status, a.created_at = status.value, (NOW - age * HOUR).isoformat()
        if status == Status.RESOLVED:
            a.resolved_at = a.created_at
    repo.save_cycle([], [], alerts, [])
    repo.archive_alerts(NOW - 50 * HOUR)
    repo = reopen(repo, open_repo)
    assert repo.count_active_alerts() == dict(Counter(a.status for a in repo.active_alerts()))
    assert repo.count_active_alerts() == {"open": 4, "acked": 1, "snoozed": 1, "assigned": 1}
    order = ["open", "acked", "assigned", "snoozed"]

    def ids(statuses: list[str], limit: int, offset: int = 0) -> list[str]:
        return [a.id for a in repo.oldest_active_alerts(statuses, limit, offset)]

    assert ids(order, 20) == ["A3", "A6", "A1", "A9", "A2", "A7", "A5"]
    assert ids(order, 3, offset=2) == ["A1", "A9", "A2"]
    assert ids(order, 3, offset=7) == []
    assert ids(["snoozed", "open"], 2) == ["A5", "A3"]
    assert ids(["resolved"], 5) == []
    page = repo.oldest_active_alerts(["acked"], 1)
    assert page == [a for a in repo.active_alerts() if a.id == "A2"]  # whole alerts


def test_sla_candidates_are_open_on_an_sla_route_or_woken_from_a_snooze(
    repo: Repository, open_repo: Opener
) -> None:
    now = NOW.isoformat()
    shapes = [  # (status, route, snoozed until, storm it belongs to)
        (Status.OPEN, "r", "", ""),  # in
        (Status.OPEN, "other", "", ""),  # a route without an SLA: out
        (Status.SNOOZED, "other", (NOW - HOUR).isoformat(), ""),  # snooze ended: in
        (Status.SNOOZED, "r", (NOW + HOUR).isoformat(), ""),  # still snoozed: out
        (Status.SNOOZED, "r", now, ""),  # ends now: in
        (Status.OPEN, "r", "", "A9"),  # a storm's member: out
        (Status.ACKED, "r", "", ""),  # acked: out
        (Status.RESOLVED, "r", "", ""),  # out
    ]
    alerts = store_alerts(repo, len(shapes))
    for a, (status, route, until, storm) in zip(alerts, shapes, strict=True):
        a.status, a.route, a.snoozed_until, a.storm_of = status.value, route, until, storm
    alerts[0].escalations, alerts[0].sla_from = 2, (NOW - HOUR).isoformat()
    repo.save_cycle([], [], alerts, [])
    repo = reopen(repo, open_repo)
    got = repo.sla_candidates({"r"}, now)
    assert [v.id for v in got] == ["A1", "A3", "A5"]
    first = alerts[0]
    assert got[0] == SlaView(
        "A1", "open", "r", first.created_at, first.sla_from, "", first.escalations
    )
    assert got[1].snoozed_until == alerts[2].snoozed_until
    assert [v.id for v in repo.sla_candidates(set(), now)] == ["A3", "A5"]


def test_mention_counts_per_span_by_brand_and_sentiment(
    repo: Repository, open_repo: Opener
) -> None:
    shapes = [  # (hours ago, brands, sentiment)
        (0, ["Acme"], -0.5),  # said exactly at the end of the first span: in the next one
        (0.5, ["ACME", "Other"], 0.2),
        (1, ["Acme"], -0.9),  # the first span's start: in it
        (1.5, ["Other"], -0.9),
        (2, ["Acme"], 0.0),
        (25, ["acme"], -0.2),
        (26, ["Acme"], -0.2),  # outside every span
        (0.2, ["Acme_"], -0.9),  # another brand, LIKE's wildcard in its name
        (0.3, [], -0.9),
    ]
    mentions = [
        mention(i, when=NOW - age * HOUR, brands=brands, sentiment=sentiment)
        for i, (age, brands, sentiment) in enumerate(shapes)
    ]
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    repo = reopen(repo, open_repo)
    spans = [
        (NOW - HOUR, NOW),
        (NOW - HOUR, NOW + timedelta(microseconds=1)),
        (NOW - 25 * HOUR, NOW - 24 * HOUR),
        (NOW - 10 * HOUR, NOW - 9 * HOUR),
    ]
    want = [(2, 1), (3, 2), (1, 1), (0, 0)]
    assert repo.count_mentions_between("acme", spans, -0.05) == want
    docs = list(repo.iter_mentions(NOW - 30 * HOUR))
    assert count_spans(docs, "Acme", spans, -0.05) == want  # the reference agrees
    assert repo.count_mentions_between("Acme_", spans[:1], -0.05) == [(1, 1)]
    assert repo.count_mentions_between("Acme", [], -0.05) == []
    # A read-only run's own new mentions count too (a dry run's storm check sees them).
    reader = reopen(repo, open_repo, read_only=True)
    extra = mention(99, when=NOW - 0.5 * HOUR, brands=["Acme"], sentiment=-0.7)
    reader.save_cycle([extra], [extra.id], [], [])
    assert reader.count_mentions_between("Acme", spans[:1], -0.05) == [(3, 2)]


def test_iter_alerts_reads_every_alert_not_archived_a_page_at_a_time(
    repo: Repository, open_repo: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(narrow_reads, "ALERT_PAGE", 2)  # pages of 2: the keyset paging runs
    alerts = store_alerts(repo, 5)
    alerts[1].status, alerts[1].resolved_at = Status.RESOLVED.value, (NOW - 500 * HOUR).isoformat()
    alerts[3].status = Status.ACKED.value
    repo.save_cycle([], [], alerts, [])
    repo.archive_alerts(NOW - 50 * HOUR)  # A2 archived
    repo = reopen(repo, open_repo)
    got = list(repo.iter_alerts())
    assert [a.id for a in got] == ["A1", "A3", "A4", "A5"]
    assert got == repo.find_alerts(lambda a: True)  # whole alerts, as stored
