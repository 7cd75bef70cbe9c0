"""dl4health helpers: the NumPy reference code, data loaders, checks and plots of the course.

Importing this package is cheap on purpose (no TensorFlow, no matplotlib): the chapter
modules are imported by name when a notebook needs them::

    from helpers import data, nn, gradcheck

Array layouts follow TensorFlow/Keras so that weights move between the two (see each
module's docstring): dense x (N, D), conv x (N, H, W, C) with w (KH, KW, C, F), rnn x (N, T, D).
"""

from __future__ import annotations

import os
import random

import numpy as np

from helpers._tf import import_tensorflow

__all__ = ["set_seed", "import_tensorflow", "__version__"]
__version__ = "0.1.0"


def set_seed(seed: int = 0, *, tensorflow: bool | None = None) -> None:
    """Seed every random number generator the course uses, for reproducible notebooks.

    Seeds Python's ``random``, NumPy's global generator and, when TensorFlow is installed,
    TensorFlow (``keras.utils.set_random_seed``) with op determinism turned on, so that a
    re-run on the same machine is bit-identical (nbval compares stored outputs).

    seed: a non-negative int.
    tensorflow: True to require TensorFlow, False to leave it alone (no import, which saves
        ~600 MB of RAM in a notebook that never uses it), None (default) to seed it when it
        is installed.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_seed: seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    # Child processes (data workers, a kernel started from here) inherit a fixed hash seed.
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- on purpose: the global generator that np.random.* calls use
    if tensorflow is False:
        return
    if tensorflow is None:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is None:
            return
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
