"""DeploymentProblem: agents in a 2-D workspace whose kernels, averaged, should match a target density (MACROPT).

Source: Brumali, Carnevale, Notarstefano, "Distributed learning and optimization of a multi-agent macroscopic
probabilistic model" (European Journal of Control 86, 2025; ALGORITHMS_WAVE2.md section 3).  The paper's
body was not available: the workspace grid, the kernels, the target and the direction of the divergence are
ecodec's labelled choices ``[D]``, each a parameter.

The workspace [x_min, x_max] x [y_min, y_max] is cut into nx x ny cells (centres m_c, area A).  Agent i at x_i
contributes the kernel p_i(x_i) in R^C (:mod:`ecodec.models.sensor`); the macroscopic model is

    p(x) = (1/N) sum_i p_i(x_i)

and the cost the Kullback-Leibler divergence to the target p* (a Gaussian mixture at the cell centres, normalised
over the cells), in one of two directions (``divergence``; 'model-target' by default, since the slope -p*/p of
the other is unbounded where a tracked estimate of p is thin: measured on 20 agents over 25 x 25 cells, MACROPT
with 'target-model' rose again at steps 5 and 20, with 'model-target' it decreased monotonically at step 5):

    'target-model'  KL(p* || p) = sum_c p*_c log(p*_c / p_c),     dl/dp_c = -p*_c / p_c
    'model-target'  KL(p || p*) = sum_c p_c log(p_c / p*_c),      dl/dp_c = log(p_c / p*_c) + 1

evaluated at P_E(p) = max(p, eps) componentwise, eps = ``floor`` / C, so log and 1/p stay finite (the paper's
projection P_E; a tracked estimate of p can be negative).  The gradient in agent i's position is

    grad_i = (1/N) J_i(x_i)' dl/dp,      J_i = d p_i / d x_i  in R^{C x 2},  J_i[c] = p_i^c (m_c - x_i) / s_i^2.

Positions stay in the workspace (the methods project on it).  Nothing here is random.

>>> from ecodec.models import Sensor
>>> problem = DeploymentProblem([Sensor("a", x0_m=20.0, y0_m=20.0)], Workspace(0, 40, 0, 40, 20, 20),
...                             [TargetComponent(30.0, 30.0, 5.0, 1.0)])
>>> x = problem.initial_positions()
>>> round(problem.divergence(problem.model(x)), 3), problem.gradient(x).round(3).tolist()  # descent: toward (30, 30)
(3.95, [[-0.397, -0.397]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.errors import ProblemError
from ecodec.models.base import DeploymentAgent, TimeGrid
from ecodec.problem.coupled import BuiltModel, agent_named, check_unique_names
from ecodec.vocabulary import KindWords

DIVERGENCES = ("target-model", "model-target")
#: The unit of a deployment case's objective (the divergence, in nats)
DIVERGENCE_UNIT = "nat"


@dataclass(frozen=True)
class Workspace:
    """The rectangle [x_min, x_max] x [y_min, y_max] cut into nx x ny equal cells."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    nx: int
    ny: int

    def __post_init__(self):
        if not (self.x_max > self.x_min and self.y_max > self.y_min and self.nx >= 1 and self.ny >= 1):
            raise ProblemError(f"the workspace must have x_max > x_min, y_max > y_min and at least one cell each way; "
                               f"got [{self.x_min}, {self.x_max}] x [{self.y_min}, {self.y_max}], {self.nx} x {self.ny}")

    @property
    def cell_area(self) -> float:
        return (self.x_max - self.x_min) / self.nx * (self.y_max - self.y_min) / self.ny

    def centres(self) -> np.ndarray:
        """(C, 2) cell centres, x varying fastest."""
        xs = self.x_min + (np.arange(self.nx) + 0.5) * (self.x_max - self.x_min) / self.nx
        ys = self.y_min + (np.arange(self.ny) + 0.5) * (self.y_max - self.y_min) / self.ny
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()])

    def project(self, positions: np.ndarray) -> np.ndarray:
        """Positions clipped into the workspace."""
        return np.column_stack([np.clip(positions[:, 0], self.x_min, self.x_max),
                                np.clip(positions[:, 1], self.y_min, self.y_max)])


@dataclass(frozen=True)
class TargetComponent:
    """One Gaussian of the target mixture: centre, standard deviation (isotropic) and weight."""

    x_m: float
    y_m: float
    std_m: float
    weight: float


def gaussian_cells(centres: np.ndarray, at: np.ndarray, std: np.ndarray, area: float) -> np.ndarray:
    """(K, C): area times the isotropic Gaussian density of each of K points ``at`` (K, 2) with standard deviations
    ``std`` (K,), at every cell centre."""
    squared = ((centres[None, :, :] - at[:, None, :]) ** 2).sum(axis=2)
    variance = std[:, None] ** 2
    return area * np.exp(-squared / (2.0 * variance)) / (2.0 * np.pi * variance)


class DeploymentProblem:
    """Agents whose averaged kernels should match a target density (see the module docstring)."""

    kind = "deployment"
    report_sections = ("glance", "case", "deployment", "details")
    words = KindWords("deployment cases (sensors in a workspace)",
                      "agents whose kernels, averaged, should match a target density")
    problem_class = "NLP"

    def __init__(self, agents: list[DeploymentAgent], workspace: Workspace, target: list[TargetComponent], *,
                 divergence: str = "model-target", floor: float = 1e-6, name: str = "case"):
        self.agents = list(agents)
        self.workspace, self.target_components = workspace, list(target)
        self.divergence_direction, self.floor = divergence, floor
        self.grid = TimeGrid(1, 1.0)
        self.name, self.currency, self.resources = name, DIVERGENCE_UNIT, []
        if not self.agents:
            raise ProblemError("a deployment problem needs at least one agent")
        check_unique_names(self.agents)
        if divergence not in DIVERGENCES:
            raise ProblemError(f"divergence must be one of {', '.join(DIVERGENCES)}, got {divergence!r}")
        if not self.target_components or any(c.std_m <= 0 or c.weight <= 0 for c in self.target_components):
            raise ProblemError("the target needs at least one Gaussian, each with std_m > 0 and weight > 0")
        outside = [a.name for a in self.agents if not (workspace.x_min <= a.x0_m <= workspace.x_max
                                                       and workspace.y_min <= a.y0_m <= workspace.y_max)]
        if outside:
            raise ProblemError(f"agents start outside the workspace: {', '.join(outside)}")
        self.centres = workspace.centres()
        self.widths = np.array([a.kernel_width_m for a in self.agents])
        components = self.target_components
        mixture = (np.array([c.weight for c in components])[:, None] * gaussian_cells(
            self.centres, np.array([[c.x_m, c.y_m] for c in components]), np.array([c.std_m for c in components]),
            workspace.cell_area)).sum(axis=0)
        self.target = mixture / mixture.sum()
        self.epsilon = floor / self.centres.shape[0]

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_cells(self) -> int:
        return int(self.centres.shape[0])

    def agent(self, name: str) -> DeploymentAgent:
        return agent_named(self.agents, name, self.__dict__.setdefault("_agent_index", {}))

    def is_mixed_integer(self) -> bool:
        return False

    def coupling_description(self) -> str:
        return (f"{self.n_agents} agents whose kernels should match a {len(self.target_components)}-Gaussian target "
                f"over {self.workspace.nx} x {self.workspace.ny} cells (KL, {self.divergence_direction})")

    def initial_positions(self) -> np.ndarray:
        return np.array([[a.x0_m, a.y0_m] for a in self.agents], dtype=float)

    # -- the model and its divergence ------------------------------------------------------------------------
    def kernels(self, positions: np.ndarray, widths: np.ndarray | None = None) -> np.ndarray:
        """(K, C) kernels of K agents at ``positions`` (K, 2) with their ``widths`` (default: every agent's)."""
        return gaussian_cells(self.centres, positions, self.widths if widths is None else widths,
                              self.workspace.cell_area)

    def model(self, positions: np.ndarray) -> np.ndarray:
        """p(x) = (1/N) sum_i p_i(x_i)."""
        return self.kernels(positions).mean(axis=0)

    def divergence(self, p: np.ndarray) -> float:
        """The KL of the module docstring at P_E(p)."""
        q = np.maximum(p, self.epsilon)
        t = self.target
        if self.divergence_direction == "target-model":
            return float(np.sum(np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0) / q), 0.0)))
        return float(np.sum(q * np.log(q / np.maximum(t, self.epsilon))))

    def divergence_slope(self, p: np.ndarray, *, exact: bool = False) -> np.ndarray:
        """dl/dp at P_E(p) (C,), as MACROPT's update reads it; with ``exact``, the derivative of l(P_E(p)) in p,
        which is zero where P_E cuts p off (what the divergence's own gradient needs)."""
        q = np.maximum(p, self.epsilon)
        if self.divergence_direction == "target-model":
            slope = -self.target / q
        else:
            slope = np.log(q / np.maximum(self.target, self.epsilon)) + 1.0
        return np.where(p > self.epsilon, slope, 0.0) if exact else slope

    def kernel_step(self, positions: np.ndarray, widths: np.ndarray, slope: np.ndarray,
                    kernels: np.ndarray) -> np.ndarray:
        """(K, 2): J_i(x_i)' slope for K agents at ``positions`` whose ``kernels`` (K, C) are already evaluated,
        J_i[c] = p_i^c (m_c - x_i) / s_i^2."""
        weighted = kernels * slope[None, :]
        moment = weighted @ self.centres - weighted.sum(axis=1, keepdims=True) * positions
        return moment / widths[:, None] ** 2

    def gradient(self, positions: np.ndarray, kernels: np.ndarray | None = None) -> np.ndarray:
        """(N, 2): the gradient of the divergence of p(x) in every agent's position (``kernels``: every agent's at
        ``positions``, when the caller has them already)."""
        kernels = self.kernels(positions) if kernels is None else kernels
        slope = self.divergence_slope(kernels.mean(axis=0), exact=True)
        return self.kernel_step(positions, self.widths, slope, kernels) / self.n_agents

    def check(self) -> None:
        """Everything was checked when the problem was made (agents inside the workspace, a valid target)."""

    def layout(self) -> dict:
        """What a report draws the positions over: the workspace ([x_min, x_max, y_min, y_max, nx, ny]) and the
        target density per cell (x varying fastest)."""
        ws = self.workspace
        return {"workspace": [ws.x_min, ws.x_max, ws.y_min, ws.y_max, ws.nx, ws.ny],
                "target": self.target.tolist()}

    # -- the Pyomo views (the same cost written as a model: for small cases and the tests) --------------------
    def centralized_model(self) -> BuiltModel:
        """Every agent's position as Pyomo variables within the workspace and the divergence of p(x) at P_E as the
        objective (without P_E), each kernel an expression (about N x C exponentials: meant for small cases; the
        reference solve uses :meth:`gradient` with L-BFGS-B)."""
        m = pyo.ConcreteModel(name=self.name)
        m.agents = pyo.Block([a.name for a in self.agents])
        terms = {a.name: self._kernel_block(m.agents[a.name], a) for a in self.agents}
        cells = range(self.n_cells)
        m.p = pyo.Expression(cells, rule=lambda m, c: sum(terms[a.name][c] for a in self.agents) / self.n_agents)
        m.objective = pyo.Objective(expr=self._divergence_expression(m.p), sense=pyo.minimize)
        return BuiltModel(m, {})

    def local_model(self, agent: DeploymentAgent) -> BuiltModel:
        """The agent alone: its position and its kernel as expressions ``kernel[c]`` (no objective of its own)."""
        m = pyo.ConcreteModel(name=f"{self.name}:{agent.name}")
        m.agent = pyo.Block()
        self._kernel_block(m.agent, agent)
        return BuiltModel(m, {})

    def _kernel_block(self, b: pyo.Block, agent: DeploymentAgent) -> pyo.Expression:
        ws, s2, area = self.workspace, agent.kernel_width_m ** 2, self.workspace.cell_area
        b.x = pyo.Var(bounds=(ws.x_min, ws.x_max), initialize=agent.x0_m)
        b.y = pyo.Var(bounds=(ws.y_min, ws.y_max), initialize=agent.y0_m)
        b.kernel = pyo.Expression(range(self.n_cells), rule=lambda b, c: area / (2 * np.pi * s2) * pyo.exp(
            -((float(self.centres[c, 0]) - b.x) ** 2 + (float(self.centres[c, 1]) - b.y) ** 2) / (2 * s2)))
        return b.kernel

    def _divergence_expression(self, p):
        """The divergence of the module docstring without P_E (the identity wherever p > eps, which holds on every
        cell within a few kernel widths of an agent)."""
        t, eps = self.target, self.epsilon
        if self.divergence_direction == "target-model":
            return sum(float(t[c]) * (float(np.log(t[c])) - pyo.log(p[c])) for c in range(self.n_cells) if t[c] > 0)
        return sum(p[c] * (pyo.log(p[c]) - float(np.log(max(t[c], eps)))) for c in range(self.n_cells))

    def stationarity(self, positions: np.ndarray, kernels: np.ndarray | None = None) -> float:
        """The norm of the projected gradient step (x - P(x - g)): zero exactly at a stationary point of the
        divergence over the workspace (``kernels`` as for :meth:`gradient`)."""
        step = positions - self.gradient(positions, kernels)
        return float(np.linalg.norm(positions - self.workspace.project(step)))


__all__ = ["DIVERGENCES", "DeploymentProblem", "TargetComponent", "Workspace", "gaussian_cells"]
