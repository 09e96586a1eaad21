"""Shared fixtures: paths of the repository; one clear failure when Chromium is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from book_site import CHROMIUM_MISSING, find_chromium

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def one_torch_thread():
    """PyTorch on one intra-op thread for a module of tests, as it was before afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    """Without Chromium, keep one browser test, which fails with the install line.

    Every browser test would otherwise fail on its own with the same error, burying the one
    thing to do under dozens of tracebacks.
    """
    if find_chromium() is not None:
        return
    browser = [item for item in items if item.get_closest_marker("browser")]
    if not browser:
        return
    keep = next((i for i in browser if "browser" in getattr(i, "fixturenames", ())), browser[0])
    dropped = [item for item in browser if item is not keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
    keep.user_properties.append(("chromium", "missing"))


@pytest.fixture(autouse=True)
def _chromium_missing(request):
    """The kept browser test fails before anything else, with the one line to act on."""
    if ("chromium", "missing") in request.node.user_properties:
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
