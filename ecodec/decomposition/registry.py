"""The method registry: every method declares itself once, and everything else reads the declaration.

A :class:`MethodSpec` says what a method is: its name, a one-line summary, the problem kinds it solves
(``problem.kind``: ``"coupled"``, ``"aggregative"``), its options type (declared options,
:mod:`~ecodec.decomposition.options`), its history columns (name and meaning), its stopping rules
(:mod:`~ecodec.decomposition.stopping`), and what runs it: a :class:`~ecodec.decomposition.driver.Driver` class
(a distributed method, under the shared loop) or a ``solve(problem, options)`` function (the centralized solve).
A *variant* is a registered method with some options preset (``tightening-constant``).  ``default_for`` names
the problem kinds whose default method it is (one per kind).

A method module registers its driver with the :func:`register` decorator::

    @register(MethodSpec("my-method", "One line.", kinds=("coupled",), options=MyOptions, columns=(...),
                         stopping=(Tolerance(),)))
    class MyMethod(Driver): ...

and :mod:`ecodec.decomposition` reads :data:`REGISTRY` for ``run``, ``options_for``, the fit checks, the default
method of a problem kind and ``ecodec methods`` (:func:`methods_help`).  docs/howto_add_method.md says the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ecodec.decomposition.options import MethodOptions, OptionError
from ecodec.decomposition.stopping import CONVEX, RELAXED, REPAIR, StoppingRule, StoppingRules
from ecodec.declarations import format_number


@dataclass(frozen=True)
class Column:
    """A history column: its ``name`` (a pattern such as ``x:<agent>:<t>`` for a family), its one-line ``meaning``,
    and ``when`` it is present if not always (e.g. 'with a reference')."""

    name: str
    meaning: str
    when: str = ""
    label: str = ""  # its short name on the progress line, for a column the progress line may show


#: The columns the shared loop records for every distributed method (:func:`~ecodec.decomposition.driver.run_driver`)
LOOP_COLUMNS = (
    Column("iteration", "iteration number, from 1"),
    Column("iteration_time_s", "wall time of the method's iteration (s)"),
    Column("objective", "total cost sum_i f_i(x_i) of the current decisions"),
    Column("max_violation", "largest |residual| of a coupling row (the resource's unit)"),
    Column("rel_violation", "largest |residual| of a resource over its peak |right-hand side|", label="violation"),
    Column("cost_gap", "relative cost gap |f - f*| / |f*| to the reference", when="with a reference", label="gap"),
    Column("distance", "relative distance of the decisions to the reference's", when="with a reference",
           label="distance"),
    Column("messages", "messages sent so far"),
    Column("elapsed_s", "wall time since the start of the run (s)"),
)

#: The ``phase`` column of a method with a mixed-integer recovery (:data:`~ecodec.decomposition.stopping.PHASED`)
PHASE_COLUMN = Column("phase", f"{CONVEX:g}: convex problem; {RELAXED:g}: LP relaxation before the mixed-integer "
                      f"recovery; {REPAIR:g}: repair with the integers fixed")


@dataclass(frozen=True)
class MethodSpec:
    """One registered method (see the module docstring)."""

    name: str
    summary: str
    kinds: tuple[str, ...]
    options: type[MethodOptions]
    columns: tuple[Column, ...] = ()
    stopping: tuple[StoppingRule, ...] = ()
    driver: type | None = None
    solve: Callable | None = None
    preset: Mapping[str, object] = field(default_factory=dict)
    default_for: tuple[str, ...] = ()
    progress: tuple[str, ...] = ("rel_violation", "cost_gap")  # the history columns its progress line shows

    @property
    def is_distributed(self) -> bool:
        return self.driver is not None

    def variant(self, name: str, summary: str, **preset) -> MethodSpec:
        """This method under another name with ``preset`` options (refused if given otherwise)."""
        return dataclasses.replace(self, name=name, summary=summary, preset={**self.preset, **preset},
                                   default_for=())

    def base(self) -> MethodSpec:
        """The method a variant presets (the spec itself for a method that is no variant)."""
        if not self.preset:
            return self
        return next((s for s in REGISTRY.values() if s.driver is self.driver and not s.preset), self)

    def history_columns(self) -> tuple[Column, ...]:
        """Every column of this method's history: the loop's, then the method's (none for a single solve)."""
        return (*LOOP_COLUMNS, *self.columns) if self.is_distributed else self.columns

    def progress_labels(self) -> dict[str, str]:
        """The columns its progress line shows (after iteration and cost), by name, with their labels."""
        labels = {c.name: c.label or c.name for c in self.history_columns()}
        return {name: labels.get(name, name) for name in self.progress}

    def make_options(self, values: Mapping[str, object]) -> MethodOptions:
        """Typed options from text or numbers, the preset applied (a preset option given otherwise is refused)."""
        clash = sorted(k for k in self.preset if k in values and str(values[k]) != str(self.preset[k]))
        if clash:
            base = self.base().name
            raise OptionError(f"method '{self.name}' fixes {', '.join(f'{k} = {self.preset[k]}' for k in clash)}; use "
                              f"method '{base}' to choose it")
        return self.options.from_mapping({**values, **self.preset})


#: Every registered method by name, in registration order
REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec):
    """Register ``spec``.  As a class decorator it registers the decorated driver (``spec.driver`` set to it, and
    the class's ``spec`` to the registered spec); called on a spec with a ``solve`` function or a driver it
    registers that.  A second method by one name, or a second default of one problem kind, is refused."""

    def add(item: MethodSpec) -> MethodSpec:
        if item.name in REGISTRY:
            raise ValueError(f"method '{item.name}' is registered twice")
        for kind in item.default_for:
            taken = [s.name for s in REGISTRY.values() if kind in s.default_for]
            if taken:
                raise ValueError(f"problem kind '{kind}' has a default method already: {taken[0]}")
        REGISTRY[item.name] = item
        return item

    if spec.driver is not None or spec.solve is not None:
        return add(spec)

    def decorate(driver: type) -> type:
        driver.spec = add(dataclasses.replace(spec, driver=driver))
        return driver

    return decorate


def methods_help(stopping: type[StoppingRules] = StoppingRules) -> str:
    """The full help of every registered method (what ``ecodec methods`` prints): summary, problem kinds, options
    (name, expected value, unit, default, description), history columns and stopping rules; then the shared
    stopping options."""
    out = []
    for spec in REGISTRY.values():
        out.append(f"{spec.name}: {spec.summary}")
        default = f"; the default for {', '.join(spec.default_for)} problems" if spec.default_for else ""
        out.append(f"  solves: {', '.join(spec.kinds)} problems{default}")
        base = spec.base()
        if base is not spec:
            out.append("  preset: " + ", ".join(f"{k} = {v}" for k, v in spec.preset.items()) + f"; the other "
                       f"options, the history columns and the stopping rules are those of {base.name}")
            out.append("")
            continue
        out.append("  options:")
        out.extend(_option_lines(spec.options, skip=spec.preset))
        if spec.is_distributed:
            out.append("  history columns (besides the loop's: " + ", ".join(c.name for c in LOOP_COLUMNS) + "):")
            out.extend(f"    {c.name}: {c.meaning}" + (f" ({c.when})" if c.when else "") for c in spec.columns)
            out.append("  stops when (besides max_iterations):")
            out.extend(f"    {rule.describe()}" for rule in spec.stopping)
            out.append("  resume (ecodec run ... --resume): " + ("yes" if spec.driver.resumable() else
                                                                  "no (it declares no checkpoint state)"))
        out.append("")
    out.append("stopping: the shared stopping options of every distributed method (workbook driver 'stopping', "
               "--max-iterations, --tol)")
    out.extend(_option_lines(stopping))
    return "\n".join(out)


def _option_lines(options: type[MethodOptions], skip: Mapping[str, object] = {}) -> list[str]:
    lines = []
    for name, declared in options.declarations().items():
        if name in skip:
            continue
        default = "none" if declared.default is None else (
            format_number(declared.default) if isinstance(declared.default, float) else str(declared.default))
        unit = "" if declared.unit in ("", "-") else f" [{declared.unit}]"
        lines.append(f"    {name}{unit} = {default}: {declared.description}; {declared.expected()}")
    for rule in options.rules:
        lines.append(f"    ({', '.join(rule.names)}: {rule.names[0]} must be {rule.expected})")
    return lines


__all__ = ["LOOP_COLUMNS", "PHASE_COLUMN", "REGISTRY", "Column", "MethodSpec", "methods_help", "register"]
