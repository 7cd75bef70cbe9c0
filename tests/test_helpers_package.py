"""The package itself: a light import, set_seed, and the quiet TensorFlow import."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys

import numpy as np
import pytest

import helpers


def _run(code: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter, without the log level the test session exported."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_import_is_light():
    """`import helpers` must not drag in TensorFlow or matplotlib (each costs seconds)."""
    out = _run("import sys, time; t = time.perf_counter(); import helpers, helpers.data, helpers.gradcheck; "
               "print(time.perf_counter() - t); "
               "heavy = ('tensorflow', 'keras', 'matplotlib', 'sklearn', 'pooch'); "
               "print(sorted(m for m in heavy if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    seconds, heavy = out.stdout.splitlines()
    assert heavy == "[]"
    assert float(seconds) < 1.0


def test_set_seed_makes_python_and_numpy_repeatable():
    helpers.set_seed(7, tensorflow=False)
    a = (random.random(), np.random.rand(3))  # noqa: NPY002 -- set_seed seeds the legacy global generator
    helpers.set_seed(7, tensorflow=False)
    b = (random.random(), np.random.rand(3))  # noqa: NPY002
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    helpers.set_seed(8, tensorflow=False)
    assert random.random() != a[0]


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, None])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        helpers.set_seed(bad)


def test_set_seed_turns_on_tensorflow_determinism():
    code = ("import helpers; helpers.set_seed(3); import tensorflow as tf, numpy as np; "
            "a = tf.random.uniform((4,)).numpy(); helpers.set_seed(3); b = tf.random.uniform((4,)).numpy(); "
            "from tensorflow.python.framework import config; "
            "print(np.array_equal(a, b), config.is_op_determinism_enabled())")
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True True"


def test_set_seed_without_tensorflow_does_not_import_it():
    out = _run("import sys, helpers; helpers.set_seed(0, tensorflow=False); print('tensorflow' in sys.modules)")
    assert out.stdout.strip() == "False", out.stderr


def test_import_tensorflow_keeps_cpp_start_up_noise_off_stderr():
    out = _run("import helpers; tf = helpers.import_tensorflow(); print(tf.__version__)")
    assert out.returncode == 0
    assert out.stdout.strip().startswith("2.")
    for noise in ("oneDNN", "absl::InitializeLog", "cpu_feature_guard", "TensorFlow binary is optimized"):
        assert noise not in out.stderr, out.stderr


def test_keras_fit_leaves_stderr_clean():
    """TF 2.21 + Keras 3.15 log a spurious C++ "error" on every fit; it must not reach outputs."""
    out = _run("import helpers, numpy as np; tf = helpers.import_tensorflow(); import keras; "
               "m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]); m.compile('sgd', 'mse'); "
               "m.fit(np.zeros((8, 2)), np.zeros(8), verbose=0, epochs=2); print('fitted')")
    assert out.returncode == 0 and out.stdout.strip() == "fitted", out.stderr
    assert out.stderr == ""


def test_session_blocks_non_loopback_connections():
    import pytest_socket

    assert socket.socket.connect is not pytest_socket._true_connect, "pytest-socket is not guarding connect()"
    # Refused by the guard before any packet leaves (192.0.2.1 is TEST-NET-1, never routed).
    with (socket.socket() as s, pytest.raises(pytest_socket.SocketConnectBlockedError),
          pytest.warns(UserWarning, match="192.0.2.1")):
        s.connect(("192.0.2.1", 80))


def test_kernel_environment_for_notebooks():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tools"))
    from notebook_env import apply_kernel_environment

    env = {"COLUMNS": "80", "LINES": "24", "MPLBACKEND": "Agg"}
    apply_kernel_environment(env)
    assert "COLUMNS" not in env and "LINES" not in env
    assert env["MPLBACKEND"].endswith("backend_inline") and env["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert "COLUMNS" not in os.environ  # the root conftest applied it to this session
