"""Generated brand mentions for the benchmarks: varied, realistic-looking, all distinct."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from core.domain.models import Mention

ZH_OPENERS = [
    "昨天在艾克米",
    "今天中午去艾克米",
    "第一次点艾克米的外卖",
    "和朋友在艾克米",
    "艾克米新开的门店",
    "刚从艾克米出来",
]
ZH_BODIES = [
    "吃了招牌汉堡，味道还不错，薯条很脆",
    "等了四十分钟才上菜，服务员态度很差",
    "吃完就拉肚子了，怀疑食物中毒",
    "请问会员积分怎么兑换？找不到入口",
    "新品芝士牛肉堡太好吃了，强烈推荐",
    "价格有点太贵了，一个套餐要六十多",
    "外卖送到的时候汤全洒了，申请退款没人理",
    "环境干净，店员小姐姐很热情",
    "有没有人知道周末几点关门？",
    "鸡翅没熟，里面还是红的，太恶心了",
]
ZH_TAILS = [
    "[怒]",
    "[哈哈]",
    "#艾克米#",
    "//@路人: 同感",
    "真的",
    "下次还来",
    "避雷",
    "！！",
    "。",
    "[泪]",
]
EN_OPENERS = [
    "Went to Acme",
    "Ordered from Acme",
    "Tried the new Acme",
    "Just left Acme",
    "Acme downtown",
    "My first time at Acme",
]
EN_BODIES = [
    "and the burger was great, fries were crispy",
    "waited 45 minutes and the staff were rude",
    "and got food poisoning, sick all night",
    "does anyone know if they still do the late menu?",
    "the new chicken sandwich is amazing, love it",
    "prices went up again, way too expensive now",
    "delivery came cold and two hours late, want a refund",
    "clean place and friendly service",
    "how do I redeem the loyalty points?",
    "the milkshake tasted sour, never again",
]
EN_TAILS = [
    "lol",
    "#acme",
    "ugh",
    "10/10",
    "honestly",
    "!",
    ".",
    "smh",
    "would go again",
    "never again",
]


def make_mentions(
    n: int, seed: int = 1, start: datetime | None = None, days: int = 1
) -> list[Mention]:
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        zh = rng.random() < 0.6
        if zh:
            text = f"{rng.choice(ZH_OPENERS)}{rng.choice(ZH_BODIES)}，{rng.choice(ZH_BODIES)}{rng.choice(ZH_TAILS)} 第{i}次"
        else:
            text = f"{rng.choice(EN_OPENERS)} {rng.choice(EN_BODIES)}, {rng.choice(EN_BODIES)} {rng.choice(EN_TAILS)} #{i}"
        when = start + timedelta(seconds=rng.uniform(0, days * 86400))
        out.append(
            Mention(
                id=f"bench{seed}-{i}",
                source=rng.choice(["weibo", "reddit", "news", "xhs"]),
                url=f"https://example.com/post/{seed}/{i}",
                title=text[:40],
                text=text,
                author=f"user{rng.randrange(5000)}",
                published=when,
                fetched_at=when,
                metrics={"followers": rng.choice([10, 200, 5000, 50_000, 300_000])},
            )
        )
    return out
