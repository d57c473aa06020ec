"""The report's "Deployment" section (MACROPT, :mod:`ecodec.problem.deployment`): the agents' positions over the
target density at the iterations each run kept (small multiples), the reference's end beside them, and the
divergence and stationarity per iteration.  It reads the runs' ``info`` (``layout``: workspace and target;
``snapshots``: positions by iteration) and histories; nothing is recomputed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ecodec.report.figures import method_colors, new_figure, place_legend, style_axes
from ecodec.report.pdf import figure, paragraph

MAX_PANELS = 6


def _order(key: str) -> float:
    return float("inf") if key == "final" else float(key)


def snapshot_figure(runs) -> Figure | None:
    """Small multiples: the first distributed run's kept positions, then the reference's end, over the target."""
    layout = runs[0].info.get("layout")
    if not layout:
        return None
    x_min, x_max, y_min, y_max, nx, ny = layout["workspace"]
    target = np.asarray(layout["target"], dtype=float).reshape(int(ny), int(nx))
    panels = []
    distributed = next((run for run in runs[1:] if run.info.get("snapshots")), None)
    if distributed is not None:
        kept = sorted(distributed.info["snapshots"], key=_order)
        if len(kept) > MAX_PANELS - 1:
            kept = kept[:MAX_PANELS - 2] + kept[-1:]
        iterations = int(distributed.info.get("iterations", 0))
        panels += [(f"{distributed.method}: k = {iterations if key == 'final' else key}",
                    distributed.info["snapshots"][key]) for key in kept]
    if runs[0].info.get("snapshots"):
        panels.append((f"{runs[0].method}: end", runs[0].info["snapshots"]["final"]))
    if not panels:
        return None
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig = new_figure(2.4 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, (title, positions) in zip(axes, panels):
        ax.imshow(target, origin="lower", extent=(x_min, x_max, y_min, y_max), cmap="Greys", aspect="equal")
        points = np.asarray(positions, dtype=float)
        ax.scatter(points[:, 0], points[:, 1], s=6, color="#d62728")
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    return fig


def divergence_figure(runs) -> Figure | None:
    """The divergence (linear: it can be negative when the workspace cuts kernel mass) and the stationarity (log)
    per iteration of each distributed run; the reference's divergence dashed."""
    distributed = [run for run in runs[1:] if "stationarity" in run.history.columns]
    if not distributed:
        return None
    colors = method_colors(runs)
    fig = new_figure(3.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for run in distributed:
        h = run.history
        top.plot(h["iteration"], h["objective"], color=colors[run.method], lw=1.0, label=run.method)
        bottom.semilogy(h["iteration"], np.where(h["stationarity"] > 0, h["stationarity"], np.nan),
                        color=colors[run.method], lw=1.0, label=f"{run.method}: stationarity")
        if "tracking_error" in h.columns:
            bottom.semilogy(h["iteration"], np.where(h["tracking_error"] > 0, h["tracking_error"], np.nan),
                            color=colors[run.method], lw=0.8, ls=":", label=f"{run.method}: tracking error")
    if runs[0].has_solution:
        top.axhline(runs[0].objective, color=colors[runs[0].method], ls="--", lw=0.9, label=f"{runs[0].method} (end)")
    style_axes(top, "", "divergence")
    style_axes(bottom, "iteration", "stationarity, tracking error")
    place_legend(fig)
    return fig


def deployment_section(runs) -> list:
    """The section's flowables; empty when the runs are not of a deployment case."""
    snapshots = snapshot_figure(runs)
    if snapshots is None:
        return []
    out = [paragraph("Each agent carries a Gaussian kernel; their average is the macroscopic model, which should "
                     "match the target density (grey). The distributed method moves each agent on its own gradient, "
                     "tracking the model by consensus; the reference (L-BFGS-B on the exact divergence, from the same "
                     "start) ends at a stationary point of the same non-convex cost, not necessarily the same one."),
           *figure(snapshots, "Agent positions (red) over the target density at the iterations the run kept, and the "
                              "reference's end.")]
    curves = divergence_figure(runs)
    if curves is not None:
        out += figure(curves, "Divergence of the macroscopic model from the target per iteration (dashed: the "
                              "reference's end), and the stationarity and relative tracking error (log scale).")
    return out


__all__ = ["deployment_section", "divergence_figure", "snapshot_figure"]
