"""Build and load the cached simulation kernel of each surface and optimizer.

Numba caches a kernel on disk only when every function it calls is a fixed
global, and vectorises the particle loop only when the update rule is fixed at
compile time. So each (surface, optimizer) pair gets its own copy of
:mod:`optimizers.kernels` with the block between the BINDINGS markers rebound
to the surface's ``value`` and ``grad`` (imported for a built-in surface,
defined inline for a typed formula) and to the optimizer's ``update``.
Each copy compiles on its first call, in 2 to 4 s for a built-in surface and
longer for a typed formula (see BENCHMARKS.md). Later processes load it from
Numba's disk cache in a fraction of a second. The file name carries a
hash of the kernel sources, so an upgrade compiles afresh instead of reusing
stale machine code.
"""

import hashlib
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from landscapes import Surface
from landscapes._cache import import_generated

_HERE = Path(__file__).parent
_TEMPLATE = (_HERE / "kernels.py").read_text()
_BINDINGS = re.compile(r"# BEGIN BINDINGS\n.*?# END BINDINGS\n", re.DOTALL)
_SOURCES = (
    _TEMPLATE,
    (_HERE / "updates.py").read_text(),
    (_HERE.parent / "landscapes" / "functions.py").read_text(),
)
_VERSION = hashlib.sha256("".join(_SOURCES).encode()).hexdigest()[:12]

FORMULA_KERNELS = 64
"""Kernels of typed formulas kept loaded; each takes some MB of machine code."""

_lock = threading.Lock()
_loaded: OrderedDict[tuple[str, ...], ModuleType] = OrderedDict()


def functions_source(surface: Surface) -> str:
    """Return the Python source that binds ``value`` and ``grad`` for ``surface``."""
    if surface.source:
        return surface.source
    value, grad = surface.value.py_func, surface.grad.py_func
    return (
        f"from {grad.__module__} import {grad.__name__} as grad\n"
        f"from {value.__module__} import {value.__name__} as value\n"
    )


def entry_point(surface: Surface, update) -> Callable:
    """Return ``run_optimizer`` compiled for ``surface`` and the jitted ``update``.

    Writes the module on first use.

    Safe to call from several threads: one lock guards writing and importing,
    and Numba serialises compilation itself.
    """
    rule = update.py_func
    memo_key = (surface.key, surface.source, rule.__module__, rule.__name__)
    with _lock:
        module = _loaded.get(memo_key)
        if module is not None:
            _loaded.move_to_end(memo_key)
            return module.run_optimizer
    block = (
        f"# BEGIN BINDINGS\n{functions_source(surface)}"
        f"from {rule.__module__} import {rule.__name__} as update\n# END BINDINGS\n"
    )
    source = _BINDINGS.sub(lambda _: block, _TEMPLATE, count=1)
    digest = hashlib.sha256((_VERSION + source).encode()).hexdigest()[:16]
    name = f"loss_lab_entry_{digest}"
    with _lock:
        module = _loaded.get(memo_key)
        if module is None:
            module = import_generated("entries", name, source)
            _loaded[memo_key] = module
        _loaded.move_to_end(memo_key)
        # Built-in surfaces are few; typed formulas are not, so only their
        # kernels are forgotten, oldest first.
        formulas = [key for key in _loaded if key[1]]
        for key in formulas[: max(0, len(formulas) - FORMULA_KERNELS)]:
            stale = _loaded.pop(key)
            sys.modules.pop(stale.__name__, None)
    return module.run_optimizer
