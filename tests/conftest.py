"""Shared fixtures for the unit tests.

pytest-socket (see ``addopts`` in pyproject.toml) blocks every connection but loopback in
the whole test session, so a test that would download silently fails loudly instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tf():
    """TensorFlow, imported quietly once per session (skips the test if not installed)."""
    pytest.importorskip("tensorflow")
    from helpers import import_tensorflow

    return import_tensorflow()


@pytest.fixture
def rng():
    """A fresh, seeded NumPy generator per test: tests never depend on each other's draws."""
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder of official dataset copies that tests load from (DL4HEALTH_DATA_DIR).

    CI sets DL4HEALTH_DATA_DIR; a developer checkout next to ../shared/data works without it.
    Tests that need real data skip with a reason when neither is there.
    """
    env = os.environ.get("DL4HEALTH_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for c in candidates:
        if (c / "breastmnist.npz").exists():
            return c
    message = "no dataset copies: set DL4HEALTH_DATA_DIR to a folder holding them"
    if os.environ.get("CI"):
        pytest.fail(message)  # in CI a skipped data test would hide a broken set-up
    pytest.skip(message)


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch) -> Path:
    """An empty, writable DL4HEALTH_DATA_DIR (not yet created) with downloads allowed."""
    from helpers import data

    folder = tmp_path / "cache"
    monkeypatch.setenv(data.ENV_DATA_DIR, str(folder))
    monkeypatch.delenv(data.ENV_OFFLINE, raising=False)
    return folder
