"""DingTalk's two signatures: the custom robot's webhook (加签) and the robot callback headers.

Both are base64(HMAC-SHA256(secret, f"{timestamp_ms}\\n{secret}")). The webhook carries it
URL-encoded in the query (&timestamp=..&sign=..); a callback carries it in the `timestamp`
and `sign` headers, and DingTalk's own rule is to refuse one more than an hour off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus, urlsplit

CALLBACK_WINDOW_MS = 60 * 60 * 1000


def sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature, before URL-encoding."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(webhook: str, secret: str | None, timestamp_ms: int) -> str:
    """The webhook URL to POST to: as configured, plus timestamp and sign when there is a secret."""
    if not secret:
        return webhook
    joiner = "&" if urlsplit(webhook).query else "?"
    return (
        f"{webhook}{joiner}timestamp={timestamp_ms}&sign={quote_plus(sign(secret, timestamp_ms))}"
    )


def verify_callback(secret: str, timestamp: str | None, signature: str | None, now_ms: int) -> str:
    """Why a callback's headers are refused, or "" when they are good."""
    if not timestamp or not signature:
        return "missing timestamp or sign header"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        return "timestamp is not a number of milliseconds"
    if abs(now_ms - int(timestamp)) > CALLBACK_WINDOW_MS:
        return "timestamp is more than an hour away from now"
    expected = sign(secret, int(timestamp))
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        return "signature does not match"
    return ""
