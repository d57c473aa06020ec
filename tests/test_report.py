"""The PDF report, read the way a user reads it: its text (pdftotext), its pages and figures as pixels (pdftoppm,
pdfimages; poppler-utils, installed by the set-up).

Expected numbers come from the RunResults through the KPI functions, formatted here by hand; section titles are
written out, not taken from the report module.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_problem
from matplotlib import image as mpimg

from ecodec.cli import main
from ecodec.decomposition import Hook, StoppingRules, run
from ecodec.models.grid import Grid
from ecodec.network import CommunicationNetwork
from ecodec.report import write_report
from ecodec.problem.replicate import replicate_problem
from ecodec.report.dispatch_figures import grid_exchange_figure, resource_dispatch_figure
from ecodec.report.figures import agent_colors, convergence_figure
from ecodec.results import case_summary, compare, kpi, load_runs

pytestmark = [pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing: run 'make setup'"),
              pytest.mark.xdist_group("report")]  # one test process renders the shared report once

ITERATIONS = 300
MICROGRID_SECTIONS = ["Results at a glance", "The case", "Convergence", "Dispatch", "Stored energy", "Grid exchange",
                      "Coupling prices", "Costs per agent", "Run details"]


def pdf_pages(path: Path) -> list[str]:
    """The text of each page (pdftotext -layout; pages are separated by form feeds)."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return text.split("\f")[:-1]


def headings(pages: list[str]) -> list[str]:
    """The numbered section headings in page order, e.g. '3 Convergence' (skipping the table of contents)."""
    out = []
    for page in pages[2:]:
        out += [" ".join(m.split()) for m in re.findall(r"^ *(\d+ +[A-Z][A-Za-z ]+?) *$", page, flags=re.M)]
    return out


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def microgrid_report(tmp_path_factory):
    """`ecodec compare` on the shipped LP microgrid, primal decomposition stopped at its iteration limit."""
    directory = tmp_path_factory.mktemp("report")
    pdf = directory / "reports" / "microgrid_8.pdf"
    code = main(["compare", "cases/microgrid_8.xlsx", "--max-iterations", str(ITERATIONS), "-q",
                 "--output", str(directory / "runs"), "--report", str(pdf)])
    assert code == 0
    return pdf, directory / "runs", load_runs(directory / "runs")


def test_every_section_is_present_once_in_order_and_in_the_contents(microgrid_report):
    pdf, _, _ = microgrid_report
    pages = pdf_pages(pdf)
    assert headings(pages) == [f"{k} {title}" for k, title in enumerate(MICROGRID_SECTIONS, start=1)]
    contents = pages[1]
    for k, title in enumerate(MICROGRID_SECTIONS, start=1):
        entry = re.search(rf"^ *{k} +{title}[ .]*(\d+) *$", contents, flags=re.M)
        assert entry, f"'{title}' missing from the table of contents"
        assert re.search(rf"^ *{k} +{title} *$", pages[int(entry.group(1)) - 1], flags=re.M), \
            f"'{title}' is not on page {entry.group(1)}, where the contents put it"
    text = "\n".join(pages)
    for sub in ("microturbine agents (2)", "renewable agents (3)", "storage agents (1)", "grid agents (1)",
                "boiler agents (1)", "Coupling resources", "Communication network", "active_power",
                "reactive_power", "heat"):
        assert sub in text
    assert re.search(rf"page {len(pages)} of {len(pages)}", pages[-1])


def kpi_page(pages: list[str]) -> str:
    found = [page for page in pages[2:] if re.search(r"^ *1 +Results at a glance *$", page, flags=re.M)]
    assert len(found) == 1
    return found[0]


def test_kpi_values_in_the_text_equal_those_of_the_run_results(microgrid_report):
    pdf, _, runs = microgrid_report
    reference = runs[0]
    page = kpi_page(pdf_pages(pdf))
    quality_part = page[page.index("Cost and feasibility"):page.index("Effort")]
    effort_part = page[page.index("Effort"):page.index("cost gap:")]
    quality = [line for line in quality_part.splitlines()[2:] if line.strip()]
    lines = {line.split()[0]: line.split() for line in effort_part.splitlines()[2:] if line.strip()}
    assert len(quality) == 2 and len(lines) == 2
    for result in runs:
        expected_quality = [result.method, result.status, f"{result.objective:.2f}",
                            f"{kpi.relative_cost_gap(result.objective, reference.objective):.2e}",
                            f"{kpi.max_coupling_violation(result.coupling):.2e}",
                            f"{kpi.rms_coupling_violation(result.coupling):.2e}",
                            f"{kpi.relative_coupling_violation(result.coupling):.2e}",
                            f"{kpi.relative_decision_distance(result.dispatch, reference.dispatch):.2e}"]
        assert [line.split() for line in quality if line.split()[0] == result.method] == [expected_quality]
        iterations = len(result.history) if not result.history.empty else 1
        effort = [result.method, str(iterations)]
        if result.history.empty:
            effort += ["1", "1"]
        else:
            for tol in (1e-2, 1e-3):
                reached = kpi.iterations_to(result.history, tol)
                effort.append(str(reached) if reached is not None else f"> {iterations}")
        effort += [f"{result.info['wall_time_s']:.2f}", str(result.info.get("messages", 0))]
        assert lines[result.method] == " ".join(effort).split()
    decomposition = runs[1]
    assert decomposition.status == "iteration_limit" and len(decomposition.history) == ITERATIONS


def test_a_run_stopped_at_its_iteration_limit_says_so_on_the_kpi_page(microgrid_report):
    pdf, _, runs = microgrid_report
    page = " ".join(kpi_page(pdf_pages(pdf)).split())
    assert f"primal-decomposition stopped at its iteration limit of {ITERATIONS} iterations" in page
    rel = kpi.relative_coupling_violation(runs[1].coupling)
    assert f"relative coupling violation {rel:.2e} (tolerance 0.001)" in page
    assert "does not yet meet the coupling constraints" in page


def _colourful_fraction(pixels: np.ndarray) -> float:
    """Share of pixels with a clear colour (max - min channel > 0.15): data, not text, rules or background."""
    rgb = pixels[..., :3].astype(float)
    return float(np.mean(rgb.max(axis=-1) - rgb.min(axis=-1) > 0.15))


def test_no_figure_and_no_page_is_blank(microgrid_report, tmp_path):
    pdf, directory, _ = microgrid_report
    subprocess.run(["pdfimages", "-png", str(pdf), str(tmp_path / "img")], check=True)
    assert not list(tmp_path.glob("img-*.png"))  # the figures are vector drawings, not embedded images
    # network, convergence, 3 dispatch (active and reactive power, heat), stored energy, grid, prices, costs:
    # each drawn with data, on the pages of the PDF (tests/test_report_pages.py locates each under its caption)
    assert main(["report", str(directory), "--figures", str(tmp_path / "figures"), "--figure-format", "png"]) == 0
    images = sorted((tmp_path / "figures").glob("*.png"))
    assert len(images) == 9
    for path in images:
        pixels = mpimg.imread(path)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 1000, path.name
        assert _colourful_fraction(pixels) > 0.005, f"{path.name} has (almost) no data drawn"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(pdf_pages(pdf))
    for path in pages:
        pixels = mpimg.imread(path)[..., :3]
        assert np.mean(pixels.min(axis=-1) < 0.9) > 0.002, f"{path.name} is blank"


def test_report_command_rerenders_the_same_numbers_without_solving(microgrid_report, tmp_path, capsys):
    pdf, directory, _ = microgrid_report
    again = tmp_path / "again.pdf"
    assert main(["report", str(directory), "-o", str(again)]) == 0
    assert f"wrote {again}" in capsys.readouterr().out
    assert kpi_page(pdf_pages(again)) == kpi_page(pdf_pages(pdf))
    assert headings(pdf_pages(again)) == headings(pdf_pages(pdf))


def _two_suppliers():
    cheap = Grid(name="cheap", p_min_kw=0.0, p_max_kw=60.0, buy_price_per_kwh=0.10, sell_price_per_kwh=0.0)
    dear = Grid(name="dear", p_min_kw=0.0, p_max_kw=100.0, buy_price_per_kwh=0.20, sell_price_per_kwh=0.0)
    problem = make_problem([cheap, dear], 0.25, active_power=[50.0, 80.0], reactive_power=[0.0, 0.0])
    return problem, CommunicationNetwork.from_edges(["cheap", "dear"], [("cheap", "dear")])


def test_sections_adapt_to_the_case_and_the_methods(tmp_path):
    """Two grid suppliers and no storage: no 'Stored energy'; a converged run gets no note; with the centralized
    run alone there is no convergence section either; sections stay numbered 1, 2, ... without gaps."""
    problem, network = _two_suppliers()
    reference = run(problem, network, "centralized")
    decomposed = run(problem, network, "primal-decomposition", stopping=StoppingRules(max_iterations=5000),
                     reference=reference)
    assert decomposed.status == "converged"
    summary = case_summary(problem, network)
    both = write_report(tmp_path / "both.pdf", [reference, decomposed], compare([decomposed], reference), summary)
    expected = ["Results at a glance", "The case", "Convergence", "Dispatch", "Grid exchange", "Coupling prices",
                "Costs per agent", "Run details"]
    pages = pdf_pages(both)
    assert headings(pages) == [f"{k} {title}" for k, title in enumerate(expected, start=1)]
    assert "stopped" not in kpi_page(pages) and "grid agents (2)" in "\n".join(pages)
    alone = write_report(tmp_path / "alone.pdf", [reference], compare([], reference), None)
    assert headings(pdf_pages(alone)) == [f"{k} {title}" for k, title in enumerate(
        [t for t in expected if t != "Convergence"], start=1)]


class _CtrlC(Hook):
    """Presses Ctrl-C after ``at`` iterations."""

    def __init__(self, at: int):
        self.at = at

    def on_iteration(self, record: dict) -> None:
        if record["iteration"] == self.at:
            raise KeyboardInterrupt


def test_an_interrupted_run_is_reported_as_stopped_early(tmp_path):
    problem, network = _two_suppliers()
    reference = run(problem, network, "centralized")
    stopped = run(problem, network, "primal-decomposition", hooks=[_CtrlC(20)], reference=reference)
    assert stopped.status == "interrupted" and len(stopped.history) == 20
    pdf = write_report(tmp_path / "stopped.pdf", [reference, stopped], compare([stopped], reference), None)
    page = " ".join(kpi_page(pdf_pages(pdf)).split())
    assert "primal-decomposition was stopped early: interrupted by the user after 20 iterations." in page
    assert f"{kpi.relative_coupling_violation(stopped.coupling):.2e}" in page


def test_a_large_community_is_summarised_not_listed(tmp_path):
    """26 grid suppliers (13 copies of the two): parameters as min / mean / max over the agents, dispatch stacked
    by the largest agents and the rest of their kind, grid exchange summed over the agents; the numbers in the summary table are the agents' own."""
    problem, network = _two_suppliers()
    problem = replicate_problem(problem, 13)
    network = CommunicationNetwork.from_edges([a.name for a in problem.agents], [
        (a.name, b.name) for a, b in zip(problem.agents, problem.agents[1:])])
    reference = run(problem, network, "centralized")
    decomposed = run(problem, network, "primal-decomposition", stopping=StoppingRules(max_iterations=40),
                     reference=reference)
    pdf = write_report(tmp_path / "large.pdf", [reference, decomposed], compare([decomposed], reference),
                       case_summary(problem, network))
    text = "\n".join(pdf_pages(pdf))
    assert "grid agents (26)" in text
    price = re.search(r"^ *buy_price_per_kwh +(\S+) +(\S+) +(\S+) *$", text, flags=re.M)
    assert price and [float(v) for v in price.groups()] == pytest.approx([0.10, 0.15, 0.20])
    assert "cheap_1" not in text.split("Coupling resources")[0]  # no per-agent columns in the case section
    fig = resource_dispatch_figure([reference, decomposed], "active_power", agent_colors(["grid"]))
    legend = [text.get_text() for text in fig.legends[0].get_texts()]  # the 5 largest by name, the rest summed
    assert legend[-3:] == ["other grid (21)", "net sum", "required net supply"] and len(legend) == 8
    grid = grid_exchange_figure([reference], [a.name for a in problem.agents], "p_import", "p_export")
    assert "grid import of 26 grid agents (centralized)" in [line.get_label() for line in grid.axes[0].get_lines()]


def test_bounds_reported_by_a_method_are_drawn():
    """A history with lower and upper bounds (as dual methods report them) gets both lines in the cost panel."""
    problem, network = _two_suppliers()
    reference = run(problem, network, "centralized")
    history = pd.DataFrame({"iteration": [1, 2, 3], "objective": [4.0, 3.9, 3.8], "rel_violation": [0.1, 0.01, 0.0],
                            "lower_bound": [3.0, 3.5, 3.7], "upper_bound": [5.0, 4.0, 3.8]})
    bounded = type(reference)(**{**reference.__dict__, "method": "dual", "history": history})
    fig = convergence_figure([reference, bounded])
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert "dual: lower bound" in labels and "dual: upper bound" in labels


def test_the_last_iterate_of_an_averaging_method_is_drawn_beside_its_average():
    """Proximal dual decomposition reports its average; the history's last-iterate columns get dotted lines in the
    violation and cost panels, and a run without them gets none."""
    problem, network = _two_suppliers()
    reference = run(problem, network, "centralized")
    averaged = run(problem, network, "proximal-dual", stopping=StoppingRules(max_iterations=20))
    assert {"last_rel_violation", "last_objective"} <= set(averaged.history.columns)
    fig = convergence_figure([reference, averaged])
    lines = {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}
    dotted = [line for label, line in lines.items() if label == "proximal-dual: last iterate"]
    assert dotted and all(line.get_linestyle() == ":" for line in dotted)
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert labels.count("proximal-dual: last iterate") == 2  # violation and cost panels
    plain = convergence_figure([reference, run(problem, network, "tracking-admm",
                                               stopping=StoppingRules(max_iterations=5))])
    assert not any("last iterate" in line.get_label() for ax in plain.axes for line in ax.get_lines())


def test_bad_report_requests_fail_with_a_message_and_keep_an_older_report(microgrid_report, tmp_path, capsys):
    pdf, directory, _ = microgrid_report
    cases = [(["report", str(tmp_path / "nowhere")], "not a directory"),
             (["report", str(directory), "-o", str(tmp_path / "r.txt")], "a report is a PDF file"),
             (["compare", "cases/microgrid_8.xlsx", "--report", str(tmp_path / "r.docx")], "a report is a PDF file"),
             (["run", "cases/microgrid_8.xlsx", "--no-reference", "--report", str(tmp_path / "r.pdf")],
              "drop --no-reference"),
             (["report", str(directory / "centralized")], "runs.json: missing")]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    only = tmp_path / "only"
    shutil.copytree(directory, only)
    (only / "runs.json").write_text('{"format": 2, "case": "microgrid_8", "runs": ["primal-decomposition"]}\n')
    assert main(["report", str(only)]) == 2
    assert "holds no centralized run" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["report", str(directory), "-o", str(blocker / "r.pdf")]) == 2
    assert f"{blocker / 'r.pdf'}: cannot be created: {blocker} is a file, not a folder" in capsys.readouterr().err
    damaged = tmp_path / "damaged"
    shutil.copytree(directory, damaged)
    (damaged / "centralized" / "coupling.csv").write_text("t\n1\n")  # changed after saving
    old = tmp_path / "old.pdf"
    shutil.copy(pdf, old)
    assert main(["report", str(damaged), "-o", str(old)]) == 2
    assert "does not match summary.json" in capsys.readouterr().err
    assert old.read_bytes() == pdf.read_bytes()


def test_a_market_report_shows_bids_energy_shares_and_revenues(tmp_path):
    """A market case has no coupling rows: no resource, dispatch, storage or price sections, and a Market section
    whose numbers are those of the runs' market tables (kpi.market_summary)."""
    pdf = tmp_path / "market.pdf"
    assert main(["compare", "cases/community_market_storage.xlsx", "--methods", "centralized,aggregative-tracking",
                 "--max-iterations", "2000", "-q", "--output", str(tmp_path / "runs"), "--report", str(pdf)]) == 0
    pages = pdf_pages(pdf)
    expected = ["Results at a glance", "The case", "Convergence", "Market", "Costs per agent", "Run details"]
    assert headings(pages) == [f"{k} {title}" for k, title in enumerate(expected, start=1)]
    text = "\n".join(pages)
    assert "coupling" not in text.lower().replace("coupling rows", "")  # the KPI legend names the (absent) rows
    runs = load_runs(tmp_path / "runs")
    for run_result in runs:
        summary = kpi.market_summary(run_result.dispatch).set_index("agent")
        for agent, quantity in (("buyer_2", "bid"), ("seller_5", "fraction_sold"), ("seller_7", "revenue"),
                                ("buyer_3", "shortfall")):
            assert f"{summary.at[agent, quantity]:,.4f}" in text, (run_result.method, agent, quantity)
    assert "Decisions per iteration (log scale) of each distributed run" in " ".join(text.split())
