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
from listeners.permissions import not_on_the_list, rule_for_brand


def rule_for(permissions: DingTalkPermissions, brand: str) -> DingTalkRule:
    return rule_for_brand(permissions.brands, permissions.default, brand)


def dingtalk_permission(permissions: DingTalkPermissions) -> Permission:
    def check(actor: Actor, alert: Alert) -> str | None:
        if actor.platform != "dingtalk":
            return None  # other platforms decide for their own people
        rule = rule_for(permissions, alert.brand)
        if not rule.users or actor.id in rule.users:
            return None
        return not_on_the_list(alert)

    return check


@permission_builder
def build(config: Config) -> Permission | None:
    return dingtalk_permission(config.dingtalk.permissions) if config.dingtalk else None
