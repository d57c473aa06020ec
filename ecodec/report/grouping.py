"""Charts of many agents: the largest contributors by name, the rest summed per kind.

A chart of a 100-vehicle fleet cannot give each vehicle its own bar or band, and summing the whole fleet into one
bar per run hides who drives the numbers.  Beyond ``MAX_NAMED`` agents a chart keeps the ``TOP`` agents with the
largest score (|cost| for the cost chart, energy for the dispatch) in the reference run as their own series and
sums the others of each kind into 'other <kind> (n)'.
"""

from __future__ import annotations

MAX_NAMED = 12  # more agents than this in one chart are grouped
TOP = 5  # the largest agents kept by name in a grouped chart


def agent_groups(scores: dict[str, float], kinds: dict[str, str], limit: int = MAX_NAMED,
                 top: int = TOP) -> dict[str, str]:
    """Agent -> the series it is drawn in: itself when there are at most ``limit`` agents, else itself for the
    ``top`` agents of largest |score| (ties: first seen) and 'other <kind> (n)' for the rest.  Ordered as the
    series should be drawn: named agents by rank, then the groups in kind order.

    >>> groups = agent_groups({"a": 1.0, "b": -5.0, "c": 0.5, "d": 2.0}, dict.fromkeys("abcd", "ev"), 3, 2)
    >>> groups
    {'b': 'b', 'd': 'd', 'a': 'other ev (2)', 'c': 'other ev (2)'}
    """
    agents = list(scores)
    if len(agents) <= limit:
        return {agent: agent for agent in agents}
    named = sorted(agents, key=lambda a: (-abs(float(scores[a])), agents.index(a)))[:top]
    rest = [a for a in agents if a not in named]
    counts: dict[str, int] = {}
    for agent in rest:
        counts[kinds[agent]] = counts.get(kinds[agent], 0) + 1
    out = {agent: agent for agent in named}
    for kind in counts:
        out.update({agent: f"other {kind} ({counts[kind]})" for agent in rest if kinds[agent] == kind})
    return out


def series_of(groups: dict[str, str]) -> list[str]:
    """The series of :func:`agent_groups` in drawing order."""
    return list(dict.fromkeys(groups.values()))


def is_grouped(groups: dict[str, str]) -> bool:
    return any(agent != series for agent, series in groups.items())


__all__ = ["MAX_NAMED", "TOP", "agent_groups", "is_grouped", "series_of"]
