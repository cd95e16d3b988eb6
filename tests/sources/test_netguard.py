"""SSRF: internal addresses are refused before any connection, in every spelling."""

from __future__ import annotations

import pytest

from core.config import FetchConfig
from sources.http import Fetcher, FetchError
from sources.netguard import AddressPolicy, BlockedAddress, parse_ip
from tests.standin.feeds import FeedServer, Route, rss

REFUSED = [
    "http://127.0.0.1/",
    "http://localhost:8080/",
    "http://10.1.2.3/feed",
    "http://172.16.0.9/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # AWS/GCP/Azure metadata
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata (CGNAT range)
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f000001/",  # hex
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",  # octal
    "http://127.1/",  # short form
    "http://017700000001/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",  # mapped 169.254.169.254, hex spelling
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[2002:7f00:1::]/",  # 6to4 of loopback
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",  # AWS IPv6 metadata
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "http://user:pw@example.com/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_internal_urls_are_refused_before_connecting(url: str, loopback_only: list) -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["93.184.216.34"]

    with pytest.raises(BlockedAddress):
        AddressPolicy([], resolver=resolver).check_url(url)
    assert loopback_only == []  # no socket was even opened
    assert "example.com" in resolved or not resolved  # only real names are looked up


def test_numeric_spellings_parse_like_a_c_resolver() -> None:
    assert str(parse_ip("2130706433")) == "127.0.0.1"
    assert str(parse_ip("0x7f000001")) == "127.0.0.1"
    assert str(parse_ip("0177.0.0.01")) == "127.0.0.1"
    assert str(parse_ip("10.1")) == "10.0.0.1"
    assert parse_ip("example.com") is None
    with pytest.raises(BlockedAddress):
        parse_ip("1.2.3.256")


def test_a_name_resolving_to_any_internal_address_is_refused() -> None:
    policy = AddressPolicy([], resolver=lambda h, p: ["93.184.216.34", "10.0.0.5"])
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.5 is a private address"):
        policy.check_url("https://rebind.example/feed")
    public = AddressPolicy([], resolver=lambda h, p: ["93.184.216.34"])
    public.check_url("https://news.example/feed")  # no exception: a public address


def test_allow_hosts_is_explicit_and_narrow() -> None:
    policy = AddressPolicy(
        ["127.0.0.1", "rsshub.internal", "10.8.0.0/16"], resolver=lambda h, p: ["10.9.0.1"]
    )
    policy.check_url("http://127.0.0.1:1200/feed")
    policy.check_url("http://rsshub.internal/weibo")  # the name is allowed as such
    policy.check_url("http://10.8.3.4/")
    for url in (
        "http://127.0.0.2/",
        "http://0x7f000002/",
        "http://10.9.0.1/",
        "http://other.internal/",
    ):
        with pytest.raises(BlockedAddress):
            policy.check_url(url)


def _fetcher(allow: list[str], resolver=None) -> Fetcher:
    cfg = FetchConfig(allow_hosts=allow, deadline="3s", read_timeout="2s")
    return Fetcher(cfg, AddressPolicy(allow, resolver=resolver) if resolver else None)


def test_a_redirect_to_an_internal_address_is_refused(loopback_only: list) -> None:
    with FeedServer() as server:
        for path, target in [
            ("/meta", "http://169.254.169.254/latest/meta-data/iam"),
            ("/hex", "http://0x7f000002:22/"),  # 127.0.0.2: not the allowed address
            ("/mapped", "http://[::ffff:10.0.0.1]/"),
            ("/scheme", "file:///etc/passwd"),
        ]:
            server.routes[path] = Route(status=302, headers={"Location": target})
        fetcher = _fetcher(["127.0.0.1"])
        for path in ("/meta", "/hex", "/mapped", "/scheme"):
            with pytest.raises(FetchError, match="refusing"):
                fetcher.get(server.base + path)
        fetcher.close()
        assert [r.path for r in server.recorded] == ["/meta", "/hex", "/mapped", "/scheme"]
    assert {a[0] for a in loopback_only} == {"127.0.0.1"}  # only the allowed server was reached


def test_loopback_is_refused_without_an_explicit_allow(loopback_only: list) -> None:
    with FeedServer() as server:
        server.routes["/f"] = Route(rss([{"title": "x"}]))
        fetcher = _fetcher([])
        with pytest.raises(FetchError, match="loopback"):
            fetcher.get(server.base + "/f")
        fetcher.close()
        assert server.recorded == []
    assert loopback_only == []


def test_the_connection_goes_to_the_checked_address(loopback_only: list) -> None:
    """DNS rebinding: the first answer passes the check, a later one points inside. The
    connect uses an address checked in the same step, so the swap is refused."""
    with FeedServer() as server:
        server.routes["/f"] = Route(rss([{"title": "pinned"}]))
        port = server.port
        answers = iter([["127.0.0.1"], ["127.0.0.1"], ["10.0.0.7"]])
        fetcher = _fetcher(["127.0.0.1"], resolver=lambda h, p: next(answers))
        url = f"http://feeds.test:{port}/f"
        result = fetcher.get(url)  # the guard and the connect both saw 127.0.0.1 (allowed)
        assert b"pinned" in result.content
        assert server.recorded[-1].headers["Host"] == f"feeds.test:{port}"
        fetcher.client.close()
        fetcher = Fetcher(fetcher.cfg, fetcher.policy)  # a fresh pool must connect again
        with pytest.raises(FetchError, match=r"10\.0\.0\.7"):
            fetcher.get(url)
        fetcher.close()
    assert {a[0] for a in loopback_only} == {"127.0.0.1"}
