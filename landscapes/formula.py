"""Turn a formula typed by a user, such as ``x**2 + 10*y**2``, into a Surface.

The text goes through a strict tokenizer and a recursive-descent parser written
here, so no user text ever reaches ``eval``, ``exec``, ``compile`` or
``sympy.sympify`` (which calls ``eval``). The parse tree becomes a SymPy
expression built from SymPy constructors, which is differentiated
symbolically and printed as the source of two Numba functions ``value(x, y, p)``
and ``grad(x, y, p)``. Every printed token is checked against a whitelist
before the source is loaded.

Grammar, with Python's precedence (``^`` means the same as ``**``)::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("+" | "-") unary | power
    power      := atom (("**" | "^") unary)?
    atom       := number | "x" | "y" | "pi" | "e"
                | function "(" expression ("," expression)* ")"
                | "(" expression ")"

Only ASCII is accepted. Look-alike characters such as the minus sign U+2212,
the multiplication sign ×, fullwidth digits or the Cyrillic letter х are
rejected with a message that names the character and what to type instead.
Multiplication must be written out: ``2x`` is rejected, ``2*x`` is accepted.

>>> surface = parse_formula("(x - 1)^2 + 10*(y + 2)^2")
>>> surface.description
'J(x, y) = (x - 1)**2 + 10*(y + 2)**2'
"""

import ast
import functools
import hashlib
import importlib.util
import io
import logging
import math
import os
import re
import sys
import threading
import time
import tokenize
import unicodedata
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from landscapes import PARAMETER_SLOTS, Minimum, Surface
from landscapes._cache import cache_root

__all__ = [
    "CONSTANTS",
    "DEFAULT_WINDOW",
    "FUNCTIONS",
    "FormulaError",
    "LIMITS",
    "canonical_formula",
    "parse_formula",
]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = (-5.0, 5.0, -5.0, 5.0)

LIMITS = MappingProxyType(
    {
        "characters": 200,
        "depth": 30,
        "nodes": 150,
        "exponent": 10.0,
        "combined_exponent": 1000,
        "magnitude": 1e300,
        "code_characters": 20_000,
        "compile_seconds": 30.0,
        "window_size_min": 1e-6,
        "window_size_max": 1e6,
        "window_coordinate": 1e6,
        "cached_surfaces": 64,
        "grid_points": 200,
    }
)
"""Bounds that keep one formula cheap to parse, differentiate and compile.

``depth`` counts nested parentheses, function calls, signs and powers.
``nodes`` counts numbers, names and operations. ``exponent`` bounds a power
whose exponent is a fixed number, so ``x**1000000`` and ``9**9**9`` are
rejected. ``combined_exponent`` bounds the exponent that SymPy forms from
powers of powers, such as ``x**100`` from ``(x**10)**10``. ``magnitude``
bounds every fixed number and every part of the formula that does not depend
on x or y. ``grid_points`` is
the side of the grid sampled for the lowest point and the colour scale.
"""

VARIABLES = ("x", "y")
CONSTANTS = MappingProxyType({"pi": math.pi, "e": math.e})
FUNCTIONS = MappingProxyType(
    {
        "abs": (1, 1),
        "atan": (1, 1),
        "cos": (1, 1),
        "cosh": (1, 1),
        "exp": (1, 1),
        "log": (1, 1),
        "max": (2, None),
        "min": (2, None),
        "sin": (1, 1),
        "sinh": (1, 1),
        "sqrt": (1, 1),
        "tan": (1, 1),
        "tanh": (1, 1),
    }
)
"""Allowed functions with their (minimum, maximum) number of arguments.

A maximum of None means any number of arguments.
"""

_MAGNITUDE_TEXT = f"{LIMITS['magnitude']:.0e}".replace("e+", "e")
_ALLOWED_TEXT = "x, y, pi, e and the functions " + ", ".join(
    f"{name}()" for name in FUNCTIONS
)

_NAME_HINTS = {
    "ln": "log (the natural logarithm)",
    "arctan": "atan",
    "atan2": "atan(y/x)",
    "pow": "** or ^, for example x**2",
    "power": "** or ^, for example x**2",
    "fabs": "abs",
    "sgn": "x/abs(x)",
    "sign": "x/abs(x)",
    "exp10": "10**x",
    "log10": "log(x)/log(10)",
    "log2": "log(x)/log(2)",
}

_CHARACTER_HINTS = {
    "\u2212": "type the ordinary minus sign -",
    "\u2013": "type the ordinary minus sign -",
    "\u2014": "type the ordinary minus sign -",
    "\u00d7": "type * to multiply",
    "\u22c5": "type * to multiply",
    "\u00b7": "type * to multiply",
    "\u2217": "type * to multiply",
    "\u00f7": "type / to divide",
    "\u2215": "type / to divide",
    "\u00b2": "type ^2 or **2 for a square",
    "\u00b3": "type ^3 or **3 for a cube",
    "\u03c0": "type pi",
    "\u221a": "type sqrt(...)",
    "\u2009": "type an ordinary space",
    "\u00a0": "type an ordinary space",
}


class FormulaError(ValueError):
    """A formula that cannot become a surface, with a message for students.

    ``message`` states in plain words what is wrong and what to type instead,
    and it counts characters from 1. ``position`` is the 0-based offset of the
    offending character in the text, or None when no single place is at fault.
    """

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


# ---------------------------------------------------------------- tokenizer


class _Token(NamedTuple):
    kind: str
    """"number", "name", "op" or "end"."""
    text: str
    start: int
    op: str = ""
    """The operator, with "^" given as "**"."""


_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("**", "+", "-", "*", "/", "^", "(", ")", ",")
_SPACES = " \t\r\n"
_ASCII_HINTS = {
    ".": "A dot may only appear inside a number, such as 0.5",
    "[": "Use round parentheses ( ) to group",
    "]": "Use round parentheses ( ) to group",
    "{": "Use round parentheses ( ) to group",
    "}": "Use round parentheses ( ) to group",
    "'": "Text in quotes is not allowed",
    '"': "Text in quotes is not allowed",
    "=": "Type only the right-hand side, for example x**2 + y**2",
}


def _character_error(text: str, index: int) -> FormulaError:
    character = text[index]
    place = f"character {index + 1}"
    if ord(character) < 128 and character.isprintable():
        hint = _ASCII_HINTS.get(
            character,
            "Use numbers, x, y, + - * / ** ^, parentheses and functions such as sin(x)",
        )
        return FormulaError(f"{character!r} at {place} is not allowed. {hint}.", index)
    name = unicodedata.name(character, f"U+{ord(character):04X}")
    hint = _CHARACTER_HINTS.get(character)
    if hint is None:
        if unicodedata.category(character) == "Nd":
            hint = "type ordinary digits 0-9"
        elif character.isalpha():
            hint = "type names with plain keyboard letters a-z, such as x and y"
        else:
            hint = "type the formula with plain keyboard characters"
    quoted = f"'{character}' " if character.isprintable() else ""
    return FormulaError(
        f"The character {quoted}({name}) at {place} is not allowed: {hint}.", index
    )


def _name_error(name: str, start: int) -> FormulaError:
    place = f"character {start + 1}"
    if re.fullmatch(r"(?:x|y|pi|e|[0-9]+)+", name):
        parts = re.findall(r"x|y|pi|e|[0-9]+", name)
        return FormulaError(
            f"Missing '*' in '{name}' at {place}: write {'*'.join(parts)} "
            f"instead of {name}.",
            start,
        )
    known = (*VARIABLES, *CONSTANTS, *FUNCTIONS)
    if name.lower() in known:
        hint = f" Names are lower case: did you mean {name.lower()}?"
    elif name in _NAME_HINTS:
        hint = f" Use {_NAME_HINTS[name]} instead."
    else:
        hint = ""
    return FormulaError(
        f"Unknown name '{name}' at {place}.{hint} Allowed names: {_ALLOWED_TEXT}.",
        start,
    )


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    index = 0
    while index < len(text):
        character = text[index]
        if character in _SPACES:
            index += 1
            continue
        number = _NUMBER.match(text, index)
        if number:
            if text.startswith(".", number.end()):
                raise FormulaError(
                    f"The number at character {index + 1} has a second decimal point.",
                    number.end(),
                )
            tokens.append(_Token("number", number.group(), index))
            index = number.end()
            continue
        name = _NAME.match(text, index)
        if name:
            word = name.group()
            if (
                word not in VARIABLES
                and word not in CONSTANTS
                and word not in FUNCTIONS
            ):
                raise _name_error(word, index)
            tokens.append(_Token("name", word, index))
            index = name.end()
            continue
        operator = next((o for o in _OPERATORS if text.startswith(o, index)), None)
        if operator is None:
            raise _character_error(text, index)
        op = "**" if operator == "^" else operator
        tokens.append(_Token("op", operator, index, op))
        index += len(operator)
    tokens.append(_Token("end", "", len(text)))
    return tokens


# ---------------------------------------------------------------- parse tree


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


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.nodes = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise _empty_error()
        node = self._expression()
        token = self.token
        if token.kind != "end":
            if token.op == ")":
                raise FormulaError(
                    f"The ')' at character {token.start + 1} has no matching '('.",
                    token.start,
                )
            raise self._unexpected(token)
        return node

    # Grammar rules, from loosest to tightest binding.

    def _expression(self) -> Node:
        node = self._term()
        while self.token.op in ("+", "-"):
            operator = self._advance()
            node = self._binary(operator.op, node, self._term())
        return node

    def _term(self) -> Node:
        node = self._unary()
        while True:
            token = self.token
            if token.op in ("*", "/"):
                self._advance()
                node = self._binary(token.op, node, self._unary())
            elif token.kind in ("number", "name") or token.op == "(":
                raise self._missing_multiplication(token)
            else:
                return node

    def _unary(self) -> Node:
        self.depth += 1
        # The whole formula is level 0, so depth 1 is outside any parentheses.
        if self.depth - 1 > LIMITS["depth"]:
            start = self.token.start
            raise FormulaError(
                f"The formula is nested too deeply at character {start + 1}: at "
                f"most {LIMITS['depth']} levels of parentheses, functions, powers "
                "and signs are allowed.",
                start,
            )
        try:
            token = self.token
            if token.op == "+":
                self._advance()
                return self._unary()
            if token.op == "-":
                self._advance()
                operand = self._unary()
                return self._node("negate", "", (operand,), token.start, operand.end)
            return self._power()
        finally:
            self.depth -= 1

    def _power(self) -> Node:
        base = self._atom()
        if self.token.op != "**":
            return base
        self._advance()
        exponent = self._unary()
        if exponent.constant is not None:
            bound = LIMITS["exponent"]
            if abs(exponent.constant) > bound:
                raise FormulaError(
                    f"The exponent {self._snippet(exponent)} at character "
                    f"{exponent.start + 1} is out of range: a fixed exponent must lie "
                    f"between {-bound:g} and {bound:g}.",
                    exponent.start,
                )
        return self._binary("**", base, exponent)

    def _atom(self) -> Node:
        token = self.token
        if token.kind == "number":
            self._advance()
            return self._number(token)
        if token.kind == "name":
            self._advance()
            end = token.start + len(token.text)
            if token.text in FUNCTIONS:
                return self._call(token)
            kind = "variable" if token.text in VARIABLES else "constant"
            return self._node(kind, token.text, (), token.start, end)
        if token.op == "(":
            self._advance()
            inner = self._expression()
            self._expect_closing(token)
            return inner
        raise self._missing_value(token)

    def _call(self, name: _Token) -> Node:
        low, high = FUNCTIONS[name.text]
        example = f"{name.text}(x, y)" if high is None else f"{name.text}(x)"
        opening = self.token
        if opening.op != "(":
            raise FormulaError(
                f"The function {name.text} at character {name.start + 1} needs "
                f"parentheses around its argument, for example {example}.",
                name.start,
            )
        self._advance()
        arguments = []
        if self.token.op != ")":
            arguments.append(self._expression())
            while self.token.op == ",":
                self._advance()
                arguments.append(self._expression())
        closing = self._expect_closing(opening)
        count = len(arguments)
        if count < low or (high is not None and count > high):
            expected = "exactly one argument" if high == 1 else "two or more arguments"
            received = {0: "none was", 1: "one was"}.get(count, f"{count} were")
            raise FormulaError(
                f"The function {name.text} at character {name.start + 1} takes "
                f"{expected}, but {received} given, for example {example}.",
                name.start,
            )
        return self._node(
            "call", name.text, tuple(arguments), name.start, closing.start + 1
        )

    # Node construction and its checks.

    def _number(self, token: _Token) -> Node:
        text = token.text
        end = token.start + len(text)
        exact = "." not in text and "e" not in text.lower()
        try:
            value = int(text) if exact else float(text)
            magnitude = float(value)
        except OverflowError:
            magnitude = math.inf
        if not magnitude <= LIMITS["magnitude"]:
            raise FormulaError(
                f"The number at character {token.start + 1} is too large: numbers "
                f"may be at most {_MAGNITUDE_TEXT}.",
                token.start,
            )
        label = str(value) if exact else repr(value)
        return self._node("number", label, (), token.start, end, np.float64(value))

    def _binary(self, kind: str, left: Node, right: Node) -> Node:
        return self._node(kind, "", (left, right), left.start, right.end)

    def _node(self, kind, label, children, start, end, constant=None) -> Node:
        self.nodes += 1
        if self.nodes > LIMITS["nodes"]:
            reached = self.tokens[self.index - 1].start
            raise FormulaError(
                f"The formula has too many parts: at most {LIMITS['nodes']} numbers, "
                f"names and operations are allowed, and character {reached + 1} "
                "goes past that.",
                reached,
            )
        if kind == "constant":
            constant = np.float64(CONSTANTS[label])
        elif children and all(c.constant is not None for c in children):
            with np.errstate(all="ignore"):
                constant = _apply(kind, label, [c.constant for c in children])
        node = Node(kind, label, children, start, end, constant)
        if constant is not None and not abs(constant) <= LIMITS["magnitude"]:
            snippet = self._snippet(node)
            if np.isfinite(constant):
                raise FormulaError(
                    f"The value of {snippet} at character {start + 1} is too large: "
                    f"values may be at most {_MAGNITUDE_TEXT}.",
                    start,
                )
            raise FormulaError(
                "The formula is not defined anywhere in the window: "
                f"{snippet} at character {start + 1} has no finite value "
                "(a division by zero, or a log or square root of a negative "
                "number, or a number too large).",
                start,
            )
        return node

    # Error messages.

    def _snippet(self, node: Node) -> str:
        text = self.text[node.start : node.end]
        return f"'{text}'" if len(text) <= 30 else f"'{text[:27]}...'"

    def _expect_closing(self, opening: _Token) -> _Token:
        token = self.token
        if token.op == ")":
            return self._advance()
        if token.kind == "end":
            raise FormulaError(
                f"The '(' at character {opening.start + 1} is never closed: add a ')'.",
                opening.start,
            )
        raise self._unexpected(token)

    def _unexpected(self, token: _Token) -> FormulaError:
        place = f"character {token.start + 1}"
        if token.op == ",":
            return FormulaError(
                f"The comma at {place} is only allowed between the arguments of a "
                "function, for example min(x, y).",
                token.start,
            )
        return FormulaError(f"Unexpected '{token.text}' at {place}.", token.start)

    def _missing_multiplication(self, token: _Token) -> FormulaError:
        previous = self.tokens[self.index - 1]
        left = "(...)" if previous.op == ")" else previous.text
        right = "(...)" if token.op == "(" else token.text
        return FormulaError(
            f"Missing '*' before '{token.text}' at character {token.start + 1}: "
            f"write {left}*{right} instead of {left}{right}.",
            token.start,
        )

    def _missing_value(self, token: _Token) -> FormulaError:
        previous = self.tokens[self.index - 1] if self.index else None
        if token.kind == "end":
            return FormulaError(
                f"The formula ends too early: a value is missing after "
                f"'{previous.text}' at character {previous.start + 1}.",
                previous.start,
            )
        place = f"character {token.start + 1}"
        if previous is not None and previous.kind == "op" and previous.op != ")":
            return FormulaError(
                f"A value is missing between '{previous.text}' and '{token.text}' "
                f"at {place}.",
                token.start,
            )
        return FormulaError(
            f"A value is missing before '{token.text}' at {place}.", token.start
        )


def _empty_error() -> FormulaError:
    return FormulaError(
        "The formula is empty: type an expression in x and y, for example "
        "x**2 + 10*y**2.",
        0,
    )


def parse_tree(text: str) -> Node:
    """Parse ``text`` into a checked tree, or raise :class:`FormulaError`.

    Every bound in :data:`LIMITS` that concerns the text (length, depth, parts,
    exponents, magnitudes) is checked here, before any SymPy call.
    """
    if not isinstance(text, str):
        raise FormulaError("The formula must be text, for example x**2 + y**2.")
    if len(text) > LIMITS["characters"]:
        raise FormulaError(
            f"The formula is {len(text)} characters long: the limit is "
            f"{LIMITS['characters']}.",
            LIMITS["characters"],
        )
    if not text.strip(_SPACES):
        raise _empty_error()
    return _Parser(text).parse()


def canonical_formula(text: str) -> str:
    """Return the normalised text of a formula, or raise :class:`FormulaError`.

    Spacing, ``^`` against ``**``, redundant parentheses and unary plus do not
    change it: ``x^2+10*y^2`` and ``(x ** 2) + 10 * y ** 2`` both give
    ``x**2 + 10*y**2``. It is cheap (no SymPy, no compilation), so a page can
    check input as it is typed.
    """
    return format_tree(parse_tree(text))


# ---------------------------------------------------------------- SymPy

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


class _MathPrinter(PythonCodePrinter):
    """SymPy's Python printer with float literals and only ``math`` functions.

    Float literals keep Numba from typing a large integer literal as an int64,
    which overflows. Integer exponents stay integers, so that Numba computes
    ``x**2`` by multiplication.
    """

    def __init__(self):
        super().__init__({"standard": "python3", "strict": True})

    def _print_Float(self, expr):
        return repr(float(expr))

    _print_Integer = _print_Float
    _print_Rational = _print_Float

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_Integer:
            base = self.parenthesize(
                expr.base, sp.printing.precedence.PRECEDENCE["Pow"]
            )
            exponent = int(expr.exp)
            if exponent == -1:
                return f"(1.0/{base})"
            if exponent < 0:
                return f"(1.0/{base}**{-exponent})"
            return f"{base}**{exponent}"
        return super()._print_Pow(expr, rational)

    def _print_AbsoluteValue(self, expr):
        return f"math.fabs({self._print(expr.args[0])})"

    def _print_MinOf2(self, expr):
        return f"min({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_MaxOf2(self, expr):
        return f"max({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_LessEqual(self, expr):
        left, right = (self._print(argument) for argument in expr.args)
        return f"(1.0 if {left} <= {right} else 0.0)"

    def _print_sign(self, expr):
        argument = self._print(expr.args[0])
        return f"(0.0 if {argument} == 0.0 else math.copysign(1.0, {argument}))"


_DECORATOR = '@njit(cache=True, nogil=True, error_model="numpy")'


def _function_source(name: str, outputs: list[sp.Expr]) -> str:
    printer = _MathPrinter()
    replacements, reduced = sp.cse(outputs, symbols=sp.numbered_symbols("t"))
    lines = [_DECORATOR, f"def {name}(x, y, p):"]
    for symbol, expression in replacements:
        lines.append(f"    {symbol} = {printer.doprint(expression)}")
    returned = ", ".join(printer.doprint(output) for output in reduced)
    lines.append(f"    return {returned}")
    return "\n".join(lines) + "\n"


_CODE_NAMES = frozenset(
    {
        "def", "return", "if", "else", "and", "or", "not", "True", "False",
        "x", "y", "p", "value", "grad", "njit", "cache", "nogil", "error_model",
        "math", "min", "max",
    }
)  # fmt: skip
_MATH_NAMES = frozenset(
    {
        "sin", "cos", "tan", "exp", "log", "sqrt", "fabs", "tanh", "sinh", "cosh",
        "atan", "copysign", "pi", "e",
    }
)  # fmt: skip
_CODE_OPERATORS = frozenset("+ - * / ** ( ) , = == != < <= > >= @ : .".split())
_TEMPORARY = re.compile(r"t[0-9]+")


def check_source(source: str) -> None:
    """Raise ``ValueError`` unless ``source`` is only ``value`` and ``grad``.

    Every token must be a number, an arithmetic or comparison operator, a
    ``math.`` function or constant, the built-in min or max, a local name
    (x, y, p, t0, t1, ...) or part of the two ``def`` lines and their decorator.
    """
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for index, token in enumerate(tokens):
        kind, text = token.type, token.string
        if kind == tokenize.NAME:
            after_dot = index > 0 and tokens[index - 1].string == "."
            if after_dot:
                allowed = text in _MATH_NAMES and tokens[index - 2].string == "math"
            else:
                allowed = text in _CODE_NAMES or _TEMPORARY.fullmatch(text)
        elif kind == tokenize.OP:
            allowed = text in _CODE_OPERATORS
        elif kind == tokenize.STRING:
            allowed = text == '"numpy"'
        else:
            allowed = kind in (
                tokenize.NUMBER,
                tokenize.NEWLINE,
                tokenize.NL,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENDMARKER,
            )
        if not allowed:
            raise ValueError(f"generated code contains the token {text!r}")
    module = ast.parse(source)
    names = [getattr(statement, "name", None) for statement in module.body]
    if names != ["value", "grad"]:
        raise ValueError(f"generated code defines {names}, not value and grad")


def generate_source(expression: sp.Expr) -> str:
    """Return the checked source of ``value`` and ``grad`` for ``expression``."""
    # SymPy makes its own Abs from forms such as sqrt(x**2).
    expression = expression.replace(sp.Abs, AbsoluteValue)
    gradient = [sp.diff(expression, _X), sp.diff(expression, _Y)]
    for derivative in gradient:
        if derivative.has(sp.Derivative, sp.Subs, sp.Heaviside, sp.DiracDelta):
            raise FormulaError("The slope of the formula cannot be written as code.")
    source = _function_source("value", [expression]) + "\n\n"
    source += _function_source("grad", gradient)
    if len(source) > LIMITS["code_characters"]:
        raise FormulaError(
            f"The formula is too complicated: the code for its value and slope "
            f"would have {len(source):,} characters, and the limit is "
            f"{LIMITS['code_characters']:,}. Try a shorter formula."
        )
    try:
        check_source(source)
    except ValueError as error:
        logger.error("rejected generated code (%s):\n%s", error, source)
        raise FormulaError(
            "The formula could not be turned into code. Try writing it another way."
        ) from error
    return source


# ---------------------------------------------------------------- compilation

_MODULE_HEADER = (
    '"""Value and gradient of a typed formula, generated by landscapes.formula."""\n'
    "\nimport math\n\nfrom numba import njit\n\n\n"
)
_module_lock = threading.Lock()
_compiler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="formula-compile")


def _load_module(source: str):
    """Write ``source`` to a file in the cache folder and import it.

    Numba's on-disk cache needs a real file, and the name carries a hash of the
    source, so other processes load the same code from Numba's cache.
    """
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"loss_lab_formula_{digest}"
    with _module_lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        folder = cache_root() / "formulas"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.py"
        text = _MODULE_HEADER + source
        if not path.exists() or path.read_text() != text:
            # Write then rename, so another process never imports half a file.
            temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            temporary.write_text(text)
            os.replace(temporary, path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
        return module


def _compile(module, point):
    parameters = np.zeros(PARAMETER_SLOTS)
    module.value(float(point[0]), float(point[1]), parameters)
    module.grad(float(point[0]), float(point[1]), parameters)
    return module.value, module.grad


def _compiled_functions(source: str, point):
    """Load and compile ``value`` and ``grad``, waiting at most compile_seconds.

    Compilation runs on one worker thread, so this module never compiles two
    formulas at once.
    """
    module = _load_module(source)
    future = _compiler.submit(_compile, module, point)
    try:
        return future.result(timeout=LIMITS["compile_seconds"])
    except FutureTimeoutError:
        # NOTE: a thread cannot be stopped, so the compilation finishes in the
        # background and a later request for this formula finds it compiled.
        logger.warning(
            "compiling formula module %s timed out after %s s",
            module.__name__,
            LIMITS["compile_seconds"],
        )
        raise FormulaError(
            f"Preparing the formula timed out after {LIMITS['compile_seconds']:g} s. "
            "Try again in a minute or type a shorter formula."
        ) from None


# ---------------------------------------------------------------- window sample


def check_window(window) -> tuple[float, float, float, float]:
    """Return ``window`` as four floats (x0, x1, y0, y1), or raise FormulaError."""
    try:
        x0, x1, y0, y1 = (float(v) for v in window)
    except (TypeError, ValueError):
        raise FormulaError(
            f"The window must be four numbers (x0, x1, y0, y1), got {window!r}."
        ) from None
    reach = LIMITS["window_coordinate"]
    if not all(math.isfinite(v) and abs(v) <= reach for v in (x0, x1, y0, y1)):
        raise FormulaError(
            f"The window {window!r} must contain finite numbers between {-reach:g} "
            f"and {reach:g}."
        )
    low, high = LIMITS["window_size_min"], LIMITS["window_size_max"]
    for axis, start, stop in (("x", x0, x1), ("y", y0, y1)):
        if not start < stop:
            raise FormulaError(
                f"The window's {axis} range [{start:g}, {stop:g}] is empty: the "
                "first number must be smaller than the second."
            )
        if not low <= stop - start <= high:
            raise FormulaError(
                f"The window's {axis} range [{start:g}, {stop:g}] must be between "
                f"{low:g} and {high:g} wide."
            )
    return x0, x1, y0, y1


def _undefined_message(window, subject="The formula") -> str:
    x0, x1, y0, y1 = window
    return (
        f"{subject} is not defined anywhere in the window "
        f"x from {x0:g} to {x1:g}, y from {y0:g} to {y1:g}."
    )


class _Sample(NamedTuple):
    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    finite: np.ndarray


def _grid_axes(window) -> tuple[np.ndarray, np.ndarray]:
    x0, x1, y0, y1 = window
    side = LIMITS["grid_points"]
    return np.linspace(x0, x1, side), np.linspace(y0, y1, side)


def _check_defined(tree: Node, window) -> None:
    """Raise FormulaError unless the typed formula is finite somewhere on the grid.

    NumPy evaluates the tree in about a millisecond, so an undefined formula is
    rejected before SymPy and Numba spend time on it.
    """
    xs, ys = _grid_axes(window)
    grid_x, grid_y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        values = evaluate_tree(tree, grid_x, grid_y)
    if not np.isfinite(values).any():
        raise FormulaError(
            _undefined_message(window) + " Check for a division by zero, or a log "
            "or square root of a negative number."
        )


def _sample_window(value, window) -> _Sample:
    """Evaluate the compiled ``value`` on the grid (about 20 ms for 200 × 200).

    The compiled function, not the tree, decides the lowest point and the
    colour scale, because SymPy may simplify the formula: it turns sqrt(x)**2
    into x, which is defined for negative x too.
    """
    xs, ys = _grid_axes(window)
    parameters = np.zeros(PARAMETER_SLOTS)
    values = np.array(
        [[value(a, b, parameters) for a in xs.tolist()] for b in ys.tolist()]
    )
    finite = np.isfinite(values)
    if not finite.any():
        raise FormulaError(_undefined_message(window))
    return _Sample(xs, ys, values, finite)


def _lowest_point(sample: _Sample) -> tuple[float, float]:
    masked = np.where(sample.finite, sample.values, np.inf)
    row, column = np.unravel_index(np.argmin(masked), masked.shape)
    return float(sample.xs[column]), float(sample.ys[row])


def _is_usable(value, grad, point) -> bool:
    parameters = np.zeros(PARAMETER_SLOTS)
    x, y = point
    gx, gy = grad(x, y, parameters)
    return bool(np.isfinite([value(x, y, parameters), gx, gy]).all())


_START_FRACTIONS = (
    (0.15, 0.85),
    (0.85, 0.85),
    (0.15, 0.15),
    (0.85, 0.15),
    (0.5, 0.85),
    (0.5, 0.15),
    (0.15, 0.5),
    (0.85, 0.5),
)


def _start_candidates(sample: _Sample, window, lowest):
    """Yield points far from ``lowest`` first: fixed ones, then finite grid points."""
    x0, x1, y0, y1 = window

    def distance(point):
        return math.hypot(
            (point[0] - lowest[0]) / (x1 - x0), (point[1] - lowest[1]) / (y1 - y0)
        )

    fixed = [(x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)) for fx, fy in _START_FRACTIONS]
    yield from sorted(fixed, key=distance, reverse=True)
    rows, columns = np.nonzero(sample.finite)
    points = [
        (float(sample.xs[c]), float(sample.ys[r]))
        for r, c in zip(rows, columns, strict=True)
    ]
    # Trying at most 400 grid points bounds the search for a formula whose slope
    # is defined almost nowhere.
    yield from sorted(points, key=distance, reverse=True)[:400]


def _default_start(value, grad, sample: _Sample, window, lowest):
    for point in _start_candidates(sample, window, lowest):
        if _is_usable(value, grad, point):
            return point
    raise FormulaError(_undefined_message(window, "The slope of the formula"))


# ---------------------------------------------------------------- surfaces

_cache: OrderedDict[tuple, Surface] = OrderedDict()
_cache_lock = threading.Lock()
_build_lock = threading.Lock()


def parse_formula(text: str, window=DEFAULT_WINDOW) -> Surface:
    """Return a surface whose loss is the formula ``text`` over ``window``.

    ``window`` is (x0, x1, y0, y1). Raises :class:`FormulaError` with a message
    for students when the text, the window or the formula's values are invalid.
    Surfaces are cached per normalised formula and window (the last
    ``LIMITS["cached_surfaces"]`` of them), so the same formula typed two ways
    returns the same object. Safe to call from several threads. The first call
    for a formula compiles it (about a second); later calls take microseconds.
    """
    window = check_window(window)
    tree = parse_tree(text)
    canonical = format_tree(tree)
    key = (canonical, window)
    with _cache_lock:
        surface = _cache.get(key)
        if surface is not None:
            _cache.move_to_end(key)
            return surface
    # SymPy's thread safety is not documented, so one formula is built at a time.
    # NOTE: SymPy's work is bounded only through LIMITS and cannot be stopped.
    # The worst formulas tried took under 0.5 s to differentiate and print on a
    # 2-core AMD EPYC server.
    with _build_lock:
        with _cache_lock:
            surface = _cache.get(key)
        if surface is None:
            surface = _build_surface(tree, canonical, window)
        with _cache_lock:
            _cache[key] = surface
            _cache.move_to_end(key)
            while len(_cache) > LIMITS["cached_surfaces"]:
                _cache.popitem(last=False)
    return surface


def _build_surface(tree: Node, canonical: str, window) -> Surface:
    started = time.perf_counter()
    _check_defined(tree, window)
    expression = to_sympy(tree)
    _check_expression(expression, window)
    source = generate_source(expression)
    centre = ((window[0] + window[1]) / 2, (window[2] + window[3]) / 2)
    value, grad = _compiled_functions(source, centre)

    sample = _sample_window(value, window)
    lowest = _lowest_point(sample)
    start = _default_start(value, grad, sample, window, lowest)
    finite_values = sample.values[sample.finite]
    smallest, largest = float(finite_values.min()), float(finite_values.max())
    minima = (Minimum(lowest[0], lowest[1], smallest, "lowest grid point"),)
    # A log colour scale suits values that are never negative and span at least
    # two decades, like a bowl whose floor is at zero.
    log_colour = smallest >= 0.0 and largest > 0.0 and largest >= 100.0 * smallest

    digest = hashlib.sha256(f"{canonical}|{window}".encode()).hexdigest()[:12]
    logger.info(
        "built formula surface %s (%s) in %.2f s",
        digest,
        canonical,
        time.perf_counter() - started,
    )
    return Surface(
        key=f"formula:{digest}",
        title="Your formula",
        description=f"J(x, y) = {canonical}",
        latex="J(x, y) = " + sp.latex(to_sympy(tree, display=True)),
        window=window,
        default_start=start,
        value=value,
        grad=grad,
        minima_for=lambda params: minima,
        log_colour=log_colour,
        source=source,
    )
