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

__all__ = ["check_cnn_shapes", "check_conv2d_loop", "check_conv_output_size", "check_conv_param_count",
           "check_max_pool_backward"]


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
