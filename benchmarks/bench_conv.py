"""How fast is helpers.conv? Vectorised NumPy vs TensorFlow (CPU) vs the plain loop.

Run from the repository root::

    .venv/bin/python benchmarks/bench_conv.py            # prints the table
    .venv/bin/python benchmarks/bench_conv.py --check    # ... and exits 1 if a target is missed

Targets (issue 4), float32, on the shapes of chapter 2's CNN (its two conv layers, batch 64,
with "valid" padding as in the article, and with "same" padding as in the variant that keeps
28/14/14/7):

* forward  ``conv2d_forward``  within 1.5x of ``tf.nn.conv2d``
* backward ``conv2d_backward`` within 2x of TensorFlow's gradient (the ops ``tf.GradientTape``
  runs for conv2d + bias: Conv2DBackpropInput, Conv2DBackpropFilter and the bias sum)
* ``conv2d_forward`` at least 100x faster than ``conv2d_naive``

Method: every contender is timed in its own block, warm-up calls first, then several repeats
with ``time.perf_counter``; the blocks run in a few rounds and the best time of each contender
over all rounds is kept (load from other processes only ever adds time). Blocks are separated
by a short sleep: TensorFlow's worker threads keep spinning for a while after an op, and
NumPy's BLAS threads timed in that window run up to 3x slower than they do on their own. Both
libraries use their default thread counts (all cores). The naive loop is timed once, on the
full batch (about 15 s in all; --no-naive skips it). This is a script, not a test: timings
depend on the machine, and on a machine busy with other work OpenBLAS suffers far more than
TensorFlow, so run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import conv, import_tensorflow  # noqa: E402

# (name, x shape, kernel (KH, KW), filters F, stride, padding)
CASES = [
    ("conv1 valid", (64, 28, 28, 1), (3, 3), 32, 1, "valid"),
    ("conv2 valid", (64, 13, 13, 32), (3, 3), 64, 1, "valid"),
    ("conv1 same", (64, 28, 28, 1), (3, 3), 32, 1, "same"),
    ("conv2 same", (64, 14, 14, 32), (3, 3), 64, 1, "same"),
]
FORWARD_TARGET, BACKWARD_TARGET, NAIVE_TARGET = 1.5, 2.0, 100.0


def timeit(fn, repeats: int, warmup: int = 1, pause: float = 0.15) -> list[float]:
    """Seconds of ``repeats`` runs of ``fn()``, after ``warmup`` untimed runs."""
    time.sleep(pause)  # let the other library's threads go idle first
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def close(a, b, tol) -> bool:
    """max |a - b| <= tol · max |b|: float32 sums over 50 000 terms differ in the 6th digit."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b))) <= tol * max(float(np.max(np.abs(b))), 1e-30)


def bench_case(tf, name, x_shape, kernel, filters, stride, padding, rounds, repeats, naive):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(kernel + (x_shape[3], filters)) * 0.1).astype(np.float32)
    b = rng.standard_normal(filters).astype(np.float32)
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape).astype(np.float32)

    xt, wt, bt, dt = (tf.constant(a) for a in (x, w, b, dout))
    strides = [1, stride, stride, 1]
    pad = padding.upper()

    def tf_forward():
        return tf.nn.conv2d(xt, wt, stride, pad).numpy()

    def tf_forward_bias():
        return tf.nn.bias_add(tf.nn.conv2d(xt, wt, stride, pad), bt).numpy()

    def tf_backward():  # exactly the ops tape.gradient dispatches for conv2d + bias
        dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=x_shape, filter=wt, out_backprop=dt,
                                            strides=strides, padding=pad)
        dw = tf.raw_ops.Conv2DBackpropFilter(input=xt, filter_sizes=w.shape, out_backprop=dt,
                                             strides=strides, padding=pad)
        db = tf.reduce_sum(dt, axis=[0, 1, 2])
        return dx.numpy(), dw.numpy(), db.numpy()

    def tf_tape():  # forward + gradient through tf.GradientTape, for the full picture
        with tf.GradientTape() as tape:
            tape.watch([xt, wt, bt])
            y = tf.nn.bias_add(tf.nn.conv2d(xt, wt, stride, pad), bt)
        return [g.numpy() for g in tape.gradient(y, [xt, wt, bt], output_gradients=dt)]

    def np_forward():
        return conv.conv2d_forward(x, w, b, stride, padding)

    def np_backward():
        return conv.conv2d_backward(dout, cache)

    def np_both():
        o, c = conv.conv2d_forward(x, w, b, stride, padding)
        return conv.conv2d_backward(dout, c)

    # the implementations agree before anything is timed
    ref = tf_forward_bias()
    assert close(out, ref, 1e-5), f"{name}: forward differs from TensorFlow"
    for mine, theirs in zip(np_backward(), tf_backward()):
        assert close(mine, theirs, 1e-5), f"{name}: backward differs from TensorFlow"

    contenders = {"np_fwd": np_forward, "tf_fwd": tf_forward, "tf_fwd_bias": tf_forward_bias,
                  "np_bwd": np_backward, "tf_bwd": tf_backward, "np_both": np_both, "tf_tape": tf_tape}
    times = {k: [] for k in contenders}
    for _ in range(rounds):  # rounds, so that a burst of load elsewhere hits every contender
        for key, fn in contenders.items():
            times[key] += timeit(fn, repeats)
    best = {k: min(v) for k, v in times.items()}
    if naive:
        time.sleep(0.2)
        t0 = time.perf_counter()
        out_naive = conv.conv2d_naive(x, w, b, stride, padding)
        best["naive"] = time.perf_counter() - t0
        assert close(out_naive, out, 1e-5), f"{name}: naive differs from fast"
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8, help="rounds over all contenders (best is kept)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per contender and round")
    ap.add_argument("--no-naive", action="store_true", help="skip the plain loop (~10 s)")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)

    tf = import_tensorflow()
    print(f"NumPy {np.__version__}, TensorFlow {tf.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU(s), float32; best of {args.rounds} x {args.repeats} runs after warm-up, times in ms")
    print("TF fwd = tf.nn.conv2d; TF grad = Conv2DBackpropInput + Conv2DBackpropFilter + bias sum; "
          "tape = forward + gradient via tf.GradientTape\n")

    header = (f"{'case':<12} {'x':<17} {'w':<15} {'np fwd':>7} {'TF fwd':>7} {'ratio':>6} {'+bias':>6} "
              f"{'np bwd':>7} {'TF grad':>7} {'ratio':>6} {'np f+b':>7} {'tape':>7} {'ratio':>6} "
              f"{'naive':>8} {'speed-up':>8}")
    print(header)
    print("-" * len(header))
    missed = []
    for name, x_shape, kernel, filters, stride, padding in CASES:
        t = bench_case(tf, name, x_shape, kernel, filters, stride, padding, args.rounds, args.repeats,
                       not args.no_naive)
        ms = {k: v * 1e3 for k, v in t.items()}
        r_fwd = ms["np_fwd"] / ms["tf_fwd"]
        r_fwd_b = ms["np_fwd"] / ms["tf_fwd_bias"]
        r_bwd = ms["np_bwd"] / ms["tf_bwd"]
        r_tape = ms["np_both"] / ms["tf_tape"]
        w_shape = kernel + (x_shape[3], filters)
        naive_txt, speed_txt = "-", "-"
        if "naive" in ms:
            speedup = ms["naive"] / ms["np_fwd"]
            naive_txt, speed_txt = f"{ms['naive']:8.0f}", f"{speedup:7.0f}x"
            if speedup < NAIVE_TARGET:
                missed.append(f"{name}: naive speed-up {speedup:.0f}x < {NAIVE_TARGET:.0f}x")
        print(f"{name:<12} {str(x_shape):<17} {str(w_shape):<15} {ms['np_fwd']:7.2f} {ms['tf_fwd']:7.2f} "
              f"{r_fwd:6.2f} {r_fwd_b:6.2f} {ms['np_bwd']:7.2f} {ms['tf_bwd']:7.2f} {r_bwd:6.2f} "
              f"{ms['np_both']:7.2f} {ms['tf_tape']:7.2f} {r_tape:6.2f} {naive_txt:>8} {speed_txt:>8}")
        if r_fwd > FORWARD_TARGET:
            missed.append(f"{name}: forward ratio {r_fwd:.2f} > {FORWARD_TARGET}")
        if r_bwd > BACKWARD_TARGET:
            missed.append(f"{name}: backward ratio {r_bwd:.2f} > {BACKWARD_TARGET}")
    print("\nratio = NumPy time / TensorFlow time (lower is better); '+bias' compares with "
          "tf.nn.conv2d + bias_add, which is what conv2d_forward computes.")
    print(f"targets: forward ratio <= {FORWARD_TARGET}, backward ratio <= {BACKWARD_TARGET}, "
          f"naive / fast >= {NAIVE_TARGET:.0f}x")
    if missed:
        print("MISSED: " + "; ".join(missed))
    else:
        print("all targets met")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
