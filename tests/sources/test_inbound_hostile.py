"""The inbound endpoint answers hostile requests with a 4xx and a reason; it neither drops
the connection nor answers 500 for a request that will never succeed."""

from __future__ import annotations

import socket

from tests.sources.inbound import post


def _raw(url: str, head: list[bytes], body: bytes = b"") -> bytes:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        request = b"POST /mentions HTTP/1.1\r\nHost: x\r\n"
        request += b"".join(h + b"\r\n" for h in head) + b"\r\n" + body
        s.sendall(request)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        return answer


def test_year_one_date_is_unknown_and_the_batch_is_stored(endpoint) -> None:
    app, _ = endpoint
    batch = {
        "mentions": [
            {"id": "ok-1", "title": "Acme food poisoning, refund!", "url": "https://c.example/1"},
            {"id": "bad-1", "title": "Acme staff rude", "published": "0001-01-01T00:00:00+01:00"},
            {"id": "bad-2", "title": "Acme late", "published": "9999-12-31T23:59:59-23:59"},
        ]
    }
    r = post(app, batch)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3
    stored = {d["title"]: d for d in app.repo.iter_mentions(None)}
    assert stored["Acme staff rude"]["published"] is None
    assert stored["Acme late"]["published"] is None


def test_deeply_nested_json_is_a_400(endpoint) -> None:
    app, _ = endpoint
    r = post(app, b"[" * 2000 + b"]" * 2000)
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]


def test_control_characters_in_a_url_are_refused(endpoint) -> None:
    app, _ = endpoint
    r = post(app, {"mentions": [{"title": "Acme x", "url": "https://c.example/\x1b[2J"}]})
    assert r.status_code == 400 and "url" in r.json()["problems"][0]


def test_content_length_superscript_or_huge_gets_an_answer(endpoint) -> None:
    app, _ = endpoint
    auth = b"Authorization: Bearer s3cret-token-for-tests"
    ctype = b"Content-Type: application/json"
    answer = _raw(app.inbound_url, [auth, ctype, b"Content-Length: \xb9"], b"{}")
    assert answer.startswith(b"HTTP/1.0 411") or answer.startswith(b"HTTP/1.1 411"), answer[:60]
    answer = _raw(app.inbound_url, [auth, ctype, b"Content-Length: " + b"9" * 5000], b"{}")
    assert b" 413 " in answer.split(b"\r\n", 1)[0], answer[:60]
