"""@Buzzwatch commands over DingTalk Stream mode (an enterprise-internal app's robot).

Stream mode needs no public URL: `dingtalk_stream.DingTalkStreamClient` keeps a websocket
open to DingTalk with the app's key and secret and hands each @bot message to our
`ChatbotHandler`. The reply goes back through the message's session webhook.

We post the reply with httpx rather than the SDK's `reply_markdown`, which uses requests
without a timeout and always @-mentions the sender.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

import dingtalk_stream
import httpx
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage

from listeners.context import ListenerHost
from listeners.dingtalk.chat import SeenIds, answer, deliver_now

log = logging.getLogger("buzzwatch.dingtalk.stream")

WORKERS = 4  # commands run at once; more wait their turn (each is already acked)


class CommandHandler(dingtalk_stream.ChatbotHandler):
    """Acks each message at once, then runs its command and posts the reply in a worker.

    The SDK sends the ack only when `process` returns; a command and its reply (a session
    webhook allowed 10 s) must not hold it up, or DingTalk redelivers the message.
    """

    def __init__(
        self,
        app: ListenerHost,
        http: httpx.Client | None = None,
        seen: SeenIds | None = None,
        workers: int = WORKERS,
    ) -> None:
        super().__init__()
        self.app = app
        self.http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self.seen = seen or SeenIds()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dingtalk-command")
        self._running: set[Future[None]] = set()
        self._lock = threading.Lock()

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        msg = ChatbotMessage.from_dict(callback.data or {})
        future = self._pool.submit(self._run, msg)
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._finished)
        # Acked whatever follows: a redelivery would meet the same failure (and the seen-id
        # check), and the reply tells the person when a command failed.
        return AckMessage.STATUS_OK, "OK"

    def _run(self, msg: ChatbotMessage) -> None:
        try:
            self.handle(msg)
        except Exception:
            log.exception("DingTalk command failed")

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def wait(self, timeout: float) -> bool:
        """Wait for the commands in progress; False if some are still running."""
        with self._lock:
            running = list(self._running)
        return not wait_futures(running, timeout).not_done

    def close(self, timeout: float = 5.0) -> None:
        """Let the commands in progress finish (for at most `timeout`), take no more."""
        self.wait(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def handle(self, msg: ChatbotMessage) -> bool:
        """Run one @bot message's command and reply; False when it was a repeat."""
        if not self.seen.first_time(msg.message_id):
            log.info("DingTalk message %s seen before; dropped", msg.message_id)
            return False
        body, changed = answer(self.app, msg)
        self.reply(msg, body)
        if changed:
            deliver_now(self.app)
        return True

    def reply(self, msg: ChatbotMessage, body: dict[str, Any]) -> bool:
        url = str(msg.session_webhook or "")
        expires = msg.session_webhook_expired_time
        if not url.startswith(("https://", "http://")):
            log.warning("DingTalk message %s has no usable session webhook", msg.message_id)
            return False
        if expires and int(expires) < time.time() * 1000:
            log.warning("DingTalk session webhook for message %s has expired", msg.message_id)
            return False
        try:
            response = self.http.post(
                url,
                content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            errcode = response.json().get("errcode", -1) if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError) as err:
            log.warning("reply to DingTalk failed: %s", type(err).__name__)
            return False
        if errcode != 0:
            log.warning(
                "reply to DingTalk refused: HTTP %s errcode %s", response.status_code, errcode
            )
            return False
        return True


class StreamRunner:
    """Runs the SDK's client on its own event loop in a daemon thread, until `stop()`."""

    def __init__(
        self, client: dingtalk_stream.DingTalkStreamClient, handler: CommandHandler | None = None
    ) -> None:
        self.client = client
        self.handler = handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="dingtalk-stream", daemon=True)

    def start(self) -> StreamRunner:
        self._thread.start()
        self._ready.wait(5)
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._ready.set()
            task = asyncio.create_task(self.client.start())
            await self._stopping.wait()
            # The SDK's loop swallows one cancellation (it reconnects after errors): insist.
            for _ in range(10):
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=0.2)
                if done:
                    break

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=5)
        if self.handler is not None:
            self.handler.close()


def start_stream(app: ListenerHost, app_key: str, app_secret: str) -> StreamRunner:
    client = dingtalk_stream.DingTalkStreamClient(dingtalk_stream.Credential(app_key, app_secret))
    handler = CommandHandler(app)
    client.register_callback_handler(ChatbotMessage.TOPIC, handler)
    log.info("DingTalk Stream mode: connecting")
    return StreamRunner(client, handler).start()
