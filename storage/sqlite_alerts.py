"""The SQLite store's part of the narrow reads (storage/narrow_reads.SQLReads): its JSON
function, and its read-only run's own mentions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.domain.models import Alert
from storage.alert_cache import ParsedAlerts
from storage.narrow_reads import SQLReads


class SQLiteReads(SQLReads):
    _param = "?"
    _new_mentions: dict[str, dict[str, Any]]
    _alert_cache: ParsedAlerts

    def _parse_alert(self, n: int, doc: str) -> Alert:
        return self._alert_cache.parse(n, doc)

    def _json_fields(self, names: Sequence[str]) -> str:
        # One json_extract with several paths parses the doc once and gives a JSON array.
        return "json_extract(doc, " + ", ".join(f"'$.{name}'" for name in names) + ")"

    def _overlay_docs(self) -> Iterable[dict[str, Any]] | None:
        return self._new_mentions.values() if self._new_mentions else None
