"""The parse tree of a formula: its canonical text and its NumPy evaluation."""

import functools
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Node:
    """A node of the parse tree; equal trees print the same canonical text.

    ``kind`` is "number", "variable", "constant", "call", "negate" or one of
    the operators "+", "-", "*", "/", "**". ``label`` is the number's text,
    the name, or the function name. ``constant`` is the value of a part that
    depends on neither x nor y, else None.
    """

    kind: str
    label: str = ""
    children: tuple["Node", ...] = ()
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)
    constant: float | None = field(default=None, compare=False, repr=False)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "negate": 3, "**": 4}
_ATOM_PRECEDENCE = 5
_SEPARATORS = {"+": " + ", "-": " - ", "*": "*", "/": "/", "**": "**"}


def _precedence(node: Node) -> int:
    return _PRECEDENCE.get(node.kind, _ATOM_PRECEDENCE)


def _wrap(node: Node, least: int) -> str:
    text = format_tree(node)
    return f"({text})" if _precedence(node) < least else text


def format_tree(node: Node) -> str:
    """Print ``node`` with the fewest parentheses that keep its exact structure.

    Parsing the printed text gives back an equal tree, so the text serves as
    the normalised form of a formula.
    """
    kind = node.kind
    if kind in ("number", "variable", "constant"):
        return node.label
    if kind == "call":
        return f"{node.label}({', '.join(format_tree(a) for a in node.children)})"
    if kind == "negate":
        return "-" + _wrap(node.children[0], _PRECEDENCE["negate"])
    left, right = node.children
    if kind == "**":
        return f"{_wrap(left, _ATOM_PRECEDENCE)}**{_wrap(right, _PRECEDENCE['negate'])}"
    level = _PRECEDENCE[kind]
    return f"{_wrap(left, level)}{_SEPARATORS[kind]}{_wrap(right, level + 1)}"


_NUMPY_FUNCTIONS = {
    "abs": np.abs,
    "atan": np.arctan,
    "cos": np.cos,
    "cosh": np.cosh,
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "tan": np.tan,
    "tanh": np.tanh,
}
_NUMPY_OPERATORS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "**": np.power,
}


def _apply(kind: str, label: str, values: list):
    """Apply one node's operation to its children's values with NumPy."""
    if kind == "negate":
        return np.negative(values[0])
    if kind == "call":
        if label == "min":
            return functools.reduce(np.minimum, values)
        if label == "max":
            return functools.reduce(np.maximum, values)
        return _NUMPY_FUNCTIONS[label](values[0])
    return _NUMPY_OPERATORS[kind](values[0], values[1])


def evaluate_tree(node: Node, x, y):
    """Evaluate ``node`` with NumPy at ``x``, ``y`` (floats or arrays).

    Undefined points give NaN or ±inf; the caller silences NumPy's warnings.
    """
    if node.constant is not None:
        return node.constant
    if node.kind == "variable":
        return x if node.label == "x" else y
    values = [evaluate_tree(child, x, y) for child in node.children]
    return _apply(node.kind, node.label, values)
