"""The inbound endpoint on a real socket: tokens, sizes, schema, and a good push."""

from __future__ import annotations

import time

from tests.sources.inbound import post

GOOD = {
    "mentions": [
        {
            "id": "crm-1",
            "title": "<b>艾克米</b>的外卖送错了，怎么退款？",
            "text": "订单送错了，客服不回复 <script>alert(1)</script> @all <!channel>",
            "url": "https://crm.example/tickets/1",
            "author": "顾客A",
            "published": "2026-11-28T07:30:00Z",
            "metrics": {"followers": 150000},
        },
        {"id": "crm-2", "text": "Nothing about any brand here", "url": "javascript:alert(1)"},
    ]
}


def test_inbound_endpoint(endpoint) -> None:
    app, out = endpoint
    r = post(app, GOOD, token="wrong")
    assert r.status_code == 401 and "token" in r.json()["error"]
    assert post(app, GOOD, token=None).status_code == 401
    r = post(app, GOOD, ctype="text/plain")
    assert r.status_code == 415
    r = post(app, b"{" + b" " * 5000 + b"}")
    assert r.status_code == 413 and "at most 4,096" in r.json()["error"]
    r = post(app, b'{"mentions": [')
    assert r.status_code == 400 and "not valid UTF-8 JSON" in r.json()["error"]
    r = post(app, {"mentions": [{"title": "x", "metrics": {"karma": 3}, "colour": "red"}]})
    assert r.status_code == 400
    problems = " | ".join(r.json()["problems"])
    assert "unknown metric(s) karma" in problems and "mentions.0.colour" in problems
    r = post(app, {"mentions": [{"author": "only an author"}]})
    assert r.status_code == 400 and "needs a title or a text" in r.json()["problems"][0]
    r = post(app, {"mentions": [{"title": "x", "url": "javascript:alert(1)"}]})
    assert r.status_code == 400 and "http://" in r.json()["problems"][0]
    assert list(app.repo.iter_mentions(None)) == []  # nothing stored from bad requests

    r = post(app, {"mentions": [GOOD["mentions"][0], {"id": "crm-2", "text": "no brand"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2 and body["new"] == 2 and len(body["alerts"]) == 1
    (stored,) = app.repo.iter_mentions(None)
    assert stored["source"] == "crm" and stored["title"] == "艾克米的外卖送错了，怎么退款？"
    assert "<script>" not in stored["text"] and "alert(1)" not in stored["text"]
    assert stored["metrics"] == {"followers": 150000}
    assert stored["url"] == "https://crm.example/tickets/1"
    for _ in range(50):  # delivery runs right after, in the background
        if "[A1]" in out.getvalue():
            break
        time.sleep(0.05)
    assert "[A1]" in out.getvalue()
    # The same push again is recognised as already seen.
    again = post(app, {"mentions": [GOOD["mentions"][0]]}).json()
    assert again["new"] == 0 and again["alerts"] == []
