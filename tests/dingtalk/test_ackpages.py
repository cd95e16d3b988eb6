"""Ack links: GET changes nothing, one POST acks once, used/expired/forged links refused."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
import pytest

from core.domain.notifier import Outgoing
from listeners.dingtalk import ackpages
from tests.dingtalk.helpers import add_alert, build_app
from tests.standin.dingtalk import RobotServer


@pytest.fixture
def site(tmp_path, clock):
    with RobotServer("SECack", now_ms=lambda: int(clock.now().timestamp() * 1000)) as robot:
        app = build_app(
            tmp_path,
            clock,
            robot,
            stdout=io.StringIO(),
            public_base_url="https://buzz.example.com/",
            ack_secret_env="DT_ACK",
        )
        tokens = ackpages.AckTokens(
            "ack-key-0123456789", clock, "https://buzz.example.com", repo=app.repo
        )
        pages = ackpages.AckPages(tokens, app.repo, app.commands.run, app.deliverer.deliver_due)
        server = ackpages.serve(pages, "127.0.0.1", 0)
        local = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield app, tokens, local, robot
        finally:
            server.stop()
            app.close()


def local_url(link: str, local: str) -> str:
    return link.replace("https://buzz.example.com", local)


def test_alert_messages_carry_links_signed_with_the_configured_key(site):
    app, tokens, _, robot = site
    add_alert(app, "A1")
    app.deliverer.deliver_due()
    text = robot.accepted[0]["markdown"]["text"]
    links = re.findall(r"\((https://buzz\.example\.com/dingtalk/ack/[^)]+)\)", text)
    assert len(links) == 2  # ack and resolve
    claims, why = tokens.check(links[0].rsplit("/", 1)[1])
    assert why == "" and claims["action"] == "ack" and claims["alert_id"] == "A1"


def test_get_shows_a_page_and_changes_nothing(site):
    app, tokens, local, _ = site
    add_alert(app, "A1", title="<script>alert(1)</script> 标题")
    url = local_url(tokens.link("A1", "ack"), local)
    for _ in range(3):  # link scanners and previews fetch as often as they like
        page = httpx.get(url)
        assert page.status_code == 200 and "<form method='post'>" in page.text
        assert "&lt;script&gt;" in page.text and "<script>" not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert httpx.head(url).status_code == 200
    assert app.repo.get_alert("A1").status == "open"


def test_post_acks_once_then_the_link_is_spent(site):
    app, tokens, local, robot = site
    add_alert(app, "A1")
    app.deliverer.deliver_due()
    url = local_url(tokens.link("A1", "ack"), local)
    done = httpx.post(url, data={"name": "赵六"})
    assert done.status_code == 200 and "A1 acked by 赵六" in done.text
    alert = app.repo.get_alert("A1")
    assert alert.status == "acked" and alert.acked_by == "赵六"
    assert any("acked by 赵六" in m["markdown"]["text"] for m in robot.accepted[1:])
    again = httpx.post(url, data={"name": "someone else"})
    assert again.status_code == 403 and "already used" in again.text
    assert httpx.get(url).status_code == 403
    assert app.repo.get_alert("A1").acked_by == "赵六"


def test_used_links_stay_used_across_restarts(site, clock):
    app, tokens, _, _ = site
    add_alert(app, "A1")
    token = tokens.mint("A1", "resolve")
    assert tokens.consume(token)[0] is not None
    fresh = ackpages.AckTokens(
        "ack-key-0123456789", clock, "https://buzz.example.com", repo=app.repo
    )
    assert fresh.consume(token) == (None, "This link was already used.")


def test_expired_link_is_refused(site, clock):
    app, tokens, local, _ = site
    add_alert(app, "A1")
    url = local_url(tokens.link("A1", "ack"), local)
    clock.advance(timedelta(hours=24, seconds=1))
    response = httpx.post(url)
    assert response.status_code == 403 and "expired" in response.text
    assert app.repo.get_alert("A1").status == "open"


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace(".A1.", ".A2."),  # another alert
        lambda t: t.replace("ack.", "resolve.", 1),  # another action
        lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"),  # signature
        lambda t: ".".join(
            [*t.split(".")[:2], str(int(t.split(".")[2]) + 86400), *t.split(".")[3:]]
        ),
        lambda t: "garbage",
        lambda t: t + "." + "x" * 300,
    ],
)
def test_forged_links_are_refused(site, forge):
    app, tokens, local, _ = site
    add_alert(app, "A1")
    add_alert(app, "A2")
    token = forge(tokens.mint("A1", "ack"))
    response = httpx.post(f"{local}{ackpages.PATH}{token}")
    assert response.status_code == 403
    assert {app.repo.get_alert(a).status for a in ("A1", "A2")} == {"open"}


def test_a_key_from_another_install_is_refused(site, clock):
    app, _, local, _ = site
    add_alert(app, "A1")
    other = ackpages.AckTokens("some-other-key", clock, "https://buzz.example.com")
    response = httpx.post(f"{local}{ackpages.PATH}{other.mint('A1', 'ack')}")
    assert response.status_code == 403 and app.repo.get_alert("A1").status == "open"


def test_actioncard_buttons_use_the_links(site):
    app, _, _, _ = site
    alert = add_alert(app, "A1")
    notifier = app.notifiers["dingtalk"]
    notifier.style = "actioncard"
    card = notifier.render(Outgoing("post", {"kind": "alert"}, alert=alert))["actionCard"]
    urls = [b["actionURL"] for b in card["btns"]]
    assert urls[0] == "https://weibo.com/1/a"
    assert all(u.startswith("https://buzz.example.com/dingtalk/ack/") for u in urls[1:])


def test_a_link_posted_to_two_processes_at_once_is_taken_once(postgres_schema, clock):
    """Two processes on one database, each reading the used links before either writes:
    only one may take the link."""
    import threading

    from storage.postgres_repo import PostgresRepository

    repos = [PostgresRepository(postgres_schema, clock=clock) for _ in range(2)]
    both_read = threading.Barrier(2, timeout=5)
    for repo in repos:
        read = repo.get_state

        def get_state(key, default=None, read=read):
            value = read(key, default)
            if key == ackpages.USED_KEY:
                both_read.wait()
            return value

        repo.get_state = get_state
    tokens = [
        ackpages.AckTokens("ack-key-0123456789", clock, "https://buzz.example.com", repo=r)
        for r in repos
    ]
    token = tokens[0].mint("A1", "resolve")
    taken: list[object] = []
    threads = [
        threading.Thread(target=lambda t=t: taken.append(t.consume(token)[0])) for t in tokens
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(taken) == 2 and sum(c is not None for c in taken) == 1
    finally:
        for repo in repos:
            repo.close()
