"""Key opinion leaders: who is listed, who has the reach, and which tier they are in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rules.text import normalize

FOLLOWER_KEYS = ("followers", "subscribers", "fans")


@dataclass(frozen=True)
class Reach:
    followers: int
    listed: bool
    tier: str


class KolBook:
    def __init__(
        self,
        listed: Iterable[tuple[str, int]],
        min_followers: int,
        tiers: Iterable[tuple[str, int]],
    ) -> None:
        self._listed = {normalize(name): followers for name, followers in listed}
        self.min_followers = min_followers
        # Highest threshold first so the first tier reached is the best one.
        self._tiers = sorted(tiers, key=lambda t: t[1], reverse=True)

    def reach(self, author: str, metrics: Mapping[str, int]) -> Reach:
        key = normalize(author) if author else ""
        listed = key in self._listed
        from_metrics = max((int(metrics.get(k, 0) or 0) for k in FOLLOWER_KEYS), default=0)
        followers = max(from_metrics, self._listed.get(key, 0))
        tier = next((name for name, low in self._tiers if followers >= low), "")
        return Reach(followers=followers, listed=listed, tier=tier)

    def is_kol(self, reach: Reach) -> bool:
        return reach.listed or (self.min_followers > 0 and reach.followers >= self.min_followers)
