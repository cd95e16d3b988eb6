"""Who may change alerts from DingTalk: the `dingtalk.permissions` section of the config.

The person is the message's senderStaffId (Stream mode: over DingTalk's authenticated
websocket; callback mode: from the request body, which DingTalk's signature does not
cover). An ack link names no one, so where a rule lists people, links are refused.
"""

from __future__ import annotations

from core.commands.context import Actor, Permission
from core.config import Config, DingTalkPermissions, DingTalkRule
from core.domain.models import Alert
from listeners import permission_builder


def rule_for(permissions: DingTalkPermissions, brand: str) -> DingTalkRule:
    wanted = brand.casefold()
    for name, rule in permissions.brands.items():
        if name.casefold() == wanted:
            return rule
    return permissions.default


def dingtalk_permission(permissions: DingTalkPermissions) -> Permission:
    def check(actor: Actor, alert: Alert) -> str | None:
        if actor.platform != "dingtalk":
            return None  # other platforms decide for their own people
        rule = rule_for(permissions, alert.brand)
        if not rule.users or actor.id in rule.users:
            return None
        return (
            f"Sorry, you are not on the list of people who may change {alert.brand or 'these'} "
            f"alerts, so {alert.id} was left as it is. Ask someone on the team to do it."
        )

    return check


@permission_builder
def build(config: Config) -> Permission | None:
    return dingtalk_permission(config.dingtalk.permissions) if config.dingtalk else None
