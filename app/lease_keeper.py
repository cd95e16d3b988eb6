"""Keeping this process's source leases while it polls them, and taking over the sources of
a process that died (several processes on one PostgreSQL store; issue 16).

A lease lasts SOURCE_LEASE (core/intake/polling.py) from the poll that took it. Every
RENEW_EVERY this keeper extends, in one statement, the leases of the sources this process
polls, and looks for sources whose holder let its lease run out (it died, or its poll of
them hangs): those it polls at once. So a dead process's sources are taken over within
about SOURCE_LEASE + RENEW_EVERY of its death, whatever their poll interval. A source whose
poll here has neither started nor ended for longer than its interval plus a lease (a hung
poll) is not renewed: another process takes it over.

Runs on a thread of its own, not among the poll jobs: in a burst every poll thread may
wait for the pipeline, and a renewal that waited with them would let live leases lapse.

After the store was unreachable (a database restart), it takes nothing over for one lease:
every process's leases ran out together, and the first keeper to tick took every other
live process's sources (after a 40 s restart, one of two processes held all 100 sources
and the other none, for good). A lease's time lets each renew its own first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from core.domain.repository import Repository
from core.intake.polling import SOURCE_LEASE

log = logging.getLogger("buzzwatch.leases")

RENEW_EVERY = timedelta(seconds=10)


class LeaseKeeper:
    def __init__(
        self,
        repo: Repository,
        sources: Sequence[Any],
        take_over: Callable[[Any], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.sources = {s.name: s for s in sources}
        self.take_over = take_over
        self._clock = clock
        self._active: dict[str, float] = {}  # source -> when a poll of it here started or ended
        self._down = False  # the last tick could not reach the store
        self._back_at: float | None = None  # when a tick reached it again
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def polling(self, name: str, held: bool = True) -> None:
        """A poll of `name` starts or ends here; `held`: this process polls it (False: another
        process holds it, nothing to renew)."""
        with self._lock:
            if held:
                self._active[name] = self._clock()
            else:
                self._active.pop(name, None)

    def tick(self) -> list[str]:
        """Renew the leases of the sources polled here; take over those whose holder let its
        lease run out. The names taken over."""
        now = self._clock()
        with self._lock:
            held = [
                name
                for name, at in self._active.items()
                if now - at <= (self._every(name) + SOURCE_LEASE).total_seconds()
            ]
        try:
            self.repo.renew_sources(held, SOURCE_LEASE)
            expired = self.repo.expired_sources(list(self.sources))
        except Exception:
            self._down = True
            raise
        if self._down:
            self._down, self._back_at = False, now
        if self._back_at is not None and now - self._back_at < SOURCE_LEASE.total_seconds():
            return []  # (the others renew theirs meanwhile; see the module's docstring)
        orphans = []
        for name in expired:
            # Claimed here, at once: in a burst every poll thread may be busy, and the lease
            # is this process's (renewed from now on) while its poll waits for one.
            if not self.repo.claim_source(name, SOURCE_LEASE):
                continue  # another process was quicker
            self.polling(name)
            log.info("source=%s: its holder's lease ran out; polled here now", name)
            self.take_over(self.sources[name])
            orphans.append(name)
        return orphans

    def _every(self, name: str) -> timedelta:
        return self.sources[name].every or SOURCE_LEASE

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(RENEW_EVERY.total_seconds()):
            try:
                self.tick()
            except Exception as err:  # the store unreachable: the next tick tries again
                log.warning("could not renew or check source leases: %s", err)
