"""Finite-time exact average consensus on a ring: "arc-sum gossip", every agent ends with the exact mean.

Source of the problem and of the bounds: A. Falsone, K. Margellos, S. Garatti, M. Prandini, "Finite time
distributed averaging over gossip-constrained ring networks", arXiv 1608.08358 (IEEE Trans. Control Netw. Syst.):
m agents on a ring, each round every agent talks (both ways) with at most one ring neighbour (the gossip
constraint), and every agent knows the exact average after **n** rounds when m = 2n and **3n** when m = 2n + 1.
Those two bounds are verified from the paper's abstract; the paper's own per-round schedule and memory update
are **not** (its body was not available: [U]).  This module implements schedules designed for ecodec [D] that
stand in for it; they are not the paper's scheme.

Notation (agents identified with their positions around the ring):

========  =================  ==================================================================================
symbol    name here          meaning
========  =================  ==================================================================================
m         ``m``              number of agents on the ring; n = floor(m / 2)
x_j       ``state.x``        agent j's value (a scalar, or one scalar per coordinate of a vector)
e_j       ``pairs``          ring edge (j, j+1 mod m), j = 0..m-1
R_j, L_j  ``state.right``,   sum of x over the arc of c^R_j agents to the right of j (j+1, ..., j+c^R_j), and
          ``state.left``     over the arc of c^L_j agents to its left (j-1, ..., j-c^L_j); both 0 at the start
c^R, c^L  ``arc_lengths``    the arcs' lengths (agent counts): fixed by (m, j, round), known to every agent
M_r       ``matching(r)``    the edges that talk in round r (a matching: every agent in at most one)
========  =================  ==================================================================================

Recursion: on a matched edge (j, j+1) of round r each end sends one scalar per coordinate,

    j+1 -> j:   R_j     <- x_{j+1} + R_{j+1}        (c^R_j     <- 1 + c^R_{j+1})
    j -> j+1:   L_{j+1} <- x_j + L_j                (c^L_{j+1} <- 1 + c^L_j)

and once every agent has c^R_j + c^L_j = m - 1 it outputs (x_j + L_j + R_j) / m, the exact mean.

Even m = 2n [D]: round r (1-based) uses A = {e_j : j even} when r is odd and B = {e_j : j odd} when r is even.
Proof sketch: after round r the arc an agent updated in round r has length r and its other arc length r - 1
(induction: round 1 gives length 1 on the side that talked; in round r + 1 agent j copies its partner's arc on
the far side, which the partner extended in round r, so it has length 1 + r; the arc on the other side was set in
round r and stays r).  Hence after n rounds c^R_j + c^L_j = n + (n - 1) = m - 1 for every j.  The right arc
covers j+1..j+c^R_j and the left arc j-c^L_j..j-1; with c^R_j + c^L_j = m - 1 < m they neither overlap nor
contain j, and together with j they cover the whole ring: exactly n rounds, the paper's bound.

Odd m = 2n + 1 [D]: the matchings A = {e_j : j even, j < 2n}, B = {e_j : j odd}, C = {e_2n} are cycled A, B, C,
with a guard: an update is applied only when it lengthens the arc and keeps c^R_j + c^L_j <= m - 1 (so arcs stay
disjoint); and an agent that is complete (c^R + c^L = m - 1: it knows the total S = x + L + R) sends S to an
incomplete partner, which sets the arc on that side to S - x - (its other arc) and is complete too.  An edge
neither of whose ends would update is left out of the round.  Every update keeps R_j (L_j) the exact sum over its
arc, so the output is exact once every agent reaches m - 1; the number of rounds is obtained by running the
arc-length recursion (data-independent) when the schedule is built.  Measured counts: 3, 4, 5, 7, 8, 16 rounds
for m = 3, 5, 7, 9, 11, 21, and floor(3n / 2) + 1 for every odd m from 5 to 1001: within the paper's 3n for every
odd m (equal for m = 3).  No proof of that count is claimed.

Memory: two scalars per coordinate (R_j, L_j) besides x_j; the arc lengths depend only on (m, j, r) and are
computed by each agent from m, so they are never sent.  Messages: one scalar per coordinate per direction of a
matched edge; each agent needs m and its position.  An odd ring's edge where only one end applies its update still
carries both directions when sent through a runtime exchange (the exchange is symmetric);
:attr:`RingAveraging.useful_messages` counts the directions whose value is used.

Degenerate rings: one agent (no round), and two agents joined by one edge (one round, the ring of two).

>>> net = CommunicationNetwork.named("ring", ["a", "b", "c", "d", "e", "f"])
>>> ring = RingAveraging.from_network(net)
>>> ring.n_rounds, ring.matching(0)
(3, (('a', 'b'), ('c', 'd'), ('e', 'f')))
>>> ring.average(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 9.0])).tolist()
[4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ecodec.errors import EcodecError, NetworkError
from ecodec.network.graph import CommunicationNetwork
from ecodec.network.time_varying import ActiveGraph

log = logging.getLogger(__name__)

LEFT_END, RIGHT_END = "left", "right"  # the end of e_j = (j, j+1) an agent is on in a round


def ring_order(network: CommunicationNetwork) -> tuple[str, ...]:
    """The agents of ``network`` in cyclic order around its ring, starting at the first agent and continuing to
    its neighbour that comes first in agent order (so a ``ring`` network named over a, b, c, ... keeps that order).

    Raises NetworkError when the graph is not one cycle through every agent (one agent, or two joined by an edge,
    are the degenerate rings).

    >>> ring_order(CommunicationNetwork.from_edges("abcd", [("a", "c"), ("c", "b"), ("b", "d"), ("d", "a")]))
    ('a', 'c', 'b', 'd')
    """
    agents, m = network.agents, network.n_agents
    if m <= 2:
        return agents
    wrong = [a for a in agents if network.degree(a) != 2]
    if wrong:
        shown = ", ".join(f"'{a}' ({network.degree(a)})" for a in wrong[:3]) + (", ..." if len(wrong) > 3 else "")
        raise NetworkError(f"ring averaging needs a network that is one cycle through every agent (every agent with "
                           f"exactly two neighbours); the {network.describe()} is not: agents with another number "
                           f"of neighbours: {shown}")
    order, previous = [agents[0]], None
    current = agents[0]
    while len(order) < m:  # degree 2 everywhere and connected: the walk is the one cycle
        step = next(j for j in network.neighbours(current) if j != previous)
        previous, current = current, step
        order.append(current)
    return tuple(order)


@dataclass(frozen=True)
class RingRound:
    """One round: the matched edges as position pairs (j, j+1 mod m), the positions j that set R_j and the
    positions j+1 that set L_{j+1} (the guard may leave one end of an edge without an update), and those that set
    it from their complete partner's total instead (``adopts_right``: j from j+1; ``adopts_left``: j+1 from j)."""

    pairs: tuple[tuple[int, int], ...]
    sets_right: frozenset[int]
    sets_left: frozenset[int]
    adopts_right: frozenset[int] = frozenset()
    adopts_left: frozenset[int] = frozenset()


@dataclass
class RingState:
    """One agent's memory: its value x_j and the arc sums R_j, L_j (same shape as x_j)."""

    x: np.ndarray
    right: np.ndarray = field(init=False)
    left: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.x = np.array(self.x, dtype=float)
        self.right = np.zeros_like(self.x)
        self.left = np.zeros_like(self.x)


def _matchings(m: int) -> list[list[int]]:
    """The edges e_j (by j) of the matchings cycled: A, B for even m; A, B, C for odd m."""
    if m % 2 == 0:
        return [list(range(0, m, 2)), list(range(1, m, 2))]
    return [list(range(0, m - 1, 2)), list(range(1, m - 1, 2)), [m - 1]]


def _schedule(m: int) -> tuple[tuple[RingRound, ...], np.ndarray]:
    """The rounds of the module docstring for m agents and the final arc lengths (m x 2: c^R, c^L), from the
    arc-length recursion with the guard (for even m the guard never acts)."""
    right, left = np.zeros(m, dtype=int), np.zeros(m, dtype=int)
    rounds: list[RingRound] = []
    cycle = _matchings(m) if m >= 2 else []
    limit = 3 * m + 3  # far above every count measured (floor(3n/2) + 1 for odd m): a safety stop only
    while m >= 2 and np.any(right + left < m - 1):
        if len(rounds) >= limit:  # pragma: no cover - the recursion always finished in the measured range
            raise EcodecError(f"ring averaging over {m} agents did not finish within {limit} rounds")
        pairs, sets_right, sets_left, adopts_right, adopts_left = [], set(), set(), set(), set()
        new_right, new_left = right.copy(), left.copy()
        complete = right + left == m - 1
        for j in cycle[len(rounds) % len(cycle)]:
            k = (j + 1) % m
            grow_right = 1 + right[k]
            if complete[k] and not complete[j]:  # the partner knows the total: take it
                new_right[j] = m - 1 - left[j]
                adopts_right.add(j)
            elif grow_right > right[j] and grow_right + left[j] <= m - 1:
                new_right[j] = grow_right
                sets_right.add(j)
            grow_left = 1 + left[j]
            if complete[j] and not complete[k]:
                new_left[k] = m - 1 - right[k]
                adopts_left.add(k)
            elif grow_left > left[k] and grow_left + right[k] <= m - 1:
                new_left[k] = grow_left
                sets_left.add(k)
            if {j, k} & (sets_right | sets_left | adopts_right | adopts_left):
                pairs.append((j, k))
        right, left = new_right, new_left
        rounds.append(RingRound(tuple(pairs), frozenset(sets_right), frozenset(sets_left), frozenset(adopts_right),
                                frozenset(adopts_left)))
    return tuple(rounds), np.column_stack([right, left])


class RingAveraging:
    """The arc-sum gossip schedule over agents in ring ``order`` (math: module docstring).

    Per agent: :meth:`start` makes its state, :meth:`message` is what it sends in round r, :meth:`receive` applies
    what it got, :meth:`result` is its output.  :meth:`average` runs all agents in this process.

    >>> ring = RingAveraging(["a", "b"])
    >>> state_a, state_b = ring.start(1.0), ring.start(3.0)
    >>> sent = {"a": ring.message(0, "a", state_a), "b": ring.message(0, "b", state_b)}
    >>> ring.receive(0, "a", state_a, {"b": sent["b"]}); ring.receive(0, "b", state_b, {"a": sent["a"]})
    >>> float(ring.result(state_a)), float(ring.result(state_b))
    (2.0, 2.0)
    """

    def __init__(self, order: Sequence[str]):
        self.order = tuple(order)
        if not self.order or len(set(self.order)) != len(self.order):
            raise NetworkError(f"ring averaging needs one or more distinct agent names, got {self.order!r}")
        self.m = len(self.order)
        self.position = {name: j for j, name in enumerate(self.order)}
        self.rounds, self.arc_lengths = _schedule(self.m)
        self._roles = [self._roles_of(r) for r in self.rounds]
        log.debug("ring averaging over %d agents: %d rounds", self.m, self.n_rounds)

    @classmethod
    def from_network(cls, network: CommunicationNetwork) -> RingAveraging:
        """The schedule over the ring of ``network`` (:func:`ring_order`; NetworkError when it is not a ring)."""
        return cls(ring_order(network))

    @property
    def n_rounds(self) -> int:
        """Rounds until every agent knows the exact mean (n for m = 2n; measured for odd m)."""
        return len(self.rounds)

    @property
    def useful_messages(self) -> int:
        """Messages (one per direction of a matched edge) whose value the receiver uses, over all rounds."""
        return sum(len(r.sets_right) + len(r.sets_left) + len(r.adopts_right) + len(r.adopts_left)
                   for r in self.rounds)

    def matching(self, r: int) -> tuple[tuple[str, str], ...]:
        """The agent pairs (left end, right end of e_j) that talk in round ``r`` (0-based)."""
        return tuple((self.order[j], self.order[k]) for j, k in self._round(r).pairs)

    def active_graph(self, r: int) -> ActiveGraph:
        """Round ``r``'s matching as the graph a runtime exchange sends over (agents in ring order)."""
        return ActiveGraph(self.order, self.matching(r))

    def start(self, value: np.ndarray | float) -> RingState:
        """An agent's state before round 0: its value, R = L = 0."""
        return RingState(value)

    def message(self, r: int, name: str, state: RingState) -> np.ndarray:
        """What agent ``name`` sends in round ``r``: x_j + L_j to its right neighbour when it is the left end of
        its edge, x_j + R_j to its left neighbour when it is the right end, nothing (an empty array) when unmatched."""
        r = self._check(r)
        role = self._roles[r].get(self._position(name))
        if role is None:
            return np.empty(0)
        end, partner = role
        if partner in self.rounds[r].adopts_right | self.rounds[r].adopts_left:  # complete: send the total
            return state.x + state.left + state.right
        return state.x + (state.left if end == LEFT_END else state.right)

    def receive(self, r: int, name: str, state: RingState, inbox: Mapping[str, np.ndarray]) -> None:
        """Agent ``name`` applies round ``r``'s message from its partner (``inbox``: {partner: array}), if the
        schedule has it update an arc this round."""
        j = self._position(name)
        role = self._roles[self._check(r)].get(j)
        if role is None:
            return
        end, partner = role
        value = np.asarray(inbox[self.order[partner]], dtype=float)
        if j in self.rounds[r].adopts_right:  # the partner's total: R_j is what is not x_j or L_j
            state.right = value - state.x - state.left
        elif j in self.rounds[r].adopts_left:
            state.left = value - state.x - state.right
        elif end == LEFT_END and j in self.rounds[r].sets_right:
            state.right = value.copy()
        elif end == RIGHT_END and j in self.rounds[r].sets_left:
            state.left = value.copy()

    def result(self, state: RingState) -> np.ndarray:
        """The agent's output (x_j + L_j + R_j) / m: the exact mean once every round has run."""
        return (state.x + state.left + state.right) / self.m

    def average(self, values: np.ndarray | Sequence[float]) -> np.ndarray:
        """Every agent's output after all rounds, all agents in this process (the updates of a round applied to
        arrays at once): ``values`` is (m,) or (m, d), row j the value of the agent at ring position j; the answer
        has the same shape, every row the mean.

        >>> RingAveraging(["p", "q", "r"]).average([[0.0, 3.0], [3.0, 3.0], [6.0, 0.0]]).tolist()
        [[3.0, 2.0], [3.0, 2.0], [3.0, 2.0]]
        """
        array = np.asarray(values, dtype=float)
        if array.ndim not in (1, 2) or array.shape[0] != self.m:
            raise EcodecError(f"ring averaging over {self.m} agents needs values of shape ({self.m},) or "
                              f"({self.m}, d), got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise EcodecError("ring averaging needs finite values; got "
                              f"{array.reshape(-1)[~np.isfinite(array.reshape(-1))][0]!r}")
        right, left = np.zeros_like(array), np.zeros_like(array)
        for round_ in self.rounds:  # every agent's update of the round at once, from the values before it
            to_right = np.fromiter(round_.sets_right, dtype=int, count=len(round_.sets_right))
            to_left = np.fromiter(round_.sets_left, dtype=int, count=len(round_.sets_left))
            new_right = array[(to_right + 1) % self.m] + right[(to_right + 1) % self.m]
            new_left = array[(to_left - 1) % self.m] + left[(to_left - 1) % self.m]
            total = array + left + right
            from_right = np.fromiter(round_.adopts_right, dtype=int, count=len(round_.adopts_right))
            from_left = np.fromiter(round_.adopts_left, dtype=int, count=len(round_.adopts_left))
            adopted_right = total[(from_right + 1) % self.m] - array[from_right] - left[from_right]
            adopted_left = total[(from_left - 1) % self.m] - array[from_left] - right[from_left]
            right[to_right], left[to_left] = new_right, new_left
            right[from_right], left[from_left] = adopted_right, adopted_left
        return (array + left + right) / self.m

    # -- internals ---------------------------------------------------------------------------------------
    def _roles_of(self, round_: RingRound) -> dict[int, tuple[str, int]]:
        roles: dict[int, tuple[str, int]] = {}
        for j, k in round_.pairs:
            roles[j], roles[k] = (LEFT_END, k), (RIGHT_END, j)
        return roles

    def _round(self, r: int) -> RingRound:
        return self.rounds[self._check(r)]

    def _check(self, r: int) -> int:
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < self.n_rounds:
            raise EcodecError(f"round must be an integer in 0..{self.n_rounds - 1} for ring averaging over {self.m} "
                              f"agents, got {r!r}")
        return int(r)

    def _position(self, name: str) -> int:
        try:
            return self.position[name]
        except KeyError:
            raise NetworkError(f"unknown agent {name!r}; the ring is {', '.join(self.order)}") from None


__all__ = ["RingAveraging", "RingRound", "RingState", "ring_order"]
