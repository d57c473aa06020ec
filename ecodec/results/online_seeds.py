"""Online sharing runs repeated over seeds: the curves and energy levels of every seed, and their mean with a
confidence band (the paper's Figures 4, 5, 7 and 8 are means over repetitions).

An online method learns from random draws (the environment's generation and its own directions), so one run says
little; :func:`ecodec.study.compare_case` runs every method on R seeds (each seed one environment, the same for
every method) and keeps here, per method and seed:

* ``curves``: per round, the cumulative loss, the dynamic regret, the cumulative hard-constraint violation (kW)
  and the regret per round (history columns of :mod:`ecodec.decomposition.bandit_sharing`);
* ``levels``: per node, the energy level over the horizon as a share of its demand, before sharing (its own
  generation: sum_t d_i,t / sum_t l_i,t) and after (what it received: sum_t E_i,t / sum_t l_i,t), from the run's
  dispatch (:func:`energy_levels`); the comparator's levels are those of the best allocation in hindsight.

The band of a mean over R seeds is the two-sided Student-t interval mean +- t_{(1+c)/2, R-1} s / sqrt(R) at
confidence c (0.95 by default; none for one seed).

>>> import pandas as pd
>>> curves = pd.DataFrame({"method": "drs", "seed": [0, 0, 1, 1], "round": [1, 2, 1, 2],
...                        "cumulative_loss": [1.0, 2.0, 3.0, 4.0], "dynamic_regret": 0.0,
...                        "cumulative_violation": 0.0, "regret_per_round": 0.0})
>>> band = SeedRuns(curves, pd.DataFrame(columns=LEVEL_COLUMNS)).band("drs", "cumulative_loss")
>>> band["mean"].tolist(), [round(v, 3) for v in band["high"]]
([2.0, 3.0], [14.706, 15.706])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CURVE_COLUMNS = ("cumulative_loss", "dynamic_regret", "cumulative_violation", "regret_per_round")
LEVEL_COLUMNS = ["method", "seed", "node", "before", "after"]
CONFIDENCE = 0.95


def energy_levels(dispatch: pd.DataFrame) -> pd.DataFrame:
    """Per node of an online run: its energy level over the horizon before sharing (generation over demand) and
    after (energy received over demand); columns node, before, after, in the dispatch's node order."""
    def total(quantity: str) -> pd.Series:
        rows = dispatch[dispatch["quantity"] == quantity]
        return rows.groupby("agent", sort=False)["value"].sum()

    demand = total("demand")
    safe = demand.where(demand > 0)
    return pd.DataFrame({"node": demand.index, "before": (total("generation") / safe).to_numpy(),
                         "after": (total("received") / safe).to_numpy()})


def half_width(values: np.ndarray, confidence: float = CONFIDENCE) -> float:
    """Half the width of the Student-t confidence interval of the mean of ``values`` (0 for one value)."""
    n = len(values)
    if n < 2:
        return 0.0
    return float(stats.t.ppf((1 + confidence) / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n))


@dataclass
class SeedRuns:
    """The curves and levels of every method and seed (see the module docstring)."""

    curves: pd.DataFrame
    levels: pd.DataFrame

    @classmethod
    def collect(cls, runs_by_seed: dict[int, list]) -> SeedRuns:
        """From the runs of each seed (the comparator's run first, as ``compare_case`` makes them)."""
        curves, levels = [], []
        for seed, runs in runs_by_seed.items():
            for run in runs:
                if not run.has_solution:
                    continue
                if not run.history.empty:
                    frame = run.history[list(CURVE_COLUMNS)].copy()
                    frame.insert(0, "round", run.history["iteration"].to_numpy())
                    frame.insert(0, "seed", seed)
                    frame.insert(0, "method", run.method)
                    curves.append(frame)
                level = energy_levels(run.dispatch)
                level.insert(0, "seed", seed)
                level.insert(0, "method", run.method)
                levels.append(level)
        empty = pd.DataFrame(columns=["method", "seed", "round", *CURVE_COLUMNS])
        return cls(pd.concat(curves, ignore_index=True) if curves else empty,
                   pd.concat(levels, ignore_index=True) if levels else pd.DataFrame(columns=LEVEL_COLUMNS))

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.curves["method"]))

    @property
    def seeds(self) -> list[int]:
        return sorted({int(s) for s in self.levels["seed"]})

    def band(self, method: str, column: str, confidence: float = CONFIDENCE) -> pd.DataFrame:
        """Per round: the mean of ``column`` over the seeds of ``method`` and its confidence band (low, high)."""
        rows = self.curves[self.curves["method"] == method]
        grouped = rows.groupby("round")[column].agg(["mean", "std", "count"])
        n = grouped["count"].to_numpy()  # the same seeds in every round: one quantile, as half_width takes it
        quantile = stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1))
        width = np.where(n > 1, quantile * grouped["std"].fillna(0.0).to_numpy() / np.sqrt(n), 0.0)
        mean = grouped["mean"].to_numpy()
        return pd.DataFrame({"round": grouped.index, "mean": mean, "low": mean - width, "high": mean + width})

    def summary(self, confidence: float = CONFIDENCE) -> pd.DataFrame:
        """Per method: seeds, and the mean and confidence half-width over the seeds of the final cumulative loss,
        dynamic regret and cumulative violation, and the regret per round at a quarter, half and all of the
        horizon (sublinear regret: it falls)."""
        out = []
        for method in self.methods:
            rows = self.curves[self.curves["method"] == method]
            T = int(rows["round"].max())
            row = {"method": method, "seeds": int(rows["seed"].nunique()), "rounds": T}
            final = rows[rows["round"] == T]
            for column in ("cumulative_loss", "dynamic_regret", "cumulative_violation"):
                values = final[column].to_numpy(float)
                row[column] = float(values.mean())
                row[f"{column}_ci"] = half_width(values, confidence)
            for share, label in ((0.25, "quarter"), (0.5, "half"), (1.0, "end")):
                at = rows[rows["round"] == max(1, int(round(share * T)))]
                row[f"regret_per_round_{label}"] = float(at["regret_per_round"].mean())
            out.append(row)
        return pd.DataFrame(out)

    def format_table(self, confidence: float = CONFIDENCE) -> str:
        """The summary as a plain-text table for the terminal (means and +- half-widths over the seeds)."""
        summary = self.summary(confidence)
        if summary.empty:
            return "no online runs"
        header = ["method", "seeds", "cumulative loss", "dynamic regret", "violation [kW, summed]",
                  "regret/t at T/4, T/2, T"]
        lines = [[row["method"], str(row["seeds"]),
                  f"{row['cumulative_loss']:,.2f} +- {row['cumulative_loss_ci']:,.2f}",
                  f"{row['dynamic_regret']:,.2f} +- {row['dynamic_regret_ci']:,.2f}",
                  f"{row['cumulative_violation']:,.1f} +- {row['cumulative_violation_ci']:,.1f}",
                  f"{row['regret_per_round_quarter']:.3f}, {row['regret_per_round_half']:.3f}, "
                  f"{row['regret_per_round_end']:.3f}"] for row in summary.to_dict("records")]
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
        text = ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))
                for values in [header, ["-" * w for w in widths], *lines]]
        return (f"over {len(self.seeds)} seeds (mean +- half-width of the {confidence:.0%} confidence interval):\n"
                + "\n".join(text))

    def mean_levels(self) -> pd.DataFrame:
        """Per method and node: the mean over the seeds of the energy level before and after sharing."""
        return self.levels.groupby(["method", "node"], sort=False)[["before", "after"]].mean().reset_index()

    def to_json_dict(self) -> dict:
        """The summary per method and the mean levels per method and node, for ``--json``."""
        levels = self.mean_levels()
        return {"seeds": self.seeds,
                "methods": {row["method"]: {k: v for k, v in row.items() if k != "method"}
                            for row in self.summary().to_dict("records")},
                "energy_levels": {m: {r["node"]: {"before": r["before"], "after": r["after"]}
                                      for r in levels[levels["method"] == m].to_dict("records")}
                                  for m in dict.fromkeys(levels["method"])}}


def threshold_crossings(levels: pd.DataFrame, method: str) -> tuple[list[str], list[str]]:
    """The nodes whose mean level starts below 1.0 and, under ``method``, ends at or above it; and those below 1.0
    that it raises without reaching 1.0."""
    rows = levels[levels["method"] == method]
    short = rows[rows["before"] < 1.0]
    return (short[short["after"] >= 1.0]["node"].tolist(), short[short["after"] < 1.0]["node"].tolist())


__all__ = ["CONFIDENCE", "CURVE_COLUMNS", "LEVEL_COLUMNS", "SeedRuns", "energy_levels", "half_width",
           "threshold_crossings"]
