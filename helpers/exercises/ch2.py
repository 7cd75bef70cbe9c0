"""Exercise checks for chapter 2: convolution and pooling (notebook 03), a CNN on chest X-rays
(notebook 04) and training a CNN well (notebook 05).

Each check runs the student's function on fixed inputs, compares it with the reference
(``helpers.conv``, ``helpers.nn``, ``helpers.training``) and names the typical mistake when one
matches: a flipped kernel, a missing bias, a transposed output, an output size off by one, a
gradient sent to every entry of a pooling window or to the last of tied maxima ... Inputs are
chosen so that every named mistake gives a different answer from the right one and from each
other (a non-square input, a non-square and non-symmetric kernel, pooling windows whose entries
are all different, then pooling windows with tied maxima, as after a ReLU).

The notebook-03 checks use notebook 03's letters (its notation table): (p, q) an input pixel, c
an input channel, (i, j) an output position, f a filter, (m, n) an offset inside the window (the
kernel's own indices, w[m, n, c, f]), S the stride, e the example (image) of a batch, and
dout = δ = ∂L/∂z the upstream gradient.

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
# notebook 03, exercise 1: the output size of a convolution (TensorFlow's padding rules)
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
    """Notebook 03, exercise 1: ``conv_output_size(H, K, S, padding) -> int``, TensorFlow's rule,
    eqs. (3)-(4): H input pixels along one axis, kernel K, stride S.

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
        "the padding (K - 1) // 2 on both sides is right only for an odd kernel: TensorFlow "
        "adds P_H = max((ceil(H / S) - 1)·S + K - H, 0) zeros in all, the odd one at the end (eq. 4), so "
        "the output is always ceil(H / S)": lambda H, K, S, p: (H + 2 * ((K - 1) // 2) - K) // S + 1,
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
# notebook 03, exercise 3: a convolution with loops, one channel
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
    """Notebook 03, exercise 3: ``conv2d_loop(x, w, b) -> out`` for one channel, stride 1, 'valid'
    padding, eq. (1a).

    x (H, W), w (KH, KW), b a number -> out (H - KH + 1, W - KW + 1) with
    out[i, j] = Σ_m Σ_n w[m, n] x[i + m, j + n] + b over the kernel offsets 0 <= m < KH,
    0 <= n < KW (a cross-correlation: the kernel is not flipped).
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
        "the output is transposed: output row i comes from input rows p = i .. i + KH - 1, so out has "
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
# notebook 03, exercise 5: the backward pass of 2x2 max pooling
# --------------------------------------------------------------------------------------

def _pool_inputs(H: int, W: int, seed: int):
    """x (H, W) with all entries different (a scaled permutation: no ties), dout (H // 2, W // 2)."""
    r = _rng(seed)
    x = (r.permutation(H * W).reshape(H, W) - H * W / 2) / 4.0
    dout = np.round(r.normal(size=(H // 2, W // 2)), 2) + 0.01  # no zeros
    return x, dout


def _pool_inputs_with_ties():
    """x (4, 6), like a ReLU output (entries >= 0), whose 2x2 windows hold tied maxima, and dout (2, 3).

    Windows (i, j), as (first, last) maximum at offset (m, n): (0, 0) and (1, 1) all zeros, four
    tied maxima ((0, 0), (1, 1)); (0, 2) three tied 0.9s ((0, 1), (1, 1)); (1, 2) two tied 0.4s
    ((0, 1), (1, 0)); (0, 1) and (1, 0) a single maximum. dout has no zero and no two equal entries.
    """
    x = np.array([[0.0, 0.0, 0.3, 1.1, 0.0, 0.9],
                  [0.0, 0.0, 0.7, 0.2, 0.9, 0.9],
                  [0.5, 0.0, 0.0, 0.0, 0.0, 0.4],
                  [0.0, 0.0, 0.0, 0.0, 0.4, 0.0]])
    dout = np.array([[0.5, -1.5, 2.0],
                     [1.0, -0.5, 3.0]])
    return x, dout


def _first_max(window: np.ndarray) -> int:
    return int(np.argmax(window))        # the flat index of the first maximum, in row-major order


def _last_max(window: np.ndarray) -> int:
    return window.size - 1 - int(np.argmax(window.ravel()[::-1]))


def _max_pool_grad(x, dout, *, winner=_first_max):
    """dx of 2x2, stride-2 'valid' pooling that sends dout[i, j] to offset (m, n) = divmod(winner(window), 2)
    of window (i, j), the input pixel x[2i + m, 2j + n]."""
    Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            m, n = divmod(int(winner(x[2 * i:2 * i + 2, 2 * j:2 * j + 2])), 2)
            dx[2 * i + m, 2 * j + n] = dout[i, j]
    return dx


def _tied_maxima_grad(x, dout, *, split: bool):
    """dx of 2x2, stride-2 'valid' pooling that gives each of the k maxima of window (i, j) dout[i, j] / k
    (split) or dout[i, j] (not split: the mask window == window.max())."""
    Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            window = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            mask = window == window.max()
            dx[2 * i:2 * i + 2, 2 * j:2 * j + 2] = mask * dout[i, j] / (mask.sum() if split else 1)
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


_TIE_RULE = ("when several entries of a window share the maximum (a window of zeros after a ReLU), "
             "TensorFlow's CPU kernel and helpers.conv send all of dout to the first of them in row-major "
             "order, the one np.argmax returns")


def check_max_pool_backward(max_pool_backward: Callable) -> Feedback:
    """Notebook 03, exercise 5: ``max_pool_backward(x, dout) -> dx`` for 2x2 max pooling with stride 2.

    x (H, W) one channel, dout (H // 2, W // 2) = δ = ∂L/∂y -> dx (H, W), eq. (7): dout[i, j]
    goes to the input pixel x[2i + m*, 2j + n*] at the offset (m*, n*) of the maximum of window
    (i, j), every other entry gets 0 (Keras' default 'valid' pooling: with odd H the last row
    belongs to no window and gets 0). On a tie the winner is the first maximum in row-major order
    (np.argmax's choice), as in TensorFlow's CPU kernel and ``helpers.conv``. Checked on a (4, 6)
    input with all entries different first, then on an odd-sized (5, 7) one, then on a (4, 6)
    ReLU-like input with tied maxima.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "max_pool_backward"
    odd = ("the odd-sized (5, 7) input (right for the (4, 6) one; Keras' default 'valid' pooling "
           "ignores the last row and column, whose gradient is 0)")
    ties = ("the input with tied maxima (windows of zeros, as after a ReLU; right for the inputs whose "
            "windows have a single maximum)")
    cases = [(_pool_inputs(4, 6, seed=2031), ""), (_pool_inputs(5, 7, seed=2032), odd),
             (_pool_inputs_with_ties(), ties)]
    fb = None
    for (x, dout), case in cases:
        expected = _reference_max_pool_grad(x, dout)
        mistakes = {
            "the gradient is spread equally over the window (dout / 4): that is the gradient of average "
            "pooling; the maximum alone decided the output, so it alone gets dout": _spread(x, dout, 0.25),
            "dout is copied to every entry of the window: only the maximum influenced the output, the "
            "three other entries get 0": _spread(x, dout, 1.0),
            "the gradient goes to the minimum of each window: it belongs to the entry that was passed "
            "on, the maximum (argmax)": _max_pool_grad(x, dout, winner=np.argmin),
        }
        if case == ties:
            mistakes.update({
                f"the gradient goes to the last of the tied maxima: {_TIE_RULE} (a comparison with >= "
                f"instead of > keeps the last one)": _max_pool_grad(x, dout, winner=_last_max),
                f"the gradient is split among the tied maxima (dout / k to each of k): {_TIE_RULE}. Any "
                f"split into non-negative shares is a valid subgradient, but the course follows TensorFlow's "
                f"rule": _tied_maxima_grad(x, dout, split=True),
                f"dout is copied to every tied maximum (the mask window == window.max()): {_TIE_RULE}; a "
                f"copy to each of k tied entries counts the gradient k times":
                    _tied_maxima_grad(x, dout, split=False),
            })
        H, W = x.shape
        shape_mistakes = {
            dout.shape: "dx has the shape of the input x (H, W), not of the pooled output",
        }
        if H % 2:
            shape_mistakes[(H - 1, W - 1)] = ("with 'valid' pooling the last row and column belong to no "
                                              "window, but dx still has the shape of x: they get 0")
        fb = _check_array(name, max_pool_backward, (x, dout), expected, mistakes, shape_mistakes,
                          where=f" on {case}" if case else "")
        if not fb.ok:
            if case and not fb.message.startswith((NOT_IMPLEMENTED, "your code raised")):
                fb = Feedback(name, False, f"wrong for {case}: {fb.message}")
            break
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 04, exercise 1: counting the parameters of a convolution layer
# --------------------------------------------------------------------------------------

# (KH, KW, C_in, F): the two conv layers of the chapter's CNN first, then a non-square kernel
# and a 1x1 convolution, so that forgetting the channels or the bias cannot go unnoticed.
_PARAM_CASES = [(3, 3, 1, 32), (3, 3, 32, 64), (5, 3, 3, 8), (1, 1, 16, 4)]


def check_conv_param_count(conv_param_count: Callable) -> Feedback:
    """Notebook 04, exercise 1: ``conv_param_count(KH, KW, C_in, F) -> int`` = (KH·KW·C_in + 1)·F.

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
# notebook 04, exercise 2: the shapes through the chapter's CNN
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
    """Notebook 04, exercise 2: ``cnn_shapes(H, padding) -> (h1, h2, h3, h4)``, the side lengths after
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
# notebook 03, exercise 6: the backward pass of a convolution, with loops
# --------------------------------------------------------------------------------------

def _conv_backward_inputs(stride: int):
    """(dout, x, w) for a 'valid' convolution: N = 2 examples, C != F, distinct values, no zero in dout.

    Stride 1: a square 3x3 kernel (so that a dw transposed in (m, n) has the right shape and
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

    step: where window (i, j) starts, input pixel (i·step, j·step) (the stride is ignored when
    step = 1); assign: dx and dw are assigned (=) where they must accumulate (+=).
    """
    step = stride if step is None else step
    N, Ho, Wo, F = dout.shape
    KH, KW = w.shape[:2]
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), dout.sum(axis=(0, 1, 2))
    for e in range(N):
        for i in range(Ho):
            for j in range(Wo):
                rows, cols = slice(i * step, i * step + KH), slice(j * step, j * step + KW)   # p, q of the window
                for f in range(F):
                    g = dout[e, i, j, f]
                    if assign:
                        dx[e, rows, cols, :] = w[:, :, :, f] * g
                        dw[:, :, :, f] = x[e, rows, cols, :] * g
                    else:
                        dx[e, rows, cols, :] += w[:, :, :, f] * g
                        dw[:, :, :, f] += x[e, rows, cols, :] * g
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
    """Notebook 03, exercise 6: ``conv_backward(dout, x, w, stride=1) -> (dx, dw, db)`` with loops,
    as CS231n's ``conv_backward_naive``, for a 'valid' convolution (no padding).

    dout (N, Ho, Wo, F) = δ = ∂L/∂z, x (N, H, W, C), w (KH, KW, C, F), stride S an int ->
    dx (N, H, W, C), dw (KH, KW, C, F), db (F,), eqs. (11)-(13) of notebook 03 summed over the
    examples e (eqs. (db), (dw), (dx) of ``helpers.conv``), with (m, n) the kernel offset::

        db[f]          = Σ_{e, i, j} dout[e, i, j, f]                                  (11)
        dw[m, n, c, f] = Σ_{e, i, j} x[e, i·S + m, j·S + n, c] · dout[e, i, j, f]      (12)
        dx[e, i·S + m, j·S + n, c] += Σ_f dout[e, i, j, f] · w[m, n, c, f]             (13)

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
        first_example = conv.conv2d_backward_naive(dout[:1], x[:1], w, stride, "valid")[1]
        last_example = conv.conv2d_backward_naive(dout[-1:], x[-1:], w, stride, "valid")[1]
        dx_assign, dw_assign, _ = _conv_backward_variant(dout, x, w, stride, assign=True)
        dx_mistakes = {
            "dx uses the flipped kernel: in the loop each dout[e, i, j, f] goes back to the window it came "
            "from, times w as it is: dx[e, i·S + m, j·S + n, c] += dout[e, i, j, f] · w[m, n, c, f], eq. (13). "
            "(The flip appears only when dx is written as a correlation: it is the 'full' convolution of dout "
            "with w, eq. (14), i.e. a correlation with the flipped kernel.)": flipped,
            "dx is missing the sum over the filters f: every filter used the window, so dx gets "
            "dout[e, i, j, f] · w[:, :, :, f] from each f (yours holds filter f = 0 alone)": one_filter,
            "dx is assigned (=) where it must add up (+=): overlapping windows and the F filters each add "
            "their share to the same input pixel": dx_assign,
        }
        dw_mistakes = {
            "dw is transposed in (m, n): dw[m, n, c, f] pairs kernel row m with input row i·S + m and "
            "kernel column n with input column j·S + n, like w": dw.transpose(1, 0, 2, 3),
            "dw is flipped: dw is a correlation of x with dout, dw[m, n, c, f] = Σ_{e, i, j} "
            "x[e, i·S + m, j·S + n, c] · dout[e, i, j, f] (eq. 12), with the window as it is": dw[::-1, ::-1],
            "dw is not summed over the batch: every example used the same w, so dw adds up the contributions "
            "of all N examples (yours is example e = 0 alone)": first_example,
            "dw is not summed over the batch: every example used the same w, so dw adds up the contributions "
            "of all N examples (yours is the last example alone: is dw reset inside the loop over e?)": last_example,
            "dw is assigned (=) where it must add up (+=): every window (e, i, j) adds "
            "x[e, i·S + m, j·S + n, c] · dout[e, i, j, f] to dw[m, n, c, f]": dw_assign,
            "dw is divided by N: the backward pass sums over the batch; an average over the examples, if the "
            "loss takes one, is already inside dout": dw / N,
        }
        db_mistakes = {
            "db is divided by N: db[f] = Σ_{e, i, j} dout[e, i, j, f], a plain sum (any average is already "
            "inside dout)": db / N,
            "db is divided by the number of outputs: db[f] = Σ_{e, i, j} dout[e, i, j, f] is a sum, not a "
            "mean": db / (N * Ho * Wo),
        }
        dx_shapes = {
            (N, Ho, Wo, F): "dx has the shape of dout; it is the gradient of x, so it has x's shape (N, H, W, C)",
            (N, (Ho - 1) * stride + KH, (Wo - 1) * stride + KW, C):
                "dx covers only the rows and columns some window reaches; it has x's shape (N, H, W, C), and "
                "the pixels no window reaches get 0",
        }
        dw_shapes = {
            (KW, KH, C, F): "dw is transposed in (m, n): it has w's shape (KH, KW, C, F)",
            (KH, KW, F, C): "dw has its channels and filters swapped: it has w's shape (KH, KW, C, F), "
                            "dw[m, n, c, f] for input channel c and filter f",
        }
        db_shapes = {
            (Ho, Wo, F): "db is summed over the examples e only: db[f] = Σ_{e, i, j} dout[e, i, j, f] sums over "
                         "the examples and every output position (axes 0, 1, 2)",
            (N, F): "db is not summed over the batch: db[f] = Σ_{e, i, j} dout[e, i, j, f] (axes 0, 1, 2)",
            (): "db is summed over the filters too: there is one bias per filter, db[f] = Σ_{e, i, j} "
                "dout[e, i, j, f], shape (F,)",
            (N, Ho, Wo): "db is summed over the filters: there is one bias per filter, db[f] = "
                         "Σ_{e, i, j} dout[e, i, j, f], shape (F,)",
        }
        joint = {}
        if stride > 1:
            dx_1, dw_1, _ = _conv_backward_variant(dout, x, w, stride, step=1)
            ignored = ("the stride is ignored: window (i, j) starts at input row p = i·S and column q = j·S, so "
                       "the gradient of z[e, i, j, f] goes to x[e, i·S : i·S + KH, j·S : j·S + KW, :] (and dw "
                       "takes the same window)")
            joint[ignored] = (dx_1, dw_1, db)
            dx_mistakes["dx: the stride is ignored: window (i, j) starts at input row p = i·S and column q = j·S, "
                        "so the gradient of z[e, i, j, f] goes back to x[e, i·S : i·S + KH, j·S : j·S + KW, :]"] = dx_1
            dw_mistakes["dw: the stride is ignored: window (i, j) starts at input row p = i·S and column q = j·S, "
                        "so dw[m, n, c, f] takes x[e, i·S + m, j·S + n, c] · dout[e, i, j, f]"] = dw_1
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
# notebook 03, exercise 2: TensorFlow's padding, (P_top, P_bottom)
# --------------------------------------------------------------------------------------

# (H, K, S, padding) = (size, kernel, stride, padding): odd and even kernels, strides 1 and 2,
# sizes that the stride divides and that it does not, and a 1x1 kernel with stride 2 whose
# unclipped padding is negative.
_PAD_CASES = [(28, 3, 1, "valid"), (28, 4, 2, "valid"), (7, 2, 2, "valid"),
              (28, 3, 1, "same"), (28, 4, 1, "same"), (28, 3, 2, "same"), (7, 3, 2, "same"),
              (5, 2, 2, "same"), (9, 4, 2, "same"), (6, 1, 2, "same")]


def _pad_variant(size, kernel, stride, padding, *, out=None, total=None, split=None, clip=True,
                 valid_too=False):
    """(P_top, P_bottom) with a mistake switched on.

    out(H, S) -> the "same" output size H_out; total(H, K, S, H_out) -> P_H, the total padding;
    split(P_H) -> (P_top, P_bottom); clip=False: a negative P_H is kept; valid_too: the "same"
    amounts are returned for "valid" as well.
    """
    if padding == "valid" and not valid_too:
        return 0, 0
    h_out = out(size, stride) if out else -(-size // stride)
    p_h = total(size, kernel, stride, h_out) if total else (h_out - 1) * stride + kernel - size
    p_h = max(p_h, 0) if clip else p_h
    return split(p_h) if split else (p_h // 2, p_h - p_h // 2)


def check_padding_amounts(padding_amounts: Callable) -> Feedback:
    """Notebook 03, exercise 2: ``padding_amounts(size, kernel, stride, padding) -> (P_top, P_bottom)``,
    the zeros TensorFlow adds before and after one axis (top and bottom for the rows, left and
    right for the columns), eq. (4), with H = size, K = kernel, S = stride.

    "valid": (0, 0). "same": H_out = ceil(H / S), P_H = max((H_out − 1)·S + K − H, 0),
    P_top = P_H // 2, P_bottom = P_H − P_top (an odd one goes at the bottom). Examples:
    (28, 3, 1, "same") -> (1, 1), (28, 4, 1, "same") -> (1, 2), (5, 2, 2, "same") -> (0, 1).
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    mistakes = {
        "the extra zero is at the top: when P_H is odd TensorFlow puts the odd one after (bottom / "
        "right), eq. (4): P_top = P_H // 2, P_bottom = P_H - P_top":
            lambda *c: _pad_variant(*c, split=lambda p: (p - p // 2, p // 2)),
        "P_H = K - 1 is right only for stride 1: with stride S, 'same' means H_out = ceil(H / S) "
        "outputs, which need P_H = max((H_out - 1)·S + K - H, 0) (here H = size, K = kernel, S = stride)":
            lambda *c: _pad_variant(*c, total=lambda H, K, S, o: K - 1),
        "the same padding on both sides loses the odd one: P_top = P_H // 2, P_bottom = P_H - P_top "
        "(an even kernel with stride 1 needs 1 more at the bottom)":
            lambda *c: _pad_variant(*c, split=lambda p: (p // 2, p // 2)),
        "'same' rounds up: the output size is H_out = ceil(H / S), not floor(H / S), and "
        "P_H = max((H_out - 1)·S + K - H, 0) (here H = size, K = kernel, S = stride)":
            lambda *c: _pad_variant(*c, out=lambda H, S: H // S),
        "negative padding: when the stride is larger than the kernel, (H_out - 1)·S + K - H can "
        "be negative; no padding is needed then: P_H = max(..., 0)":
            lambda *c: _pad_variant(*c, clip=False),
        "'valid' means no padding at all: return (0, 0) for 'valid' (the 'same' amounts are right)":
            lambda *c: _pad_variant(*c, valid_too=True),
    }
    return _check_cases("padding_amounts", padding_amounts, _PAD_CASES, conv.padding_amounts, mistakes)


# --------------------------------------------------------------------------------------
# notebook 03, exercise 7: the receptive field
# --------------------------------------------------------------------------------------

# Lists of (K_l, S_l), input first: the 04 network (conv 3x3, pool 2, conv 3x3, pool 2), a
# ResNet-like stem (a stride-2 conv 7x7, a pool 3x3 with stride 2, two convs 3x3) and three
# stride-2 convs.
_RF_CASES = [([(3, 1), (2, 2), (3, 1), (2, 2)],), ([(7, 2), (3, 2), (3, 1), (3, 1)],),
             ([(3, 2), (3, 2), (3, 2)],)]


def _rf_variant(layers, *, strides):
    """1 + Σ_l (K_l − 1) · strides(idx, [S_1, S_2, ...]) over the layers l, idx = l − 1 their position
    in the list: the right factor, eq. (9), is Π_{l' < l} S_{l'} = prod(S[:idx])."""
    S = [stride for _, stride in layers]
    return 1 + sum((K - 1) * strides(idx, S) for idx, (K, _) in enumerate(layers))


def check_receptive_field(receptive_field: Callable) -> Feedback:
    """Notebook 03, exercise 7: ``receptive_field(layers) -> r`` for a list of (K_l, S_l) pairs
    (kernel, stride) of the layers l = 1, 2, ..., input first (convolution and pooling layers
    alike), eq. (9): r_0 = 1, r_l = r_{l−1} + (K_l − 1) · Π_{l' < l} S_{l'}, so that
    r = 1 + Σ_l (K_l − 1) · Π_{l' < l} S_{l'}.

    Notebook 04's network [(3, 1), (2, 2), (3, 1), (2, 2)] gives 10: each unit of pool2 sees
    10x10 pixels. Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    prod = np.prod
    mistakes = {
        "the product includes the layer's own stride: layer l widens the field by K_l - 1 steps of its "
        "input, and one step of its input is Π_{l'<l} S_{l'} pixels (its own stride S_l acts on its output)":
            lambda layers: _rf_variant(layers, strides=lambda idx, S: prod(S[:idx + 1])),
        "the strides are missing: a layer above a stride-2 layer moves 2 input pixels per step, so its "
        "K_l - 1 extra steps count Π_{l'<l} S_{l'} pixels each":
            lambda layers: _rf_variant(layers, strides=lambda idx, S: 1),
        "the +1 is missing: a pixel sees itself (r_0 = 1 before any layer), and each layer adds "
        "(K_l - 1)·Π_{l'<l} S_{l'}":
            lambda layers: _rf_variant(layers, strides=lambda idx, S: prod(S[:idx])) - 1,
        "every layer is multiplied by the product of all the strides: layer l's step is the product of "
        "the strides below it only, Π_{l'<l} S_{l'}":
            lambda layers: _rf_variant(layers, strides=lambda idx, S: prod(S)),
        "the strides multiplied are those of the layers above: the list starts at the input, and layer l's "
        "step is the product of the strides before it, Π_{l'<l} S_{l'}":
            lambda layers: _rf_variant(layers, strides=lambda idx, S: prod(S[idx + 1:])),
    }

    def on_a_copy(layers):   # the student's function may change the list: give it its own
        return receptive_field([tuple(layer) for layer in layers])

    return _check_cases("receptive_field", on_a_copy, _RF_CASES, conv.receptive_field, mistakes)


# --------------------------------------------------------------------------------------
# notebook 03, exercise 4: im2col with a loop over the kernel offsets (m, n)
# --------------------------------------------------------------------------------------

def _im2col_inputs(stride: int):
    """x (N, H, W, C) with all entries different, and a non-square kernel (KH, KW) != (KW, KH)."""
    r = _rng(2051 + stride)
    shape, kernel = ((2, 4, 5, 2), (3, 2)) if stride == 1 else ((2, 7, 6, 3), (2, 3))
    x = (r.permutation(int(np.prod(shape))).reshape(shape) + 1) / 10.0
    return x, kernel


def check_im2col_loop(im2col: Callable) -> Feedback:
    """Notebook 03, exercise 4: ``im2col(x, kernel_size, stride=1) -> cols`` for a 'valid'
    convolution, with a loop over the kernel offsets (m, n); kernel_size is a pair (KH, KW),
    stride S an int.

    x (N, H, W, C) -> cols (N·Ho·Wo, KH·KW·C), the layout of ``helpers.conv.im2col``: row
    (e·Ho + i)·Wo + j holds the window of output (i, j) of example e, and column (m·KW + n)·C + c
    holds the input pixel at its offset (m, n), x[e, i·S + m, j·S + n, c], so that the
    convolution is ``cols @ w.reshape(KH·KW·C, F) + b``, eq. (15). Checked with stride 1 first,
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
        n_rows, n_cols = expected.shape
        c6 = expected.reshape(N, Ho, Wo, KH, KW, C)
        mistakes = {
            "the columns are in (c, m, n) order: w.reshape(KH·KW·C, F) runs over (m, n, c), channel fastest, "
            "so column (m·KW + n)·C + c holds x[e, i·S + m, j·S + n, c]":
                c6.transpose(0, 1, 2, 5, 3, 4).reshape(n_rows, n_cols),
            "m and n are swapped (each window is transposed): column (m·KW + n)·C + c holds row offset m < KH "
            "and column offset n < KW, x[e, i·S + m, j·S + n, c]":
                c6.transpose(0, 1, 2, 4, 3, 5).reshape(n_rows, n_cols),
            "the rows are position-major, (i, j, e): row (e·Ho + i)·Wo + j holds window (i, j) of example e, "
            "the examples one after the other, so that out reshapes to (N, Ho, Wo, F)":
                c6.transpose(1, 2, 0, 3, 4, 5).reshape(n_rows, n_cols),
            "the rows run down the columns, (e, j, i): row (e·Ho + i)·Wo + j holds window (i, j), row by row "
            "(j fastest), as out's (N, Ho, Wo, F) layout": c6.transpose(0, 2, 1, 3, 4, 5).reshape(n_rows, n_cols),
        }
        shape_mistakes = {
            (n_cols, n_rows): "cols is transposed: one row per window (N·Ho·Wo rows), one column per kernel entry",
            (Ho * Wo, n_cols): "only one example: cols has a row for every window of every example, N·Ho·Wo rows",
            (N, Ho * Wo, n_cols): "cols is 3-D: stack the windows of all examples into one matrix "
                                  "(N·Ho·Wo, KH·KW·C)",
            (N, Ho, Wo, KH, KW, C): "cols is still 6-D: reshape it to (N·Ho·Wo, KH·KW·C)",
            (N * (H - KW + 1) * (W - KH + 1), n_cols): "the kernel's axes are swapped: KH is its height (rows of "
                                                       "x, offsets m), KW its width (offsets n)",
        }
        if stride > 1:
            stepped_by_1 = conv.im2col(x[:, :Ho + KH - 1, :Wo + KW - 1], (KH, KW), 1)
            ignored = ("the stride is ignored: window (i, j) starts at input row p = i·S and column q = j·S, so "
                       "offset (m, n) takes the strided slice x[:, m : m + S·(Ho - 1) + 1 : S, "
                       "n : n + S·(Wo - 1) + 1 : S, :]")
            mistakes[ignored] = stepped_by_1
            shape_mistakes[(N * (H - KH + 1) * (W - KW + 1), n_cols)] = (
                "the stride is ignored: with stride S there are Ho = (H - KH) // S + 1 window rows and "
                "Wo = (W - KW) // S + 1 window columns")
        fb = _check_array(name, im2col, (x, (KH, KW), stride), expected, mistakes, shape_mistakes,
                          where=" on the stride-2 case (right for stride 1)" if stride > 1 else "")
        if not fb.ok:
            if stride > 1 and not fb.message.startswith((NOT_IMPLEMENTED, "your code raised")):
                fb = Feedback(name, False, f"right for stride 1, wrong for stride 2: {fb.message}")
            break
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 05
# --------------------------------------------------------------------------------------
# The checks of notebook 05 (training a CNN well): the backward pass of batch normalisation
# for (N, D), the moving averages of batch normalisation, and the backward pass of a residual
# block. The references are helpers.nn (batch norm) and helpers.training (residual block);
# tests/test_exercises_ch2.py checks that the right answers below equal them.


__all__ += ["check_batchnorm_backward", "check_moving_stats", "check_residual_block_backward"]


# notebook 05: the backward pass of batch normalisation, x (N, D)

BN_EPS = 1e-3


def _bn_backward_inputs():
    """dout, x (N, D) = (6, 4) with a different mean and spread per feature, gamma with no ±1
    entry (so that a missing γ shows), eps = 1e-3 (Keras' default)."""
    r = _rng(2505)
    N, D = 6, 4
    x = np.round(r.normal(size=(N, D)) * np.array([1.0, 0.3, 2.0, 0.05]) + np.array([0.5, -2.0, 3.0, 0.1]), 3)
    gamma = np.array([1.5, -0.7, 2.0, 0.4])
    dout = np.round(r.normal(size=(N, D)), 2)
    dout[dout == 0] = 0.01
    return dout, x, gamma


def _bn_backward_variant(dout, x, gamma, eps, *, ddof=0, mean_path=True, var_path=True, use_gamma=True,
                         use_eps=True, over_m=True, consistent_unbiased=False, x_for_gamma=False):
    """(dx, dgamma, dbeta) of batch normalisation over axis 0, with a mistake switched on.

    ddof=1: the unbiased variance (divided by m − 1) in the forward statistics; with
    consistent_unbiased the gradient is the exact one of that (wrong) forward pass, otherwise the
    compact formula of the biased case is applied to its x̂ and s. mean_path / var_path: the terms
    through μ and through σ²; over_m=False: the 1/m in front is missing.
    """
    m = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0, ddof=ddof)
    s = 1 / np.sqrt(var + eps if use_eps else var)
    x_hat = (x - mu) * s
    dx_hat = dout * gamma if use_gamma else dout
    k = (m - 1) if consistent_unbiased else m        # ∂σ²/∂x_i = 2 (x_i − μ)/k for σ² divided by k
    term = m * dx_hat
    if mean_path:
        term = term - dx_hat.sum(axis=0)
    if var_path:
        term = term - (m / k) * x_hat * (dx_hat * x_hat).sum(axis=0)
    dx = (s / m) * term if over_m else s * term
    dgamma = (dout * (x if x_for_gamma else x_hat)).sum(axis=0)
    return dx, dgamma, dout.sum(axis=0)


def check_batchnorm_backward(batchnorm_backward: Callable) -> Feedback:
    """Notebook 05: ``batchnorm_backward(dout, x, gamma, eps) -> (dx, dgamma, dbeta)`` for x (N, D).

    The forward pass normalises each feature over the N examples with the biased variance,
    μ = mean(x, axis 0), σ² = mean((x − μ)², axis 0), x̂ = (x − μ)/√(σ² + ε), out = γ x̂ + β, and

        dx = (γ / (N √(σ² + ε))) (N dout − Σ_n dout − x̂ Σ_n dout x̂),
        dgamma = Σ_n dout x̂,   dbeta = Σ_n dout          (sums over the examples, axis 0)

    Called as ``batchnorm_backward(dout, x, gamma, 1e-3)`` on x (6, 4). A wrong gradient is named
    on its own (dx, dgamma, dbeta), with the mistake it matches.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "batchnorm_backward"
    names = ("dx", "dgamma", "dbeta")
    dout, x, gamma = _bn_backward_inputs()
    N, D = x.shape
    eps = BN_EPS
    expected = _bn_backward_variant(dout, x, gamma, eps)
    dx, dgamma, dbeta = expected
    unbiased = ("the variance is the unbiased one (divided by N − 1): batch normalisation, as Keras' "
                "BatchNormalization, divides by N, σ² = mean((x − μ)², axis 0) (np.var's default ddof=0)")
    no_eps = ("ε is missing: x̂ = (x − μ)/√(σ² + ε), and the factor 1/√(σ² + ε) in dx keeps it too "
              "(it keeps a feature with σ² ≈ 0 from dividing by zero)")
    joint = {
        unbiased: _bn_backward_variant(dout, x, gamma, eps, ddof=1),
        f"{unbiased} (your gradient is the exact one of that forward pass)":
            _bn_backward_variant(dout, x, gamma, eps, ddof=1, consistent_unbiased=True),
        no_eps: _bn_backward_variant(dout, x, gamma, eps, use_eps=False),
    }
    dx_mistakes = {
        "dx treats μ and σ² as constants (dx = γ dout / √(σ² + ε)): they are computed from every x_n of "
        "the batch, so each x_n also reaches the loss through them; the two missing terms are −Σ_n dout "
        "(through μ) and −x̂ Σ_n dout x̂ (through σ²), inside (γ / (N √(σ² + ε))) (N dout − ...)":
            gamma * dout / np.sqrt(x.var(axis=0) + eps),
        "dx is missing the path through the mean μ: the term −Σ_n dx̂_n, with dx̂ = γ dout, inside "
        "(1 / (N √(σ² + ε))) (N dx̂ − Σ_n dx̂ − x̂ Σ_n dx̂ x̂)":
            _bn_backward_variant(dout, x, gamma, eps, mean_path=False)[0],
        "dx is missing the path through the variance σ²: the term −x̂ Σ_n dx̂ x̂, with dx̂ = γ dout, inside "
        "(1 / (N √(σ² + ε))) (N dx̂ − Σ_n dx̂ − x̂ Σ_n dx̂ x̂)":
            _bn_backward_variant(dout, x, gamma, eps, var_path=False)[0],
        "γ is missing in dx: out = γ x̂ + β, so dx̂ = γ dout before the normalisation is undone":
            _bn_backward_variant(dout, x, gamma, eps, use_gamma=False)[0],
        "dx is N times too large: the factor in front is 1 / (N √(σ² + ε)), the 1/N coming from "
        "μ and σ² being means over the N examples":
            _bn_backward_variant(dout, x, gamma, eps, over_m=False)[0],
    }
    dgamma_mistakes = {
        "dgamma uses x where it needs x̂: out = γ x̂ + β, so dgamma = Σ_n dout x̂":
            _bn_backward_variant(dout, x, gamma, eps, x_for_gamma=True)[1],
        "dgamma is a mean over the examples: it is a sum, Σ_n dout x̂ (any average is already in dout)": dgamma / N,
    }
    dbeta_mistakes = {
        "dbeta is a mean over the examples: it is a sum, Σ_n dout (any average is already in dout)": dbeta / N,
    }
    dx_shapes = {
        (D,): "dx is summed over the examples: it is the gradient of x, so it has x's shape (N, D)",
    }
    dgamma_shapes = {
        (N,): "dgamma is summed over the wrong axis (the features, axis 1): there is one γ per feature, so "
              "sum over the N examples, axis 0, to get (D,)",
        (N, D): "dgamma is not summed: γ is shared by the N examples, so dgamma = Σ_n dout x̂ over axis 0, (D,)",
        (): "dgamma is summed over every axis: there is one γ per feature, so sum over axis 0 only, (D,)",
    }
    dbeta_shapes = {
        (N,): "dbeta is summed over the wrong axis (the features, axis 1): there is one β per feature, so "
              "sum over the N examples, axis 0, to get (D,)",
        (N, D): "dbeta is not summed: β is shared by the N examples, so dbeta = Σ_n dout over axis 0, (D,)",
        (): "dbeta is summed over every axis: there is one β per feature, so sum over axis 0 only, (D,)",
    }
    result, fb = _call(name, batchnorm_backward, (dout, x, gamma, eps))
    if fb is None:
        fb = _check_gradients(name, result, expected, names, (dx_mistakes, dgamma_mistakes, dbeta_mistakes),
                              (dx_shapes, dgamma_shapes, dbeta_shapes), joint)
    return _show(fb)


# notebook 05: one update of batch normalisation's moving averages, x (N, H, W, C)

def _moving_stats_inputs():
    """moving_mean, moving_var (C,), x (N, H, W, C) = (2, 3, 4, 3) with a different mean and
    spread per channel, momentum 0.9 (not 0.5, where swapping the weights would not show)."""
    r = _rng(2506)
    x = np.round(r.normal(size=(2, 3, 4, 3)) * np.array([1.0, 0.2, 3.0]) + np.array([2.0, -1.0, 0.5]), 3)
    return np.array([0.5, -0.2, 1.0]), np.array([1.2, 0.8, 2.5]), x, 0.9


def _moving_stats_variant(moving_mean, moving_var, x, momentum, *, axes=(0, 1, 2), ddof=0, swap=False,
                          std=False):
    mean = x.mean(axis=axes)
    var = x.var(axis=axes, ddof=ddof)
    stat_var = np.sqrt(var) if std else var
    old, new = (1 - momentum, momentum) if swap else (momentum, 1 - momentum)
    return old * moving_mean + new * mean, old * moving_var + new * stat_var


def check_moving_stats(update_moving_stats: Callable) -> Feedback:
    """Notebook 05: ``update_moving_stats(moving_mean, moving_var, x, momentum) -> (new_mean, new_var)``.

    One training step of Keras' BatchNormalization for x (N, H, W, C): the batch statistics of
    each channel over the N·H·W values (μ, and the biased σ², divided by N·H·W), then

        new_mean = momentum · moving_mean + (1 − momentum) · μ
        new_var  = momentum · moving_var  + (1 − momentum) · σ²

    Called with momentum 0.9 on x (2, 3, 4, 3). Prints the verdict (never raises) and returns a
    :class:`Feedback`.
    """
    name = "update_moving_stats"
    names = ("new_mean", "new_var")
    mm, mv, x, momentum = _moving_stats_inputs()
    N, H, W, C = x.shape
    expected = _moving_stats_variant(mm, mv, x, momentum)
    per_channel = "one value per channel, (C,), from the N·H·W values of that channel: axis=(0, 1, 2)"
    joint = {
        "the weights are swapped: momentum is the weight of the old moving statistic (0.9 keeps 90% of "
        "it), 1 − momentum that of the new batch statistic":
            _moving_stats_variant(mm, mv, x, momentum, swap=True),
        "the moving statistics are replaced by the batch's: they are averages over many batches, "
        "momentum · old + (1 − momentum) · batch":
            (x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))),
        f"the batch statistics are averaged over every axis, channels included: they are {per_channel}":
            _moving_stats_variant(mm, mv, x, momentum, axes=None),
    }
    var_mistakes = {
        "the batch variance is the unbiased one (divided by N·H·W − 1): Keras averages the biased "
        "variance it normalised with, divided by the N·H·W values of the channel (np.var's default ddof=0)":
            _moving_stats_variant(mm, mv, x, momentum, ddof=1)[1],
        "the standard deviation is averaged: the layer keeps a moving *variance*, σ² = mean((x − μ)²)":
            _moving_stats_variant(mm, mv, x, momentum, std=True)[1],
    }
    shapes = {
        (H, W, C): f"averaged over the examples only (axis 0): batch normalisation of (N, H, W, C) keeps {per_channel}",
        (N, C): f"averaged over axes 1 and 2 only: the statistics are {per_channel}",
        (W, C): f"averaged over axes 0 and 1 only: the statistics are {per_channel}",
        (): f"averaged over every axis, channels included: the statistics are {per_channel}",
    }
    result, fb = _call(name, update_moving_stats, (mm, mv, x, momentum))
    if fb is None:
        fb = _check_gradients(name, result, expected, names, ({}, var_mistakes), (shapes, shapes), joint)
    return _show(fb)


# notebook 05: the backward pass of a residual block y = relu(x + F(x)), F = conv-relu-conv

def _residual_inputs():
    """dy, x (2, 5, 4, 2), w1 (3, 3, 2, 3), b1 (3,), w2 (3, 3, 3, 2), b2 (2,): a non-square image,
    C != F1, and about half of z1 and of s below zero (so that both ReLU masks matter)."""
    r = _rng(2507)
    x = np.round(r.normal(size=(2, 5, 4, 2)), 2)
    w1 = np.round(r.normal(size=(3, 3, 2, 3)) * 0.4, 2)
    b1 = np.array([0.1, -0.2, 0.05])
    w2 = np.round(r.normal(size=(3, 3, 3, 2)) * 0.4, 2)
    b2 = np.array([-0.1, 0.2])
    dy = np.round(r.normal(size=(2, 5, 4, 2)), 2)
    dy[dy == 0] = 0.01
    return dy, x, w1, b1, w2, b2


def _residual_variant(dy, x, w1, b1, w2, b2, *, skip_grad=True, out_mask="s", inner_mask=True, inner_relu=True,
                      mask_skip=True):
    """(dx, dw1, db1, dw2, db2) of y = relu(x + F(x)) with a mistake switched on.

    skip_grad=False: the identity path is missing in dx; out_mask: "s" (right), "none" (the output
    ReLU ignored) or "F" (its mask taken from F(x)); inner_mask=False: the inner ReLU ignored in
    the backward pass; inner_relu=False: no inner ReLU in the forward pass either (conv2 reads z1);
    mask_skip=False: the skip gradient bypasses the output ReLU (dx = dy + ...).
    """
    z1, c1 = conv.conv2d_forward(x, w1, b1, 1, "same")
    a1 = np.maximum(z1, 0) if inner_relu else z1
    z2, c2 = conv.conv2d_forward(a1, w2, b2, 1, "same")
    s = x + z2
    mask = {"s": s > 0, "none": np.ones_like(s, dtype=bool), "F": z2 > 0}[out_mask]
    ds = dy * mask
    da1, dw2, db2 = conv.conv2d_backward(ds, c2)
    dz1 = da1 * (z1 > 0) if (inner_mask and inner_relu) else da1
    dx_f, dw1, db1 = conv.conv2d_backward(dz1, c1)
    skip = (ds if mask_skip else dy) if skip_grad else 0
    return dx_f + skip, dw1, db1, dw2, db2


def check_residual_block_backward(residual_backward: Callable) -> Feedback:
    """Notebook 05: ``residual_backward(dy, x, w1, b1, w2, b2) -> (dx, dw1, db1, dw2, db2)``.

    The block: z1 = conv(x, w1, b1), a1 = relu(z1), F(x) = conv(a1, w2, b2), s = x + F(x),
    y = relu(s), every convolution with "same" padding and stride 1 (``helpers.conv``); dy =
    ∂L/∂y. The backward pass: ds = dy ⊙ 1[s > 0]; through F (conv2d_backward, the inner ReLU's
    mask 1[z1 > 0], conv2d_backward); and dx = ds + (F's part): the identity path.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "residual_backward"
    names = ("dx", "dw1", "db1", "dw2", "db2")
    dy, x, w1, b1, w2, b2 = _residual_inputs()
    expected = _residual_variant(dy, x, w1, b1, w2, b2)
    joint = {
        "the output ReLU is ignored: y = relu(x + F(x)), so the gradient first goes through its mask, "
        "ds = dy ⊙ 1[x + F(x) > 0], on both paths": _residual_variant(dy, x, w1, b1, w2, b2, out_mask="none"),
        "the output ReLU's mask is taken from F(x): the ReLU acts on the sum s = x + F(x), so the mask is "
        "1[x + F(x) > 0]": _residual_variant(dy, x, w1, b1, w2, b2, out_mask="F"),
        "the inner ReLU is missing, forward and backward: F(x) = conv(relu(conv(x, w1, b1)), w2, b2), so "
        "the second convolution reads a1 = relu(z1) and its gradient goes back through 1[z1 > 0]":
            _residual_variant(dy, x, w1, b1, w2, b2, inner_relu=False),
        "the inner ReLU's mask is missing in the backward pass: between the two convolutions the gradient "
        "is multiplied by 1[z1 > 0] (dz1 = da1 ⊙ 1[z1 > 0])":
            _residual_variant(dy, x, w1, b1, w2, b2, inner_mask=False),
    }
    dx_mistakes = {
        "dx is missing the identity path: s = x + F(x), so x reaches s directly too, and dx = ds + "
        "(the gradient through F); yours is the plain block's dx":
            _residual_variant(dy, x, w1, b1, w2, b2, skip_grad=False)[0],
        "the identity path skips the output ReLU: y = relu(x + F(x)), so the identity path carries "
        "ds = dy ⊙ 1[x + F(x) > 0], not dy": _residual_variant(dy, x, w1, b1, w2, b2, mask_skip=False)[0],
        "dx is the identity path alone: x also reaches s through F, so add the gradient that "
        "conv2d_backward returns for the first convolution":
            expected[0] - _residual_variant(dy, x, w1, b1, w2, b2, skip_grad=False)[0],
    }
    N, H, W, C = x.shape
    F1 = w1.shape[3]
    shapes = (
        {(N, H, W, F1): "dx has the shape of a1 (F1 channels): continue through the inner ReLU and the first "
                        "convolution back to x (N, H, W, C)"},
        {w2.shape: "dw1 has the shape of w2: the first convolution's kernel is w1 (KH, KW, C, F1)"},
        {(C,): "db1 has the shape of b2: the first convolution has F1 filters, db1 (F1,)"},
        {w1.shape: "dw2 has the shape of w1: the second convolution's kernel is w2 (KH, KW, F1, C)"},
        {(F1,): "db2 has the shape of b1: the second convolution returns to C channels, db2 (C,)"},
    )
    result, fb = _call(name, residual_backward, (dy, x, w1, b1, w2, b2))
    if fb is None:
        fb = _check_gradients(name, result, expected, names, (dx_mistakes, {}, {}, {}, {}), shapes, joint)
    return _show(fb)
