"""An online sharing comparison over seeds, end to end: `ecodec compare --seeds`, its JSON, its saved files, its
report, checked against runs made one by one and against the Student-t formula computed here."""

from __future__ import annotations

import contextlib
import io
import json
import re

import numpy as np
import pytest
from scipy import stats
from test_report import headings, pdf_pages

from ecodec.cli import main
from ecodec.decomposition import options_for, run
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case
from ecodec.results import load_runs, load_seed_runs

ROUNDS = 48


@pytest.fixture(scope="module")
def small_case(tmp_path_factory):
    """Three prosumers over two sunny days (a sine profile, 48 hourly rounds): a big producer between two small
    ones on a path, demand balanced."""
    hours = np.arange(ROUNDS) % 24
    sun = np.clip(np.sin((hours - 6) / 12 * np.pi), 0.0, None)
    capacity = {"small1": 2.0, "big": 8.0, "small2": 1.0}
    tables = {
        "meta": [{"name": "sharing_3", "T": ROUNDS, "step_h": 1.0, "currency": "EUR", "start": "2006-06-01 00:00",
                  "description": "three prosumers on a path"}],
        "timeseries": [{"t": t + 1, **{f"{n}_kw": round(c * float(sun[t]), 4) for n, c in capacity.items()}}
                       for t in range(ROUNDS)],
        "prosumers": [{"name": n, "active": True, "generation_kw": f"{n}_kw", "generation_noise": 0.1,
                       "capacity_kw": c} for n, c in capacity.items()],
        "network": [{"from": "small1", "to": "big"}, {"from": "big", "to": "small2"}],
    }
    path = tmp_path_factory.mktemp("sharing") / "sharing_3.xlsx"
    write_case_workbook(path, tables)
    return path


@pytest.fixture(scope="module")
def compared(small_case, tmp_path_factory):
    """`ecodec compare --seeds 3 --json --output --report` on the small case: its JSON and its folder."""
    out = tmp_path_factory.mktemp("compared")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["compare", str(small_case), "--methods", "drs,bansap", "--seeds", "3", "-q", "--json",
                     "--output", str(out / "runs"), "--report", str(out / "report.pdf")])
    assert code == 0
    return json.loads(printed.getvalue()), out


def test_compare_over_seeds_gives_the_means_of_the_runs_made_one_by_one(small_case, compared):
    printed, out = compared
    summary = printed["over_seeds"]
    assert summary["seeds"] == [0, 1, 2]
    problem = problem_from_case(read_case(small_case))
    for method in ("drs", "bansap"):
        finals = []
        for seed in range(3):
            result = run(problem, problem.network, method, options_for(method, {"seed": seed}))
            finals.append(result.history["cumulative_loss"].iloc[-1])
        row = summary["methods"][method]
        assert row["cumulative_loss"] == pytest.approx(np.mean(finals), rel=1e-12)
        half = stats.t.ppf(0.975, 2) * np.std(finals, ddof=1) / np.sqrt(3)
        assert row["cumulative_loss_ci"] == pytest.approx(half, rel=1e-9)
        assert row["rounds"] == ROUNDS
    saved = load_seed_runs(out / "runs")
    assert sorted(saved.seeds) == [0, 1, 2] and set(saved.methods) == {"drs", "bansap"}
    runs = load_runs(out / "runs")
    assert [r.method for r in runs] == ["centralized", "drs", "bansap"]
    assert all(r.info["environment_seed"] == 0 for r in runs)


def test_the_report_has_the_online_section_with_the_numbers_of_the_summary(compared):
    _, out = compared
    pages = pdf_pages(out / "report.pdf")
    assert [h.split(" ", 1)[1] for h in headings(pages)] == ["Results at a glance", "The case", "Online sharing",
                                                               "Run details"]
    text = "\n".join(pages)
    seeds = load_seed_runs(out / "runs")
    for row in seeds.summary().to_dict("records"):
        assert f"{row['cumulative_loss']:,.1f} ± {row['cumulative_loss_ci']:,.1f}" in text
    levels = seeds.mean_levels()
    short = levels[(levels["method"] == "drs") & (levels["before"] < 1.0)]["node"].tolist()
    assert set(short) == {"small1", "small2"}  # the small producers need the big one's energy
    line = re.search(r"^ *drs: .*$", text, flags=re.M).group(0)
    assert all(node in line for node in short)


def test_seeds_are_refused_for_a_case_that_is_not_online(capsys):
    assert main(["compare", "cases/microgrid_8.xlsx", "--seeds", "3", "-q"]) == 2
    assert "only an online sharing case is repeated over seeds" in capsys.readouterr().err
