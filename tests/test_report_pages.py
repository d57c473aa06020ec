"""The report's pages, rendered and read the way a reader sees them (poppler-utils: pdftotext, pdftoppm, pdfimages,
pdfinfo): the microgrid, market and EV reports, each written by `ecodec compare` with a few iterations.

On every page: the header and the footer 'page n of N'; the section headings and every figure's caption where
they belong; figures drawn as vectors (no embedded images) and none blank; no page more than half empty but the
last page of a section (the next page starts with a numbered section heading) and the title and contents pages;
on the title page the SHA-256 of the workbook (computed here) and the machine.  `ecodec report --figures` writes
every figure as its own valid PDF or SVG file.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from conftest import make_problem
from matplotlib import image as mpimg

from ecodec.cli import main
from ecodec.decomposition import StoppingRules, run
from ecodec.models.grid import Grid
from ecodec.network import CommunicationNetwork
from ecodec.report import write_report
from ecodec.report.document import report_story
from ecodec.report.export import report_figures
from ecodec.results import case_summary, compare, load_case_summary, load_runs

pytestmark = [pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing: run 'make setup'"),
              pytest.mark.xdist_group("report_pages")]

DPI = 40
MARGIN_PT = 18 / 25.4 * 72  # the page margin of the report (18 mm)
SECTIONS = {
    "microgrid": ("cases/microgrid_8.xlsx", 30, ["Results at a glance", "The case", "Convergence", "Dispatch",
                                                 "Stored energy", "Grid exchange", "Coupling prices",
                                                 "Costs per agent", "Run details"]),
    "market": ("cases/community_market.xlsx", 40, ["Results at a glance", "The case", "Convergence", "Market",
                                                   "Costs per agent", "Run details"]),
    "ev": ("cases/ev_dundee_100.xlsx", 3, ["Results at a glance", "The case", "Convergence", "Dispatch",
                                           "Stored energy", "Coupling prices", "Costs per agent", "Run details"]),
}


def _compared(name: str, directory: Path) -> tuple[Path, Path]:
    workbook, iterations, _ = SECTIONS[name]
    pdf, runs = directory / f"{name}.pdf", directory / "runs"
    assert main(["compare", workbook, "--max-iterations", str(iterations), "-q", "--output", str(runs),
                 "--report", str(pdf)]) == 0
    return pdf, runs


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    return text.split("\f")[:-1]


def rendered_pages(pdf: Path, directory: Path) -> list[np.ndarray]:
    """Every page as grey levels in [0, 1] at :data:`DPI` dots per inch."""
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(pdf), str(directory / "page")], check=True)
    pages = []
    for path in sorted(directory.glob("page-*.png")):
        pixels = mpimg.imread(path)
        pages.append(pixels if pixels.ndim == 2 else pixels[..., 0])
    return pages


def words(pdf: Path, page: int) -> list[tuple[float, str]]:
    """(top in points, text) of each word on ``page`` (1-based), in reading order (pdftotext -bbox)."""
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-bbox", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return [(float(y), html.unescape(word)) for y, word in re.findall(
        r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)</word>', out)]


def largest_empty_band(pixels: np.ndarray) -> float:
    """The tallest run of rows without ink inside the frame, as a fraction of the frame's height."""
    margin = int(round(MARGIN_PT / 72 * DPI))
    inked = (pixels[margin + 2:pixels.shape[0] - margin - 2] < 0.95).any(axis=1)
    longest = current = 0
    for ink in inked:
        current = 0 if ink else current + 1
        longest = max(longest, current)
    return longest / len(inked)


def first_line(text: str) -> str:
    """The first line of a page below its header line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else ""


def check_report(pdf: Path, runs_dir: Path, name: str, scratch: Path) -> None:
    workbook, _, sections = SECTIONS[name]
    texts = page_texts(pdf)
    pixels = rendered_pages(pdf, scratch)
    assert len(pixels) == len(texts) > 3
    runs = load_runs(runs_dir)
    # (a) header and footer on every page but the title page; each section heading on one page, in order
    for number, text in enumerate(texts[1:], start=2):
        assert re.search(rf"page {number} of {len(texts)}\s*$", text), f"page {number}: no footer"
        assert "ecodec report | case" in " ".join(text.split()), f"page {number}: no header"
    heading_pages = []
    for k, title in enumerate(sections, start=1):
        found = [p for p, text in enumerate(texts) if re.search(rf"^ *{k} +{title} *$", text, flags=re.M) and p > 1]
        assert len(found) == 1, f"'{k} {title}' on pages {found}"
        heading_pages.append(found[0])
    assert heading_pages == sorted(heading_pages)
    # every figure's caption is printed; (c) the figure above it is drawn, not blank
    figures = report_figures(report_story(runs, compare(runs, runs[0]), load_case_summary(runs_dir)))
    assert figures
    flat = [" ".join(text.split()) for text in texts]
    for item in figures:
        start = " ".join(item.caption.split())[:60]
        on = [p for p, text in enumerate(flat) if start in text]
        assert len(on) == 1, f"caption '{start}' found on pages {on}"
        page = on[0]
        caption_words = item.caption.split()[:4]
        page_words = words(pdf, page + 1)
        tops = [page_words[i][0] for i in range(len(page_words) - 3)
                if [w for _, w in page_words[i:i + 4]] == caption_words]
        assert tops, f"caption '{start}' not located on page {page + 1}"
        bottom = int(tops[-1] / 72 * DPI) - 1
        region = pixels[page][max(0, bottom - int(1.3 * DPI)):bottom]  # the 1.3 inches above the caption
        assert np.mean(region < 0.9) > 0.01, f"the figure above '{start}' (page {page + 1}) is blank"
    # (b) figures are vectors: the PDF embeds no image at all
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 2, listed  # the two header lines only
    # (d) no page more than half empty, but a section's last page and the title and contents pages
    first_section, half_empty = heading_pages[0], []
    for p in range(first_section, len(texts) - 1):
        last_of_section = re.match(rf"^\d+ +({'|'.join(sections)})$", " ".join(first_line(texts[p + 1]).split()))
        band = largest_empty_band(pixels[p])
        assert last_of_section or band <= 0.5, f"page {p + 1} of the {name} report is {band:.0%} empty"
        half_empty += [p + 1] if band > 0.5 else []
    # sections follow each other on a page when there is room: a section's last page is rarely half empty (when
    # every section started a page, 4 of the 9 microgrid sections and 5 of the 8 EV ones ended so)
    assert len(half_empty) <= len(sections) // 3, f"half-empty pages {half_empty} of the {name} report"
    assert len(set(heading_pages)) < len(heading_pages), "no two sections share a page"
    for p, page in enumerate(pixels):
        assert np.mean(page < 0.9) > 0.002, f"page {p + 1} is blank"
    # (e) the title page: the workbook's SHA-256 (computed here), the machine, each run's start and wall time
    title = " ".join(texts[0].split())
    digest = hashlib.sha256(Path(workbook).read_bytes()).hexdigest()
    assert f"{Path(workbook).name} {digest}" in title
    assert f"host {socket.gethostname()}" in title and f"logical cores {os.cpu_count()}" in title
    for result in runs:
        assert re.search(rf"{re.escape(result.method)} \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
                         rf"{result.info['wall_time_s']:.2f}", title), result.method


@pytest.fixture(scope="module")
def microgrid(tmp_path_factory):
    return _compared("microgrid", tmp_path_factory.mktemp("microgrid_pages"))


def test_microgrid_report_pages(microgrid, tmp_path):
    pdf, runs = microgrid
    check_report(pdf, runs, "microgrid", tmp_path)


def test_market_report_pages(tmp_path):
    pdf, runs = _compared("market", tmp_path / "out")
    check_report(pdf, runs, "market", tmp_path)


def test_ev_report_pages(tmp_path):
    pdf, runs = _compared("ev", tmp_path / "out")
    check_report(pdf, runs, "ev", tmp_path)


def test_figures_are_exported_one_file_each(microgrid, tmp_path, capsys):
    _, runs_dir = microgrid
    runs = load_runs(runs_dir)
    expected = report_figures(report_story(runs, compare(runs, runs[0]), load_case_summary(runs_dir)))
    for fmt in ("pdf", "svg"):
        target = tmp_path / fmt
        assert main(["report", str(runs_dir), "--figures", str(target), "--figure-format", fmt]) == 0
        out = capsys.readouterr().out
        files = sorted(target.iterdir())
        assert [f.name for f in files] == sorted(f"{item.name}.{fmt}" for item in expected)
        assert f"wrote {len(files)} figures to {target}" in out and all(f.name in out for f in files)
        names = {f.stem for f in files}
        assert {"03_convergence", "04_dispatch_active_power", "02_case_communication_network"} <= names
        assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", stem) for stem in names)
        for path in files:
            if fmt == "svg":
                assert ElementTree.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg", path.name
            else:
                assert path.read_bytes()[:5] == b"%PDF-", path.name
                info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
                assert re.search(r"^Pages: +1$", info, flags=re.M), path.name
                subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True)
    assert not (tmp_path / "pdf" / "report.pdf").exists()  # --figures alone writes no report
    with pytest.raises(SystemExit):  # argparse refuses a format it does not offer
        main(["report", str(runs_dir), "--figures", str(tmp_path / "x"), "--figure-format", "tiff"])


def test_runs_saved_without_machine_or_inputs_still_render(tmp_path):
    """Runs from an older ecodec (no info['machine'], no info['inputs']) and a case built in Python: the title
    page says so instead of failing."""
    cheap = Grid(name="cheap", p_min_kw=0.0, p_max_kw=60.0, buy_price_per_kwh=0.10, sell_price_per_kwh=0.0)
    dear = Grid(name="dear", p_min_kw=0.0, p_max_kw=100.0, buy_price_per_kwh=0.20, sell_price_per_kwh=0.0)
    problem = make_problem([cheap, dear], 0.25, active_power=[50.0, 80.0], reactive_power=[0.0, 0.0])
    network = CommunicationNetwork.from_edges(["cheap", "dear"], [("cheap", "dear")])
    reference = run(problem, network, "centralized")
    decomposed = run(problem, network, "primal-decomposition", stopping=StoppingRules(max_iterations=20),
                     reference=reference)
    assert reference.info["machine"]["cores"] == os.cpu_count()
    for result in (reference, decomposed):
        for key in ("machine", "inputs", "started_at"):
            result.info.pop(key, None)
    pdf = write_report(tmp_path / "old.pdf", [reference, decomposed], compare([decomposed], reference),
                       case_summary(problem, network))
    title = " ".join(page_texts(pdf)[0].split())
    assert "Input files: not recorded" in title and "not recorded (runs saved by an older ecodec)" in title
    assert "centralized not recorded" in title


def test_figure_text_is_text_in_dejavu_with_its_symbols(tmp_path):
    """Labels with symbols (plain and mathtext, normal and bold) are text in the embedded DejaVu faces: they can
    be searched and copied, and nothing falls back to Helvetica and its Symbol font."""
    from ecodec.report.figures import new_figure
    from ecodec.report.pdf import ReportDocument, figure, heading

    fig = new_figure(2.5)
    ax = fig.subplots()
    ax.plot([1, 2, 3], [1e-3, 1e-2, 1e-1], label="cost ≤ 5 € · ρ = 0.5 · ‖x − x*‖")
    ax.set_yscale("log")
    ax.set_xlabel(r"iteration $k$ ($\rho_k$)")
    ax.set_title("Σ flows ≥ 0, μ ± σ", fontweight="bold")
    ax.legend()
    pdf = tmp_path / "symbols.pdf"
    ReportDocument(str(pdf), "t", "s", "h").build_story([heading("1  Symbols"), *figure(fig, "caption")])
    text = " ".join(page_texts(pdf)[0].split())
    assert "cost ≤ 5 € · ρ = 0.5 · ‖x − x*‖" in text and "Σ flows ≥ 0, μ ± σ" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "DejaVuSans-Bold" in fonts and "DejaVuSans-Oblique" in fonts and "Symbol" not in fonts, fonts
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 2
