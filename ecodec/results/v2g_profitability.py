"""The result of a V2G profitability study (:mod:`ecodec.study.v2g_profitability`), saved and read back so that
the report only reads results.

Per reserve price of the grid (currency per kW and hour): the fleet's best expected profit with reserve (reserve
revenue - expected energy cost, the sampled program), its parts and band energy, the gain over charge-only
operation, the optimization's verdict (gain above the tolerance), the closed form's verdict (price above the
closed-form boundary) and the closed-form profit of the simplified case (lossless, bounds not binding; see
:mod:`ecodec.solvers.v2g_closed_form`).  Saved as ``v2g_profitability.json`` (everything) and ``v2g_grid.csv``
(the grid, for people) in one folder.

>>> import tempfile
>>> r = V2GProfitabilityResult(case="demo", vehicles=1, options={"policy": "robust"}, reserve_prices=[0.0, 0.1],
...     v2g_profit_eur=[-1.0, -0.5], reserve_revenue_eur=[0.0, 0.7], energy_cost_eur=[1.0, 1.2],
...     band_kwh=[0.0, 7.0], closed_form_profit_eur=[-1.0, -0.5], charge_only_profit_eur=-1.0,
...     boundary_closed_form=0.05, boundary_optimization=0.05, simplified_case=True, runtime_s=0.1)
>>> [round(g, 6) for g in r.gain_eur], r.agreement
([0.0, 0.5], 1.0)
>>> with tempfile.TemporaryDirectory() as folder:
...     V2GProfitabilityResult.load(r.save(folder)).gain_eur == r.gain_eur
True
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ecodec.errors import EcodecError
from ecodec.files import atomic_write

RESULT_FILE, GRID_FILE = "v2g_profitability.json", "v2g_grid.csv"
#: a fleet gain (currency) at or below this counts as no gain: LP round-off is far smaller
PROFIT_TOLERANCE_EUR = 1e-6


@dataclass
class V2GProfitabilityResult:
    """See the module docstring; lists run over ``reserve_prices``, money in the case's currency."""

    case: str
    vehicles: int
    options: dict
    reserve_prices: list[float]
    v2g_profit_eur: list[float]
    reserve_revenue_eur: list[float]
    energy_cost_eur: list[float]
    band_kwh: list[float]
    closed_form_profit_eur: list[float | None]  # None: no closed-form profit (policy 'recourse')
    charge_only_profit_eur: float
    boundary_closed_form: float
    boundary_optimization: float
    simplified_case: bool
    runtime_s: float
    currency: str = "EUR"
    notes: list[str] = field(default_factory=list)

    @property
    def gain_eur(self) -> list[float]:
        return [v - self.charge_only_profit_eur for v in self.v2g_profit_eur]

    @property
    def optimization_profitable(self) -> list[bool]:
        return [g > PROFIT_TOLERANCE_EUR for g in self.gain_eur]

    @property
    def closed_form_profitable(self) -> list[bool]:
        return [p > self.boundary_closed_form for p in self.reserve_prices]

    @property
    def agreement(self) -> float:
        """The share of the grid's prices where both verdicts agree."""
        same = [a == b for a, b in zip(self.optimization_profitable, self.closed_form_profitable)]
        return sum(same) / len(same) if same else math.nan

    def grid_table(self) -> pd.DataFrame:
        return pd.DataFrame({
            "reserve_price_per_kw_h": self.reserve_prices, "v2g_profit": self.v2g_profit_eur,
            "charge_only_profit": self.charge_only_profit_eur, "gain": self.gain_eur,
            "reserve_revenue": self.reserve_revenue_eur, "energy_cost": self.energy_cost_eur,
            "band_kwh": self.band_kwh, "closed_form_profit": self.closed_form_profit_eur,
            "profitable_optimization": self.optimization_profitable,
            "profitable_closed_form": self.closed_form_profitable})

    def summary(self) -> dict:
        """What ``--json`` prints: the facts and the grid."""
        out = {k: v for k, v in asdict(self).items() if k not in ("reserve_prices", "v2g_profit_eur",
                                                                  "reserve_revenue_eur", "energy_cost_eur",
                                                                  "band_kwh", "closed_form_profit_eur")}
        out["agreement"] = self.agreement
        out["grid"] = self.grid_table().to_dict(orient="records")
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}

    def save(self, folder: str | Path) -> Path:
        """Write both files into ``folder`` (created); returns the folder."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EcodecError(f"{folder}: the results folder cannot be made ({exc.strerror or exc})") from None
        data = {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}
        atomic_write(folder / RESULT_FILE, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))
        atomic_write(folder / GRID_FILE, lambda tmp: self.grid_table().to_csv(tmp, index=False))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> V2GProfitabilityResult:
        path = Path(folder) / RESULT_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise EcodecError(f"{path}: expected the JSON file a V2G profitability study saves ({exc})") from None
        for key in ("boundary_closed_form", "boundary_optimization", "charge_only_profit_eur"):
            data[key] = float(data[key])
        return cls(**data)


__all__ = ["PROFIT_TOLERANCE_EUR", "V2GProfitabilityResult"]
