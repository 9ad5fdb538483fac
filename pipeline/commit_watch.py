"""Detection of partitions whose stored records faust cannot commit.

faust-streaming 0.15.3 commits a partition up to the first gap in its acked offsets, and it
commits nothing while the oldest acked offset is more than one past the offset it last
committed (`Consumer._new_offset`). If the records in between are never acked by this
process, the committed offset stays where it is while later records are processed, stored
and acked: consumer lag never returns to zero, and a restart reads those records again. That
loses nothing and counts nothing twice, because storage is idempotent, but it repeats work
and hides real lag.

One way into that state is closed by `sinks.event_sink.current_generation_ack`: acks that
arrive after faust dropped a revoked partition's acked offsets. NOTE: the state was seen once,
in a fault test after repeated SIGKILLs, and that is the only cause found. The watch stays so
that any other cause becomes visible, as one log line per stalled partition and the
`user_insights_commit_stalled` gauge. It moves no offset. It reads the private `_acked` and
`_committed_offset` attributes of faust's Consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StalledPartition:
    """A partition whose oldest acked offset is too far past the committed offset."""

    topic: str
    partition: int
    committed_offset: int
    oldest_acked_offset: int
    acked_records: int


def find_stalled(
    acked: Mapping[Any, Sequence[int]], committed: Mapping[Any, int | None]
) -> list[StalledPartition]:
    """Return the partitions that faust would not commit: acked offsets start past a gap.

    `acked` maps a TP to the offsets acked since the last commit, `committed` maps a TP to
    the committed offset (the next offset to read). faust keeps an offset of 0 as None.
    """
    stalled = []
    for tp, offsets in acked.items():
        committed_offset = committed.get(tp)
        # faust skips the check while nothing was committed (None or 0).
        if not offsets or not committed_offset:
            continue
        oldest = min(offsets)
        if oldest - committed_offset > 1:
            stalled.append(
                StalledPartition(tp.topic, tp.partition, committed_offset, oldest, len(offsets))
            )
    return stalled


class CommitWatch:
    """Checks a faust consumer periodically and logs partitions stalled on two checks in a row.

    One check can see a gap that the next ack closes, so a partition counts as stalled only
    when the same committed offset is still behind the same gap on the next check.
    """

    def __init__(self) -> None:
        self._candidates: dict[tuple[str, int], StalledPartition] = {}
        self.stalled: list[StalledPartition] = []

    def check(self, consumer: Any) -> list[StalledPartition]:
        """Update `stalled` from `consumer` (faust's Consumer, or None before it starts)."""
        acked = getattr(consumer, "_acked", None) or {}
        committed = getattr(consumer, "_committed_offset", None) or {}
        found = {(s.topic, s.partition): s for s in find_stalled(acked, committed)}

        confirmed = []
        for key, partition in found.items():
            previous = self._candidates.get(key)
            if previous is not None and previous.committed_offset == partition.committed_offset:
                confirmed.append(partition)
        newly_stalled = {(s.topic, s.partition) for s in confirmed} - {
            (s.topic, s.partition) for s in self.stalled
        }
        for partition in confirmed:
            if (partition.topic, partition.partition) in newly_stalled:
                log.error(
                    "Offsets cannot be committed: records past a gap were acked "
                    "topic=%s[%d] committed_offset=%d oldest_acked_offset=%d acked_records=%d; "
                    "they are stored, and a restart of this worker reads them again",
                    partition.topic,
                    partition.partition,
                    partition.committed_offset,
                    partition.oldest_acked_offset,
                    partition.acked_records,
                )

        self._candidates = found
        self.stalled = confirmed
        return confirmed
