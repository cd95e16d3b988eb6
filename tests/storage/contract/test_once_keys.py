"""The repository contract for requests that act at most once (signed chat callbacks):
`remember_once`, for every backend (tests/storage/repository_contract.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from core.domain.clock import FakeClock
from core.domain.repository import Repository
from tests.storage.repository_contract import NOW, Opener, reopen, snapshot


def test_remember_once_is_once_until_it_expires_also_after_a_restart(
    repo: Repository, open_repo: Opener, clock: FakeClock
) -> None:
    until = NOW + timedelta(hours=1)
    odd = ["x" * 10_000, "a\x00b\ud800", "签名=="]  # attacker-sized, binary, non-ASCII
    assert repo.remember_once("sign", "k1", until) is True
    assert repo.remember_once("sign", "k1", until) is False
    assert repo.remember_once("msg", "k1", until) is True  # kinds are apart
    assert [repo.remember_once("msg", k, until) for k in odd] == [True] * 3
    assert repo.remember_once("msg", "x" * 9_999 + "y", until) is True  # not a prefix match
    repo = reopen(repo, open_repo)
    assert [repo.remember_once("msg", k, until) for k in ["k1", *odd]] == [False] * 4
    assert repo.remember_once("sign", "k1", until) is False
    clock.advance(timedelta(hours=1) - timedelta(microseconds=1))
    assert repo.remember_once("sign", "k1", until) is False  # still within its time
    clock.advance(timedelta(microseconds=1))
    assert repo.remember_once("sign", "k1", until + timedelta(hours=1)) is True  # expired
    assert repo.remember_once("sign", "k1", until + timedelta(hours=1)) is False


def test_remember_once_between_threads_is_once(repo: Repository) -> None:
    answers: list[bool] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        answers.extend(
            repo.remember_once("sign", f"k{i}", NOW + timedelta(hours=1)) for i in range(5)
        )

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers).count(True) == 5 and len(answers) == 40


def test_read_only_remembers_in_memory_only(
    repo: Repository, open_repo: Opener, data_dir: Path
) -> None:
    until = NOW + timedelta(hours=1)
    assert repo.remember_once("sign", "used", until) is True
    repo.close()
    before = snapshot(data_dir)
    dry = open_repo(read_only=True)
    assert dry.remember_once("sign", "used", until) is False  # the store's keys count
    assert dry.remember_once("sign", "dry", until) is True
    assert dry.remember_once("sign", "dry", until) is False
    dry.close()
    assert snapshot(data_dir) == before
    assert open_repo().remember_once("sign", "dry", until) is True
