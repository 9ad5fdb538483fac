"""Worker processes for integration tests: real `user-insights worker` subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import urllib.error
import urllib.request

READY_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerExited(AssertionError):
    """A worker process ended while a test waited for it."""


def wait_until(condition: Callable[[], Any], *, timeout_s: float, interval_s: float = 0.2, what: str) -> Any:
    """Poll `condition` until it returns a truthy value; fail the test with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except WorkerExited:
            raise
        except Exception as exc:  # the condition may fail while a worker starts
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last error: {last_error!r}")


@dataclass
class WorkerProcess:
    """One running worker and the HTTP address of its API."""

    name: str
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WorkerProcess:
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker"],
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> WorkerProcess:
        def ready() -> bool:
            self.raise_if_exited()
            return self.get("/readyz", allow_error=True).get("ready") is True

        wait_until(ready, timeout_s=timeout_s, what=f"worker {self.name} to be ready ({self.log_path})")
        return self

    def raise_if_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-4000:]
            raise WorkerExited(f"worker {self.name} exited with {self.process.returncode}:\n{tail}")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, orjson.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read() or b"null")

    def get(self, path: str, *, allow_error: bool = False) -> Any:
        status, data = self.request("GET", path)
        if status != 200 and not allow_error:
            raise AssertionError(f"GET {path} returned {status}: {data}")
        return data

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """Send SIGTERM and wait; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker {self.name} did not stop within {timeout_s}s after SIGTERM")

    def kill(self) -> None:
        """Send SIGKILL to the worker's whole process group and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class WorkerFactory:
    """Creates workers that share one set of unique topics, group and storage per test."""

    kafka_bootstrap: str
    tmp_path: Path
    unique: str
    started: list[WorkerProcess] = field(default_factory=list)

    @property
    def events_topic(self) -> str:
        return f"events-{self.unique}"

    @property
    def dead_letter_topic(self) -> str:
        return f"dlq-{self.unique}"

    @property
    def profiles_topic(self) -> str:
        return f"profiles-{self.unique}"

    @property
    def app_id(self) -> str:
        return f"ui-test-{self.unique}"

    def settings_env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("USER_INSIGHTS_")}
        env.update(
            {
                "USER_INSIGHTS_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "USER_INSIGHTS_APP_ID": self.app_id,
                "USER_INSIGHTS_EVENTS_TOPIC": self.events_topic,
                "USER_INSIGHTS_DEAD_LETTER_TOPIC": self.dead_letter_topic,
                "USER_INSIGHTS_PROFILES_TOPIC": self.profiles_topic,
                "USER_INSIGHTS_TOPIC_PARTITIONS": "4",
                "USER_INSIGHTS_DATA_DIR": str(self.tmp_path / "data"),
                "USER_INSIGHTS_SINK_FLUSH_INTERVAL_S": "0.2",
                "USER_INSIGHTS_LOG_LEVEL": "info",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({f"USER_INSIGHTS_{k.upper()}": v for k, v in overrides.items()})
        return env

    def start(self, name: str = "w1", *, wait: bool = True, **overrides: str) -> WorkerProcess:
        port = free_port()
        overrides.setdefault("http_port", str(port))
        if "data_dir" not in overrides:
            overrides["data_dir"] = str(self.tmp_path / f"data-{name}")
        worker = WorkerProcess(
            name=name,
            env=self.settings_env(**overrides),
            port=int(overrides["http_port"]),
            log_path=self.tmp_path / f"worker-{name}.log",
        )
        self.started.append(worker.start())
        return worker.wait_ready() if wait else worker

    def cli(self, *args: str, check: bool = True, **overrides: str) -> subprocess.CompletedProcess[str]:
        """Run `user-insights ARGS` with this test's settings."""
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *args],
            env=self.settings_env(**overrides),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"user-insights {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def stop_all(self) -> None:
        for worker in self.started:
            try:
                worker.stop()
            except AssertionError:
                worker.kill()
