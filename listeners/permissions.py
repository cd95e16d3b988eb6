"""What every chat's permission list shares: the rule for a brand, and the refusal.

Each platform keeps its own list in its own config section (slack.permissions,
dingtalk.permissions) and decides only for its own people; see listeners/slack/permissions.py
and listeners/dingtalk/permissions.py.
"""

from __future__ import annotations

from typing import TypeVar

from core.domain.models import Alert

Rule = TypeVar("Rule")


def rule_for_brand(brands: dict[str, Rule], default: Rule, brand: str) -> Rule:
    """The brand's own rule (brand names compared without case), else the default."""
    wanted = brand.casefold()
    for name, rule in brands.items():
        if name.casefold() == wanted:
            return rule
    return default


def not_on_the_list(alert: Alert) -> str:
    return (
        f"Sorry, you are not on the list of people who may change {alert.brand or 'these'} "
        f"alerts, so {alert.id} was left as it is. Ask someone on the team to do it."
    )
