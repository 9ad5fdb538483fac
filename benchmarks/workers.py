"""Worker subprocesses, topics and consumer lag for the broker benchmarks.

The settings follow `tests/support/workers.py`: every run has its own topics, consumer group
(app id) and data directory, so a benchmark never touches another engineer's worker or
topic. Only processes started here are ever signalled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import REPO_ROOT, log

READY_TIMEOUT_S = 240.0
LAG_POLL_INTERVAL_S = 0.25
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class TopicSet:
    """The topic names and consumer group of one benchmark, all under a unique prefix."""

    prefix: str
    partitions: int

    @property
    def events(self) -> str:
        return f"{self.prefix}-events"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}-dlq"

    @property
    def profiles(self) -> str:
        return f"{self.prefix}-profiles"

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-app"

    def settings_env(self, bootstrap: str, data_dir: Path, http_port: int) -> dict[str, str]:
        """Return the environment of one worker: this set's names and the product defaults."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("USER_INSIGHTS_")}
        env.update(
            {
                "USER_INSIGHTS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "USER_INSIGHTS_APP_ID": self.app_id,
                "USER_INSIGHTS_EVENTS_TOPIC": self.events,
                "USER_INSIGHTS_DEAD_LETTER_TOPIC": self.dead_letters,
                "USER_INSIGHTS_PROFILES_TOPIC": self.profiles,
                "USER_INSIGHTS_TOPIC_PARTITIONS": str(self.partitions),
                "USER_INSIGHTS_DATA_DIR": str(data_dir),
                "USER_INSIGHTS_HTTP_PORT": str(http_port),
                "USER_INSIGHTS_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def settings(self, bootstrap: str) -> Any:
        from pipeline.settings import Settings

        return Settings(
            kafka_bootstrap_servers=bootstrap,
            app_id=self.app_id,
            events_topic=self.events,
            dead_letter_topic=self.dead_letters,
            profiles_topic=self.profiles,
            topic_partitions=self.partitions,
        )


class Worker:
    """One `python -m pipeline.cli worker` subprocess started by a benchmark."""

    def __init__(self, name: str, topics: TopicSet, bootstrap: str, work_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.data_dir = work_dir / f"data-{name}"
        self.log_path = work_dir / f"worker-{name}.log"
        self.env = topics.settings_env(bootstrap, self.data_dir, self.port)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Worker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "worker"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def get(self, path: str, timeout_s: float = 10.0) -> tuple[int, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def is_ready(self) -> bool:
        self.raise_if_exited()
        try:
            status, body = self.get("/readyz", timeout_s=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return status == 200 and bool(body and body.get("ready"))

    def events_in(self) -> float | None:
        """Return the worker's `user_insights_events_in_total` metric, or None if unreadable."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/metrics", timeout=5
            ) as response:
                text = response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        for line in text.splitlines():
            if line.startswith("user_insights_events_in_total "):
                return float(line.split()[1])
        return None

    def raise_if_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{tail}")

    def cpu_seconds(self) -> float:
        """Return the user plus system CPU time the worker process used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # Fields 14 and 15 of /proc/PID/stat (utime, stime); index 0 here is field 3.
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S

    def stop(self, timeout_s: float = 60.0) -> None:
        """Send SIGTERM to this worker and wait; SIGKILL its own process group if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log(
                f"worker {self.name} (pid {self.pid}) ignored SIGTERM for {timeout_s:.0f} s; "
                "killing its process group"
            )
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def wait_all_ready(workers: Iterable[Worker], timeout_s: float = READY_TIMEOUT_S) -> float:
    """Poll /readyz of every worker until all are ready; returns time.monotonic() then."""
    pending = list(workers)
    deadline = time.monotonic() + timeout_s
    while pending:
        pending = [w for w in pending if not w.is_ready()]
        if not pending:
            break
        if time.monotonic() > deadline:
            names = ", ".join(w.name for w in pending)
            raise RuntimeError(f"workers {names} were not ready after {timeout_s:.0f} s")
        time.sleep(0.1)
    return time.monotonic()


def create_topics(topics: TopicSet, bootstrap: str) -> None:
    from pipeline.topics import ensure_topics

    asyncio.run(ensure_topics(topics.settings(bootstrap)))


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> float:
    """Send the records with the project's producer and return the seconds it took."""
    from pipeline.produce import send_records

    started_s = time.monotonic()
    asyncio.run(send_records(bootstrap, topic, records))
    return time.monotonic() - started_s


def total_lag(bootstrap: str, group: str, topic: str) -> int:
    return sum(lag_by_partition(bootstrap, group, topic).values())


class StalledError(RuntimeError):
    """Error raised when the consumer lag stays above 0, unchanged, for too long."""

    def __init__(self, message: str, lag: dict[int, int]) -> None:
        super().__init__(message)
        self.lag = lag


def lag_by_partition(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    from pipeline.topics import consumer_lag

    return asyncio.run(consumer_lag(bootstrap, group, topic))


def wait_lag_zero(
    bootstrap: str,
    group: str,
    topic: str,
    *,
    timeout_s: float,
    stall_timeout_s: float = 180.0,
    workers: Iterable[Worker] = (),
) -> float:
    """Poll the group's lag until it is 0; returns time.monotonic() at the first zero.

    Raises StalledError when the lag of every partition stayed the same, above 0, for
    `stall_timeout_s`, because the workers then make no progress and waiting measures nothing.
    """
    deadline = time.monotonic() + timeout_s
    workers = list(workers)
    last_lag: dict[int, int] = {}
    last_change_s = time.monotonic()
    while True:
        for worker in workers:
            worker.raise_if_exited()
        lag = lag_by_partition(bootstrap, group, topic)
        now_s = time.monotonic()
        if sum(lag.values()) == 0:
            return now_s
        if lag != last_lag:
            last_lag, last_change_s = lag, now_s
        elif now_s - last_change_s > stall_timeout_s:
            raise StalledError(
                f"consumer lag of {group} on {topic} stayed at {lag} for {stall_timeout_s:.0f} s",
                lag,
            )
        if now_s > deadline:
            raise RuntimeError(
                f"consumer lag of {group} on {topic} was not 0 after {timeout_s:.0f} s"
            )
        time.sleep(LAG_POLL_INTERVAL_S)


def delete_topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Delete the topics whose names start with this run's unique prefix; returns their names."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def run() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if names:
                await admin.delete_topics(names)
            return names
        finally:
            await admin.close()

    return asyncio.run(run())
