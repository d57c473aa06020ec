"""DELTA when the costs change mid-run: eight agents that can only sample their costs learn their gradients with
small neural networks, reach the optimum's neighbourhood, lose it when every cost is redrawn, and find the new one.

    python examples/delta_cost_change.py [--output-dir reports]

What it shows: the DELTA experiment's agents built in Python (``delta_problem``: quadratic-plus-exponential costs
drawn with a seed), ``cost_change_study`` (the costs of another draw take over after iteration 1000), the distance
to the optimum in force before and after the change, and the report's Learning section.  A reduced run (64-neuron
layers, 2000 iterations, about 20 s); docs/delta.md shows the full 20-agent experiment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ecodec.io.delta import delta_problem
from ecodec.study.cost_change import cost_change_study

AGENTS, CHANGE_AT, ITERATIONS = 8, 1000, 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path("reports"))
    args = parser.parse_args()

    before, network = delta_problem(AGENTS, seed=0)
    after, _ = delta_problem(AGENTS, seed=0, cost_seed=1)  # same agents, starts and graph; costs redrawn
    report = args.output_dir / "delta_cost_change.pdf"
    study = cost_change_study(before, after, change_at=CHANGE_AT, iterations=ITERATIONS, network=network,
                              options={"width": 64}, report=report)
    distance = study.run.history.set_index("iteration")["distance"]
    print(f"optimum before the change {study.optimum_before.objective:.4f}, after {study.optimum_after.objective:.4f}")
    print(f"distance to the optimum: {distance.loc[1]:.3e} at iteration 1, {distance.loc[CHANGE_AT]:.3e} at "
          f"iteration {CHANGE_AT} (before the change)")
    print(f"distance to the new optimum: {distance.loc[CHANGE_AT + 1]:.3e} just after the change, "
          f"{distance.loc[ITERATIONS]:.3e} at iteration {ITERATIONS}")
    print(f"samples of the costs: {int(study.run.history['samples'].iloc[-1]):,}")
    print(f"report written to {report}")


if __name__ == "__main__":
    main()
