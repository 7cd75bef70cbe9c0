"""The one environment in which notebooks are executed, both to store their outputs
(tools/execute_notebooks.py) and to check them (nbval, via the root conftest.py).

Stored outputs are nbval's expectations, so both runs must see the same settings:
- no COLUMNS/LINES: Keras' model.summary() is drawn by rich at the terminal's width;
- matplotlib's inline backend, even if the caller exported MPLBACKEND=Agg;
- TF_CPP_MIN_LOG_LEVEL=3: TensorFlow's C++ log lines (info, warnings, and the spurious
  "NodeDef mentions attribute" error of every Keras fit) stay out of outputs;
- a fixed PYTHONHASHSEED: set iteration order cannot leak into printed output.
"""

from __future__ import annotations

import os

KERNEL_ENV = {
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONHASHSEED": "0",
}
UNSET = ("COLUMNS", "LINES")


def apply_kernel_environment(environ=os.environ) -> None:
    """Set, in ``environ`` (which kernels started afterwards inherit), the variables above."""
    for name in UNSET:
        environ.pop(name, None)
    environ.update(KERNEL_ENV)
