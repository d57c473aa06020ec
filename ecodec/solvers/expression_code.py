"""Pyomo expressions compiled to Python functions of one vector x, for the NLP callbacks of :mod:`ecodec.solvers.ipopt`.

Ipopt asks for the objective, the constraints, their first derivatives and the Hessian of the Lagrangian at
thousands of points.  Evaluating Pyomo expression trees each time (load the point into the variables, then
``value()`` node by node) costs tens of microseconds per node; instead each expression is written once as Python
source over ``x`` (variable j becomes ``x[j]``, fixed variables and parameters their current values) and the
expressions of one callback are compiled into one function returning them all.

Supported nodes: sums (including linear expressions), products and monomials, division, powers, negation,
named expressions (expanded), absolute value and the unary functions of :data:`FUNCTIONS`.  Any other node is
refused with a :class:`~ecodec.errors.ProblemError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pyomo.core.expr import numeric_expr as ne
from pyomo.core.expr import value
from pyomo.core.expr.calculus.derivatives import Modes, differentiate
from pyomo.core.expr.visitor import StreamBasedExpressionVisitor, identify_variables

from ecodec.errors import ProblemError

FUNCTIONS: dict[str, Callable[[float], float]] = {
    "log": math.log, "log10": math.log10, "exp": math.exp, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
    "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan, "sinh": math.sinh,
    "cosh": math.cosh, "tanh": math.tanh, "asinh": math.asinh, "acosh": math.acosh, "atanh": math.atanh,
}


class _Writer(StreamBasedExpressionVisitor):
    """Python source of one expression; ``index`` maps id(variable) to its position in x."""

    def __init__(self, index: dict[int, int]):
        super().__init__()
        self.index = index

    def beforeChild(self, node, child, child_idx):
        leaf = self.leaf(child)
        return (True, None) if leaf is None else (False, leaf)

    def leaf(self, child) -> str | None:
        """Source of a leaf (a number, a constant, a variable), None for an expression to descend into."""
        if type(child) in ne.native_types or not child.is_potentially_variable():
            return repr(float(value(child)))
        if not child.is_variable_type():
            return None
        if child.fixed:
            return repr(float(child.value))
        position = self.index.get(id(child))
        if position is None:
            raise ProblemError(f"the expression uses variable '{child.name}', which is not among the model's "
                               f"decision variables")
        return f"x[{position}]"

    def exitNode(self, node, data):
        if node.is_named_expression_type():
            return data[0]
        if isinstance(node, ne.SumExpression):  # a flat call: long sums would nest too deep as a + b + ...
            return "_sum((" + ", ".join(data) + ",))" if data else "0.0"
        if isinstance(node, (ne.ProductExpression, ne.MonomialTermExpression)):
            return f"({data[0]} * {data[1]})"
        if isinstance(node, ne.DivisionExpression):
            return f"({data[0]} / {data[1]})"
        if isinstance(node, ne.PowExpression):
            return f"({data[0]} ** {data[1]})"
        if isinstance(node, ne.NegationExpression):
            return f"(-{data[0]})"
        if isinstance(node, ne.AbsExpression):
            return f"abs({data[0]})"
        if isinstance(node, ne.UnaryFunctionExpression) and node.getname() in FUNCTIONS:
            return f"{node.getname()}({data[0]})"
        raise ProblemError(f"ecodec's NLP bridge cannot evaluate '{type(node).__name__}' nodes "
                           f"({node.to_string()}); use sums, products, powers, division and "
                           f"{', '.join(FUNCTIONS)}")


def expression_source(expr, index: dict[int, int]) -> str:
    """Python source of ``expr`` over the vector ``x`` (a number or a constant expression gives its value)."""
    writer = _Writer(index)
    leaf = writer.leaf(expr)
    return leaf if leaf is not None else writer.walk_expression(expr)


def compile_vector(exprs: Sequence, index: dict[int, int], name: str) -> Callable[[np.ndarray], np.ndarray]:
    """One function x -> array of the values of ``exprs`` (in order)."""
    body = ", ".join(expression_source(e, index) for e in exprs)
    source = f"def {name}(x):\n    return _array([{body}], dtype=float)\n"
    namespace: dict = {"_array": np.array, "_sum": sum, "abs": abs, **FUNCTIONS}
    exec(compile(source, f"<ecodec:{name}>", "exec"), namespace)  # noqa: S102 - source written above from the model
    return namespace[name]


def symbolic_gradient(expr, variables: Sequence, index: dict[int, int]) -> list[tuple[int, object]]:
    """(j, d expr / d x_j) for the unfixed variables ``expr`` uses, in x order: Pyomo's symbolic reverse mode
    gives each derivative as an expression (to compile, or to differentiate once more)."""
    used = sorted({index[id(v)] for v in identify_variables(expr, include_fixed=False)})
    if not used:
        return []
    derivatives = differentiate(expr, wrt_list=[variables[j] for j in used], mode=Modes.reverse_symbolic)
    return list(zip(used, derivatives))
