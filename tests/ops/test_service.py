"""/healthz and /metrics (scraped and parsed with prometheus_client's own parser), and
--log-format json."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.cli.parser import build_parser
from core.alerting.lifecycle import AlertService, new_alert, outbox_items
from core.domain import telemetry
from core.domain.clock import FakeClock
from core.domain.models import OutboxStatus
from core.intake.pipeline import CycleResult
from core.intake.polling import PollOutcome
from ops.logs import JsonFormatter
from ops.server import OpsServer, start_service
from storage.sqlite_repo import SQLiteRepository
from tests.storage.repository_contract import NOW, mention


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def repo(tmp_path: Path, clock: FakeClock) -> Iterator[SQLiteRepository]:
    repo = SQLiteRepository(tmp_path / "data", clock=clock)
    yield repo
    repo.close()


@pytest.fixture
def running() -> list[bool]:
    return [True]


@pytest.fixture
def server(repo: SQLiteRepository, clock: FakeClock, running: list[bool]) -> Iterator[OpsServer]:
    server = start_service("127.0.0.1", 0, repo, clock, lambda: running[0])
    yield server
    server.stop()


def get(server: OpsServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_what_the_bot_does_and_read_the_queue(
    server: OpsServer, repo: SQLiteRepository, clock: FakeClock
) -> None:
    [a1, a2] = [new_alert(i, mention(n), "r", ["team"], NOW) for n, i in enumerate(["A1", "A2"])]
    repo.save_cycle([], [], [a1, a2], outbox_items(a1, "post", NOW) + outbox_items(a2, "post", NOW))
    dead = repo.pending_outbox()[1]
    dead.status = OutboxStatus.DEAD.value
    repo.save_outbox(dead)

    result = CycleResult("feed", fetched=5, new=4, alerts=[a1, a2])
    telemetry.polled(PollOutcome("feed", ok=True, result=result))
    telemetry.polled(PollOutcome("feed", ok=True, not_modified=True))
    telemetry.polled(PollOutcome("broken", ok=False, error="timeout"))
    telemetry.polled(PollOutcome("other", ok=True, elsewhere=True))
    clock.advance(timedelta(minutes=10))
    AlertService(repo, clock).ack("A1", "bob", "slack")
    AlertService(repo, clock).resolve("A1", "bob", "slack")
    telemetry.sent("team", "sent")
    telemetry.sent("team", "retrying")

    status, text = get(server, "/metrics")
    assert status == 200
    got = samples(text)
    assert got[("buzzwatch_polls_total", (("result", "ok"), ("source", "feed")))] == 1
    assert got[("buzzwatch_polls_total", (("result", "not_modified"), ("source", "feed")))] == 1
    assert got[("buzzwatch_polls_total", (("result", "elsewhere"), ("source", "other")))] == 1
    assert got[("buzzwatch_fetch_errors_total", (("source", "broken"),))] == 1
    assert ("buzzwatch_fetch_errors_total", (("source", "feed"),)) not in got
    assert got[("buzzwatch_mentions_analysed_total", ())] == 4
    for event, n in (("opened", 2), ("acked", 1), ("resolved", 1)):
        assert got[("buzzwatch_alerts_total", (("event", event),))] == n
    assert got[("buzzwatch_sends_total", (("destination", "team"), ("result", "sent")))] == 1
    assert got[("buzzwatch_time_to_ack_seconds_count", ())] == 1
    assert got[("buzzwatch_time_to_ack_seconds_sum", ())] == 600
    # read from the store at the scrape (the ack and the resolve queued more)
    assert got[("buzzwatch_outbox_depth", ())] == len(repo.pending_outbox()) > 1
    assert got[("buzzwatch_outbox_oldest_age_seconds", ())] == 600
    assert got[("buzzwatch_dead_letters", ())] == 1


def test_healthz_says_live_and_ready_and_what_is_not(
    server: OpsServer, repo: SQLiteRepository, running: list[bool]
) -> None:
    assert get(server, "/healthz/live") == (200, '{"status": "live"}\n')
    status, body = get(server, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"scheduler": "ok", "storage": "ok"}}
    running[0] = False
    status, body = get(server, "/healthz")
    assert status == 503 and json.loads(body)["checks"]["scheduler"] == "not running"
    running[0] = True
    repo.close()  # the store is gone: not ready, and /metrics says so instead of dying
    status, body = get(server, "/healthz")
    assert status == 503 and json.loads(body)["checks"]["storage"] != "ok"
    assert get(server, "/metrics")[0] == 503
    assert get(server, "/healthz/live")[0] == 200
    assert get(server, "/nothing")[0] == 404


def test_nothing_is_counted_once_the_service_stops(server: OpsServer) -> None:
    telemetry.sent("team", "sent")
    assert "buzzwatch_sends_total" in get(server, "/metrics")[1]
    server.stop()
    assert telemetry._sink is None
    telemetry.sent("team", "sent")  # no sink: a no-op, not an error


def test_json_log_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        info = sys.exc_info()
    record = logging.LogRecord("buzzwatch.x", logging.ERROR, __file__, 1, "a %s 汉", ("b",), info)
    doc = json.loads(JsonFormatter().format(record))
    assert doc["level"] == "error" and doc["logger"] == "buzzwatch.x"
    assert doc["message"] == "a b 汉" and "ValueError: boom" in doc["exception"]
    assert build_parser().parse_args(["--log-format", "json"]).log_format == "json"
    assert build_parser().parse_args(["digest", "--log-format", "json"]).log_format == "json"
