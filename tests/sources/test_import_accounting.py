"""`import` says what became of every row, and the same input is treated the same way:
an id is a post, an open quote is an error with its line, an implausible time is refused
with a reason (as an unreadable one is), the reasons add up, "stored" means stored."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from sources.importer import ImportReport, import_file
from tests.conftest import make_config


@pytest.fixture
def app(tmp_path: Path, clock):
    app = Buzzwatch(make_config(tmp_path), clock=clock, stdout=io.StringIO())
    yield app
    app.close()


def _import(app: Buzzwatch, path: Path) -> ImportReport:
    return import_file(path, "forum", app.pipeline.process, app.clock, progress=False)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _stored_titles(app: Buzzwatch) -> list[str]:
    return sorted(m.get("title") or m.get("text") for m in app.repo.iter_mentions(None))


def test_the_same_id_is_one_post_with_or_without_a_url(app: Buzzwatch, tmp_path: Path) -> None:
    rows = [
        {"id": "r1", "title": "Acme burger was cold", "url": "https://forum.example/1"},
        {"id": "r1", "title": "Acme burger was cold (edited)"},
    ]
    report = _import(app, _jsonl(tmp_path / "dup.jsonl", rows))
    assert report.accepted == 1
    assert report.duplicates == [(2, "duplicate of line 1 (same id r1)")]
    assert _stored_titles(app) == ["Acme burger was cold"]


def test_an_unclosed_quote_is_rejected_with_its_line_and_swallows_nothing(
    app: Buzzwatch, tmp_path: Path
) -> None:
    src = tmp_path / "sheet.csv"
    src.write_text(
        "id,title,url\n"
        "c1,Acme fries are soggy,https://f.example/1\n"
        'c2,"Acme staff were rude,https://f.example/2\n'
        "c3,Acme burger was cold,https://f.example/3\n"
        'c4,"Acme, again",https://f.example/4\n',
        encoding="utf-8",
    )
    report = _import(app, src)
    ((line, reason),) = report.rejected
    assert line == 3 and "a quote opens a cell on this line and is not closed" in reason
    assert report.accepted == 3
    assert _stored_titles(app) == ["Acme burger was cold", "Acme fries are soggy", "Acme, again"]


def test_an_unclosed_quote_on_the_last_rows_is_not_taken_as_one_long_cell(
    app: Buzzwatch, tmp_path: Path
) -> None:
    src = tmp_path / "sheet.csv"
    src.write_text(
        'id,title\nc1,"Acme fries are soggy\nc2,Acme burger was cold\n', encoding="utf-8"
    )
    report = _import(app, src)
    assert [line for line, _ in report.rejected] == [2]
    assert "ran on to line 3: unexpected end of data" in report.rejected[0][1]
    assert _stored_titles(app) == ["Acme burger was cold"]


def test_a_multi_line_cell_still_reads(app: Buzzwatch, tmp_path: Path) -> None:
    src = tmp_path / "sheet.csv"
    src.write_text(
        'id,title,text\nc1,Acme,"first line\nsecond, with a comma"\nc2,Acme two,x\n',
        encoding="utf-8",
    )
    report = _import(app, src)
    assert report.rejected == [] and report.accepted == 2


def test_an_implausible_time_is_refused_like_an_unreadable_one(
    app: Buzzwatch, tmp_path: Path
) -> None:
    rows = [
        {"id": "t1", "title": "Acme from the future", "published": "2031-05-01T09:00:00+08:00"},
        {"id": "t2", "title": "Acme yesterday", "published": "yesterday"},
        {"id": "t3", "title": "Acme long ago", "published": "1970-01-02T00:00:00Z"},
        {"id": "t4", "title": "Acme last week", "published": "2026-11-21T08:00:00Z"},
    ]
    report = _import(app, _jsonl(tmp_path / "t.jsonl", rows))
    assert report.rejected == [
        (1, "published: 2031-05-01T09:00:00+08:00 is not a plausible time (more than 1d after "
            "the import)"),
        (2, "published: 'yesterday' is not a time (an ISO 8601 time like "
            "2026-11-28T09:12:00+08:00, or Unix seconds)"),
        (3, "published: 1970-01-02T00:00:00Z is not a plausible time (before 1990)"),
    ]  # fmt: skip
    assert _stored_titles(app) == ["Acme last week"]
    assert "rejected by reason: published ×3" in report.summary()


def test_the_reasons_add_up_to_the_rejections(app: Buzzwatch, tmp_path: Path) -> None:
    rows: list[object] = [
        {"title": "x", "url": "javascript:alert(1)"},
        {"author": "nobody"},
        {"title": "x", "colour": "red"},
        {"title": "x", "published": "yesterday"},
        {"title": "x", "metrics": {"stars": 1}},
        "a string",
        {"title": "x", "id": "y" * 600},
        {"title": "Acme fine"},
    ]
    report = _import(app, _jsonl(tmp_path / "r.jsonl", rows))  # type: ignore[arg-type]
    assert len(report.rejected) == 7
    line = next(s for s in report.summary().splitlines() if s.startswith("rejected by reason"))
    counts = [int(part.rsplit("×", 1)[1]) for part in line.split(": ", 1)[1].split("; ")]
    assert sum(counts) == 7, line
    assert "2 other reason(s) ×2" in line


def test_stored_counts_only_what_was_stored(app: Buzzwatch, tmp_path: Path) -> None:
    rows = [{"id": f"s{i}", "title": f"Acme post {i}"} for i in range(4)]
    rows.append({"id": "s9", "title": "nothing about any brand"})
    src = _jsonl(tmp_path / "s.jsonl", rows)
    first = _import(app, src).summary()
    assert first.startswith(
        "5 row(s): 5 accepted (4 stored, 1 naming no brand, not stored; 0 alert(s)), 0 rejected"
    )
    assert len(_stored_titles(app)) == 4
    again = _import(app, src).summary()
    assert again.startswith("5 row(s): 5 accepted (0 stored, 5 seen before; 0 alert(s))")
