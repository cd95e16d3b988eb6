"""The repository contract for `job_lock` (a long job, the daily digest's build, run by one
thread at a time without holding the storage lock), for every backend
(tests/storage/repository_contract.py)."""

from __future__ import annotations

import threading

from core.domain.repository import Repository
from tests.storage.repository_contract import ack, store_alerts

WAIT = 30  # seconds: a generous bound, only reached when the behaviour is wrong


def holding(repo: Repository, name: str) -> tuple[threading.Thread, threading.Event]:
    """A thread that takes job lock `name` and holds it until the returned event is set."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with repo.job_lock(name):
            inside.set()
            release.wait(WAIT)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert inside.wait(WAIT)
    return thread, release


def test_a_job_lock_is_held_by_one_thread_at_a_time(repo: Repository) -> None:
    holder, release = holding(repo, "digest")
    got = threading.Event()

    def take() -> None:
        with repo.job_lock("digest"):
            got.set()

    other = threading.Thread(target=take, daemon=True)
    other.start()
    assert not got.wait(0.5)  # it waits while the first holds it
    release.set()
    assert got.wait(WAIT)  # and gets it once the first lets go
    holder.join(WAIT)
    other.join(WAIT)


def test_a_job_lock_blocks_no_storage_call_nor_another_job(repo: Repository) -> None:
    [alert] = store_alerts(repo, 1)
    holder, release = holding(repo, "digest")
    done = threading.Event()

    def work() -> None:
        with repo.job_lock("storms"):  # another job's lock
            pass
        assert repo.change_alert(alert.id, ack) == "acked"  # an ack
        with repo.locked():  # the storage lock
            repo.set_state("k", {"v": 1})
        done.set()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        assert done.wait(WAIT)  # all of it while the digest's job lock is held
    finally:
        release.set()
        holder.join(WAIT)
    stored = repo.get_alert(alert.id)
    assert stored is not None and stored.status == "acked"
    assert repo.get_state("k") == {"v": 1}
