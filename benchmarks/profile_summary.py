"""Summary of a py-spy raw profile (`py-spy record -f raw`): where each thread spends its time.

Each line of the raw format is one distinct stack, root first, frames separated by ``;``,
then a space and the number of samples. Frames look like ``name (path:line)``. py-spy
shortens the path, to the bare file name for a folder without ``__init__.py`` (such as
``agents/``), so frames are matched by function name and file name only.

py-spy 0.4.3 also recorded samples of threads blocked in a call it cannot see into, such as
an empty thread pool's queue or the event loop's ``select``. Stacks that end in such a frame
are counted as waiting, not as work.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

_LINE_NUMBER = re.compile(r":\d+\)$")
_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^()]*)\)$")

# Leaf frames that mean the thread is blocked, not computing.
WAITING_LEAVES = frozenset(
    {
        "EpollSelector.select (selectors.py)",
        "_worker (thread.py)",
        "Condition.wait (threading.py)",
        "Event.wait (threading.py)",
    }
)

# Thread of a stack: the first kind whose marker frame is on the stack.
THREAD_KINDS = (
    ("worker event loop (main thread)", "run_worker (worker.py)"),
    ("faust consumer thread", "WorkerThread.run (threads.py)"),
    ("thread pools (ClickHouse sink and reads)", "Thread.run (threading.py)"),
)
MAIN_THREAD = THREAD_KINDS[0][0]

# Wrappers that run a coroutine. The frame below such a wrapper names the task.
_TASK_WRAPPERS = frozenset({"Service._execute_task (services.py)"})

# Frames whose children are broken down in the summary.
BREAKDOWN_FRAMES = (
    "NotificationEventsAgent.process (notification_events.py)",
    "NotificationEventsAgent._merge (notification_events.py)",
)

# Frames worth naming in the summary, whatever their rank.
NAMED_FRAMES = (
    ("per-record processing", "NotificationEventsAgent.process (notification_events.py)"),
    ("JSON parse and pydantic validation", "parse_event (events.py)"),
    ("dedup table reads and write", "NotificationEventsAgent._merge (notification_events.py)"),
    ("dedup table write (store, changelog, expiry)", "WindowWrapper.__setitem__ (wrappers.py)"),
    ("dedup table reads in two windows", "WindowSet.value (wrappers.py)"),
    ("dedup rules", "merge_report (dedup.py)"),
    ("snapshot row build", "build_event_row (clickhouse.py)"),
    ("sink buffering", "EventSink.add_row (event_sink.py)"),
    ("changelog producer (faust)", "ProducerBuffer._handle_pending (producer.py)"),
    ("faust fetch loop", "Fetcher._fetcher (consumer.py)"),
    (
        "faust message dispatch",
        "Conductor._compile_message_handler.<locals>.on_message (conductor.py)",
    ),
    ("aiokafka producer sends", "Sender._send_produce_req (sender.py)"),
    ("ClickHouse insert (sink thread)", "EventWriter.insert (clickhouse.py)"),
    ("deleted-user check before each insert", "EventWriter._drop_deleted (clickhouse.py)"),
    ("offset commit", "Consumer.commit (consumer.py)"),
)


def frame_key(frame: str) -> str:
    """Return ``name (file name)`` of a py-spy frame, without folders and line number."""
    frame = _LINE_NUMBER.sub(")", frame)
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{match['name']} ({match['path'].rsplit('/', 1)[-1]})"


def parse_raw(path: Path) -> list[tuple[list[str], int]]:
    """Read (frame keys root first, samples) pairs from a py-spy raw file."""
    stacks = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        stacks.append(([frame_key(f) for f in stack.split(";")], int(count)))
    return stacks


def _thread_kind(frames: list[str]) -> str:
    for kind, marker in THREAD_KINDS:
        if marker in frames:
            return kind
    return "other"


def _task_of(frames: list[str]) -> str:
    """Return the event-loop task a main-thread stack belongs to."""
    runs = [i for i, frame in enumerate(frames) if frame.startswith("Handle._run ")]
    if not runs:
        return "event loop itself (select, scheduling)"
    below = frames[runs[-1] + 1 :]
    while len(below) > 1 and below[0] in _TASK_WRAPPERS:
        below = below[1:]
    return below[0] if below else "event loop itself (select, scheduling)"


def summarise(path: Path, *, top: int = 12) -> dict[str, Any]:
    """Return per-thread busy and waiting samples, event-loop tasks and named frames.

    Shares of the main thread are of its busy (non-waiting) samples. A named frame is given
    as a share of the busy samples of the thread it ran on.
    """
    stacks = parse_raw(path)
    threads: dict[str, dict[str, int]] = {}
    tasks: Counter[str] = Counter()
    named: Counter[tuple[str, str]] = Counter()
    children: dict[str, Counter[str]] = {frame: Counter() for frame in BREAKDOWN_FRAMES}
    for frames, count in stacks:
        kind = _thread_kind(frames)
        entry = threads.setdefault(kind, {"samples": 0, "waiting_samples": 0})
        entry["samples"] += count
        if frames[-1] in WAITING_LEAVES:
            entry["waiting_samples"] += count
            continue
        if kind == MAIN_THREAD:
            tasks[_task_of(frames)] += count
        for label, frame in NAMED_FRAMES:
            if frame in frames:
                named[(label, kind)] += count
        for parent, counter in children.items():
            if parent in frames:
                position = len(frames) - 1 - frames[::-1].index(parent)
                child = frames[position + 1] if position + 1 < len(frames) else "(its own code)"
                counter[child] += count

    for entry in threads.values():
        entry["busy_samples"] = entry["samples"] - entry["waiting_samples"]
    main_busy = threads.get(MAIN_THREAD, {}).get("busy_samples", 0)

    def share(samples: int, total: int) -> float:
        return 100 * samples / total if total else 0.0

    return {
        "total_samples": sum(count for _, count in stacks),
        "threads": threads,
        "main_thread_tasks": [
            (task, share(samples, main_busy)) for task, samples in tasks.most_common(top)
        ],
        "breakdowns": {
            parent: [
                (child, share(samples, main_busy)) for child, samples in counter.most_common(8)
            ]
            for parent, counter in children.items()
        },
        "named_frames": [
            {
                "label": label,
                "frame": dict(NAMED_FRAMES)[label],
                "thread": kind,
                "share_of_busy": share(samples, threads[kind]["busy_samples"]),
            }
            for (label, kind), samples in sorted(named.items(), key=lambda item: -item[1])
        ],
    }
