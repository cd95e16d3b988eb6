"""Signature vectors: the robot webhook (加签) and the callback headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

from listeners.dingtalk.signing import sign, signed_url, verify_callback

SECRET = "SEC0123456789abcdef"
TS = 1700000000000
# Computed outside Python from the spec:
#   printf '1700000000000\nSEC0123456789abcdef' | openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64
OPENSSL_VECTOR = "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="


def test_sign_matches_an_openssl_vector() -> None:
    assert sign(SECRET, TS) == OPENSSL_VECTOR


def test_sign_matches_the_spec_for_other_inputs() -> None:
    for secret, ts in (("SECabc", 1), ("SEC中文密钥", 1760000000123)):
        mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        assert sign(secret, ts) == base64.b64encode(mac).decode()


def test_signed_url_appends_timestamp_and_url_encoded_sign() -> None:
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET, TS)
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000"
        "&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["sign"] == [OPENSSL_VECTOR]  # decodes back exactly
    assert query["access_token"] == ["abc"]


def test_no_secret_means_the_url_as_configured() -> None:
    assert signed_url("https://x.example/robot/send?access_token=a", None, TS).endswith("=a")


def test_callback_headers_accepted_within_the_hour() -> None:
    good = sign(SECRET, TS)
    assert verify_callback(SECRET, str(TS), good, TS) == ""
    assert verify_callback(SECRET, str(TS), good, TS + 3600 * 1000) == ""
    assert verify_callback(SECRET, str(TS), good, TS - 3600 * 1000) == ""


def test_callback_refused_when_stale_forged_or_missing() -> None:
    good = sign(SECRET, TS)
    assert "hour" in verify_callback(SECRET, str(TS), good, TS + 3600 * 1000 + 1)
    assert "hour" in verify_callback(SECRET, str(TS), good, TS - 3600 * 1000 - 1)
    assert "match" in verify_callback(SECRET, str(TS), sign("SECother", TS), TS)
    assert "match" in verify_callback(SECRET, str(TS + 1), good, TS)  # replayed with a new time
    assert "match" in verify_callback(SECRET, str(TS), good[:-2] + "==", TS)
    assert "missing" in verify_callback(SECRET, None, good, TS)
    assert "missing" in verify_callback(SECRET, str(TS), "", TS)
    assert "number" in verify_callback(SECRET, "12abc", good, TS)
    assert verify_callback(SECRET, str(TS), "签名", TS) != ""


def test_superscript_digits_are_not_a_timestamp() -> None:
    assert "number" in verify_callback(SECRET, "¹²³", sign(SECRET, TS), TS)
