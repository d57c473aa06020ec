"""The result of a sensitivity analysis of a resource-sharing LP to the arrival of a new agent.

What :func:`ecodec.study.sensitivity.sensitivity_analysis` computes, as data the report and the command line
only read (:mod:`ecodec.report.sensitivity_section`, ``ecodec sensitivity``).  A directory holds it:

==================  ======================================================================================
file                content
==================  ======================================================================================
``summary.json``    the scalars: case, N, beta, s* and eps(s*) under both rules, the Monte-Carlo counts,
                    the frequency and its Clopper-Pearson interval, tolerances, timings, seed
``resources.csv``   resource, unit, capacity, price, price_unit: each shared row and its price lambda*
``agents.csv``      agent, support_allocation, support_price, gap: the leave-one-out test of every agent
``draws.csv``       draw, agent_seed, gap, price_change, changes_allocation, changes_price: each new agent
``epsilon.csv``     k, eps: the wait-and-judge eps(k) for k = 0 .. N at the result's beta
==================  ======================================================================================

``summary.json`` also holds ``frequency``, ``support_agents`` and ``bound_holds`` (the lower end of the interval is
at most eps(s*): the Monte-Carlo check does not contradict the bound), and ``interrupted`` (the Monte-Carlo check
was stopped by Ctrl-C; ``draws`` counts the new agents judged).  Floats are written with 17 significant digits,
so a saved result loads back equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from ecodec.errors import EcodecError
from ecodec.files import atomic_write

SUMMARY_FILE = "summary.json"
TABLES = ("resources", "agents", "draws", "epsilon")
_FLOAT_FORMAT = "%.17g"


@dataclass
class SensitivityResult:
    """Scalars (see the module docstring) and four tables.  ``frequency`` = ``changes`` / ``draws``;
    ``interval`` its Clopper-Pearson interval at level ``interval_level``.

    >>> import tempfile
    >>> r = SensitivityResult(case="demo", description="", n_agents=2, beta=0.01, s_star=1, eps_s_star=0.5,
    ...                       s_star_price=2, eps_s_star_price=1.0, draws=10, changes=3, changes_price=4,
    ...                       interval=(0.07, 0.65), interval_level=0.95)
    >>> load_sensitivity(r.save(tempfile.mkdtemp())).frequency
    0.3
    """

    case: str
    description: str
    n_agents: int
    beta: float
    s_star: int
    eps_s_star: float
    s_star_price: int
    eps_s_star_price: float
    draws: int
    changes: int
    changes_price: int
    interval: tuple[float, float]
    interval_level: float
    objective: float = float("nan")
    objective_unit: str = ""
    currency: str = "EUR"
    seed: int = 0
    tolerances: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    population: str = ""
    interrupted: bool = False
    resources: pd.DataFrame = field(default_factory=pd.DataFrame)
    agents: pd.DataFrame = field(default_factory=pd.DataFrame)
    draws_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    epsilon: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def frequency(self) -> float:
        return self.changes / self.draws if self.draws else float("nan")

    @property
    def frequency_price(self) -> float:
        return self.changes_price / self.draws if self.draws else float("nan")

    @property
    def support_agents(self) -> list[str]:
        if self.agents.empty:
            return []
        return [str(a) for a in self.agents.loc[self.agents["support_allocation"].astype(bool), "agent"]]

    def summary(self) -> dict[str, object]:
        """The scalars as JSON-ready data (what ``--json`` prints and summary.json holds)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if not isinstance(getattr(self, f.name),
                                                                                  pd.DataFrame)}
        out["interval"] = list(self.interval)
        out.update(frequency=self.frequency, frequency_price=self.frequency_price,
                   support_agents=self.support_agents,
                   bound_holds=bool(self.interval[0] <= self.eps_s_star) if self.draws else None)
        return out

    def save(self, directory: str | Path) -> Path:
        """Write the result into ``directory`` (created when missing); returns it."""
        directory = Path(directory)
        for name in TABLES:
            frame = self._table(name)
            atomic_write(directory / f"{name}.csv",
                         lambda tmp, frame=frame: frame.to_csv(tmp, index=False, float_format=_FLOAT_FORMAT))
        text = json.dumps(self.summary(), indent=2, default=float) + "\n"
        atomic_write(directory / SUMMARY_FILE, lambda tmp: tmp.write_text(text))
        return directory

    def _table(self, name: str) -> pd.DataFrame:
        return self.draws_table if name == "draws" else getattr(self, name)


def load_sensitivity(directory: str | Path) -> SensitivityResult:
    """The result saved in ``directory`` by :meth:`SensitivityResult.save`."""
    directory = Path(directory)
    try:
        summary = json.loads((directory / SUMMARY_FILE).read_text())
        tables = {name: _read_csv(directory / f"{name}.csv") for name in TABLES}
    except FileNotFoundError as exc:
        raise EcodecError(f"{directory}: not a sensitivity result saved by ecodec ({Path(exc.filename).name} is "
                          "missing)") from None
    except ValueError as exc:
        raise EcodecError(f"{directory}: a file of the sensitivity result cannot be read ({exc})") from None
    names = {f.name for f in fields(SensitivityResult)} - {"resources", "agents", "draws_table", "epsilon"}
    missing = _REQUIRED - set(summary)
    if missing:
        raise EcodecError(f"{directory / SUMMARY_FILE}: missing {', '.join(sorted(missing))}; expected a summary "
                          "written by ecodec sensitivity")
    values = {k: summary[k] for k in names if k in summary}
    values["interval"] = tuple(values["interval"])
    return SensitivityResult(**values, resources=tables["resources"], agents=tables["agents"],
                             draws_table=tables["draws"], epsilon=tables["epsilon"])


_REQUIRED = {"case", "description", "n_agents", "beta", "s_star", "eps_s_star", "s_star_price", "eps_s_star_price",
             "draws", "changes", "changes_price", "interval", "interval_level"}


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return pd.DataFrame()

