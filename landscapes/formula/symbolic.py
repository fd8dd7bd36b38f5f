"""Build the SymPy expression of a parse tree and check it.

The expression is built from SymPy constructors, never from text. abs, min and
max become functions whose derivatives print as plain Python, where SymPy's Abs,
Min and Max would bring re(), im() and Heaviside terms into the gradient.
"""

import functools

import sympy as sp

from landscapes.formula.syntax import LIMITS, FormulaError
from landscapes.formula.tree import Node
from landscapes.formula.window import _undefined_message

_X = sp.Symbol("x", real=True)
_Y = sp.Symbol("y", real=True)
_SYMPY_FUNCTIONS = {
    "atan": sp.atan,
    "cos": sp.cos,
    "cosh": sp.cosh,
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "sinh": sp.sinh,
    "sqrt": sp.sqrt,
    "tan": sp.tan,
    "tanh": sp.tanh,
}
_DISPLAY_FUNCTIONS = {**_SYMPY_FUNCTIONS, "abs": sp.Abs, "min": sp.Min, "max": sp.Max}


class AbsoluteValue(sp.Function):
    """|u| with the derivative sign(u)·u'.

    ``sympy.Abs`` differentiates through re() and im() unless SymPy can prove
    its argument real, which it cannot for log(x) or sqrt(x) - 1.
    """

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.sign(self.args[0])


class LessEqual(sp.Function):
    """The indicator of a <= b (1 or 0): the switch in the slopes of min and max."""

    nargs = 2

    def fdiff(self, argindex=1):
        return sp.S.Zero


class MinOf2(sp.Function):
    """min(a, b), with the partial derivatives LessEqual(a, b) and its complement.

    SymPy's own Min differentiates into Heaviside terms. A Piecewise form of
    eight nested min and max calls ran for over ten minutes in SymPy 1.14 while
    it simplified their conditions.
    """

    nargs = 2

    # NOTE: the slope of min and max is switch*da + (1 - switch)*db, so an
    # infinite or NaN slope of the argument not chosen still gives NaN.
    def fdiff(self, argindex=1):
        switch = LessEqual(*self.args)
        return switch if argindex == 1 else 1 - switch


class MaxOf2(sp.Function):
    """max(a, b), with the partial derivatives LessEqual(b, a) and its complement."""

    nargs = 2

    def fdiff(self, argindex=1):
        switch = LessEqual(self.args[1], self.args[0])
        return switch if argindex == 1 else 1 - switch


def to_sympy(node: Node, display: bool = False) -> sp.Expr:
    """Build the SymPy expression of ``node`` from SymPy constructors.

    With ``display`` true, abs, min and max are SymPy's Abs, Min and Max, for
    LaTeX. Otherwise they are :class:`AbsoluteValue`, :class:`MinOf2` and
    :class:`MaxOf2`, whose derivatives print as plain Python.
    """
    kind = node.kind
    if kind == "number":
        if node.label.isdigit():
            return sp.Integer(int(node.label))
        return sp.Float(float(node.label))
    if kind == "variable":
        return _X if node.label == "x" else _Y
    if kind == "constant":
        return sp.pi if node.label == "pi" else sp.E
    args = [to_sympy(child, display) for child in node.children]
    if kind == "negate":
        return sp.Mul(sp.S.NegativeOne, args[0])
    if kind == "+":
        return sp.Add(args[0], args[1])
    if kind == "-":
        return sp.Add(args[0], sp.Mul(sp.S.NegativeOne, args[1]))
    if kind == "*":
        return sp.Mul(args[0], args[1])
    if kind == "/":
        return sp.Mul(args[0], sp.Pow(args[1], sp.S.NegativeOne))
    if kind == "**":
        return sp.Pow(args[0], args[1])
    if display:
        return _DISPLAY_FUNCTIONS[node.label](*args)
    if node.label in ("min", "max"):
        pair = MinOf2 if node.label == "min" else MaxOf2
        return functools.reduce(pair, args)
    if node.label == "abs":
        return AbsoluteValue(args[0])
    return _SYMPY_FUNCTIONS[node.label](args[0])


def _check_expression(expression: sp.Expr, window) -> None:
    undefined = (sp.I, sp.zoo, sp.oo, -sp.oo, sp.nan)
    if expression.has(*undefined) or not expression.free_symbols <= {_X, _Y}:
        raise FormulaError(_undefined_message(window) + " It has no real value.")
    bound = LIMITS["combined_exponent"]
    for power in expression.atoms(sp.Pow):
        exponent = power.exp
        if exponent.is_Number and abs(exponent) > bound:
            raise FormulaError(
                f"The powers in the formula combine into the exponent {exponent}, "
                f"for example (x**10)**10 is x**100: the limit is {bound}."
            )
