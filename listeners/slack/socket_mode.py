"""Socket Mode: the Bolt app on slack_sdk's aiohttp websocket client, in its own thread.

Why not slack_sdk's built-in client (Bolt's default SocketModeHandler): when Slack sends
`disconnect` (it moves every connection every few hours), the built-in client reconnects
in its only message thread, and closing the old socket waits for the reader's 3-second
receive timeout; an envelope that arrives meanwhile is acked about 3 s late, past Slack's
deadline. The aiohttp client reconnects in a task of its own and acks such an envelope in
milliseconds (bench/socket_mode.py measures both).

Bolt's handler runs the app inside the event loop; ours runs it in a worker thread, since
Bolt waits there (up to 3 s) for the listener's ack() and may call auth.test.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.aiohttp import SocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.web.async_client import AsyncWebClient

from listeners.slack.notifier import TIMEOUT_SECONDS

log = logging.getLogger("buzzwatch.slack")

CONNECT_SECONDS = 15  # apps.connections.open and the websocket handshake


class _Handler(SocketModeHandler):
    async def handle(self, client: Any, req: Any) -> None:
        start = time.time()
        response = await asyncio.to_thread(run_bolt_app, self.app, req)
        await send_async_response(client, req, response, start)


class SocketModeRunner:
    """Connects at `start()` (raising if Slack refuses the app token) and runs until `stop()`."""

    def __init__(self, app: App, app_token: str, api_url: str) -> None:
        self.app = app
        self.app_token = app_token
        self.api_url = api_url
        self.handler: _Handler | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="slack-socket-mode", daemon=True
        )

    def _run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> None:
        web = AsyncWebClient(base_url=self.api_url, timeout=TIMEOUT_SECONDS)
        self.handler = _Handler(self.app, app_token=self.app_token, web_client=web)
        client = self.handler.client
        # Asked once here so that a refused token raises; the client's own connect() would
        # log it and retry for ever.
        client.wss_uri = await client.issue_new_wss_url()
        await client.connect()  # type: ignore[no-untyped-call]  # unannotated in slack_sdk

    def start(self) -> SocketModeRunner:
        self._thread.start()
        try:
            self._run(self._connect(), CONNECT_SECONDS)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            if self.handler is not None:
                try:
                    # close_async is unannotated in slack_sdk.
                    self._run(self.handler.close_async(), 5)  # type: ignore[no-untyped-call]
                except Exception as err:  # closing anyway
                    log.debug("closing Socket Mode: %r", err)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()
