"""The paper's qualitative results on the shipped online sharing cases, over 10 seeds (docs/online_sharing.md):
the claims of Cheng, Tsetis, Maghsudi (arXiv 2405.19015, Figures 4, 5, 7, 8) that ecodec's reconstruction
reproduces.  The claims it does not reproduce (adjusted variants below BanSaP in loss, sublinear regret on these
PV horizons, the 20-node orderings) are measured and discussed in the docs, not asserted."""

from __future__ import annotations

import pytest

from ecodec.study import compare_case

METHODS = ["drs", "drs-na", "ma-nsdrs", "ma-nsdrs-na", "bansap"]
ADJUSTED = {"drs": "drs-na", "ma-nsdrs": "ma-nsdrs-na"}
pytestmark = pytest.mark.xdist_group("online_claims")  # one test process runs both comparisons once


@pytest.fixture(scope="module")
def six():
    return compare_case("cases/der_sharing_6.xlsx", METHODS, seeds=10)


@pytest.fixture(scope="module")
def twenty():
    return compare_case("cases/der_sharing_20.xlsx", METHODS, seeds=10)


@pytest.mark.parametrize("case", ["six", "twenty"])
def test_the_adjustment_removes_every_violation_and_costs_loss(case, request):
    """Adjusted variants: no hard-constraint violation in any round of any seed, and a higher mean cumulative loss
    than the same method without the adjustment, beyond the confidence bands."""
    study = request.getfixturevalue(case)
    curves, summary = study.seeds.curves, study.seeds.summary().set_index("method")
    assert study.seeds.seeds == list(range(10))
    for adjusted, free in ADJUSTED.items():
        assert (curves[curves["method"] == adjusted]["cumulative_violation"] == 0.0).all()
        assert summary.at[free, "cumulative_violation"] > 0.0
        gap = summary.at[adjusted, "cumulative_loss"] - summary.at[free, "cumulative_loss"]
        assert gap > summary.at[adjusted, "cumulative_loss_ci"] + summary.at[free, "cumulative_loss_ci"]


def test_on_six_nodes_ma_nsdrs_na_loses_least_and_the_free_variants_beat_bansap(six):
    summary = six.seeds.summary().set_index("method")
    loss, violation = summary["cumulative_loss"], summary["cumulative_violation"]
    assert loss.idxmin() == "ma-nsdrs-na"
    assert loss["ma-nsdrs-na"] + summary.at["ma-nsdrs-na", "cumulative_loss_ci"] < loss["drs-na"]
    for free in ("drs-na", "ma-nsdrs-na"):
        assert loss[free] < loss["bansap"] and violation[free] < violation["bansap"]


def test_on_six_nodes_the_shortage_nodes_gain_under_every_method(six):
    """pv1 and pv2 generate a quarter and two fifths of their demand; every method raises their energy level."""
    levels = six.seeds.mean_levels()
    short = levels[levels["before"] < 1.0]
    assert set(short["node"]) == {"pv1", "pv2"}
    assert (short["after"] > short["before"]).all()
