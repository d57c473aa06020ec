"""docs/python_api.md runs: its code blocks, in order, as one script (what the page shows is what ecodec does)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_python_api_page_runs(monkeypatch, tmp_path, capsys):
    text = (ROOT / "docs" / "python_api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(ROOT)
    script = "\n".join(blocks)
    for folder in ("results/", "reports/"):  # write into a scratch folder, not the repository
        script = script.replace(f'"{folder}', f'"{tmp_path}/{folder}')
    namespace: dict = {}
    exec(compile(script, "docs/python_api.md", "exec"), namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert out.startswith("optimal 365.55 EUR")  # the centralized optimum of the shipped microgrid
    assert (tmp_path / "reports" / "api_demo.pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "results" / "api_demo" / "runs.json").is_file()
    assert namespace["counter"].iterations == 5
    assert "p_min_kw <= p_max_kw" in out  # the invalid storage is refused with the workbook's words
    # the tiny community by hand: net load after PV is 12, 3, -14, 11 kWh.  The battery gives its 10 kWh and the
    # 10 kWh it may store from the surplus (power limit 10 kW), so the grid sells 26 - 20 = 6 kWh at 0.30 and buys
    # the remaining 14 - 10 = 4 kWh of surplus at 0.08: 1.80 - 0.32 = 1.48 EUR
    assert namespace["tiny"].status == "optimal"
    assert abs(namespace["tiny"].objective - 1.48) < 1e-9
    # online sharing: the adjusted drs never sends more than a node generates, over each of the 3 seeds
    summary = namespace["shared"].seeds.summary().set_index("method")
    assert summary.at["drs", "seeds"] == 3 and summary.at["drs", "cumulative_violation"] == 0.0
    # deployment: the four sensors move toward the target and the divergence falls
    before, after = (float(v) for v in re.search(r"divergence (-?[\d.]+) -> (-?[\d.]+)", out).groups())
    assert after < before
    # DELTA: one sample per agent and iteration (and one each for the cost scale)
    assert "; 255 samples" in out and namespace["learned"].status == "iteration_limit"
    # analysis tools: eps(7, 900, 1e-3) as a 60-digit evaluation gives it (tests/test_sensitivity.py), the cargo
    # example's measured frequency below its bound, the V2G closed form agreeing with the optimisation at every price
    assert "eps(7 of 900) = 0.026092" in out
    cargo = namespace["cargo"]
    assert cargo.draws == 200 and 0 < cargo.frequency <= cargo.eps_s_star < 1
    assert namespace["v2g"].agreement == 1.0 and namespace["v2g"].boundary_closed_form > 0
    # the classifier keeps fewer terms than the full degree-2 expansion of iris's 4 attributes (14) and fits it
    kept, full, accuracy = re.search(r"iris: (\d+) of (\d+) degree-2 terms, accuracy ([\d.]+)", out).groups()
    assert int(full) == 14 and 0 < int(kept) < 14 and float(accuracy) > 0.9
