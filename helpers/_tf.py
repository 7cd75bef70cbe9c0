"""Import TensorFlow without its C++ start-up noise.

TensorFlow writes lines such as "oneDNN custom operations are on" and absl's "All log
messages before absl::InitializeLog()" straight to file descriptor 2 while it loads. Jupyter
stores them as a cell's stderr, but a kernel under pytest does not capture C-level stderr,
so a notebook saved with them fails nbval. TF_CPP_MIN_LOG_LEVEL alone does not hide them and
TF_ENABLE_ONEDNN_OPTS=0 makes training about 2x slower, so we silence fd 2 for the import only.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _silenced_fd2():
    """Point file descriptor 2 at /dev/null for the duration, then restore it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow():
    """Return the ``tensorflow`` module, imported quietly (first call ~2-5 s, then free).

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user chose a level, and hides the C++
    start-up lines written while the library loads. Level 3 also silences C++ "error" lines
    that are not errors of ours: TensorFlow 2.21 with Keras 3.15 logs "NodeDef mentions
    attribute use_unbounded_threadpool" on every ``fit``, straight to fd 2. Real failures
    still reach the notebook as Python exceptions; set the variable to 0 to debug TensorFlow.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _silenced_fd2():
        import tensorflow as tf
    # TensorFlow's Python logger warns about tf.function retracing whenever a notebook builds
    # several small Keras models in a loop (as the course does to compare them): advice for
    # production code, noise in a lesson. Errors still show.
    tf.get_logger().setLevel("ERROR")
    return tf
