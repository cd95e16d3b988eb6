"""Who may change alerts from Slack: the `slack.permissions` section of the config.

Pure: the Slack handlers put the person's user group ids on the Actor before asking.
"""

from __future__ import annotations

from core.commands.context import Actor, Permission
from core.config import Config, SlackPermissions, SlackRule
from core.domain.models import Alert
from listeners import permission_builder
from listeners.permissions import not_on_the_list, rule_for_brand


def rule_for(permissions: SlackPermissions, brand: str) -> SlackRule:
    return rule_for_brand(permissions.brands, permissions.default, brand)


def uses_groups(permissions: SlackPermissions) -> bool:
    return bool(permissions.default.groups) or any(r.groups for r in permissions.brands.values())


def slack_permission(permissions: SlackPermissions) -> Permission:
    def check(actor: Actor, alert: Alert) -> str | None:
        if actor.platform != "slack":
            return None  # other platforms decide for their own people
        rule = rule_for(permissions, alert.brand)
        if not rule.users and not rule.groups:
            return None
        if actor.id in rule.users or set(actor.groups) & set(rule.groups):
            return None
        return not_on_the_list(alert)

    return check


@permission_builder
def build(config: Config) -> Permission | None:
    return slack_permission(config.slack.permissions) if config.slack else None
