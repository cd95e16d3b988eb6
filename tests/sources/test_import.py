"""`bot.py import FILE.jsonl|csv`: good rows go through the pipeline, bad ones are listed."""

from __future__ import annotations

import io
import json
from pathlib import Path

from app.cli import main
from tests.conftest import write_base_config


def test_import_jsonl(tmp_path: Path) -> None:
    rows = [
        {
            "id": "r1",
            "title": "艾克米的汉堡太贵了",
            "url": "https://forum.example/1",
            "author": "a",
        },
        {"id": "r2", "text": "Acme staff were rude, want a refund", "metrics": {"followers": 5}},
        "not an object",
        {"id": "r4", "title": "x", "url": "javascript:alert(1)"},
        {"id": "r5", "author": "nobody"},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(3, "{broken json")
    lines.insert(1, "")  # blank lines are skipped, not counted
    src = tmp_path / "backfill.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    code = main(
        [
            "--config",
            str(write_base_config(tmp_path)),
            "-q",
            "import",
            str(src),
            "--source",
            "forum",
            "--no-progress",
            "--alert",
        ],
        out,
    )
    assert code == 0
    text = out.getvalue()
    assert "6 row(s): 2 accepted (2 stored; 2 alert(s)), 4 rejected" in text
    assert "line 4: expected a JSON object" in text
    assert "line 5: not valid JSON" in text
    assert "line 6: url: url must be an http:// or https:// URL" in text
    assert "line 7: a mention needs a title or a text" in text

    again = io.StringIO()  # importing the same file again adds nothing new
    main(
        [
            "--config",
            str(write_base_config(tmp_path)),
            "-q",
            "import",
            str(src),
            "--source",
            "forum",
            "--no-progress",
        ],
        again,
    )
    assert "2 accepted (0 stored, 2 seen before; 0 alert(s))" in again.getvalue()


def test_import_csv_with_metrics_columns(tmp_path: Path) -> None:
    src = tmp_path / "sheet.csv"
    src.write_text(
        "id,title,text,author,url,followers,likes\n"
        "c1,艾克米新品,受邀试吃艾克米新品汉堡,美食家小王,https://weibo.com/x/1,1200000,300\n"
        "c2,,,,,,\n"
        "c3,Acme,Acme question?,b,https://x.example/3,lots,1\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert (
        main(
            [
                "--config",
                str(write_base_config(tmp_path)),
                "-q",
                "import",
                str(src),
                "--no-progress",
            ],
            out,
        )
        == 0
    )
    text = out.getvalue()
    assert "3 row(s): 1 accepted" in text
    assert "line 3: a mention needs a title or a text" in text
    assert "line 4: metrics.followers:" in text
    assert (
        main(
            ["--config", str(write_base_config(tmp_path)), "-q", "mentions", "艾克米", "since:30d"],
            out,
        )
        == 0
    )


def test_import_refuses_other_formats(tmp_path: Path) -> None:
    src = tmp_path / "x.xml"
    src.write_text("<x/>")
    assert (
        main(
            ["--config", str(write_base_config(tmp_path)), "-q", "import", str(src)], io.StringIO()
        )
        == 2
    )


def test_a_backfill_stores_without_alerting_unless_asked(tmp_path: Path) -> None:
    src = tmp_path / "old.jsonl"
    src.write_text(
        json.dumps({"id": "b1", "text": "Acme burger gave me food poisoning"}) + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    code = main(
        ["--config", str(write_base_config(tmp_path)), "-q", "import", str(src), "--no-progress"],
        out,
    )
    assert code == 0 and "1 accepted (1 stored; 0 alert(s))" in out.getvalue()
    found = io.StringIO()
    main(
        ["--config", str(write_base_config(tmp_path)), "-q", "mentions", "poisoning", "since:30d"],
        found,
    )
    assert "1 mention(s) of poisoning" in found.getvalue()
