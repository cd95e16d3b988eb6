"""Buttons on alert messages (Ack, Assign, Resolve, Snooze), the menu next to each alert of
a storm message, and /mentions results (More).

ack() first; then the command layer changes the alert and queues the message update and
the thread note, and the deliverer sends them. A refusal or a conflict ("already acked by
Ann") goes only to the person who clicked; the message stays as it is.
"""

from __future__ import annotations

import shlex
from typing import Any

from slack_bolt import App

from core.commands.context import Reply
from listeners.slack import blocks as bk
from listeners.slack.commands import answer
from listeners.slack.services import SlackServices


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def _alert_id(body: dict[str, Any]) -> str:
    action = _action(body)
    block_id = str(action.get("block_id", ""))
    if block_id.startswith(bk.ALERT_BLOCK_PREFIX):
        return block_id[len(bk.ALERT_BLOCK_PREFIX) :]
    return str(action.get("value", ""))


def _run(services: SlackServices, text: str, body: dict[str, Any], respond: Any) -> Reply:
    user = body.get("user") or {}
    actor = services.actor(
        str(user.get("id", "")), str(user.get("username") or user.get("name") or "")
    )
    reply = services.commands.run(text, actor)
    if not reply.ok:
        respond(
            text=bk.fallback(reply.text),
            blocks=bk.reply_blocks(reply.text),
            response_type="ephemeral",
            replace_original=False,
        )
    if reply.changed:
        services.deliver_now()
    return reply


def register(app: App, services: SlackServices) -> None:
    def on_ack(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        _run(services, shlex.join(["ack", _alert_id(body)]), body, respond)

    def on_resolve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        _run(services, shlex.join(["resolve", _alert_id(body)]), body, respond)

    def on_assign(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        user_id = str(_action(body).get("selected_user") or "")
        if not user_id:
            return
        person = services.directory.name(user_id)
        _run(services, shlex.join(["assign", _alert_id(body), person]), body, respond)

    def on_snooze(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        value = str((_action(body).get("selected_option") or {}).get("value", ""))
        alert_id, _, duration = value.partition(" ")
        _run(services, shlex.join(["snooze", alert_id, duration]), body, respond)

    def on_member(ack: Any, body: dict[str, Any], respond: Any) -> None:
        """A storm member's menu: the verb from the option, the id from the block."""
        ack()
        choice = str((_action(body).get("selected_option") or {}).get("value", ""))
        if choice not in bk.MEMBER_CHOICES:
            return
        verb, *duration = choice.split()  # "ack", "resolve", "snooze 4h"
        _run(services, shlex.join([verb, _alert_id(body), *duration]), body, respond)

    def on_open(ack: Any) -> None:
        ack()  # a link button: Slack opens the URL; it still tells the app

    def on_more(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        offset, query = bk.parse_more_value(str(_action(body).get("value", "")))
        user = body.get("user") or {}
        actor = services.actor(str(user.get("id", "")), str(user.get("username") or ""))
        reply = services.commands.run(f"mentions {query} offset:{offset}", actor)
        answer(respond, reply, query, replace=True)

    app.action(bk.ACK)(on_ack)
    app.action(bk.RESOLVE)(on_resolve)
    app.action(bk.ASSIGN)(on_assign)
    app.action(bk.SNOOZE)(on_snooze)
    app.action(bk.MEMBER)(on_member)
    app.action(bk.OPEN)(on_open)
    app.action(bk.MORE)(on_more)
