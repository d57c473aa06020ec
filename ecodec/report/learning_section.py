"""The report's "Learning" section (DELTA, :mod:`ecodec.decomposition.delta`): for each run that learned its
gradients, the distance to the optimum, the consensus error of the aggregate estimates and the learning error of
the gradients per iteration (log scales), and their values at the report's snapshots k = 1, 20, 500, 10^4 and at
the end, and, for agents whose decisions are points in the plane (the DELTA experiment), those points at the
snapshots over the reference's (small multiples).  A run whose costs changed mid-run (``info['cost_change_at']``, docs/delta.md; its history measures each
iterate against the optimum of the costs in force) has the change marked.  It reads the runs' histories and
``info``; nothing is recomputed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ecodec.report.figures import method_colors, new_figure, place_legend, style_axes
from ecodec.report.pdf import figure, paragraph, table

#: The iterations the DELTA report shows its snapshots at (its k = 0 is the start; a history begins at k = 1)
SNAPSHOTS = (1, 20, 500, 10_000)
CURVES = (("distance", "distance"), ("consensus_error", "consensus error"), ("learning_error", "learning error"))


def learned(runs) -> list:
    """The runs that learned their gradients (their history has ``learning_error``)."""
    return [run for run in runs if run.has_solution and "learning_error" in run.history.columns]


def learning_figure(runs) -> Figure | None:
    """Three panels on log scales: distance to the optimum, consensus error, learning error per iteration."""
    chosen = learned(runs)
    if not chosen:
        return None
    colors = method_colors(runs)
    fig = new_figure(5.2)
    axes = fig.subplots(3, 1, sharex=True)
    for run in chosen:
        h = run.history
        for ax, (column, _) in zip(axes, CURVES):
            if column not in h.columns:
                continue
            values = h[column].to_numpy(dtype=float)
            ax.semilogy(h["iteration"], np.where(values > 0, values, np.nan), color=colors[run.method], lw=0.9,
                        label=run.method)
    changes = [float(run.info["cost_change_at"]) for run in chosen if run.info.get("cost_change_at")]
    for k, (ax, (_, label)) in enumerate(zip(axes, CURVES)):
        for change in changes:
            ax.axvline(change, color="#888888", ls="--", lw=0.8)
        if not changes:  # a change is easier to follow on a linear axis
            ax.set_xscale("log")
        style_axes(ax, "iteration" if k == len(axes) - 1 else "", label)
    place_legend(fig)
    return fig


def _decisions(run, k: int, agents: list[str]) -> np.ndarray:
    """(agents, 2): the run's decisions at iteration k from its history."""
    row = run.history.set_index("iteration").loc[k]
    return np.array([[row[f"x:{a}:1"], row[f"x:{a}:2"]] for a in agents], dtype=float)


def _reference_decisions(reference, run, agents: list[str]) -> np.ndarray | None:
    """(agents, 2): the reference's decisions, in the order of the run's x columns (matched on the run's own last
    decisions and dispatch), or None when they cannot be matched."""
    quantities = run.info.get("decision_quantities") or []
    if len(quantities) != 2 or not reference.has_solution:
        return None
    last = _decisions(run, int(run.history["iteration"].max()), agents)

    def table(result):
        picked = result.dispatch[result.dispatch["quantity"].isin(quantities)]
        return picked.pivot_table(index="agent", columns="quantity", values="value").reindex(agents)[quantities]

    own, ref = table(run).to_numpy(float), table(reference).to_numpy(float)
    if np.allclose(own, last):
        return ref
    if np.allclose(own[:, ::-1], last):
        return ref[:, ::-1]
    return None


def decision_figure(runs) -> Figure | None:
    """Small multiples of each agent's two decisions at the snapshot iterations of the first run that learned its
    gradients (agents whose decisions are points in the plane, as in the DELTA experiment), over the reference's."""
    chosen = learned(runs)
    if not chosen:
        return None
    run = chosen[0]
    columns = [c for c in run.history.columns if c.startswith("x:")]
    agents = list(dict.fromkeys(c.split(":")[1] for c in columns))
    if not agents or len(columns) != 2 * len(agents) or any(f"x:{a}:2" not in columns for a in agents):
        return None
    rows = snapshot_rows(run)[1:]
    kept = [int(r[0].replace(",", "")) for r in rows]
    reference = _reference_decisions(runs[0], run, agents) if runs[0] is not run else None
    change = run.info.get("cost_change_at")
    fig = new_figure(2.5 * -(-len(kept) // 3) + 0.3)
    axes = np.atleast_1d(fig.subplots(-(-len(kept) // 3), 3, squeeze=False)).ravel()
    every = [_decisions(run, k, agents) for k in kept]
    points = np.vstack(every + ([reference] if reference is not None else []))
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.05 * np.maximum(high - low, 1e-9)
    for ax, k, x in zip(axes, kept, every):
        if reference is not None and (not change or k > change):  # the reference is the optimum in force at the end
            ax.scatter(reference[:, 0], reference[:, 1], s=30, facecolors="none", edgecolors="#444444", lw=0.8)
        ax.scatter(x[:, 0], x[:, 1], s=8, color="#d62728")
        ax.set_title(f"k = {k:,}", fontsize=8)
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        ax.tick_params(labelsize=6)
    for ax in axes[len(kept):]:
        ax.set_axis_off()
    return fig


def snapshot_rows(run) -> list[list[str]]:
    """Header and one row per snapshot iteration the run reached, and its last iteration."""
    h = run.history.set_index("iteration")
    last = int(h.index.max())
    change = run.info.get("cost_change_at")
    marks = sorted(set(SNAPSHOTS) | ({int(change)} if change else set()))
    kept = [k for k in marks if k <= last] + ([last] if last not in marks else [])
    distance = "distance"
    rows = [["k", "distance", "consensus error", "learning error", "samples"]]
    for k in kept:
        r = h.loc[k]
        rows.append([f"{k:,}", f"{r[distance]:.2e}" if distance in h.columns else "n/a",
                     f"{r['consensus_error']:.2e}", f"{r['learning_error']:.2e}", f"{int(r['samples']):,}"])
    return rows


def learning_section(runs) -> list:
    """The section's flowables; empty when no run learned its gradients."""
    chosen = learned(runs)
    fig = learning_figure(runs)
    if fig is None:
        return []
    out = [paragraph("Each agent of these runs samples its cost once per iteration and trains a neural network on the "
                     "samples; it steps on the network's gradients and tracks the aggregates and their mean gradient "
                     "by consensus. The distance to the optimum falls to a plateau set by how well the networks "
                     "learn; the learning error compares the networks' gradients with the true ones (computed for "
                     "this report only)."),
           *figure(fig, "Per iteration (log scales): distance, the relative distance of the decisions to the "
                        "reference optimum; consensus error, the largest distance max_i |s_i - sigma| of an agent's "
                        "aggregate estimate to the true aggregate; learning error, the relative error of the learned "
                        "gradients over all agents. A dashed line marks a change of the costs (the iterations are "
                        "then on a linear scale).")]
    decisions = decision_figure(runs)
    if decisions is not None:
        out += figure(decisions, f"{chosen[0].method}: every agent's two decisions (red) at the snapshot iterations, "
                                 f"over the optimum of {runs[0].method} (circles; after the change only, when the "
                                 "costs changed).")
    for run in chosen:
        change = run.info.get("cost_change_at")
        note = (f" The costs changed after iteration {int(change):,}; distances are to the optimum of the costs in "
                "force." if change else "")
        out += [paragraph(f"{run.method}: values at the snapshots.{note}"), table(snapshot_rows(run))]
    return out


__all__ = ["SNAPSHOTS", "decision_figure", "learned", "learning_figure", "learning_section", "snapshot_rows"]
