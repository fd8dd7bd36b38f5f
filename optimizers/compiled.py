"""Build and load the cached simulation kernel of each surface and optimizer.

Numba caches a kernel on disk only when every function it calls is a fixed
global, and vectorises the particle loop only when the update rule is fixed at
compile time. So each (surface, optimizer) pair gets its own copy of
:mod:`optimizers.kernels` with the block between the BINDINGS markers rebound
to the surface's ``value`` and ``grad`` (imported for a built-in surface,
defined inline for a typed formula) and to the optimizer's ``update``.
Each copy compiles on its first call, in about a second.
The file name carries a hash of the kernel sources, so an upgrade compiles
afresh instead of reusing stale machine code.
"""

import hashlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from landscapes import Surface
from landscapes._cache import cache_root

_HERE = Path(__file__).parent
_TEMPLATE = (_HERE / "kernels.py").read_text()
_BINDINGS = re.compile(r"# BEGIN BINDINGS\n.*?# END BINDINGS\n", re.DOTALL)
_SOURCES = (
    _TEMPLATE,
    (_HERE / "updates.py").read_text(),
    (_HERE.parent / "landscapes" / "functions.py").read_text(),
)
_VERSION = hashlib.sha256("".join(_SOURCES).encode()).hexdigest()[:12]

_lock = threading.Lock()
_loaded: dict[tuple[str, ...], object] = {}


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
    module = _loaded.get(memo_key)
    if module is not None:
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
            folder = cache_root() / "entries"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.py"
            if not path.exists() or path.read_text() != source:
                # Write then rename, so another process never imports half a file.
                temporary = path.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_text(source)
                os.replace(temporary, path)
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            _loaded[memo_key] = module
    return module.run_optimizer
