"""Shared pieces of the benchmarks: results, percentiles, memory readings and child processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One row of the results: a figure, its same-run baseline and the target it is judged by.

    `ratio` is figure / baseline. `met` is None when the row has no target. The texts are
    what the table shows; the numbers stay for comparisons between runs.
    """

    key: str  # unique per row, such as "stats-p99"
    benchmark: str  # the --only name that produces the row
    title: str
    figure: float
    figure_text: str
    baseline: float
    baseline_text: str
    ratio: float
    target: str
    met: bool | None
    measured_at: str = ""  # ISO date and time of the run
    load_average: list[float] = field(default_factory=list)  # 1-minute load before and after

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**data)


def ratio(figure: float, baseline: float) -> float:
    """Return figure / baseline, or NaN when the baseline is zero."""
    return figure / baseline if baseline else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = math.ceil(position)
    weight = position - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def latency_summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """Summarise latencies given in seconds as p50, p90, p99 and max in milliseconds."""
    return {
        "count": len(samples_s),
        "p50_ms": percentile(samples_s, 50) * 1000,
        "p90_ms": percentile(samples_s, 90) * 1000,
        "p99_ms": percentile(samples_s, 99) * 1000,
        "max_ms": max(samples_s) * 1000,
    }


def rss_bytes(pid: int | None = None) -> int:
    """Return the resident set size of a process (default: this one) from /proc."""
    return _status_field(pid, "VmRSS")


def peak_rss_bytes(pid: int | None = None) -> int:
    """Return the peak resident set size (VmHWM) of a process from /proc."""
    return _status_field(pid, "VmHWM")


def _status_field(pid: int | None, name: str) -> int:
    path = Path("/proc/self/status" if pid is None else f"/proc/{pid}/status")
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{path} has no {name} line")


def load_average() -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def log(message: str) -> None:
    """Print a progress line to stderr, so stdout keeps only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_child(module: str, args: Sequence[str], *, work_dir: Path, timeout_s: float) -> Any:
    """Run `python -m MODULE ARGS --output FILE` and return the JSON it wrote to FILE.

    Benchmarks that open embedded ClickHouse or RocksDB run in a child process: chDB allows
    one data path per process, and a child's memory readings are not mixed with ours.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    output = work_dir / f"{module.rsplit('.', 1)[-1]}-result.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, "-m", module, *args, "--output", str(output)]
    log(f"running {' '.join(command[1:])}")
    completed = subprocess.run(command, cwd=REPO_ROOT, timeout=timeout_s, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{module} exited with code {completed.returncode}; see its output above"
        )
    return json.loads(output.read_text())


def write_json(path: str | Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str))
