"""Root pytest configuration: shared by the unit tests (tests/) and the notebook regression
(`pytest --nbval notebooks`). Kernels started by nbval inherit this process' environment,
so it is set here to exactly the one tools/execute_notebooks.py stores outputs with."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tools"))

from notebook_env import apply_kernel_environment  # noqa: E402

apply_kernel_environment()
