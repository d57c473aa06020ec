"""Tables of the report's case section: the parameters of the agents of one kind, and values as text.

>>> value_text(True), value_text(1e-6), value_text({"min": 0.0, "max": 2.0, "mean": 1.0})
('yes', '1e-06', '0 .. 2 (mean 1)')
"""

from __future__ import annotations

from reportlab.lib.units import mm

from ecodec.report.pdf import FRAME_WIDTH, paragraph, spacer, table

MAX_AGENT_COLUMNS = 6  # agents side by side in one parameter table
MAX_LISTED_AGENTS = 12  # more agents of one kind are summarised by min / mean / max over the agents


def value_text(value) -> str:
    """A parameter or info value as text: 0.1, 1e-06, 'yes'/'no', a series as 'min .. max (mean m)'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "-"
    if isinstance(value, dict) and set(value) == {"min", "max", "mean"}:
        return f"{value['min']:.4g} .. {value['max']:.4g} (mean {value['mean']:.4g})"
    return str(value)


def parameter_tables(agents: list[dict]) -> list:
    """Parameters (rows) of the agents of one kind (columns, several tables when many); more than
    MAX_LISTED_AGENTS agents are summarised per parameter by min, mean and max over the agents."""
    names = list(dict.fromkeys(p for agent in agents for p in agent["parameters"]))
    if len(agents) > MAX_LISTED_AGENTS:
        rows = [["parameter", "min", "mean", "max"]]
        for name in names:
            values = [_scalar(agent["parameters"].get(name)) for agent in agents]
            numbers = [v for v in values if isinstance(v, float)]
            if numbers:
                rows.append([name, f"{min(numbers):.4g}", f"{sum(numbers) / len(numbers):.4g}", f"{max(numbers):.4g}"])
            else:
                rows.append([name, "", ", ".join(sorted({value_text(v) for v in values})), ""])
        return [table(rows), paragraph(f"{len(agents)} agents: each parameter's smallest, mean and largest value "
                                       "over them (time series by their mean).", "caption")]
    out = []
    for start in range(0, len(agents), MAX_AGENT_COLUMNS):
        chunk = agents[start:start + MAX_AGENT_COLUMNS]
        rows = [["parameter"] + [agent["name"] for agent in chunk]]
        rows += [[name] + [value_text(agent["parameters"].get(name)) for agent in chunk] for name in names]
        first = 42 * mm
        out += [table(rows, [first] + [(FRAME_WIDTH - first) / len(chunk)] * len(chunk), wrap=True), spacer(3)]
    return out


def _scalar(value):
    """A parameter as a float when it is a number (a series by its mean), else unchanged."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return float(value["mean"])
    return float(value)
