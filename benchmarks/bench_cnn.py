"""How fast does the NumPy CNN train? One epoch of helpers.cnn.CNN against the identical Keras model.

Run from the repository root::

    .venv/bin/python benchmarks/bench_cnn.py            # prints the table and the profile
    .venv/bin/python benchmarks/bench_cnn.py --check    # ... and exits 1 if the target is missed

Target (issue 12, item 3): one training epoch of the NumPy CNN takes at most 2x the time of one
epoch of the identical Keras model, on 2 CPU cores.

What is compared: notebook 04's network with one sigmoid output (Conv2D(32, 3x3, relu) ->
MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(1, sigmoid)),
float32, built once as ``helpers.cnn.CNN`` and once as its ``to_keras()`` twin with the same
initial weights, trained on the same images (the first ``--images`` of PneumoniaMNIST's training
split, default all 4708), with batch size 128 (notebook 04's), Adam(1e-3), the binary
cross-entropy, no shuffling, no validation. One epoch is one pass over those images: the NumPy
side calls ``CNN.fit(epochs=1)``; the Keras side calls ``model.fit(epochs=1)`` on a model
compiled once (so its graph is traced once, in an untimed warm-up epoch, as it is after the
first epoch of any real training), with ``verbose=0``.

Method: as ``bench_conv.py``. The two contenders are timed in alternation over a few rounds,
each round one epoch of each after a short sleep (TensorFlow's worker threads keep spinning for a
while after an op, and NumPy's BLAS threads timed in that window run up to 3x slower), and the
best epoch of each contender over all rounds is kept (load from other processes only ever adds
time). Both libraries use their default thread counts (all cores). Then one more NumPy epoch is
run with every layer function of ``helpers.conv`` / ``helpers.nn`` (and the optimiser's step)
wrapped by a timer, which gives the profile: the seconds spent in each layer's forward and
backward call over the epoch, and what is left (slicing the batches, the loop, the wrappers).
This is a script, not a test: timings depend on the machine and its load. Run it on an
otherwise idle machine: when other processes keep the cores busy, OpenBLAS's two threads wait
for each other (on a machine with a load average of 3.5 on 2 cores, one convolution backward
pass took 2-3x longer with 2 BLAS threads than with 1), while TensorFlow's thread pool copes, so
the ratio measured under load overstates NumPy's time (two runs under load gave 1.55 and 2.60).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import cnn, conv, data, import_tensorflow, nn  # noqa: E402

TARGET = 2.0
BATCH_SIZE = 128

# the layer functions the profile times: (module, function name)
PROFILED = [(conv, "conv2d_forward"), (conv, "conv2d_backward"), (conv, "max_pool2d_forward"),
            (conv, "max_pool2d_backward"), (nn, "activation_forward"), (nn, "activation_backward"),
            (nn, "dense_forward"), (nn, "dense_backward"), (nn, "sigmoid"),
            (nn, "binary_cross_entropy_with_logits"), (cnn, "_relu_forward"), (cnn, "_relu_backward")]


def numpy_epoch(model, x, y):
    model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, optimizer=nn.Adam(1e-3), shuffle=False)


def keras_epoch(kmodel, x, y):
    kmodel.fit(x, y, epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0)


@contextlib.contextmanager
def layer_timer(n_blocks: int, n_dense: int):
    """Wrap every function of PROFILED (and Adam.step) with a timer; yields {label: seconds}.

    Within one training step the calls come in a fixed order, so the k-th call of a forward
    function belongs to layer k and the k-th call of a backward function to the k-th layer
    counted from the output; the labels name the layer ("conv2 backward").
    """
    totals = defaultdict(float)
    seen = defaultdict(int)           # calls of each function within the current step
    originals = {}

    def label(fname: str, k: int) -> str:
        kind, _, way = fname.rpartition("_")
        if kind == "_relu":               # the ReLU of each convolution block
            return f"relu{k if way == 'forward' else n_blocks - k + 1} {way}"
        if kind == "activation":          # the ReLU of the hidden dense layer
            return f"hidden relu {way}"
        if kind in ("conv2d", "max_pool2d"):
            j = k if way == "forward" else n_blocks - k + 1
            return f"{'conv' if kind == 'conv2d' else 'pool'}{j} {way}"
        if kind == "dense":
            j = k if way == "forward" else n_dense - k + 1
            return f"dense{j} {way}"
        return {"sigmoid": "output sigmoid", "binary_cross_entropy_with_logits": "loss (BCE on logits)"}[fname]

    def wrap(module, fname):
        fn = getattr(module, fname)
        originals[(module, fname)] = fn

        def timed(*args, **kwargs):
            seen[fname] += 1
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            totals[label(fname, seen[fname])] += time.perf_counter() - t0
            return out
        setattr(module, fname, timed)

    step = nn.Adam.step

    def timed_step(self, params, grads):
        t0 = time.perf_counter()
        step(self, params, grads)
        totals["Adam step"] += time.perf_counter() - t0
        seen.clear()                  # the optimiser ends a training step
    for module, fname in PROFILED:
        wrap(module, fname)
    nn.Adam.step = timed_step
    try:
        yield totals
    finally:
        for (module, fname), fn in originals.items():
            setattr(module, fname, fn)
        nn.Adam.step = step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of one epoch each (best is kept)")
    ap.add_argument("--images", type=int, default=4708, help="training images per epoch (default: all)")
    ap.add_argument("--check", action="store_true", help=f"exit 1 if NumPy / Keras > {TARGET}")
    args = ap.parse_args(argv)

    os.environ.setdefault(data.ENV_OFFLINE, "1")
    x, y = data.load_pneumoniamnist("train")
    x, y = x[:args.images], y[:args.images]
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    model = cnn.CNN(seed=0)
    kmodel = model.to_keras()
    kmodel.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"NumPy {np.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPU(s), load average (1 min) {load:.2f}")
    print(f"{model}")
    print(f"one epoch = {len(x)} images, batch size {BATCH_SIZE}, Adam(1e-3), float32, no shuffling; "
          f"best of {args.rounds} rounds\n")

    # warm-up: Keras traces its train step; NumPy touches its code paths (and both agree)
    keras_epoch(kmodel, x[:2 * BATCH_SIZE], y[:2 * BATCH_SIZE])
    numpy_epoch(model, x[:2 * BATCH_SIZE], y[:2 * BATCH_SIZE])
    gap = float(np.max(np.abs(np.concatenate([a.ravel() - b.ravel() for a, b in
                                              zip(model.get_weights(), kmodel.get_weights())]))))
    print(f"after the same 2 warm-up steps, NumPy and Keras weights differ by at most {gap:.1e}")

    times = {"numpy": [], "keras": []}
    for _ in range(args.rounds):
        for name, run, m in (("keras", keras_epoch, kmodel), ("numpy", numpy_epoch, model)):
            time.sleep(0.5)
            t0 = time.perf_counter()
            run(m, x, y)
            times[name].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    ratio = best["numpy"] / best["keras"]
    print(f"{'':<8}{'best s':>8}   all rounds (s)")
    for k in ("numpy", "keras"):
        print(f"{k:<8}{best[k]:8.2f}   " + " ".join(f"{t:.2f}" for t in times[k]))
    print(f"ratio NumPy / Keras: {ratio:.2f} (target <= {TARGET})\n")

    # the profile: one more NumPy epoch with every layer call timed
    n_dense = sum(1 for k in model.params if k.startswith("W")) - len(model.filters)
    time.sleep(0.5)
    with layer_timer(len(model.filters), n_dense) as totals:
        t0 = time.perf_counter()
        numpy_epoch(model, x, y)
        epoch = time.perf_counter() - t0
    totals = dict(totals)
    totals["rest (batching, loop, timers)"] = epoch - sum(totals.values())
    print(f"profile of one NumPy epoch ({epoch:.2f} s with the timers), slowest first")
    print(f"{'layer call':<32}{'s':>7}{'share':>8}")
    for name, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{name:<32}{t:7.3f}{t / epoch:8.1%}")
    fwd = sum(t for k, t in totals.items() if k.endswith("forward") or k == "output sigmoid")
    bwd = sum(t for k, t in totals.items() if k.endswith("backward"))
    print(f"{'all forward calls':<32}{fwd:7.3f}{fwd / epoch:8.1%}")
    print(f"{'all backward calls':<32}{bwd:7.3f}{bwd / epoch:8.1%}")

    met = ratio <= TARGET
    print(f"\ntarget {'met' if met else 'MISSED'}: NumPy / Keras = {ratio:.2f} {'<=' if met else '>'} {TARGET}")
    return 1 if (args.check and not met) else 0


if __name__ == "__main__":
    sys.exit(main())
