"""Plain-text rendering of insights for the terminal."""

from __future__ import annotations

from schemas.insights import RATE_DEFINITIONS, GroupStats, UserStats

_EVENTS = ("sent", "delivered", "viewed", "clicked", "failed")


def _row(label: str, group: GroupStats) -> str:
    counts = group.counts.model_dump()
    cells = "".join(f"{counts[e]:>10}" for e in _EVENTS)
    rates = "".join(
        f"{'-' if r.value is None else f'{r.value:.0%}':>10}" for r in group.rates.values()
    )
    return f"{label:<10}{cells}{rates}"


def render_user_stats(stats: UserStats) -> str:
    """Render counts and rates per channel and in total, with the rate definitions below."""
    header = f"{'channel':<10}" + "".join(f"{e:>10}" for e in _EVENTS)
    header += "".join(f"{name.replace('_rate', ''):>10}" for name in RATE_DEFINITIONS)
    lines = [f"user {stats.user_id}: unique messages per event", header]
    for channel, group in stats.by_channel.items():
        lines.append(_row(channel, group))
    lines.append(_row("total", stats.total))
    if stats.total.last_event_at is not None:
        lines.append(f"last event at {stats.total.last_event_at.isoformat()}")
    definitions = ", ".join(f"{name} = {num} / {den}" for name, (num, den) in RATE_DEFINITIONS.items())
    lines.append(f"rates: {definitions} (unique messages)")
    return "\n".join(lines)
