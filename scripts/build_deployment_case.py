"""Rebuild cases/deployment_100.xlsx: the macroscopic deployment experiment of the ECODREAM report (MACROPT).

Run as ``python scripts/build_deployment_case.py [OUT_DIR]`` (``make cases`` runs it).  The report states the
workspace [0, 100]^2 in 2500 cells, N = 100 agents with Gaussian kernels and a 4-Gaussian target; everything else
is ecodec's labelled choice (ALGORITHMS_WAVE2.md section 3, ``[D]``):

* cells: a 50 x 50 grid of 2 m x 2 m cells;
* kernels: standard deviation 5 m;
* target: 4 equal Gaussians of standard deviation 10 m at (25, 25), (25, 75), (75, 25) and (75, 75);
* start: the agents drawn uniformly in the central square [40, 60]^2 from seed 0, so they must spread out;
* divergence: KL(p || p*), the workspace sheet's default;
* graph: Erdos-Renyi, each pair of agents linked with probability 0.1, drawn from seed 0 (meta topology): a ring
  of 100 agents mixes too slowly (measured: relative tracking error 0.41 after 300 iterations at step 50).

Nothing here comes from data: the experiment is synthetic, as the report's is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ecodec.io.template import write_case_workbook

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "cases"
N, SEED = 100, 0


def tables(n: int = N, seed: int = SEED, cells: int = 50) -> dict[str, list[dict]]:
    rng = np.random.default_rng(seed)
    start = rng.uniform(40.0, 60.0, (n, 2)).round(3)
    return {
        "meta": [{"name": f"deployment_{n}", "T": 1, "step_h": 1.0, "topology": "erdos_renyi",
                  "edge_probability": 0.1, "seed": seed,
                  "description": f"{n} sensors spreading from the centre of [0, 100]^2 ({cells} x {cells} cells) to "
                                 "cover a 4-Gaussian target (MACROPT experiment of the ECODREAM report; synthetic)"}],
        "timeseries": [{"t": 1}],
        "sensors": [{"name": f"s{k + 1:03d}", "active": True, "x0_m": float(x), "y0_m": float(y),
                     "kernel_width_m": 5.0} for k, (x, y) in enumerate(start)],
        "workspace": [{"x_min_m": 0.0, "x_max_m": 100.0, "y_min_m": 0.0, "y_max_m": 100.0, "nx": cells, "ny": cells,
                       "divergence": "model-target", "floor": 1e-6}],
        "targets": [{"name": name, "x_m": x, "y_m": y, "std_m": 10.0, "weight": 1.0}
                    for name, x, y in (("south_west", 25.0, 25.0), ("north_west", 25.0, 75.0),
                                       ("south_east", 75.0, 25.0), ("north_east", 75.0, 75.0))],
    }


def main(out_dir: Path = CASES_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "deployment_100.xlsx"
    write_case_workbook(path, tables())
    print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
