"""What the figures call things: resources, agent quantities and the ends of coupling rows in words, with units;
and how small a price must be to be drawn as zero.

Labels are declared where the things are declared and reach the report with the results:

* a carrier's label in :data:`ecodec.carriers.CARRIER_LABELS` ('active_power' -> 'Active power');
* an agent quantity's label on its :class:`~ecodec.models.base.Output` ('p_import' -> 'grid import');
* the ends of a coupling row by :func:`ecodec.problem.resource.end_labels` ('required net supply',
  'connection limit', ...), from the ends the coupling table holds.

The :class:`~ecodec.results.CaseSummary` saved with the runs carries the first two (``labels``); without a summary
(or with one saved before labels were recorded) the declarations of the registered agent kinds named in the
results are read, and a name nobody declared is shown with spaces for underscores (:func:`humanize`).  So no
figure shows a code name such as ``active_power``.

Prices: a dual price is computed to the solver's tolerance, so a resource whose true price is zero comes back as
noise (the reactive-power balance of microgrid_8: +-1.5e-14 EUR/kvarh).  Prices with ``|price| < PRICE_ZERO *
max(1, s)``, s the largest |price| in the figure (in currency per unit), are drawn as exactly 0 (:func:`shown_prices`):
below one billionth of a currency unit per kWh for prices of a currency unit or less, and one billionth of the
largest price above that.
"""

from __future__ import annotations

import numpy as np

from ecodec.carriers import CARRIER_LABELS
from ecodec.results.case_summary import CaseSummary

#: prices below PRICE_ZERO x max(1, the largest |price| drawn) are drawn as 0 (see the module docstring)
PRICE_ZERO = 1e-9
PRICE_NOTE = (f"prices smaller than {PRICE_ZERO:g} times the largest price (at least 1) are numerical noise and "
              "shown as 0")


def humanize(name: str) -> str:
    """A code name made readable: underscores become spaces.

    >>> humanize("fraction_sold")
    'fraction sold'
    """
    return " ".join(str(name).replace("_", " ").split())


def with_unit(text: str, unit: str | None) -> str:
    """``text [unit]``; no brackets for a dimensionless ('-' or empty) unit.

    >>> with_unit("grid import", "kW"), with_unit("charging level", "-")
    ('grid import [kW]', 'charging level')
    """
    return f"{text} [{unit}]" if unit and unit != "-" else text


def resource_label(name: str, summary: CaseSummary | None = None) -> str:
    """What a coupling resource is called: its label in the summary, the carrier's declared label, or its
    humanized name (capitalized, as a heading).

    >>> resource_label("active_power"), resource_label("hydrogen_flow")
    ('Active power', 'Hydrogen flow')
    """
    declared = (summary.labels.get("resources", {}) if summary is not None else {}).get(name)
    if not declared and name.endswith("_total") and name[: -len("_total")] in CARRIER_LABELS:
        declared = f"{CARRIER_LABELS[name[: -len('_total')]]}, total over the horizon"
    text = declared or CARRIER_LABELS.get(name) or humanize(name)
    return text[:1].upper() + text[1:]


def quantity_label(quantity: str, kinds=(), summary: CaseSummary | None = None) -> str:
    """What an agent quantity is called (no unit): the label of the first of ``kinds`` that declares it, in the
    summary or on the registered kind's outputs; else the humanized name.

    >>> quantity_label("p_import", ["grid"]), quantity_label("e_end", ["storage", "ev"])
    ('grid import', 'stored energy')
    """
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    saved = summary.labels.get("quantities", {}) if summary is not None else {}
    for kind in kinds or list(saved):
        if saved.get(kind, {}).get(quantity):
            return saved[kind][quantity]
    for kind in kinds:
        for output in _declared_outputs(kind):
            if output.quantity == quantity and getattr(output, "label", ""):
                return output.label
    return humanize(quantity)


def _declared_outputs(kind: str) -> tuple:
    from ecodec.models.registry import agent_class  # the declarations of the kinds the results name

    try:
        return tuple(agent_class(kind).outputs)
    except (KeyError, AttributeError):
        return ()


def shown_prices(values, scale: float) -> np.ndarray:
    """``values`` with every price below the noise threshold (see the module docstring) set to exactly 0;
    ``scale``: the largest |price| in the figure.

    >>> shown_prices([1.5e-14, -2e-14, 0.12], 0.12).tolist()
    [0.0, 0.0, 0.12]
    """
    values = np.asarray(values, dtype=float)
    threshold = PRICE_ZERO * max(1.0, float(scale) if np.isfinite(scale) else 1.0)
    return np.where(np.abs(values) < threshold, 0.0, values)


__all__ = ["PRICE_NOTE", "PRICE_ZERO", "humanize", "quantity_label", "resource_label", "shown_prices", "with_unit"]
