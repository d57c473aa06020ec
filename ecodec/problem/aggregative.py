"""AggregativeProblem: agents coupled through aggregates of everyone's decisions (the community market).

    min_x  sum_i f_i(x_i, sigma(x))    s.t.  x_i in X_i,      sigma_{k,t}(x) = (1/N) sum_i phi_{i,k,t}(x_i)

(:class:`~ecodec.models.base.AggregativeAgent`).  There is no coupling constraint: the agents interact only
through sigma, a vector of K aggregates per step.  As :class:`~ecodec.problem.CoupledProblem` does for resource
coupling, both views come from the same ``build`` code:

* ``centralized_model()``: one ConcreteModel, one Block per agent (``m.agents[name]``), the aggregates as
  variables ``m.sigma[k, t]`` tied to the mean of every agent's share by the rows ``m.aggregate[k, t]``,
  objective sum_i f_i;
* ``local_model(agent)``: that agent alone on ``m.agent``, with the aggregates replaced by free variables
  ``m.sigma[k, t]`` (the agent's estimate s_i of sigma in a distributed method) and f_i(x_i, s_i) as objective.

The problem has no coupling rows (``resources`` is empty), so results of it have an empty coupling table and a
coupling violation of zero.
"""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr

from ecodec.errors import ProblemError
from ecodec.vocabulary import KindWords
from ecodec.models.base import AggregativeAgent, AggregativeTerms, TimeGrid
from ecodec.problem.coupled import BuiltModel, agent_named, check_unique_names


class AggregativeProblem:
    """Agents whose costs depend on their own decisions and on aggregates of all decisions."""

    kind = "aggregative"
    #: The report sections that apply: no coupling rows, so no dispatch of resources, storage, grid or prices
    report_sections = ("glance", "case", "convergence", "market", "learning", "costs", "details")
    words = KindWords("market cases (buyers and sellers)",
                      "a market whose agents are coupled through aggregates")
    problem_class = "NLP"

    def __init__(self, agents: list[AggregativeAgent], grid: TimeGrid, *, name: str = "case",
                 currency: str = "EUR"):
        self.agents = list(agents)
        self.grid = grid
        self.name = name
        self.currency = currency
        self.resources: list = []
        if len(self.agents) < 2:
            raise ProblemError("an aggregative problem needs at least two agents")
        check_unique_names(self.agents)
        for agent in self.agents:
            agent.validate(grid)
        kinds = {a.aggregates for a in self.agents}
        if len(kinds) != 1:
            raise ProblemError("the agents of an aggregative problem must share one list of aggregates; got "
                               + "; ".join(f"{a.name}: {', '.join(a.aggregates)}" for a in self.agents))
        self.aggregates: tuple[str, ...] = self.agents[0].aggregates

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    def agent(self, name: str) -> AggregativeAgent:
        return agent_named(self.agents, name, self.__dict__.setdefault("_agent_index", {}))

    def is_mixed_integer(self) -> bool:
        return False

    def coupling_description(self) -> str:
        """What couples the agents, in words: the aggregates."""
        return f"agents coupled through the aggregates {', '.join(self.aggregates)}"

    def keys(self) -> list[tuple[str, int]]:
        """(aggregate, step) in the order of the vector sigma: aggregates outer, steps inner."""
        return [(k, t) for k in self.aggregates for t in self.grid.steps]

    # -- views -------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Build the centralized model once: it checks what each agent's build returns against the problem."""
        self.centralized_model()

    def centralized_model(self) -> BuiltModel:
        """Every agent, the aggregates as variables defined by the mean of the shares, objective: total cost.

        sigma is lifted: ``m.sigma[k, t]`` is a variable and ``m.aggregate[k, t]`` the constraint
        sigma_{k,t} = (1/N) sum_i phi_{i,k,t}(x_i) (``m.share_mean[k, t]``).  Each cost then involves only its agent's
        decisions and sigma, so the Hessian of the Lagrangian stays sparse (about N (1 + K T) entries per step
        instead of dense in all N decisions, which took more than 20 GB of symbolic derivatives at 80 agents).
        sigma's bounds are those the shares' bounds imply (interval arithmetic on each share), so an iterate never
        leaves the region where the costs are defined (a positive total bid).  :meth:`set_aggregates` puts sigma
        at the decisions' current values (a consistent starting point).
        """
        m = pyo.ConcreteModel(name=self.name)
        m.agents = pyo.Block([a.name for a in self.agents])
        keys = self.keys()
        m.sigma = pyo.Var(keys)
        sigma = {k: [m.sigma[k, t] for t in self.grid.steps] for k in self.aggregates}
        terms = {a.name: a.build(m.agents[a.name], self.grid, sigma) for a in self.agents}
        self._check_shares(terms)
        shares = {key: [terms[a.name].shares[key[0]][key[1]] for a in self.agents if key[0] in terms[a.name].shares]
                  for key in keys}
        m.share_mean = pyo.Expression(keys, rule=lambda m, k, t: sum(shares[k, t]) / self.n_agents)
        m.aggregate = pyo.Constraint(keys, rule=lambda m, k, t: m.sigma[k, t] == m.share_mean[k, t])
        for key in keys:
            low, high = 0.0, 0.0
            for share in shares[key]:
                lo, hi = compute_bounds_on_expr(share)
                low = None if low is None or lo is None else low + lo
                high = None if high is None or hi is None else high + hi
            m.sigma[key].setlb(None if low is None else low / self.n_agents)
            m.sigma[key].setub(None if high is None else high / self.n_agents)
        self.set_aggregates(BuiltModel(m, terms))
        m.objective = pyo.Objective(expr=sum(terms[a.name].cost for a in self.agents), sense=pyo.minimize)
        return BuiltModel(m, terms)

    def set_aggregates(self, built: BuiltModel) -> None:
        """sigma of the centralized model set to the mean of the shares at the decisions' current values."""
        m = built.model
        for key in self.keys():
            m.sigma[key].set_value(float(pyo.value(m.share_mean[key])), skip_validation=True)

    def local_model(self, agent: AggregativeAgent) -> BuiltModel:
        """That agent alone, the aggregates as free variables ``m.sigma`` (its estimate), its cost as objective."""
        m = pyo.ConcreteModel(name=f"{self.name}:{agent.name}")
        m.agent = pyo.Block()
        m.sigma = pyo.Var(self.keys(), initialize=1.0)
        sigma = {k: [m.sigma[k, t] for t in self.grid.steps] for k in self.aggregates}
        terms = agent.build(m.agent, self.grid, sigma)
        self._check_shares({agent.name: terms})
        m.objective = pyo.Objective(expr=terms.cost, sense=pyo.minimize)
        return BuiltModel(m, {agent.name: terms})

    @staticmethod
    def decision_quantities(agent: AggregativeAgent, block: pyo.Block) -> list[str]:
        """The agent's reported quantities that are its decision variables (a buyer's bid, a seller's
        fraction_sold), as opposed to quantities that follow from them and from sigma."""
        return [o.quantity for o in agent.reported_outputs(block) if block.component(o.component).ctype is pyo.Var]

    def _check_shares(self, terms: dict[str, AggregativeTerms]) -> None:
        problems = []
        for name, agent_terms in terms.items():
            for k, exprs in agent_terms.shares.items():
                if k not in self.aggregates:
                    problems.append(f"agent '{name}' has a share of '{k}', which is not one of the aggregates "
                                    f"{', '.join(self.aggregates)}")
                elif len(exprs) != self.grid.T:
                    problems.append(f"agent '{name}' gives {len(exprs)} steps for '{k}', expected T = {self.grid.T}")
        if problems:
            raise ProblemError("; ".join(problems))
