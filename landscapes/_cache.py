"""Point Numba's on-disk cache at a writable folder before Numba is imported.

Numba stores compiled kernels next to their source by default, which fails on a
read-only install. ``NUMBA_CACHE_DIR`` is kept if the environment sets it.
"""

import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType


def cache_root() -> Path:
    """Return the folder for this project's generated and compiled files."""
    base = os.environ.get("LOSS_LAB_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "loss-landscape-lab"


os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_root() / "numba"))


def import_generated(folder: str, name: str, source: str) -> ModuleType:
    """Write ``source`` to ``<cache root>/<folder>/<name>.py`` and import it.

    Numba caches compiled code only for functions defined in a real file. The
    file is written under a temporary name and renamed, so another process
    never imports half a file, and left alone when it already contains
    ``source``. The caller makes ``name`` unique to ``source`` (a hash) and
    serialises calls for one name.
    """
    directory = cache_root() / folder
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(source)
        os.replace(temporary, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
