"""The real bot (`python bot.py`) on a built store, as bench/storage.py measures it: how soon it
runs, how soon a `status` typed at start is answered, and its memory once settled."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


# The running bot, its clock moved to `end` (the stored mentions' last day), so the
# storm check, the digest and the TinyDB warm-up see the stored weeks whatever day the bench
# runs on; its jobs' first runs are moved back to the real clock APScheduler goes by.
RUN_BOT = """
import dataclasses, runpy, sys
from datetime import UTC, datetime
import app.buzzwatch, app.jobs
offset = datetime.fromisoformat(sys.argv[1]) - datetime.now(UTC)
class BenchClock:
    def now(self):
        return datetime.now(UTC) + offset
app.buzzwatch.SystemClock = BenchClock
add = app.jobs.Scheduler.add
def real_time_add(self, job):
    if isinstance(job.when, app.jobs.Every) and job.when.first_run is not None:
        when = dataclasses.replace(job.when, first_run=job.when.first_run - offset)
        job = dataclasses.replace(job, when=when)
    add(self, job)
app.jobs.Scheduler.add = real_time_add
sys.argv = ['bot.py', '--config', sys.argv[2]]
runpy.run_path('bot.py', run_name='__main__')
"""


def _proc_mb(pid: int) -> dict[str, int]:
    wanted = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in wanted:
                out[key] = int(value.split()[0]) // 1024
    return out


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def running_bot(config_path: Path, end: datetime) -> dict[str, float]:
    """`python bot.py` on the store: when it says it is running, when a `status` typed then
    is answered, and its memory once it has settled (the first poll of the sample feeds
    stored, start-up work done: no CPU used for 2 s). Then Ctrl-C."""
    t0 = time.perf_counter()
    bot = subprocess.Popen(
        [sys.executable, "-c", RUN_BOT, end.isoformat(), str(config_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, float] = {}
    log: list[str] = []

    def watch(stream: io.TextIOBase, marks: dict[str, str]) -> None:
        for line in stream:
            log.append(line)
            for mark, key in marks.items():
                if mark in line and key not in seen:
                    seen[key] = time.perf_counter() - t0

    threading.Thread(target=watch, args=(bot.stdout, {"not resolved": "status"})).start()
    threading.Thread(target=watch, args=(bot.stderr, {"running:": "running"})).start()
    try:
        deadline = time.monotonic() + 600
        while "running" not in seen:
            if bot.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bot did not start:\n" + "".join(log[-20:]))
            time.sleep(0.02)
        assert bot.stdin is not None
        bot.stdin.write("status\n")
        bot.stdin.flush()
        typed = time.perf_counter() - t0
        cpu = _cpu_seconds(bot.pid)
        while True:
            time.sleep(2)
            now = _cpu_seconds(bot.pid)
            if (now - cpu < 0.05 and "status" in seen) or time.monotonic() > deadline:
                break
            cpu = now
        memory = _proc_mb(bot.pid)
    finally:
        bot.send_signal(signal.SIGINT)
        bot.wait(120)
    return {
        "running": seen["running"],
        "status": seen.get("status", float("nan")) - typed,
        "settled": time.perf_counter() - t0,
        "cpu": cpu,
        **memory,
    }


def bot_config(backend: str, folder: Path) -> Path:
    raw = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text("utf-8"))
    raw.update(data_dir=str(folder), storage={"backend": backend})
    config_path = folder / "bench-config.yaml"
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return config_path


def rss_line(backend: str, n_mentions: int, bot: dict[str, float]) -> str:
    return (
        f"   running bot, {n_mentions:>9,} mentions stored: RSS after start "
        f"{bot['VmRSS']:5,} MB (< 300; {bot['RssAnon']:,} MB anonymous, {bot['RssFile']:,} MB "
        f"file pages), peak {bot['VmHWM']:5,} MB; `status` typed at start answered in "
        f"{bot['status']:5.2f} s; running after {bot['running']:4.1f} s, settled after "
        f"{bot['settled']:5.1f} s"
    )
