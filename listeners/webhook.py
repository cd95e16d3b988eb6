"""A generic JSON webhook destination: each message POSTed to a URL.

For tools that take alerts over HTTP (an incident tool, a custom dashboard). The body:
{"action", "kind", "text", "alert": {...} | null, "ref": {...} | null}. A 2xx answer is a
success (an `id` in a JSON answer becomes the message reference); 429 and 5xx are retried
(Retry-After honoured); other 4xx are permanent.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from core.config import WebhookDestination
from core.domain.notifier import Delivery, Outgoing, retry_after_seconds
from listeners import notifier_type
from listeners.console import render_alert_text
from listeners.context import NotifierContext


class WebhookNotifier:
    platform = "webhook"
    edits_in_place = True  # an "update" is POSTed with the message's ref: the tool edits

    def __init__(
        self,
        url: str,
        token: str | None,
        rate_limit: tuple[int, float] | None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.rate_limit = rate_limit
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(
            timeout=timeout, headers=headers, trust_env=False, follow_redirects=False
        )
        self._ids = itertools.count(1)

    def render(self, out: Outgoing) -> dict[str, Any]:
        kind = out.message.get("kind")
        if kind == "alert":
            text = render_alert_text(out)
        elif kind == "batch":
            text = "\n".join(f"[{a.id}] {a.summary.get('title', '')}" for a in out.alerts)
        else:
            text = str(out.message.get("text", ""))
        return {
            "action": out.action,
            "kind": kind,
            "text": text,
            "alert": out.alert.to_dict() if out.alert else None,
            "alert_ids": [a.id for a in out.alerts],
            "ref": out.ref,
        }

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        try:
            response = self.client.post(self.url, json=payload)
        except httpx.HTTPError as err:
            return Delivery(ok=False, retryable=True, error=f"{type(err).__name__}: {err}")
        if response.status_code == 429 or response.status_code >= 500:
            return Delivery(
                ok=False,
                retryable=True,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
                error=f"HTTP {response.status_code}",
            )
        if not 200 <= response.status_code < 300:
            where = response.headers.get("location", "")
            hint = (
                f" (redirect to {where[:100]}: set the final URL)"
                if where
                else f": {response.text[:200]}"
            )
            return Delivery(
                ok=False,
                retryable=False,
                # A rejected token is the destination's problem, not this message's.
                misconfigured=response.status_code in (401, 403),
                error=f"HTTP {response.status_code}{hint}",
            )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        ref_id = (
            str(answer.get("id"))
            if isinstance(answer, dict) and answer.get("id")
            else str(next(self._ids))
        )
        return Delivery(ok=True, ref=out.ref or {"id": ref_id})


@notifier_type("webhook")
def build_webhook(name: str, cfg: WebhookDestination, context: NotifierContext) -> WebhookNotifier:
    token = context.secrets.get(cfg.token_env) if cfg.token_env else None
    return WebhookNotifier(cfg.url, token, cfg.rate_limit)
