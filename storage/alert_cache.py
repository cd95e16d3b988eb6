"""Parsed alerts kept by their stored text: reading an alert is mostly parsing its JSON,
and grouping reads a few days of alerts every poll."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from core.domain.models import Alert

ALERT_CACHE = 2_000  # parsed alerts kept, least recently used out first (~11 KB each)


class ParsedAlerts(OrderedDict[int, tuple[str, Alert]]):
    """Alert number -> (stored text, parsed alert). Keyed by the text itself, so it is never
    stale: a changed alert has a different text."""

    def __init__(self) -> None:
        super().__init__()
        # `status` reads alerts on its own thread, grouping on another: the evict-and-reorder
        # below must not interleave (a KeyError).
        self._lock = threading.Lock()

    def parse(self, n: int, doc: str) -> Alert:
        """A copy of alert `n` stored as `doc`, parsed once while it stays in the cache."""
        with self._lock:
            cached = self.get(n)
            if cached is None or cached[0] != doc:
                cached = (doc, Alert.from_dict(json.loads(doc)))
                self[n] = cached
                if len(self) > ALERT_CACHE:
                    self.popitem(last=False)
            self.move_to_end(n)
        # A copy with its own lists and dicts (callers change them; their items are plain
        # values or history entries, never changed in place), made without the dataclass
        # machinery: grouping copies thousands of alerts every poll.
        copy = object.__new__(Alert)
        copy.__dict__.update(
            {k: v.copy() if type(v) in (list, dict) else v for k, v in cached[1].__dict__.items()}
        )
        return copy
