"""Tokenize and parse a typed formula into a checked parse tree.

The tokenizer and the recursive-descent parser are written here, so no user
text reaches ``eval``, ``exec``, ``compile`` or SymPy's parser. :data:`LIMITS`
contains the bounds of the whole package, and the parser checks those that
concern the text.

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
"""

import math
import re
import unicodedata
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from landscapes.formula.tree import Node, _apply, format_tree

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
