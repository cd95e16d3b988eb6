"""The digest's chart: mention volume per hour (or day), stacked by sentiment, as a PNG.

matplotlib is imported here, lazily, so that starting the bot stays light; it draws with
the Agg canvas directly (no pyplot, no global state), so jobs on threads cannot interfere.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

from core.reports.digest import Digest

COLORS = {"negative": "#d64545", "neutral": "#a0a4ab", "positive": "#3c9a5f"}
# Fonts that hold CJK glyphs, tried first when installed, so a Chinese brand name renders.
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
SIZE_INCHES = (10.0, 4.0)
DPI = 100


def _fonts() -> list[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in FONTS if name in installed] or ["sans-serif"]


def render_chart(d: Digest, path: Path) -> Path:
    """Write the chart to `path`, a file the user named (`digest --dry-run --chart`),
    atomically: a reader never sees half a PNG. Charts kept in the data folder go through
    the repository instead (Repository.save_file), which a dry run keeps read-only."""
    data = chart_png(d)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def chart_png(d: Digest) -> bytes:
    """The chart as PNG bytes."""
    # The Agg canvas is used directly: no GUI backend, no environment variable needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    hourly = d.bucket < timedelta(days=1)
    labels = [f"{b.start:%H}" if hourly else f"{b.start:%m-%d}" for b in d.buckets]
    x = list(range(len(d.buckets)))
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bottom = [0] * len(x)
    for kind in ("negative", "neutral", "positive"):
        values = [getattr(b, kind) for b in d.buckets]
        ax.bar(x, values, bottom=bottom, color=COLORS[kind], label=kind, width=0.85)
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], labels[::step])
    ax.set_ylabel("mentions")
    zone = getattr(d.period.tz, "key", str(d.period.tz))
    unit = "hour" if hourly else "day"
    ax.set_title(
        f"{d.brand or 'All brands'}: mentions by {unit}, {d.period.start:%Y-%m-%d %H:%M} → "
        f"{d.period.end:%Y-%m-%d %H:%M} ({zone})",
        fontsize=10,
    )
    locator = ax.yaxis.get_major_locator()  # an AutoLocator, a kind of MaxNLocator
    if isinstance(locator, MaxNLocator):
        locator.set_params(integer=True)
    ax.set_ylim(0, max(1, max(bottom, default=0)) * 1.2)  # room for the legend
    ax.legend(loc="upper right", ncols=3, frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.title.set_fontfamily(_fonts())
    fig.tight_layout()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A missing font or glyph draws a box; it is not worth a warning per character.
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(buffer, format="png")
    return buffer.getvalue()
