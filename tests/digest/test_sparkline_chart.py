"""The text sparkline and the PNG chart."""

from __future__ import annotations

import struct
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

from core.domain.clock import FakeClock
from core.reports.chart import DPI, SIZE_INCHES
from core.reports.digest import daily_period
from core.reports.digest_service import DigestService
from core.reports.digest_text import sparkline, volume_lines
from tests.digest.helpers import mention, setup, utc


def test_sparkline_scales_to_the_peak_and_keeps_zero_apart() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([]) == ""
    # One mention next to a hundred still shows as more than nothing.
    assert sparkline([0, 1, 100]) == "▁▂█"
    assert sparkline([5, 5]) == "██"


def test_volume_lines_label_the_first_and_last_hour() -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    period = daily_period(date(2026, 11, 29), time(9, 0), ZoneInfo("Asia/Shanghai"))
    from core.reports.digest import compute_digest

    d = compute_digest([mention("a", utc(2026, 11, 28, 6, 15)).to_dict()], [], period, clock.now())
    lines = volume_lines(d)
    assert lines[0] == "Volume by hour (09:00 → 08:00):"
    assert lines[1] == "▁" * 5 + "█" + "▁" * 18
    assert lines[2] == "peak 1 at 14:00"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_is_a_png_of_the_expected_size(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    mentions = [
        mention(f"n{i}", utc(2026, 11, 28, 2 + i % 5, i), -0.8 if i % 3 else 0.9, brand="艾克米")
        for i in range(30)
    ]
    config, repo = setup(
        tmp_path,
        clock,
        mentions,
        brands=[{"name": "艾克米", "keywords": ["艾克米"]}],
        routes=[],
        digest={"time": "09:00"},
    )
    service = DigestService(config, repo, clock)
    assert service.run_due() is not None
    item = next(i for i in repo.pending_outbox() if i.message.get("kind") == "text")
    path = item.message["image"]
    assert path.startswith(str(config.data_dir))
    data = Path(path).read_bytes()
    assert png_size(data) == (int(SIZE_INCHES[0] * DPI), int(SIZE_INCHES[1] * DPI))
    assert len(data) > 5_000  # bars, axes and labels were drawn, not an empty canvas
    repo.close()


def test_message_goes_without_image_when_the_chart_fails(tmp_path, monkeypatch) -> None:
    import core.reports.chart

    def broken(d):
        raise RuntimeError("no backend")

    monkeypatch.setattr(core.reports.chart, "chart_png", broken)
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    config, repo = setup(tmp_path, clock)
    DigestService(config, repo, clock).run_due()
    item = next(i for i in repo.pending_outbox() if i.message.get("kind") == "text")
    assert "image" not in item.message and item.message["text"]
    repo.close()
