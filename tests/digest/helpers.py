"""Stored mentions and alerts for digest and storm tests, written through the real repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.config import Config
from core.domain.clock import FakeClock
from core.domain.models import Alert, Mention, to_iso
from core.domain.repository import Repository
from storage.factory import open_repository
from tests.conftest import make_config


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def mention(
    mid: str,
    published: datetime,
    sentiment: float = 0.0,
    *,
    brand: str = "Acme",
    source: str = "weibo",
    reach: int = 0,
    title: str = "",
    text: str = "",
    author: str = "someone",
    flags: list[str] | None = None,
    aspects: list[str] | None = None,
    kol_tier: str = "",
) -> Mention:
    return Mention(
        id=mid,
        source=source,
        url=f"https://example.com/{mid}",
        title=title or f"title {mid}",
        text=text or f"text of {mid}",
        author=author,
        published=published,
        fetched_at=published + timedelta(minutes=1),
        brands=[brand],
        sentiment=sentiment,
        flags=list(flags or []),
        aspects=list(aspects or []),
        reach=reach,
        kol_tier=kol_tier,
    )


def alert(
    aid: str,
    created: datetime,
    *,
    brand: str = "Acme",
    flags: list[str] | None = None,
    status: str = "open",
    acked: datetime | None = None,
    resolved: datetime | None = None,
    title: str = "",
) -> Alert:
    return Alert(
        id=aid,
        mention_id=f"m-{aid}",
        brand=brand,
        severity="medium",
        flags=list(flags or []),
        destinations=["console"],
        created_at=to_iso(created) or "",
        status=status,
        acked_by="amy" if acked else "",
        acked_at=to_iso(acked) or "",
        resolved_by="amy" if resolved else "",
        resolved_at=to_iso(resolved) or "",
        summary={"title": title or f"alert {aid}", "url": f"https://example.com/{aid}"},
    )


def setup(
    tmp_path: Path,
    clock: FakeClock,
    mentions: list[Mention] = (),
    alerts: list[Alert] = (),
    **overrides: Any,
) -> tuple[Config, Repository]:
    config = make_config(tmp_path, **overrides)
    repo = open_repository(config.storage.backend, config.data_dir, clock=clock)
    repo.save_cycle(list(mentions), [m.id for m in mentions], list(alerts), [])
    return config, repo
