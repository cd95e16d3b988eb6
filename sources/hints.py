"""What a source's failure probably means, for the health alert an admin reads."""

from __future__ import annotations

# The presets fetched through RSSHub ("weibo_user", "zhihu", ...): sources/presets.py adds
# each as it registers it.
RSSHUB_KINDS: set[str] = set()


def hint(kind: str, error: str, status: int | None) -> str:
    """A likely cause of a source's failure, in words an admin can act on ('' if none)."""
    rsshub = kind in RSSHUB_KINDS
    if status in (401, 403):
        if kind.startswith("weibo") or kind in ("xiaohongshu_user", "douyin_user", "zhihu"):
            return "RSSHub cookie may have expired"
        if rsshub:
            return "RSSHub refused: check its access key or cookies"
        return "the site refuses us: blocked, or it now needs a login"
    if status == 404:
        return "the route or id is wrong, or the feed moved"
    if status in (429, 503):
        return "rate limited: poll less often"
    if status is not None and status >= 500:
        return "RSSHub is failing upstream" if rsshub else "the site is having trouble"
    if "refusing" in error and "allow_hosts" in error:
        return "an internal address: list it in fetch.allow_hosts if it is yours"
    if "timed out" in error or "deadline" in error:
        return "slow or unreachable"
    if "HTML page" in error:
        if rsshub:
            return "RSSHub answered a web page (an error or login page?), not a feed"
        return "the URL is a web page: use the site's RSS/Atom link instead"
    if "not a readable feed" in error:
        return "RSSHub answered an error page, not a feed" if rsshub else "not a feed any more"
    return ""
