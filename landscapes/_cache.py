"""Point Numba's on-disk cache at a writable folder before Numba is imported.

Numba stores compiled kernels next to their source by default, which fails on a
read-only install. ``NUMBA_CACHE_DIR`` is kept if the environment sets it.
"""

import os
from pathlib import Path


def cache_root() -> Path:
    """Return the folder for this project's generated and compiled files."""
    base = os.environ.get("LOSS_LAB_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "loss-landscape-lab"


os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_root() / "numba"))
