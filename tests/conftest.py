"""Fixtures shared by the test modules."""

import os
import shutil

import numpy as np
import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, new for each test."""
    return np.random.default_rng(20240611)


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright, shared by the whole session.

    Without Chromium or Playwright the tests that use it are skipped, unless
    the environment variable ``CI`` is set: then they fail.
    """
    reason = ""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed"
    path = _chromium_path()
    if not reason and path is None:
        reason = "no Chromium found (install Debian's chromium package)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI, but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
