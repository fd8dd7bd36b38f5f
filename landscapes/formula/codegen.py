"""Print the value and gradient as Numba source, check it, and compile it.

Every token of the printed source is checked against a whitelist before the
source is written to the cache folder and imported.
"""

import ast
import hashlib
import io
import logging
import re
import sys
import threading
import tokenize
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError

import numpy as np
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from landscapes import PARAMETER_SLOTS
from landscapes._cache import import_generated
from landscapes.formula.symbolic import _X, _Y, AbsoluteValue
from landscapes.formula.syntax import LIMITS, FormulaError

logger = logging.getLogger(__name__)


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
        return import_generated("formulas", name, _MODULE_HEADER + source)


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
