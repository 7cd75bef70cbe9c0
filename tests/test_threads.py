"""TensorFlow honours TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS.

`make notebooks` and `make notebooks-1thread` run every notebook with 2 and with 1 thread(s)
by setting these variables, so the determinism check of issue 7 means something only if the
kernel's TensorFlow obeys them. tf.config.threading.get_*_parallelism_threads() cannot tell
(it reports 0, "the default", whatever the environment says), so each case runs TensorFlow in
a fresh process and counts the threads that actually did the work (CPU time per thread, read
from /proc/self/task): intra-op threads split one large matmul, inter-op threads run
independent matmuls of one graph side by side.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os
from helpers import import_tensorflow

tf = import_tensorflow()


def cpu_ticks():
    # {thread id: user + system clock ticks} of every thread of this process.
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks[tid] = int(fields[11]) + int(fields[12])
    return ticks


def busy_threads(work, repeats):
    # Threads that did at least 10% of the CPU work of `repeats` calls of work().
    work()  # warm-up: thread pools and graphs are created lazily
    before = cpu_ticks()
    for _ in range(repeats):
        work()
    after = cpu_ticks()
    used = [after[t] - before.get(t, 0) for t in after]
    return sum(u >= 0.1 * sum(used) for u in used if u > 0)


x = tf.random.normal((1024, 1024), seed=0)
xs = [tf.random.normal((512, 512), seed=i) for i in range(8)]


@tf.function
def independent_matmuls(xs):
    return tf.add_n([tf.reduce_sum(tf.matmul(a, a)) for a in xs])


print(json.dumps({
    "intra": busy_threads(lambda: tf.matmul(x, x).numpy(), repeats=15),
    "inter": busy_threads(lambda: independent_matmuls(xs).numpy(), repeats=15),
}))
"""


def _busy_threads(intra: int, inter: int) -> dict[str, int]:
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(intra), TF_NUM_INTEROP_THREADS=str(inter))
    result = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow not installed")
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc per-thread CPU times")
@pytest.mark.parametrize(
    ("intra", "inter", "expected"),
    [
        # With one intra-op thread each op runs in a single thread, so the inter-op count shows.
        (1, 2, {"intra": 1, "inter": 2}),
        # 3 is more than this course's 2-core machines have: not TensorFlow's default there.
        # (Each matmul of the graph is then split 3 ways too, hiding the inter-op count.)
        (3, 1, {"intra": 3}),
    ],
)
def test_tensorflow_uses_the_thread_counts_of_the_environment(intra, inter, expected):
    busy = _busy_threads(intra, inter)
    settings = {"intra": intra, "inter": inter}
    for kind, n in expected.items():
        assert busy[kind] == n, (
            f"TF_NUM_{kind.upper()}OP_THREADS={settings[kind]}: {busy[kind]} threads did the work")
