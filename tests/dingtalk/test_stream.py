"""@Buzzwatch commands through the real dingtalk-stream handler classes and payloads."""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage

from listeners.dingtalk.chat import command_text
from listeners.dingtalk.stream import CommandHandler
from tests.dingtalk.helpers import add_alert, build_app
from tests.standin.dingtalk import RobotServer


@pytest.fixture
def app(tmp_path, clock, robot):
    out = io.StringIO()
    app = build_app(tmp_path, clock, robot, stdout=out)
    app.out = out
    yield app
    app.close()


def chatbot_payload(
    robot: RobotServer, text: str, msg_id: str = "msg-1", nick: str = "张三"
) -> dict:
    """A group @bot message as DingTalk's Stream mode delivers it (fields as the SDK reads them)."""
    return {
        "conversationId": "cid-group-1",
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
        "chatbotCorpId": "ding-corp",
        "chatbotUserId": "$:LWCP_v1:$bot",
        "msgId": msg_id,
        "senderNick": nick,
        "isAdmin": False,
        "senderStaffId": "staff-0042",
        "sessionWebhookExpiredTime": int(time.time() * 1000) + 3_600_000,
        "createAt": int(time.time() * 1000),
        "senderCorpId": "ding-corp",
        "conversationType": "2",
        "senderId": "$:LWCP_v1:$sender",
        "conversationTitle": "舆情值班群",
        "isInAtList": True,
        "sessionWebhook": robot.session_url("sess-1"),
        "text": {"content": text},
        "robotCode": "dingbot-code",
        "msgtype": "text",
    }


def frame(payload: dict, message_id: str = "frame-1") -> CallbackMessage:
    return CallbackMessage.from_dict(
        {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "topic": ChatbotMessage.TOPIC,
                "messageId": message_id,
                "contentType": "application/json",
                "appId": "app-1",
                "time": str(int(time.time() * 1000)),
            },
            "data": json.dumps(payload, ensure_ascii=False),
        }
    )


def run(handler: CommandHandler, payload: dict) -> AckMessage:
    ack = asyncio.run(handler.raw_process(frame(payload)))
    assert handler.wait(10)  # the command runs after the ack
    return ack


def replies(robot: RobotServer) -> list[str]:
    return [m["body"]["markdown"]["text"] for m in robot.session_messages]


def test_ack_in_dingtalk_changes_shared_state_and_reaches_every_destination(app, robot):
    add_alert(app, "A1")
    app.deliverer.deliver_due()
    assert len(robot.accepted) == 1  # the alert itself
    handler = CommandHandler(app)
    ack = run(handler, chatbot_payload(robot, " ack A1"))
    assert ack.code == AckMessage.STATUS_OK
    assert replies(robot) == ["A1 acked by 张三."]
    alert = app.repo.get_alert("A1")
    assert alert.status == "acked" and alert.acked_by == "张三"
    assert alert.history[-1]["via"] == "dingtalk"
    # The change went out at once: one message in DingTalk (a robot cannot edit the alert,
    # so the note stands for the update), the update on the console.
    changes = [m["markdown"]["text"] for m in robot.accepted[1:]]
    assert len(changes) == 1 and "A1 acked by 张三" in changes[0]
    assert "acked by 张三" in app.out.getvalue()
    assert robot.problems == []


def test_chinese_command_words_and_leading_mention(app, robot):
    add_alert(app, "A1")
    handler = CommandHandler(app)
    run(handler, chatbot_payload(robot, "@Buzzwatch\u2005指派 A1 李四", msg_id="m-a"))
    run(handler, chatbot_payload(robot, "@Buzzwatch 解决 a1", msg_id="m-b"))
    assert replies(robot) == ["A1 assigned to 李四 by 张三.", "A1 resolved by 张三."]
    assert app.repo.get_alert("A1").status == "resolved"


def test_mentions_query_and_help_reply_as_escaped_markdown(app, robot):
    handler = CommandHandler(app)
    run(handler, chatbot_payload(robot, "mentions 退款 since:24h", msg_id="q1"))
    run(handler, chatbot_payload(robot, "帮助", msg_id="q2"))
    query, help_text = replies(robot)
    assert query.startswith("No mentions of 退款 in the last 24h")
    assert "assign ＜id＞ ＜person＞" in help_text and "<" not in help_text


def test_repeated_msg_id_is_dropped(app, robot):
    add_alert(app, "A1")
    handler = CommandHandler(app)
    payload = chatbot_payload(robot, "ack A1", msg_id="dup-1")
    run(handler, payload)
    run(handler, payload)  # DingTalk redelivered it
    assert replies(robot) == ["A1 acked by 张三."]
    assert [h["action"] for h in app.repo.get_alert("A1").history].count("acked") == 1


def test_injection_in_a_command_comes_back_inert(app, robot):
    add_alert(app, "A1")
    handler = CommandHandler(app)
    run(
        handler,
        chatbot_payload(
            robot, "assign A1 @all [x](javascript:alert(1)) <b>", msg_id="i1", nick="@13800000000"
        ),
    )
    [reply] = replies(robot)
    assert "@" not in reply and "](" not in reply and "<" not in reply
    [message] = robot.session_messages
    assert "at" not in message["body"]  # a reply never mentions anyone


def test_overlong_and_unknown_commands_get_a_clear_reply(app, robot):
    handler = CommandHandler(app)
    run(handler, chatbot_payload(robot, "mentions " + "退款" * 2000, msg_id="l1"))
    run(handler, chatbot_payload(robot, "launch rockets", msg_id="l2"))
    long_reply, unknown = replies(robot)
    assert "too long" in long_reply and "at most 500" in long_reply
    assert "Unknown command" in unknown


def test_expired_session_webhook_gets_no_reply_but_the_command_runs(app, robot):
    add_alert(app, "A1")
    payload = chatbot_payload(robot, "ack A1", msg_id="e1")
    payload["sessionWebhookExpiredTime"] = int(time.time() * 1000) - 1000
    run(CommandHandler(app), payload)
    assert robot.session_messages == []
    assert app.repo.get_alert("A1").status == "acked"


def test_command_text_from_rich_text_messages():
    msg = ChatbotMessage.from_dict(
        {
            "msgtype": "richText",
            "content": {"richText": [{"text": "@Buzzwatch ack"}, {"text": "A7"}]},
        }
    )
    assert command_text(msg) == "ack A7"
