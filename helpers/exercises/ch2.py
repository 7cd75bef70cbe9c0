"""Exercise checks for chapter 2: convolution and pooling (notebooks 03 and 04).

Each check runs the student's function on fixed inputs, compares it with the reference
(``helpers.conv``) and names the typical mistake when one matches: a flipped kernel, a missing
bias, a transposed output, an output size off by one, a gradient sent to every entry of a
pooling window ... Inputs are chosen so that every named mistake gives a different answer from
the right one and from each other (a non-square input, a non-square and non-symmetric kernel,
pooling windows whose entries are all different).

The size checks (:func:`check_conv_output_size`, :func:`check_conv_param_count`,
:func:`check_cnn_shapes`) call the student's function on several cases and name the case that
goes wrong, so that ``fn(28, 3, 1, "valid") returned 25, expected 26`` points at the formula.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from helpers import conv
from helpers.exercises import NOT_IMPLEMENTED, Feedback, check_against

__all__ = ["check_cnn_shapes", "check_conv2d_loop", "check_conv_backward_loops", "check_conv_output_size",
           "check_conv_param_count", "check_im2col_loop", "check_max_pool_backward", "check_padding_amounts",
           "check_receptive_field"]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _show(fb: Feedback) -> Feedback:
    print(fb)
    return fb


def _call(exercise: str, fn: Callable, args: tuple, where: str = "") -> tuple[Any, Feedback | None]:
    """Run ``fn(*args)`` on copies of array arguments: (result, None), or (None, Feedback) if it raised."""
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, Feedback(exercise, False, f"{NOT_IMPLEMENTED}: replace `raise NotImplementedError()` "
                                               f"with your code")
    except Exception as err:  # noqa: BLE001 -- the student's code raised: say what (and where), do not crash
        return None, Feedback(exercise, False, f"your code raised {type(err).__name__}: {err}{where}")


def _numbers(result) -> np.ndarray | None:
    """result as a float64 array if it is a number or a regular array of numbers, else None."""
    try:
        arr = np.asarray(result)
    except (TypeError, ValueError):  # a ragged nesting of lists
        return None
    return arr.astype(np.float64) if arr.dtype.kind in "iuf" else None   # not text, not True/False


def _call_text(name: str, case: tuple) -> str:
    return f"{name}({', '.join(repr(a) for a in case)})"


def _check_cases(exercise: str, fn: Callable, cases: Sequence[tuple], right: Callable,
                 mistakes: Mapping[str, Callable], *, show: bool = True) -> Feedback:
    """Check a function of a few ints on several cases at once (returned, and printed if ``show``).

    cases: argument tuples; right(*case) -> the expected result (an int or a tuple of ints);
    mistakes: {explanation: function(*case) -> what that mistake returns}, named when the
    student's results match it on every case. Otherwise the first wrong case is named.
    """
    def done(fb: Feedback) -> Feedback:
        return _show(fb) if show else fb

    got = []
    for case in cases:
        result, fb = _call(exercise, fn, case, where=f" (in {_call_text('fn', case)})")
        if fb is not None:
            return done(fb)
        got.append(result)
    expected = [right(*case) for case in cases]
    for case, g, e in zip(cases, got, expected):
        call = _call_text("fn", case)
        if g is None:
            return done(Feedback(exercise, False, f"{call} returned None: is the `return` missing?"))
        numbers = _numbers(g)
        if numbers is None:
            return done(Feedback(exercise, False, f"{call} returned {g!r}, which is not a number"))
        if numbers.shape != np.shape(e):
            want = "one int" if np.ndim(e) == 0 else f"a tuple of {len(e)} ints"
            return done(Feedback(exercise, False, f"{call} returned a result of shape {numbers.shape}, "
                                                   f"expected {want}, shape {np.shape(e)}"))
    as_array = np.asarray([_numbers(g) for g in got])
    named = {text: np.asarray([m(*case) for case in cases], dtype=np.float64) for text, m in mistakes.items()}
    fb = check_against(exercise, lambda: as_array, (), np.asarray(expected, dtype=np.float64), named,
                       rtol=0.0, atol=1e-9, show=False)
    if fb.ok or fb.message in named:
        return done(fb)
    for case, g, e in zip(cases, got, expected):  # an unnamed mistake: show the first wrong case
        if not np.allclose(np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64), rtol=0.0, atol=1e-9):
            return done(Feedback(exercise, False, f"{_call_text('fn', case)} returned {g!r}, expected {e!r}"))
    return done(fb)  # unreachable: some case differs


def _check_array(exercise: str, fn: Callable, args: tuple, expected: np.ndarray,
                 mistakes: Mapping[str, np.ndarray], shape_mistakes: Mapping[tuple, str],
                 where: str = "") -> Feedback:
    """Like check_against (not printed), plus explanations for tell-tale wrong shapes.

    where: appended to the message when the student's code raises (which input it was).
    """
    result, fb = _call(exercise, fn, args, where)
    if fb is not None:
        return fb
    if result is None:
        return Feedback(exercise, False, "your function returned None: is the `return` missing?")
    numbers = _numbers(result)
    if numbers is None:
        return Feedback(exercise, False, f"your function returned a {type(result).__name__} that is not "
                                         f"an array of numbers")
    shape = numbers.shape
    if shape != expected.shape and shape in shape_mistakes:
        return Feedback(exercise, False, f"the result has shape {shape}, expected {expected.shape}: "
                                         f"{shape_mistakes[shape]}")
    return check_against(exercise, lambda *_: numbers, args, expected, mistakes, show=False)


# --------------------------------------------------------------------------------------
# notebook 03: the output size of a convolution (TensorFlow's padding rules)
# --------------------------------------------------------------------------------------

# (H, K, S, padding): chosen so that every named mistake differs from the right answer, with
# strides that do not divide H - K (the floor matters) and an even kernel for "same".
_SIZE_CASES_VALID = [(28, 3, 1, "valid"), (26, 2, 2, "valid"), (28, 5, 3, "valid"), (13, 3, 2, "valid"),
                     (10, 4, 3, "valid")]
_SIZE_CASES_SAME = [(28, 3, 1, "same"), (28, 3, 2, "same"), (7, 3, 2, "same"), (5, 2, 2, "same"),
                    (10, 4, 3, "same")]


def _out_size(H, K, S, padding):
    return conv.conv_output_size(H, K, S, padding)


def check_conv_output_size(conv_output_size: Callable) -> Feedback:
    """Notebook 03: ``conv_output_size(H, K, S, padding) -> int``, TensorFlow's rule.

    "valid": floor((H - K) / S) + 1; "same": ceil(H / S). Checked on the "valid" cases first,
    then on the "same" cases. Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "conv_output_size"
    valid_mistakes = {
        "the +1 is missing: a kernel that fits exactly (H = K) still gives one output, so 'valid' is "
        "floor((H - K) / S) + 1": lambda H, K, S, p: (H - K) // S,
        "the floor is missing: (H - K) / S + 1 is not a whole number when S does not divide H - K; "
        "a window that does not fit is dropped, so use (H - K) // S + 1": lambda H, K, S, p: (H - K) / S + 1,
        "the stride is ignored: the kernel moves S pixels at a time, so only every S-th position is "
        "kept: floor((H - K) / S) + 1": lambda H, K, S, p: H - K + 1,
        "the result is rounded up: a window that runs past the edge is dropped with 'valid' padding, "
        "so round down: (H - K) // S + 1": lambda H, K, S, p: -(-(H - K) // S) + 1,
    }
    same_mistakes = {
        "'same' is not always H: the padding keeps the size only for stride 1; with stride S the "
        "output is ceil(H / S)": lambda H, K, S, p: H,
        "'same' rounds up: TensorFlow's 'same' output is ceil(H / S), not floor(H / S)":
            lambda H, K, S, p: H // S,
        "the ceiling is missing: H / S is not a whole number when S does not divide H; 'same' gives "
        "ceil(H / S)": lambda H, K, S, p: H / S,
        "the padding (K - 1) // 2 on both sides is right only for an odd kernel: TensorFlow adds "
        "P_total = max((ceil(H / S) - 1) S + K - H, 0) zeros, the extra one at the end, so the "
        "output is always ceil(H / S)": lambda H, K, S, p: (H + 2 * ((K - 1) // 2) - K) // S + 1,
        "the 'valid' formula is used for 'same': with 'same' the input is padded, so the output is "
        "ceil(H / S)": lambda H, K, S, p: (H - K) // S + 1,
    }
    fb = _check_cases(name, conv_output_size, _SIZE_CASES_VALID, _out_size, valid_mistakes, show=False)
    if fb.ok:
        fb = _check_cases(name, conv_output_size, _SIZE_CASES_SAME, _out_size, same_mistakes, show=False)
        if not fb.ok and not fb.message.startswith((NOT_IMPLEMENTED, "your code raised")):
            fb = Feedback(name, False, f"right for 'valid', wrong for 'same': {fb.message}")
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 03: a convolution with loops, one channel
# --------------------------------------------------------------------------------------

def _conv_loop_inputs():
    """x (6, 7) and a non-square, non-symmetric kernel w (3, 2), b a scalar: every mistake differs."""
    r = _rng(203)
    x = np.round(r.normal(size=(6, 7)), 2)
    w = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.25]])
    return x, w, 0.7


def _xcorr_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid, stride-1 cross-correlation of one channel, via helpers.conv (without bias)."""
    out, _ = conv.conv2d_forward(x[None, :, :, None], w[:, :, None, None], np.zeros(1))
    return out[0, :, :, 0]


def check_conv2d_loop(conv2d_loop: Callable) -> Feedback:
    """Notebook 03: ``conv2d_loop(x, w, b) -> out`` for one channel, stride 1, 'valid' padding.

    x (H, W), w (KH, KW), b a number -> out (H - KH + 1, W - KW + 1) with
    out[i, j] = Σ_m Σ_n w[m, n] x[i + m, j + n] + b (a cross-correlation: the kernel is not flipped).
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    x, w, b = _conv_loop_inputs()
    (H, W), (KH, KW) = x.shape, w.shape
    z = _xcorr_valid(x, w)
    expected = z + b
    mistakes = {
        "the kernel is flipped: that is the convolution of mathematics (scipy.signal.convolve2d); a "
        "convolution layer computes the cross-correlation out[i, j] = Σ_m Σ_n w[m, n] x[i + m, j + n] + b, "
        "with w as it is": _xcorr_valid(x, w[::-1, ::-1]) + b,
        "the bias b is missing: out[i, j] = Σ_m Σ_n w[m, n] x[i + m, j + n] + b": z,
        "the output is transposed: row i of the output comes from rows i .. i + KH - 1 of x, so out has "
        "shape (H - KH + 1, W - KW + 1)": expected.T,
        "the bias is added once per kernel entry: b is added once per output pixel, after the sum":
            z + KH * KW * b,
    }
    shape_mistakes = {
        (H, W): "the output has the size of the input ('same'); with 'valid' padding and stride 1 the "
                "kernel fits in H - KH + 1 rows and W - KW + 1 columns",
        (H - KH, W - KW): "off by one: the last window starts at row H - KH, so there are H - KH + 1 "
                          "output rows (range(H - KH + 1)), and the same for columns",
        (H - KH + 2, W - KW + 2): "off by one: there are H - KH + 1 output rows and W - KW + 1 columns, "
                                  "not H - KH + 2",
        (H - KW + 1, W - KH + 1): "the kernel's axes are swapped: w has KH rows (moved down x) and KW "
                                  "columns (moved across), so out is (H - KH + 1, W - KW + 1)",
        (H - KH + 1, W - KH + 1): "both output axes use KH: the columns shrink by the kernel's width, "
                                  "W - KW + 1",
        (H - KW + 1, W - KW + 1): "both output axes use KW: the rows shrink by the kernel's height, "
                                  "H - KH + 1",
    }
    return _show(_check_array("conv2d_loop", conv2d_loop, (x, w, b), expected, mistakes, shape_mistakes))


# --------------------------------------------------------------------------------------
# notebook 03: the backward pass of 2x2 max pooling
# --------------------------------------------------------------------------------------

def _pool_inputs(H: int, W: int, seed: int):
    """x (H, W) with all entries different (a scaled permutation: no ties), dout (H // 2, W // 2)."""
    r = _rng(seed)
    x = (r.permutation(H * W).reshape(H, W) - H * W / 2) / 4.0
    dout = np.round(r.normal(size=(H // 2, W // 2)), 2) + 0.01  # no zeros
    return x, dout


def _max_pool_grad(x, dout, *, winner=np.argmax):
    """dx of 2x2, stride-2 'valid' pooling that sends dout to ``winner`` of each window."""
    Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            p, q = divmod(int(winner(x[2 * i:2 * i + 2, 2 * j:2 * j + 2])), 2)
            dx[2 * i + p, 2 * j + q] = dout[i, j]
    return dx


def _spread(x, dout, scale):
    """dx that gives every entry of window (i, j) scale · dout[i, j] (rows/columns beyond the windows: 0)."""
    Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    dx[:2 * Ho, :2 * Wo] = np.kron(dout, np.ones((2, 2))) * scale
    return dx


def _reference_max_pool_grad(x, dout):
    _, cache = conv.max_pool2d_forward(x[None, :, :, None], 2, 2)
    return conv.max_pool2d_backward(dout[None, :, :, None], cache)[0, :, :, 0]


def check_max_pool_backward(max_pool_backward: Callable) -> Feedback:
    """Notebook 03: ``max_pool_backward(x, dout) -> dx`` for 2x2 max pooling with stride 2.

    x (H, W) one channel, dout (H // 2, W // 2) = ∂L/∂out -> dx (H, W): each dout[i, j] goes to
    the position of the maximum of window (i, j), every other entry gets 0 (Keras' default
    'valid' pooling: with odd H the last row belongs to no window and gets 0). Checked on a
    (4, 6) input first, then on an odd-sized (5, 7) one.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "max_pool_backward"
    fb = None
    for k, (H, W) in enumerate(((4, 6), (5, 7))):
        x, dout = _pool_inputs(H, W, seed=2031 + k)
        expected = _reference_max_pool_grad(x, dout)
        mistakes = {
            "the gradient is spread equally over the window (dout / 4): that is the gradient of average "
            "pooling; the maximum alone decided the output, so it alone gets dout": _spread(x, dout, 0.25),
            "dout is copied to every entry of the window: only the maximum influenced the output, the "
            "three other entries get 0": _spread(x, dout, 1.0),
            "the gradient goes to the minimum of each window: it belongs to the entry that was passed "
            "on, the maximum (argmax)": _max_pool_grad(x, dout, winner=np.argmin),
        }
        shape_mistakes = {
            dout.shape: "dx has the shape of the input x (H, W), not of the pooled output",
        }
        if H % 2:
            shape_mistakes[(H - 1, W - 1)] = ("with 'valid' pooling the last row and column belong to no "
                                              "window, but dx still has the shape of x: they get 0")
        odd = ("the odd-sized (5, 7) input (right for the (4, 6) one; Keras' default 'valid' pooling "
               "ignores the last row and column, whose gradient is 0)")
        fb = _check_array(name, max_pool_backward, (x, dout), expected, mistakes, shape_mistakes,
                          where=f" on {odd}" if k else "")
        if not fb.ok:
            if k == 1 and not fb.message.startswith((NOT_IMPLEMENTED, "your code raised")):
                fb = Feedback(name, False, f"wrong for {odd}: {fb.message}")
            break
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 04: counting the parameters of a convolution layer
# --------------------------------------------------------------------------------------

# (KH, KW, C_in, F): the two conv layers of the chapter's CNN first, then a non-square kernel
# and a 1x1 convolution, so that forgetting the channels or the bias cannot go unnoticed.
_PARAM_CASES = [(3, 3, 1, 32), (3, 3, 32, 64), (5, 3, 3, 8), (1, 1, 16, 4)]


def check_conv_param_count(conv_param_count: Callable) -> Feedback:
    """Notebook 03/04: ``conv_param_count(KH, KW, C_in, F) -> int`` = (KH·KW·C_in + 1)·F.

    Conv2D(32, (3, 3)) on 1 channel has 320 parameters, Conv2D(64, (3, 3)) on 32 channels 18 496.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    mistakes = {
        "the bias is missing: each of the F filters has one bias b_f besides its KH·KW·C_in weights, "
        "so (KH·KW·C_in + 1)·F": lambda KH, KW, C, F: KH * KW * C * F,
        "the input channels are missing: a filter spans all C_in input channels, so it has KH·KW·C_in "
        "weights (w has shape (KH, KW, C_in, F)), plus one bias": lambda KH, KW, C, F: (KH * KW + 1) * F,
        "one bias per weight: a filter has a single bias b_f, added once to each output pixel, so "
        "(KH·KW·C_in + 1)·F": lambda KH, KW, C, F: 2 * KH * KW * C * F,
        "one bias per input channel: the F filters have one bias each (b has shape (F,)), so "
        "(KH·KW·C_in + 1)·F": lambda KH, KW, C, F: (KH * KW + 1) * C * F,
    }
    return _check_cases("conv_param_count", conv_param_count, _PARAM_CASES,
                        lambda KH, KW, C, F: (KH * KW * C + 1) * F, mistakes)


# --------------------------------------------------------------------------------------
# notebook 04: the shapes through the chapter's CNN
# --------------------------------------------------------------------------------------

_SHAPE_CASES = [(28, "valid"), (28, "same"), (29, "valid"), (29, "same"), (32, "valid"), (32, "same")]


def _cnn_sizes(H, padding, *, conv_padding=None, pool_round_up=False, conv_minus_one=False):
    """The 4 sizes after Conv2D 3x3 -> MaxPool 2 -> Conv2D 3x3 -> MaxPool 2, with mistake switches."""
    padding = conv_padding or padding
    sizes = []
    for _ in range(2):
        if padding == "same":
            H = conv.conv_output_size(H, 3, 1, "same")
        else:
            H = H - 3 if conv_minus_one else conv.conv_output_size(H, 3, 1, "valid")
        sizes.append(H)
        H = -(-H // 2) if pool_round_up else conv.conv_output_size(H, 2, 2, "valid")
        sizes.append(H)
    return tuple(sizes)


def check_cnn_shapes(cnn_shapes: Callable) -> Feedback:
    """Notebook 04: ``cnn_shapes(H, padding) -> (h1, h2, h3, h4)``, the side lengths after
    Conv2D(3x3) -> MaxPooling2D(2) -> Conv2D(3x3) -> MaxPooling2D(2) on an H x H image.

    ``padding`` ("valid" or "same") is that of the two Conv2D layers; the pooling layers keep
    Keras' default (2x2 window, stride 2, 'valid': floor(h / 2)). 28 gives (26, 13, 11, 5) with
    'valid' and (28, 14, 14, 7) with 'same'. Prints the verdict (never raises) and returns a
    :class:`Feedback`.
    """
    mistakes = {
        "these are the sizes of 'same' padding (28 -> 28 -> 14 -> 14 -> 7), the source article's mistake: "
        "with Keras' default padding='valid' a 3x3 convolution removes 2 rows and 2 columns, "
        "28 -> 26 -> 13 -> 11 -> 5": lambda H, p: _cnn_sizes(H, p, conv_padding="same"),
        "the padding argument is ignored: with padding='same' a stride-1 convolution keeps the size, "
        "28 -> 28 -> 14 -> 14 -> 7": lambda H, p: _cnn_sizes(H, p, conv_padding="valid"),
        "the pooling rounds up: MaxPooling2D(2) uses padding='valid' by default and drops an odd last "
        "row, so it gives floor(h / 2) (13 -> 6, not 7)": lambda H, p: _cnn_sizes(H, p, pool_round_up=True),
        "a 'valid' 3x3 convolution gives h - 3 + 1 = h - 2, not h - 3 (the +1 is missing)":
            lambda H, p: _cnn_sizes(H, p, conv_minus_one=True),
    }
    return _check_cases("cnn_shapes", cnn_shapes, _SHAPE_CASES, lambda H, p: _cnn_sizes(H, p), mistakes)


# --------------------------------------------------------------------------------------
# notebook 03: the backward pass of a convolution, with loops
# --------------------------------------------------------------------------------------

def _conv_backward_inputs(stride: int):
    """(dout, x, w) for a 'valid' convolution: N = 2 images, C != F, distinct values, no zero in dout.

    Stride 1: a square 3x3 kernel (so that a dw transposed in (p, q) has the right shape and
    is told apart by its values). Stride 2: a non-square 3x2 kernel, and an x whose last row no
    window reaches ((8 - 3) // 2 + 1 = 3 windows cover rows 0..6).
    """
    r = _rng(2041 + stride)
    if stride == 1:
        x_shape, w_shape = (2, 5, 6, 2), (3, 3, 2, 3)
    else:
        x_shape, w_shape = (2, 8, 6, 3), (3, 2, 3, 2)
    x = np.round(r.normal(size=x_shape), 2)
    w = np.round(r.normal(size=w_shape), 2)
    Ho = (x_shape[1] - w_shape[0]) // stride + 1
    Wo = (x_shape[2] - w_shape[1]) // stride + 1
    dout = np.round(r.normal(size=(x_shape[0], Ho, Wo, w_shape[3])), 2)
    dout[dout == 0] = 0.01
    return dout, x, w


def _conv_backward_variant(dout, x, w, stride, *, step=None, assign=False):
    """The loops of the backward pass with a mistake switched on (dx, dw, db).

    step: where window (i, j) starts, (i·step, j·step) (the stride is ignored when step = 1);
    assign: dx and dw are assigned (=) where they must accumulate (+=).
    """
    step = stride if step is None else step
    N, Ho, Wo, F = dout.shape
    KH, KW = w.shape[:2]
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), dout.sum(axis=(0, 1, 2))
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                rows, cols = slice(i * step, i * step + KH), slice(j * step, j * step + KW)
                for f in range(F):
                    g = dout[n, i, j, f]
                    if assign:
                        dx[n, rows, cols, :] = w[:, :, :, f] * g
                        dw[:, :, :, f] = x[n, rows, cols, :] * g
                    else:
                        dx[n, rows, cols, :] += w[:, :, :, f] * g
                        dw[:, :, :, f] += x[n, rows, cols, :] * g
    return dx, dw, db


def _check_gradients(exercise: str, result, expected: tuple, names: Sequence[str],
                     mistakes: Sequence[Mapping[str, np.ndarray]],
                     shape_mistakes: Sequence[Mapping[tuple, str]],
                     joint_mistakes: Mapping[str, tuple] | None = None) -> Feedback:
    """Check a tuple of gradients (not printed): each wrong one gets its own named mistake.

    joint_mistakes: {explanation: the whole tuple} for a mistake that shows in several gradients
    at once (named once, before the gradients are looked at one by one).
    """
    if result is None:
        return Feedback(exercise, False, "your function returned None: is the `return` missing?")
    want = f"({', '.join(names)})"
    if not isinstance(result, (tuple, list)) or len(result) != len(expected):
        got = f"{len(result)} results" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        return Feedback(exercise, False, f"expected a tuple {want} of {len(expected)} arrays, got {got}")
    arrays = []
    for name, part in zip(names, result):
        numbers = _numbers(part)
        if numbers is None:
            return Feedback(exercise, False, f"{name} (in the tuple {want} you returned) is a "
                                             f"{type(part).__name__} that is not an array of numbers")
        arrays.append(numbers)
    fb = check_against(exercise, lambda: tuple(arrays), (), expected, joint_mistakes or {}, show=False)
    if fb.ok or fb.message in (joint_mistakes or {}):
        return fb
    wrong = []
    for name, a, e, m, s in zip(names, arrays, expected, mistakes, shape_mistakes):
        part = _check_array(exercise, lambda a=a: a, (), e, m, s)
        if not part.ok:
            msg = part.message
            wrong.append(f"{name}{msg[len('the result'):]}" if msg.startswith("the result") else msg)
    right = [n for n, a, e in zip(names, arrays, expected)
             if a.shape == e.shape and np.allclose(a, e, rtol=1e-6, atol=1e-8)]
    tail = f" ({' and '.join(right)} {'is' if len(right) == 1 else 'are'} right)" if right else ""
    return Feedback(exercise, False, "; ".join(wrong) + tail)


def check_conv_backward_loops(conv_backward: Callable) -> Feedback:
    """Notebook 03: ``conv_backward(dout, x, w, stride=1) -> (dx, dw, db)`` with loops, as
    CS231n's ``conv_backward_naive``, for a 'valid' convolution (no padding).

    dout (N, Ho, Wo, F) = ∂L/∂out, x (N, H, W, C), w (KH, KW, C, F), stride S an int ->
    dx (N, H, W, C), dw (KH, KW, C, F), db (F,), eqs. (db), (dw), (dx) of ``helpers.conv``::

        db[f]          = Σ_{n, i, j} dout[n, i, j, f]
        dw[p, q, c, f] = Σ_{n, i, j} x[n, i·S + p, j·S + q, c] · dout[n, i, j, f]
        dx[n, i·S + p, j·S + q, c] += Σ_f dout[n, i, j, f] · w[p, q, c, f]

    Checked with stride 1 (a 3x3 kernel) first, then with stride 2 (a 3x2 kernel), called as
    ``conv_backward(dout, x, w, 1)`` and ``conv_backward(dout, x, w, 2)``. A wrong gradient is
    named on its own (dx, dw, db), with the mistake it matches.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "conv_backward"
    names = ("dx", "dw", "db")
    fb = None
    for stride in (1, 2):
        dout, x, w = _conv_backward_inputs(stride)
        N, H, W, C = x.shape
        KH, KW, _, F = w.shape
        Ho, Wo = dout.shape[1:3]
        expected = conv.conv2d_backward_naive(dout, x, w, stride, "valid")
        dx, dw, db = expected
        flipped = conv.conv2d_backward_naive(dout, x, w[::-1, ::-1], stride, "valid")[0]
        one_filter = conv.conv2d_backward_naive(dout[..., :1], x, w[..., :1], stride, "valid")[0]
        first_image = conv.conv2d_backward_naive(dout[:1], x[:1], w, stride, "valid")[1]
        last_image = conv.conv2d_backward_naive(dout[-1:], x[-1:], w, stride, "valid")[1]
        dx_assign, dw_assign, _ = _conv_backward_variant(dout, x, w, stride, assign=True)
        dx_mistakes = {
            "dx uses the flipped kernel: in the loop each dout[n, i, j, f] goes back to the window it came "
            "from, times w as it is: dx[n, i·S + p, j·S + q, c] += dout[n, i, j, f] · w[p, q, c, f]. (The flip "
            "appears only when dx is written as a correlation: it is the 'full' convolution of dout with w, "
            "i.e. a correlation with the flipped kernel.)": flipped,
            "dx is missing the sum over the filters f: every filter used the window, so dx gets "
            "dout[n, i, j, f] · w[:, :, :, f] from each f (yours holds filter f = 0 alone)": one_filter,
            "dx is assigned (=) where it must add up (+=): overlapping windows and the F filters each add "
            "their share to the same input pixel": dx_assign,
        }
        dw_mistakes = {
            "dw is transposed in (p, q): dw[p, q, c, f] pairs kernel row p with input row i·S + p and "
            "kernel column q with input column j·S + q, like w": dw.transpose(1, 0, 2, 3),
            "dw is flipped: dw is a correlation of x with dout, dw[p, q, c, f] = Σ x[n, i·S + p, j·S + q, c] "
            "· dout[n, i, j, f], with the window as it is": dw[::-1, ::-1],
            "dw is not summed over the batch: every image used the same w, so dw adds up the contributions "
            "of all N images (yours is image n = 0 alone)": first_image,
            "dw is not summed over the batch: every image used the same w, so dw adds up the contributions "
            "of all N images (yours is the last image alone: is dw reset inside the loop over n?)": last_image,
            "dw is assigned (=) where it must add up (+=): every window (n, i, j) adds "
            "x[n, i·S + p, j·S + q, c] · dout[n, i, j, f] to dw[p, q, c, f]": dw_assign,
            "dw is divided by N: the backward pass sums over the batch; an average over the images, if the "
            "loss takes one, is already inside dout": dw / N,
        }
        db_mistakes = {
            "db is divided by N: db[f] = Σ_{n, i, j} dout[n, i, j, f], a plain sum (any average is already "
            "inside dout)": db / N,
            "db is divided by the number of outputs: db[f] = Σ_{n, i, j} dout[n, i, j, f] is a sum, not a "
            "mean": db / (N * Ho * Wo),
        }
        dx_shapes = {
            (N, Ho, Wo, F): "dx has the shape of dout; it is the gradient of x, so it has x's shape (N, H, W, C)",
            (N, (Ho - 1) * stride + KH, (Wo - 1) * stride + KW, C):
                "dx covers only the rows and columns some window reaches; it has x's shape (N, H, W, C), and "
                "the pixels no window reaches get 0",
        }
        dw_shapes = {
            (KW, KH, C, F): "dw is transposed in (p, q): it has w's shape (KH, KW, C, F)",
            (KH, KW, F, C): "dw has its channels and filters swapped: it has w's shape (KH, KW, C, F), "
                            "dw[p, q, c, f] for input channel c and filter f",
        }
        db_shapes = {
            (Ho, Wo, F): "db is summed over the images n only: db[f] = Σ_{n, i, j} dout[n, i, j, f] sums over "
                         "the images and every output position (axes 0, 1, 2)",
            (N, F): "db is not summed over the batch: db[f] = Σ_{n, i, j} dout[n, i, j, f] (axes 0, 1, 2)",
            (): "db is summed over the filters too: there is one bias per filter, db[f] = Σ_{n, i, j} "
                "dout[n, i, j, f], shape (F,)",
            (N, Ho, Wo): "db is summed over the filters: there is one bias per filter, db[f] = "
                         "Σ_{n, i, j} dout[n, i, j, f], shape (F,)",
        }
        joint = {}
        if stride > 1:
            dx_1, dw_1, _ = _conv_backward_variant(dout, x, w, stride, step=1)
            ignored = ("the stride is ignored: window (i, j) starts at row i·S and column j·S of x, so the "
                       "gradient of out[n, i, j, f] goes to x[n, i·S : i·S + KH, j·S : j·S + KW, :] (and dw "
                       "takes the same window)")
            joint[ignored] = (dx_1, dw_1, db)
            dx_mistakes["dx: the stride is ignored: window (i, j) starts at row i·S and column j·S of x, so the "
                        "gradient of out[n, i, j, f] goes back to x[n, i·S : i·S + KH, j·S : j·S + KW, :]"] = dx_1
            dw_mistakes["dw: the stride is ignored: window (i, j) starts at row i·S and column j·S of x, so "
                        "dw[p, q, c, f] takes x[n, i·S + p, j·S + q, c] · dout[n, i, j, f]"] = dw_1
        result, fb = _call(name, conv_backward, (dout, x, w, stride),
                           where=" on the stride-2 case (right for stride 1)" if stride > 1 else "")
        if fb is None:
            fb = _check_gradients(name, result, expected, names, (dx_mistakes, dw_mistakes, db_mistakes),
                                  (dx_shapes, dw_shapes, db_shapes), joint)
        if not fb.ok:
            if stride > 1 and not fb.message.startswith((NOT_IMPLEMENTED, "your code raised")):
                fb = Feedback(name, False, f"right for stride 1, wrong for stride 2: {fb.message}")
            break
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 03: TensorFlow's padding, (before, after)
# --------------------------------------------------------------------------------------

# (size, kernel, stride, padding): odd and even kernels, strides 1 and 2, sizes that the stride
# divides and that it does not, and a 1x1 kernel with stride 2 whose unclipped padding is negative.
_PAD_CASES = [(28, 3, 1, "valid"), (28, 4, 2, "valid"), (7, 2, 2, "valid"),
              (28, 3, 1, "same"), (28, 4, 1, "same"), (28, 3, 2, "same"), (7, 3, 2, "same"),
              (5, 2, 2, "same"), (9, 4, 2, "same"), (6, 1, 2, "same")]


def _pad_variant(size, kernel, stride, padding, *, out=None, total=None, split=None, clip=True,
                 valid_too=False):
    """(before, after) with a mistake switched on.

    out(size, stride) -> the "same" output size; total(size, kernel, stride, out) -> P_total;
    split(total) -> (before, after); clip=False: a negative P_total is kept; valid_too: the
    "same" amounts are returned for "valid" as well.
    """
    if padding == "valid" and not valid_too:
        return 0, 0
    o = out(size, stride) if out else -(-size // stride)
    p = total(size, kernel, stride, o) if total else (o - 1) * stride + kernel - size
    p = max(p, 0) if clip else p
    return split(p) if split else (p // 2, p - p // 2)


def check_padding_amounts(padding_amounts: Callable) -> Feedback:
    """Notebook 03: ``padding_amounts(size, kernel, stride, padding) -> (before, after)``, the zeros
    TensorFlow adds to one axis (before = top or left, after = bottom or right).

    "valid": (0, 0). "same": out = ceil(size / stride), P_total = max((out − 1)·stride + kernel − size, 0),
    before = P_total // 2, after = P_total − before (an odd one goes after). Examples:
    (28, 3, 1, "same") -> (1, 1), (28, 4, 1, "same") -> (1, 2), (5, 2, 2, "same") -> (0, 1).
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    mistakes = {
        "the extra row is at the top: when P_total is odd TensorFlow puts the odd one after (bottom / "
        "right): before = P_total // 2, after = P_total - before":
            lambda *c: _pad_variant(*c, split=lambda p: (p - p // 2, p // 2)),
        "P_total = kernel - 1 is right only for stride 1: with stride S, 'same' means out = ceil(size / S) "
        "outputs, which need P_total = max((out - 1)·S + kernel - size, 0)":
            lambda *c: _pad_variant(*c, total=lambda H, K, S, o: K - 1),
        "the same padding on both sides loses the odd one: before = P_total // 2, after = P_total - before "
        "(an even kernel with stride 1 needs 1 more after)":
            lambda *c: _pad_variant(*c, split=lambda p: (p // 2, p // 2)),
        "'same' rounds up: the output size is out = ceil(size / stride), not floor(size / stride), and "
        "P_total = max((out - 1)·stride + kernel - size, 0)":
            lambda *c: _pad_variant(*c, out=lambda H, S: H // S),
        "negative padding: when the stride is larger than the kernel, (out - 1)·stride + kernel - size can "
        "be negative; no padding is needed then: P_total = max(..., 0)":
            lambda *c: _pad_variant(*c, clip=False),
        "'valid' means no padding at all: return (0, 0) for 'valid' (the 'same' amounts are right)":
            lambda *c: _pad_variant(*c, valid_too=True),
    }
    return _check_cases("padding_amounts", padding_amounts, _PAD_CASES, conv.padding_amounts, mistakes)


# --------------------------------------------------------------------------------------
# notebook 04: the receptive field
# --------------------------------------------------------------------------------------

# Lists of (kernel, stride), input first: the 04 network (conv 3x3, pool 2, conv 3x3, pool 2),
# a ResNet-like stem (a stride-2 conv 7x7, a pool 3x3 with stride 2, two convs 3x3) and three
# stride-2 convs.
_RF_CASES = [([(3, 1), (2, 2), (3, 1), (2, 2)],), ([(7, 2), (3, 2), (3, 1), (3, 1)],),
             ([(3, 2), (3, 2), (3, 2)],)]


def _rf_variant(layers, *, strides):
    """1 + Σ_m (k_m − 1) · strides(m, all strides) over the layers m: the right one is Π_{i<m} s_i."""
    s = [st for _, st in layers]
    return 1 + sum((k - 1) * strides(m, s) for m, (k, _) in enumerate(layers))


def check_receptive_field(receptive_field: Callable) -> Feedback:
    """Notebook 04: ``receptive_field(layers) -> r`` for a list of (kernel, stride) pairs, input first
    (convolution and pooling layers alike), r = 1 + Σ_l (k_l − 1) · Π_{i<l} s_i.

    The 04 network [(3, 1), (2, 2), (3, 1), (2, 2)] gives 10: each unit of pool2 sees 10x10 pixels.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    prod = np.prod
    mistakes = {
        "the product includes the layer's own stride: layer l widens the field by k_l - 1 steps of its "
        "input, and one step of its input is Π_{i<l} s_i pixels (its own stride s_l acts on its output)":
            lambda layers: _rf_variant(layers, strides=lambda m, s: prod(s[:m + 1])),
        "the strides are missing: a layer above a stride-2 layer moves 2 input pixels per step, so its "
        "k_l - 1 extra steps count Π_{i<l} s_i pixels each":
            lambda layers: _rf_variant(layers, strides=lambda m, s: 1),
        "the +1 is missing: a pixel sees itself (r = 1 before any layer), and each layer adds "
        "(k_l - 1)·Π_{i<l} s_i":
            lambda layers: _rf_variant(layers, strides=lambda m, s: prod(s[:m])) - 1,
        "every layer is multiplied by the product of all the strides: layer l's step is the product of "
        "the strides below it only, Π_{i<l} s_i":
            lambda layers: _rf_variant(layers, strides=lambda m, s: prod(s)),
        "the strides multiplied are those of the layers above: the list starts at the input, and layer l's "
        "step is the product of the strides before it, Π_{i<l} s_i":
            lambda layers: _rf_variant(layers, strides=lambda m, s: prod(s[m + 1:])),
    }

    def on_a_copy(layers):   # the student's function may change the list: give it its own
        return receptive_field([tuple(layer) for layer in layers])

    return _check_cases("receptive_field", on_a_copy, _RF_CASES, conv.receptive_field, mistakes)


# --------------------------------------------------------------------------------------
# notebook 03: im2col with a loop over the kernel offsets (p, q)
# --------------------------------------------------------------------------------------

def _im2col_inputs(stride: int):
    """x (N, H, W, C) with all entries different, and a non-square kernel (KH, KW) != (KW, KH)."""
    r = _rng(2051 + stride)
    shape, kernel = ((2, 4, 5, 2), (3, 2)) if stride == 1 else ((2, 7, 6, 3), (2, 3))
    x = (r.permutation(int(np.prod(shape))).reshape(shape) + 1) / 10.0
    return x, kernel


def check_im2col_loop(im2col: Callable) -> Feedback:
    """Notebook 03: ``im2col(x, kernel_size, stride=1) -> cols`` for a 'valid' convolution, with a loop
    over the kernel offsets (p, q); kernel_size is a pair (KH, KW), stride an int.

    x (N, H, W, C) -> cols (N·Ho·Wo, KH·KW·C), the layout of ``helpers.conv.im2col``: row
    (n·Ho + i)·Wo + j holds window (n, i, j), column (p·KW + q)·C + c holds x[n, i·S + p, j·S + q, c],
    so that the convolution is ``cols @ w.reshape(KH·KW·C, F) + b``. Checked with stride 1 first,
    then with stride 2, called as ``im2col(x, (KH, KW), 1)`` and ``im2col(x, (KH, KW), 2)``.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "im2col"
    fb = None
    for stride in (1, 2):
        x, (KH, KW) = _im2col_inputs(stride)
        N, H, W, C = x.shape
        Ho, Wo = (H - KH) // stride + 1, (W - KW) // stride + 1
        expected = conv.im2col(x, (KH, KW), stride)
        R, K = expected.shape
        c6 = expected.reshape(N, Ho, Wo, KH, KW, C)
        mistakes = {
            "the columns are in (c, p, q) order: w.reshape(KH·KW·C, F) runs over (p, q, c), channel fastest, "
            "so column (p·KW + q)·C + c holds x[n, i·S + p, j·S + q, c]": c6.transpose(0, 1, 2, 5, 3, 4).reshape(R, K),
            "p and q are swapped (each window is transposed): column (p·KW + q)·C + c holds row offset p < KH "
            "and column offset q < KW, x[n, i·S + p, j·S + q, c]": c6.transpose(0, 1, 2, 4, 3, 5).reshape(R, K),
            "the rows are position-major, (i, j, n): row (n·Ho + i)·Wo + j holds window (i, j) of image n, "
            "the images one after the other, so that out reshapes to (N, Ho, Wo, F)":
                c6.transpose(1, 2, 0, 3, 4, 5).reshape(R, K),
            "the rows run down the columns, (n, j, i): row (n·Ho + i)·Wo + j holds window (i, j), row by row "
            "(j fastest), as out's (N, Ho, Wo, F) layout": c6.transpose(0, 2, 1, 3, 4, 5).reshape(R, K),
        }
        shape_mistakes = {
            (K, R): "cols is transposed: one row per window (N·Ho·Wo rows), one column per kernel entry",
            (Ho * Wo, K): "only one image: cols has a row for every window of every image, N·Ho·Wo rows",
            (N, Ho * Wo, K): "cols is 3-D: stack the windows of all images into one matrix (N·Ho·Wo, KH·KW·C)",
            (N, Ho, Wo, KH, KW, C): "cols is still 6-D: reshape it to (N·Ho·Wo, KH·KW·C)",
            (N * (H - KW + 1) * (W - KH + 1), K): "the kernel's axes are swapped: KH is its height (rows of x), "
                                                  "KW its width",
        }
        if stride > 1:
            stepped_by_1 = conv.im2col(x[:, :Ho + KH - 1, :Wo + KW - 1], (KH, KW), 1)
            ignored = ("the stride is ignored: window (i, j) starts at row i·S and column j·S of x, so offset "
                       "(p, q) takes the strided slice x[:, p : p + S·(Ho - 1) + 1 : S, q : q + S·(Wo - 1) + 1 : S, :]")
            mistakes[ignored] = stepped_by_1
            shape_mistakes[(N * (H - KH + 1) * (W - KW + 1), K)] = (
                "the stride is ignored: with stride S there are Ho = (H - KH) // S + 1 window rows and "
                "Wo = (W - KW) // S + 1 window columns")
        fb = _check_array(name, im2col, (x, (KH, KW), stride), expected, mistakes, shape_mistakes,
                          where=" on the stride-2 case (right for stride 1)" if stride > 1 else "")
        if not fb.ok:
            if stride > 1 and not fb.message.startswith((NOT_IMPLEMENTED, "your code raised")):
                fb = Feedback(name, False, f"right for stride 1, wrong for stride 2: {fb.message}")
            break
    return _show(fb)
