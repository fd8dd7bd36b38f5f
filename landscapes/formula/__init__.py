"""Turn a formula typed by a user, such as ``x**2 + 10*y**2``, into a Surface.

The text goes through a strict tokenizer and a recursive-descent parser
(:mod:`.syntax`, which also describes the grammar), so no user text ever reaches
``eval``, ``exec``, ``compile`` or ``sympy.sympify`` (which calls ``eval``).
The parse tree (:mod:`.tree`) becomes a SymPy expression built from SymPy
constructors (:mod:`.symbolic`), which is differentiated symbolically and
printed as the source of two Numba functions ``value(x, y, p)`` and
``grad(x, y, p)``. Every printed token is checked against a whitelist before
the source is loaded (:mod:`.codegen`). The compiled value is sampled over the
window (:mod:`.window`). This module builds the Surface and caches it.

>>> surface = parse_formula("(x - 1)^2 + 10*(y + 2)^2")
>>> surface.description
'J(x, y) = (x - 1)**2 + 10*(y + 2)**2'
"""

import hashlib
import logging
import threading
import time
from collections import OrderedDict

import sympy as sp

from landscapes import Minimum, Surface
from landscapes.formula.codegen import (
    _compiled_functions,
    check_source,
    generate_source,
)
from landscapes.formula.symbolic import _check_expression, to_sympy
from landscapes.formula.syntax import (
    CONSTANTS,
    FUNCTIONS,
    LIMITS,
    FormulaError,
    canonical_formula,
    parse_tree,
)
from landscapes.formula.tree import Node, evaluate_tree, format_tree
from landscapes.formula.window import (
    _check_defined,
    _default_start,
    _lowest_point,
    _sample_window,
    check_window,
)

__all__ = [
    "CONSTANTS",
    "DEFAULT_WINDOW",
    "FUNCTIONS",
    "FormulaError",
    "LIMITS",
    "canonical_formula",
    "check_source",
    "evaluate_tree",
    "parse_formula",
    "parse_tree",
]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = (-5.0, 5.0, -5.0, 5.0)

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
    for a formula compiles it (about a second on this project's 2-core test
    machine, more on a cold disk cache); later calls take microseconds.
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
