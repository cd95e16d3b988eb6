"""Who may change alerts from Slack: the `slack.permissions` section of the config.

Pure: the Slack handlers put the person's user group ids on the Actor before asking.
"""

from __future__ import annotations

from core.commands.context import Actor, Permission
from core.config import Config, SlackPermissions, SlackRule
from core.domain.models import Alert
from listeners import permission_builder


def rule_for(permissions: SlackPermissions, brand: str) -> SlackRule:
    wanted = brand.casefold()
    for name, rule in permissions.brands.items():
        if name.casefold() == wanted:
            return rule
    return permissions.default


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
        return (
            f"Sorry, you are not on the list of people who may change {alert.brand or 'these'} "
            f"alerts, so {alert.id} was left as it is. Ask someone on the team to do it."
        )

    return check


@permission_builder
def build(config: Config) -> Permission | None:
    return slack_permission(config.slack.permissions) if config.slack else None
