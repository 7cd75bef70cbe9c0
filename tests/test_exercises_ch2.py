"""Chapter 2 exercise checks: right answers pass, typical wrong answers get named, stubs do not crash."""

from __future__ import annotations

import itertools
import math
from functools import partial

import numpy as np
import pytest

from helpers import conv
from helpers.exercises import NOT_IMPLEMENTED, ch2


def _stub(*args):
    raise NotImplementedError()


def _crash(*args):
    return {}["no such key"]  # a bug inside the student's code


def _wrong(check, student, phrase):
    fb = check(student)
    assert not fb, f"{check.__name__} accepted a wrong answer"
    assert phrase in fb.message, fb.message
    return fb


def _right(check, student, capsys, exercise):
    fb = check(student)
    assert fb, fb.message
    assert capsys.readouterr().out.strip() == f"✔ {exercise}: correct"


def _all_distinct(variants):
    """No two variants (lists of per-case results) coincide: each mistake can be named."""
    arrays = [np.asarray(v, dtype=np.float64) for v in variants]
    for a, b in itertools.combinations(arrays, 2):
        assert not (a.shape == b.shape and np.allclose(a, b))


@pytest.mark.parametrize("check, nargs", [
    (ch2.check_conv_output_size, 4), (ch2.check_conv2d_loop, 3), (ch2.check_max_pool_backward, 2),
    (ch2.check_conv_param_count, 4), (ch2.check_cnn_shapes, 2),
])
def test_every_check_handles_stub_crash_and_none(check, nargs, capsys):
    fb = check(_stub)
    assert not fb and fb.message.startswith(NOT_IMPLEMENTED)
    assert NOT_IMPLEMENTED in capsys.readouterr().out
    fb = check(_crash)
    assert not fb and fb.message.startswith("your code raised KeyError")
    fb = check(lambda *args: None)
    assert not fb and "returned None" in fb.message
    fb = check(lambda *args: [[1, 2], [3]])  # ragged: not an array of numbers, and no crash either
    assert not fb and "not a" in fb.message


# --------------------------------------------------------------------------------------
# notebook 03: conv_output_size (exercise 1)
# --------------------------------------------------------------------------------------

def size_right(H, K, S, padding):
    return (H - K) // S + 1 if padding == "valid" else math.ceil(H / S)


def test_conv_output_size_right(capsys):
    _right(ch2.check_conv_output_size, size_right, capsys, "conv_output_size")


def test_conv_output_size_reference_helper_and_float_ceil_are_right(capsys):
    _right(ch2.check_conv_output_size, conv.conv_output_size, capsys, "conv_output_size")
    # np.ceil returns a float 14.0: the right number, accepted
    _right(ch2.check_conv_output_size, lambda H, K, S, p: (H - K) // S + 1 if p == "valid" else np.ceil(H / S),
           capsys, "conv_output_size")


def _valid_then(valid, same=lambda H, K, S: math.ceil(H / S)):
    return lambda H, K, S, p: valid(H, K, S) if p == "valid" else same(H, K, S)


@pytest.mark.parametrize("wrong, phrase", [
    (_valid_then(lambda H, K, S: (H - K) // S), "the +1 is missing"),
    (_valid_then(lambda H, K, S: (H - K) / S + 1), "the floor is missing"),
    (_valid_then(lambda H, K, S: H - K + 1), "the stride is ignored"),
    (_valid_then(lambda H, K, S: math.ceil((H - K) / S) + 1), "the result is rounded up"),
    (_valid_then(lambda H, K, S: (H - K) // S + 1, lambda H, K, S: H), "'same' is not always H"),
    (_valid_then(lambda H, K, S: (H - K) // S + 1, lambda H, K, S: H // S), "'same' rounds up"),
    (_valid_then(lambda H, K, S: (H - K) // S + 1, lambda H, K, S: H / S), "the ceiling is missing"),
    (_valid_then(lambda H, K, S: (H - K) // S + 1, lambda H, K, S: (H + 2 * ((K - 1) // 2) - K) // S + 1),
     "the padding (K - 1) // 2 on both sides is right only for an odd kernel"),
    (_valid_then(lambda H, K, S: (H - K) // S + 1, lambda H, K, S: (H - K) // S + 1),
     "the 'valid' formula is used for 'same'"),
])
def test_conv_output_size_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_conv_output_size, wrong, phrase)


def test_conv_output_size_same_mistakes_say_valid_was_right():
    fb = _wrong(ch2.check_conv_output_size, _valid_then(lambda H, K, S: (H - K) // S + 1, lambda H, K, S: H),
                "'same' is not always H")
    assert fb.message.startswith("right for 'valid', wrong for 'same': ")


def test_conv_output_size_unknown_mistake_names_the_case():
    _wrong(ch2.check_conv_output_size, _valid_then(lambda H, K, S: (H - K) // S + 2),
           "fn(28, 3, 1, 'valid') returned 27, expected 26")


def test_conv_output_size_wrong_shape_is_named():
    _wrong(ch2.check_conv_output_size, lambda H, K, S, p: (size_right(H, K, S, p),) * 2,
           "returned a result of shape (2,), expected one int")


def test_conv_output_size_crash_names_the_case():
    _wrong(ch2.check_conv_output_size, lambda H, K, S, p: (H - K) // S + 1 if p == "valid" else H / 0,
           "your code raised ZeroDivisionError")


def test_conv_output_size_mistakes_are_distinct():
    for cases in (ch2._SIZE_CASES_VALID, ch2._SIZE_CASES_SAME):
        variants = [[size_right(*c) for c in cases]]
        for wrong in (lambda H, K, S: (H - K) // S, lambda H, K, S: (H - K) / S + 1, lambda H, K, S: H - K + 1,
                      lambda H, K, S: -(-(H - K) // S) + 1, lambda H, K, S: H, lambda H, K, S: H // S,
                      lambda H, K, S: H / S, lambda H, K, S: (H + 2 * ((K - 1) // 2) - K) // S + 1):
            variants.append([wrong(H, K, S) for H, K, S, _ in cases])
        # a mistake may coincide with the right answer for the other padding, never for its own
        own = [v for v in variants[1:] if not np.allclose(v, variants[0])]
        _all_distinct([variants[0], *own])
    assert all(size_right(*c) == conv.conv_output_size(*c) for c in ch2._SIZE_CASES_VALID + ch2._SIZE_CASES_SAME)


# --------------------------------------------------------------------------------------
# notebook 03: conv2d_loop (exercise 3)
# --------------------------------------------------------------------------------------

def conv_loop_right(x, w, b):
    KH, KW = w.shape
    out = np.zeros((x.shape[0] - KH + 1, x.shape[1] - KW + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + KH, j:j + KW] * w) + b
    return out


def test_conv2d_loop_right(capsys):
    _right(ch2.check_conv2d_loop, conv_loop_right, capsys, "conv2d_loop")


def test_conv2d_loop_scipy_correlate_is_right(capsys):
    from scipy.signal import correlate2d

    _right(ch2.check_conv2d_loop, lambda x, w, b: correlate2d(x, w, mode="valid") + b, capsys, "conv2d_loop")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda x, w, b: conv_loop_right(x, w[::-1, ::-1], b), "the kernel is flipped"),
    (lambda x, w, b: conv_loop_right(x, w, 0.0), "the bias b is missing"),
    (lambda x, w, b: conv_loop_right(x, w, b).T, "the output is transposed"),
    (lambda x, w, b: conv_loop_right(x, w, 0.0) + w.size * b, "the bias is added once per kernel entry"),
    (lambda x, w, b: np.pad(conv_loop_right(x, w, b), ((1, 1), (0, 1))),
     "the result has shape (6, 7), expected (4, 6): the output has the size of the input"),
    (lambda x, w, b: conv_loop_right(x, w, b)[:-1, :-1], "the result has shape (3, 5), expected (4, 6): off by one"),
    (lambda x, w, b: conv_loop_right(x, w.T, b), "the kernel's axes are swapped"),
    (lambda x, w, b: conv_loop_right(x, w, b)[:, :-1], "both output axes use KH"),
    (lambda x, w, b: conv_loop_right(x, w, b)[:, :3], "the result has shape (4, 3), expected (4, 6)"),
    (lambda x, w, b: conv_loop_right(x, w, b) * 1.5, "differs from the reference"),
])
def test_conv2d_loop_wrong_answers_are_named(wrong, phrase, capsys):
    _wrong(ch2.check_conv2d_loop, wrong, phrase)
    assert capsys.readouterr().out.startswith("✘ conv2d_loop: ")


def test_conv2d_loop_does_not_see_changes_the_student_makes_to_the_inputs(capsys):
    def in_place(x, w, b):
        out = conv_loop_right(x, w, b)
        x[...] = 0
        w[...] = 0
        return out

    _right(ch2.check_conv2d_loop, in_place, capsys, "conv2d_loop")
    _right(ch2.check_conv2d_loop, conv_loop_right, capsys, "conv2d_loop")


def test_conv2d_loop_mistakes_are_distinct():
    x, w, b = ch2._conv_loop_inputs()
    right = conv_loop_right(x, w, b)
    variants = [right, conv_loop_right(x, w[::-1, ::-1], b), conv_loop_right(x, w, 0.0),
                conv_loop_right(x, w, 0.0) + w.size * b]
    _all_distinct(variants)
    assert w.shape[0] != w.shape[1] and x.shape[0] != x.shape[1]  # the transposed output has another shape


# --------------------------------------------------------------------------------------
# notebook 03: max_pool_backward (exercise 5)
# --------------------------------------------------------------------------------------

def _route_each_window(x, dout, pick):
    # 2x2 windows, stride 2: dout[i, j] goes to the offset (m, n) of window (i, j) that `pick` selects
    dx = np.zeros_like(x)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            window = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            m, n = np.unravel_index(pick(window), window.shape)
            dx[2 * i + m, 2 * j + n] = dout[i, j]
    return dx


def max_pool_backward_right(x, dout):
    return _route_each_window(x, dout, np.argmax)   # np.argmax: the first maximum on a tie


def max_pool_backward_by_comparisons(x, dout, *, keep_ties=False):
    """A student's running maximum over the window in row-major order: `>` keeps the first of tied
    maxima (right), `>=` (keep_ties) the last (wrong)."""
    dx = np.zeros_like(x)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            best, where = -np.inf, None
            for m in range(2):
                for n in range(2):
                    v = x[2 * i + m, 2 * j + n]
                    if v > best or (keep_ties and v == best):
                        best, where = v, (2 * i + m, 2 * j + n)
            dx[where] += dout[i, j]
    return dx


def _to_min(x, dout):
    return _route_each_window(x, dout, np.argmin)


def _to_last_max(x, dout):
    return _route_each_window(x, dout, lambda window: window.size - 1 - np.argmax(window.ravel()[::-1]))


def _to_every_max(x, dout, *, split):
    # the mask window == window.max(): dout to each tied maximum, or dout / k to each of k (split)
    dx = np.zeros_like(x)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            window = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            mask = window == window.max()
            dx[2 * i:2 * i + 2, 2 * j:2 * j + 2] = mask * (dout[i, j] / mask.sum() if split else dout[i, j])
    return dx


def _even_only(x, dout):
    # a reshape trick that only works when H and W are even
    H, W = x.shape
    win = x.reshape(H // 2, 2, W // 2, 2)
    mask = win == win.max(axis=(1, 3), keepdims=True)
    return (mask * dout[:, None, :, None]).reshape(H, W)


def _spread(x, dout, scale):
    dx = np.zeros_like(x)
    Ho, Wo = dout.shape
    dx[:2 * Ho, :2 * Wo] = np.kron(dout, np.ones((2, 2))) * scale
    return dx


def test_max_pool_backward_right(capsys):
    _right(ch2.check_max_pool_backward, max_pool_backward_right, capsys, "max_pool_backward")
    _right(ch2.check_max_pool_backward, max_pool_backward_by_comparisons, capsys, "max_pool_backward")


def test_max_pool_backward_helpers_conv_is_right(capsys):
    def via_helpers(x, dout):
        _, cache = conv.max_pool2d_forward(x[None, :, :, None], 2)
        return conv.max_pool2d_backward(dout[None, :, :, None], cache)[0, :, :, 0]

    _right(ch2.check_max_pool_backward, via_helpers, capsys, "max_pool_backward")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda x, d: _spread(x, d, 0.25), "the gradient is spread equally over the window"),
    (lambda x, d: _spread(x, d, 1.0), "dout is copied to every entry of the window"),
    (_to_min, "the gradient goes to the minimum of each window"),
    (lambda x, d: max_pool_backward_right(x, d)[:d.shape[0], :d.shape[1]],
     "dx has the shape of the input x (H, W), not of the pooled output"),
    (lambda x, d: -max_pool_backward_right(x, d), "differs from the reference"),
])
def test_max_pool_backward_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_max_pool_backward, wrong, phrase)


def test_max_pool_backward_even_only_answer_fails_on_the_odd_case():
    fb = _wrong(ch2.check_max_pool_backward, _even_only, "on the odd-sized (5, 7) input (right for the (4, 6) one")
    assert fb.message.startswith("your code raised ValueError")  # the reshape fails on (5, 7)


def test_max_pool_backward_cropped_dx_on_the_odd_case_is_named():
    def cropped(x, dout):
        return max_pool_backward_right(x, dout)[:2 * dout.shape[0], :2 * dout.shape[1]]

    fb = _wrong(ch2.check_max_pool_backward, cropped, "the last row and column belong to no window")
    assert fb.message.startswith("wrong for the odd-sized (5, 7) input")


TIES = "wrong for the input with tied maxima (windows of zeros, as after a ReLU; right for the inputs whose "


@pytest.mark.parametrize("wrong, phrase", [
    (_to_last_max, "the gradient goes to the last of the tied maxima: when several entries of a window share "
                   "the maximum (a window of zeros after a ReLU), TensorFlow's CPU kernel and helpers.conv send "
                   "all of dout to the first of them in row-major order"),
    (partial(max_pool_backward_by_comparisons, keep_ties=True), "the gradient goes to the last of the tied maxima"),
    (partial(_to_every_max, split=True), "the gradient is split among the tied maxima (dout / k to each of k)"),
    (partial(_to_every_max, split=False), "dout is copied to every tied maximum (the mask window == window.max())"),
    (lambda x, d: max_pool_backward_right(x, d) if len(np.unique(x)) == x.size else 2 * max_pool_backward_right(x, d),
     "the result differs from the reference"),
])
def test_max_pool_backward_tie_mistakes_are_named(wrong, phrase, capsys):
    """Right on the inputs without ties (each window has one maximum), wrong on the ReLU-like input."""
    fb = _wrong(ch2.check_max_pool_backward, wrong, phrase)
    assert fb.message.startswith(TIES)
    assert capsys.readouterr().out.startswith(f"✘ max_pool_backward: {TIES}")


def test_max_pool_backward_crash_on_ties_names_the_input():
    def crashes_on_ties(x, dout):
        if len(np.unique(x)) < x.size:
            raise ValueError("two maxima")
        return max_pool_backward_right(x, dout)

    _wrong(ch2.check_max_pool_backward, crashes_on_ties,
           "your code raised ValueError: two maxima on the input with tied maxima (windows of zeros")


def test_max_pool_backward_inputs_have_no_ties_and_mistakes_are_distinct():
    for k, (H, W) in enumerate(((4, 6), (5, 7))):
        x, dout = ch2._pool_inputs(H, W, seed=2031 + k)
        assert len(np.unique(x)) == x.size and np.all(dout != 0)
        right = max_pool_backward_right(x, dout)
        assert np.allclose(right, ch2._reference_max_pool_grad(x, dout))
        _all_distinct([right, _spread(x, dout, 0.25), _spread(x, dout, 1.0), _to_min(x, dout)])


def test_max_pool_backward_tie_input_has_ties_and_mistakes_are_distinct():
    x, dout = ch2._pool_inputs_with_ties()
    assert x.shape == (4, 6) and dout.shape == (2, 3) and np.all(x >= 0)        # like a ReLU output
    assert np.all(dout != 0) and len(np.unique(dout)) == dout.size
    n_maxima = [int((w == w.max()).sum()) for w in (x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
                                                     for i in range(2) for j in range(3))]
    assert sorted(n_maxima) == [1, 1, 2, 3, 4, 4]          # single maxima, and ties of 2, 3 and 4 (all zeros)
    right = max_pool_backward_right(x, dout)
    assert np.array_equal(right, ch2._reference_max_pool_grad(x, dout))
    assert np.array_equal(right, max_pool_backward_by_comparisons(x, dout))
    _all_distinct([right, _spread(x, dout, 0.25), _spread(x, dout, 1.0), _to_min(x, dout), _to_last_max(x, dout),
                   _to_every_max(x, dout, split=True), _to_every_max(x, dout, split=False)])


def test_max_pool_backward_tie_input_follows_tensorflow_cpu(tf):
    # the check's reference (helpers.conv, the first maximum) is TensorFlow's gradient on the CPU
    x, dout = ch2._pool_inputs_with_ties()
    with tf.device("/CPU:0"):
        xt = tf.constant(x[None, :, :, None])
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.nn.max_pool2d(xt, 2, 2, "VALID")
        dx = tape.gradient(y, xt, output_gradients=tf.constant(dout[None, :, :, None])).numpy()[0, :, :, 0]
    assert np.array_equal(dx, ch2._reference_max_pool_grad(x, dout))
    assert np.array_equal(dx, max_pool_backward_right(x, dout))


# --------------------------------------------------------------------------------------
# notebook 04: conv_param_count (exercise 1)
# --------------------------------------------------------------------------------------

def test_conv_param_count_right(capsys):
    _right(ch2.check_conv_param_count, lambda KH, KW, C, F: (KH * KW * C + 1) * F, capsys, "conv_param_count")


def test_conv_param_count_matches_keras(tf):
    import keras

    for KH, KW, C, F in ch2._PARAM_CASES:
        layer = keras.layers.Conv2D(F, (KH, KW))
        layer.build((None, 8, 8, C))
        assert layer.count_params() == (KH * KW * C + 1) * F
    assert (3 * 3 * 1 + 1) * 32 == 320 and (3 * 3 * 32 + 1) * 64 == 18496


@pytest.mark.parametrize("wrong, phrase", [
    (lambda KH, KW, C, F: KH * KW * C * F, "the bias is missing"),
    (lambda KH, KW, C, F: (KH * KW + 1) * F, "the input channels are missing"),
    (lambda KH, KW, C, F: 2 * KH * KW * C * F, "one bias per weight"),
    (lambda KH, KW, C, F: (KH * KW + 1) * C * F, "one bias per input channel"),
    (lambda KH, KW, C, F: (KH * KW * C + 1) * F + 1, "fn(3, 3, 1, 32) returned 321, expected 320"),
    (lambda KH, KW, C, F: (KH * KW * C, F), "returned a result of shape (2,), expected one int"),
    (lambda KH, KW, C, F: str((KH * KW * C + 1) * F), "fn(3, 3, 1, 32) returned '320', which is not a number"),
])
def test_conv_param_count_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_conv_param_count, wrong, phrase)


def test_conv_param_count_mistakes_are_distinct():
    formulas = [lambda KH, KW, C, F: (KH * KW * C + 1) * F, lambda KH, KW, C, F: KH * KW * C * F,
                lambda KH, KW, C, F: (KH * KW + 1) * F, lambda KH, KW, C, F: 2 * KH * KW * C * F,
                lambda KH, KW, C, F: (KH * KW + 1) * C * F]
    _all_distinct([[f(*c) for c in ch2._PARAM_CASES] for f in formulas])


# --------------------------------------------------------------------------------------
# notebook 04: cnn_shapes (exercise 2)
# --------------------------------------------------------------------------------------

def cnn_shapes_right(H, padding):
    sizes = []
    for _ in range(2):
        H = H if padding == "same" else H - 2
        sizes.append(H)
        H = H // 2
        sizes.append(H)
    return tuple(sizes)


def test_cnn_shapes_right(capsys):
    _right(ch2.check_cnn_shapes, cnn_shapes_right, capsys, "cnn_shapes")
    assert cnn_shapes_right(28, "valid") == (26, 13, 11, 5) and cnn_shapes_right(28, "same") == (28, 14, 14, 7)


def test_cnn_shapes_match_keras(tf):
    import keras

    for H, padding in ch2._SHAPE_CASES:
        layers = [keras.layers.Conv2D(2, 3, padding=padding), keras.layers.MaxPooling2D(2),
                  keras.layers.Conv2D(2, 3, padding=padding), keras.layers.MaxPooling2D(2)]
        shape, sizes = (1, H, H, 1), []
        for layer in layers:
            shape = layer.compute_output_shape(shape)
            sizes.append(shape[1])
        assert tuple(sizes) == cnn_shapes_right(H, padding) == ch2._cnn_sizes(H, padding)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda H, p: cnn_shapes_right(H, "same"), "the source article's mistake"),
    (lambda H, p: cnn_shapes_right(H, "valid"), "the padding argument is ignored"),
    (lambda H, p: ch2._cnn_sizes(H, p, pool_round_up=True), "the pooling rounds up"),
    (lambda H, p: ch2._cnn_sizes(H, p, conv_minus_one=True), "the +1 is missing"),
    (lambda H, p: cnn_shapes_right(H, p)[:3], "fn(28, 'valid') returned a result of shape (3,), expected a tuple of 4"),
    (lambda H, p: (28, 14, 14, 7), "fn(28, 'valid') returned (28, 14, 14, 7), expected (26, 13, 11, 5)"),
])
def test_cnn_shapes_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_cnn_shapes, wrong, phrase)


def test_cnn_shapes_mistakes_are_distinct():
    switches = [{}, {"conv_padding": "same"}, {"conv_padding": "valid"}, {"pool_round_up": True},
                {"conv_minus_one": True}]
    _all_distinct([[ch2._cnn_sizes(H, p, **s) for H, p in ch2._SHAPE_CASES] for s in switches])


# --------------------------------------------------------------------------------------
# the checks of issue 12: conv backward by loops, padding_amounts, receptive field, im2col
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("check, text", [
    (ch2.check_conv_backward_loops, "expected a tuple (dx, dw, db) of 3 arrays, got a str"),
    (ch2.check_padding_amounts, "which is not a number"), (ch2.check_receptive_field, "which is not a number"),
    (ch2.check_im2col_loop, "that is not an array of numbers"),
])
def test_new_checks_handle_stub_crash_none_and_text(check, text, capsys):
    fb = check(_stub)
    assert not fb and fb.message.startswith(NOT_IMPLEMENTED)
    assert capsys.readouterr().out.startswith(f"✘ {fb.exercise}: {NOT_IMPLEMENTED}")
    fb = check(_crash)
    assert not fb and fb.message.startswith("your code raised KeyError")
    fb = check(lambda *args: None)
    assert not fb and "returned None" in fb.message
    fb = check(lambda *args: "text")
    assert not fb and text in fb.message
    assert check(lambda *args: None).exercise in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# notebook 03: conv_backward by loops (exercise 6, CS231n's conv_backward_naive)
# --------------------------------------------------------------------------------------

def conv_backward_right(dout, x, w, stride=1):
    return student_backward(dout, x, w, stride)


def student_backward(dout, x, w, stride=1, *, flip_dx=False, dx_filters=None, assign=False, dw_examples="all",
                     dw_transposed=False, dw_flipped=False, step=None, dw_scale=1.0, db_axes=(0, 1, 2),
                     db_scale=1.0):
    """A student's loops, with one mistake switched on (written independently of ch2's variants)."""
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    _, Ho, Wo, _ = dout.shape
    step = stride if step is None else step
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    kernel = w[::-1, ::-1] if flip_dx else w
    for e in range(N):
        if dw_examples == "reset":
            dw = np.zeros_like(w)            # the bug: dw starts again for every example
        for i in range(Ho):
            for j in range(Wo):
                p0, q0 = i * step, j * step  # the input pixel (p, q) where window (i, j) starts
                for f in range(F) if dx_filters is None else dx_filters:
                    g = dout[e, i, j, f]
                    if assign:
                        dx[e, p0:p0 + KH, q0:q0 + KW, :] = kernel[:, :, :, f] * g
                    else:
                        dx[e, p0:p0 + KH, q0:q0 + KW, :] += kernel[:, :, :, f] * g
                for f in range(F):
                    if dw_examples == "first" and e > 0:
                        continue
                    window = x[e, p0:p0 + KH, q0:q0 + KW, :]
                    for m in range(KH):
                        for n in range(KW):
                            target = (n, m) if dw_transposed else (m, n)
                            source = (KH - 1 - m, KW - 1 - n) if dw_flipped else (m, n)
                            if assign:
                                dw[target + (slice(None), f)] = window[source] * dout[e, i, j, f]
                            else:
                                dw[target + (slice(None), f)] += window[source] * dout[e, i, j, f]
    db = dout.sum(axis=db_axes) * db_scale
    return dx, dw * dw_scale, db


def conv_backward_vectorised(dout, x, w, stride=1):
    """A different right answer: one einsum per gradient, over strided views of all windows."""
    KH, KW = w.shape[:2]
    _, Ho, Wo, _ = dout.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(1, 2))[:, ::stride, ::stride]
    dw = np.einsum("eijcmn,eijf->mncf", windows, dout)
    dx = np.zeros_like(x)
    for m in range(KH):
        for n in range(KW):
            dx[:, m:m + stride * (Ho - 1) + 1:stride, n:n + stride * (Wo - 1) + 1:stride] += dout @ w[m, n].T
    return dx, dw, dout.sum(axis=(0, 1, 2))


def test_conv_backward_right(capsys):
    _right(ch2.check_conv_backward_loops, conv_backward_right, capsys, "conv_backward")


def test_conv_backward_other_right_answers(capsys):
    _right(ch2.check_conv_backward_loops, conv_backward_vectorised, capsys, "conv_backward")

    def via_helpers(dout, x, w, stride=1):
        _, cache = conv.conv2d_forward(x, w, np.zeros(w.shape[3]), stride=stride)
        return list(conv.conv2d_backward(dout, cache))   # a list, not a tuple: fine

    _right(ch2.check_conv_backward_loops, via_helpers, capsys, "conv_backward")

    def changes_its_inputs(dout, x, w, stride=1):
        result = conv_backward_right(dout, x, w, stride)
        dout[...], x[...], w[...] = 0, 0, 0
        return result

    _right(ch2.check_conv_backward_loops, changes_its_inputs, capsys, "conv_backward")
    _right(ch2.check_conv_backward_loops, conv_backward_right, capsys, "conv_backward")


def _sb(**mistake):
    return lambda dout, x, w, stride=1: student_backward(dout, x, w, stride, **mistake)


@pytest.mark.parametrize("wrong, phrase", [
    (_sb(flip_dx=True), "dx uses the flipped kernel"),
    (_sb(dx_filters=[0]), "dx is missing the sum over the filters f"),
    (_sb(assign=True), "dx is assigned (=) where it must add up (+=)"),
    (_sb(dw_transposed=True), "dw is transposed in (m, n): dw[m, n, c, f] pairs"),   # square kernel: by value
    (_sb(dw_flipped=True), "dw is flipped"),
    (_sb(dw_examples="first"), "dw is not summed over the batch: every example used the same w, so dw adds up the "
                               "contributions of all N examples (yours is example e = 0 alone)"),
    (_sb(dw_examples="reset"), "(yours is the last example alone: is dw reset inside the loop over e?)"),
    (_sb(dw_scale=0.5), "dw is divided by N"),
    (_sb(db_scale=0.5), "db is divided by N"),
    (lambda d, x, w, s=1: student_backward(d, x, w, s, db_scale=1 / d[..., 0].size),
     "db is divided by the number of outputs"),
    (_sb(db_axes=0), "db has shape (3, 4, 3), expected (3,): db is summed over the examples e only"),
    (_sb(db_axes=(1, 2)), "db has shape (2, 3), expected (3,): db is not summed over the batch"),
    (_sb(db_axes=None), "db has shape (), expected (3,): db is summed over the filters too"),
    (_sb(db_axes=3), "db has shape (2, 3, 4), expected (3,): db is summed over the filters"),
    (lambda d, x, w, s=1: (d, *conv_backward_right(d, x, w, s)[1:]),
     "dx has shape (2, 3, 4, 3), expected (2, 5, 6, 2): dx has the shape of dout"),
    (lambda d, x, w, s=1: (conv_backward_right(d, x, w, s)[0],
                           conv_backward_right(d, x, w, s)[1].transpose(0, 1, 3, 2),
                           conv_backward_right(d, x, w, s)[2]),
     "dw has shape (3, 3, 3, 2), expected (3, 3, 2, 3): dw has its channels and filters swapped"),
    (lambda d, x, w, s=1: (conv_backward_right(d, x, w, s)[0] * 1.5, *conv_backward_right(d, x, w, s)[1:]),
     "dx differs from the reference; largest difference at index"),
])
def test_conv_backward_wrong_answers_are_named(wrong, phrase, capsys):
    fb = _wrong(ch2.check_conv_backward_loops, wrong, phrase)
    assert not fb.message.startswith("right for stride 1")   # all of these show on the stride-1 case
    assert capsys.readouterr().out.startswith("✘ conv_backward: ")


def _right_for_stride_1(wrong):
    return lambda d, x, w, s=1: conv_backward_right(d, x, w) if s == 1 else wrong(d, x, w, s)


@pytest.mark.parametrize("wrong, phrase", [
    (_sb(step=1),
     "right for stride 1, wrong for stride 2: the stride is ignored: window (i, j) starts at input row p = i·S"),
    (lambda d, x, w, s=1: (student_backward(d, x, w, s, step=1)[0], *conv_backward_right(d, x, w, s)[1:]),
     "right for stride 1, wrong for stride 2: dx: the stride is ignored"),
    (lambda d, x, w, s=1: (conv_backward_right(d, x, w, s)[0], student_backward(d, x, w, s, step=1)[1],
                           conv_backward_right(d, x, w, s)[2]),
     "right for stride 1, wrong for stride 2: dw: the stride is ignored"),
    (_right_for_stride_1(lambda d, x, w, s: (conv_backward_right(d, x, w, s)[0][:, :7],
                                             *conv_backward_right(d, x, w, s)[1:])),
     "dx has shape (2, 7, 6, 3), expected (2, 8, 6, 3): dx covers only the rows and columns some window reaches"),
    (_right_for_stride_1(lambda d, x, w, s: (conv_backward_right(d, x, w, s)[0],
                                             conv_backward_right(d, x, w, s)[1].transpose(1, 0, 2, 3),
                                             conv_backward_right(d, x, w, s)[2])),
     "dw has shape (2, 3, 3, 2), expected (3, 2, 3, 2): dw is transposed in (m, n)"),
    (_right_for_stride_1(_crash),
     "your code raised KeyError: 'no such key' on the stride-2 case (right for stride 1)"),
])
def test_conv_backward_stride_2_mistakes_are_named(wrong, phrase):
    fb = _wrong(ch2.check_conv_backward_loops, wrong, phrase)
    if "your code raised" not in fb.message:
        assert fb.message.startswith("right for stride 1, wrong for stride 2: ")


def test_conv_backward_stride_ignored_in_both_is_named_once():
    fb = _wrong(ch2.check_conv_backward_loops, _sb(step=1), "the stride is ignored")
    assert fb.message.count("the stride is ignored") == 1 and "dx:" not in fb.message


def test_conv_backward_several_wrong_gradients_are_each_named():
    fb = _wrong(ch2.check_conv_backward_loops,
                lambda d, x, w, s=1: student_backward(d, x, w, s, dw_scale=0.5, db_axes=0), "dw is divided by N")
    assert "db is summed over the examples e only" in fb.message and fb.message.endswith("(dx is right)")
    fb = _wrong(ch2.check_conv_backward_loops, lambda d, x, w, s=1: (d, d, d), "dx has the shape of dout")
    assert "dw has shape" in fb.message and "db has shape" in fb.message and "right)" not in fb.message


@pytest.mark.parametrize("wrong, phrase", [
    (lambda d, x, w, s=1: conv_backward_right(d, x, w, s)[:2], "expected a tuple (dx, dw, db) of 3 arrays, got 2"),
    (lambda d, x, w, s=1: conv_backward_right(d, x, w, s)[1], "expected a tuple (dx, dw, db) of 3 arrays, got a nd"),
    (lambda d, x, w, s=1: (*conv_backward_right(d, x, w, s)[:2], "db"),
     "db (in the tuple (dx, dw, db) you returned) is a str that is not an array of numbers"),
    (lambda d, x, w: conv_backward_right(d, x, w), "your code raised TypeError"),   # no stride argument
])
def test_conv_backward_wrong_types_are_named(wrong, phrase):
    _wrong(ch2.check_conv_backward_loops, wrong, phrase)


def test_conv_backward_inputs_and_mistakes_are_distinct():
    for stride in (1, 2):
        dout, x, w = ch2._conv_backward_inputs(stride)
        assert np.all(dout != 0) and x.shape[3] != w.shape[3]        # C != F: swapped dw has another shape
        assert (w.shape[0] == w.shape[1]) == (stride == 1)          # square, then non-square kernel
        right = conv.conv2d_backward_naive(dout, x, w, stride)
        for got, want in zip(conv_backward_right(dout, x, w, stride), right):
            assert np.allclose(got, want)
        for got, want in zip(ch2._conv_backward_variant(dout, x, w, stride), right):
            assert np.allclose(got, want)
        mistakes = [dict(flip_dx=True), dict(dx_filters=[0]), dict(assign=True), dict(dw_flipped=True),
                    dict(dw_examples="first"), dict(dw_examples="reset"), dict(dw_scale=0.5)]
        if stride == 1:
            mistakes.append(dict(dw_transposed=True))
        else:
            mistakes.append(dict(step=1))
        for k in range(3):   # dx, dw, db: the variants that change gradient k are all different
            variants = [right[k]] + [v[k] for v in (student_backward(dout, x, w, stride, **m) for m in mistakes)]
            changed = [v for v in variants[1:] if not np.allclose(v, right[k])]
            _all_distinct([right[k], *changed])
        if stride > 1:   # a row that no window reaches
            assert x.shape[1] > (dout.shape[1] - 1) * stride + w.shape[0]


# --------------------------------------------------------------------------------------
# notebook 03: padding_amounts (exercise 2)
# --------------------------------------------------------------------------------------

def padding_right(size, kernel, stride, padding):
    if padding == "valid":
        return 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def student_padding(*, top_extra=False, k_minus_1=False, both_halves=False, floor=False, clip=True,
                    valid_pads=False):
    def padding_amounts(size, kernel, stride, padding):
        if padding == "valid" and not valid_pads:
            return (0, 0)
        out = size // stride if floor else math.ceil(size / stride)
        total = kernel - 1 if k_minus_1 else (out - 1) * stride + kernel - size
        total = max(total, 0) if clip else total
        half = total // 2
        if top_extra:
            return total - half, half
        return (half, half) if both_halves else (half, total - half)
    return padding_amounts


def test_padding_amounts_right(capsys):
    _right(ch2.check_padding_amounts, padding_right, capsys, "padding_amounts")
    _right(ch2.check_padding_amounts, student_padding(), capsys, "padding_amounts")
    _right(ch2.check_padding_amounts, conv.padding_amounts, capsys, "padding_amounts")
    # a list [0, 1] or NumPy ints are the right numbers too
    _right(ch2.check_padding_amounts, lambda *c: list(np.array(padding_right(*c))), capsys, "padding_amounts")


@pytest.mark.parametrize("wrong, phrase", [
    (student_padding(top_extra=True), "the extra zero is at the top: when P_H is odd"),
    (student_padding(k_minus_1=True), "P_H = K - 1 is right only for stride 1"),
    (student_padding(both_halves=True), "the same padding on both sides loses the odd one: P_top = P_H // 2"),
    (student_padding(floor=True), "'same' rounds up: the output size is H_out = ceil(H / S)"),
    (student_padding(clip=False), "negative padding"),
    (student_padding(valid_pads=True), "'valid' means no padding at all"),
    (lambda s, k, st, p: sum(padding_right(s, k, st, p)),
     "fn(28, 3, 1, 'valid') returned a result of shape (), expected a tuple of 2 ints, shape (2,)"),
    (lambda s, k, st, p: (0, 0) if p == "valid" else (1, 1), "fn(28, 4, 1, 'same') returned (1, 1), expected (1, 2)"),
    (lambda s, k, st, p: padding_right(s, k, st, p) if p == "valid" else s / 0,
     "your code raised ZeroDivisionError: division by zero (in fn(28, 3, 1, 'same'))"),
])
def test_padding_amounts_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_padding_amounts, wrong, phrase)


def test_padding_amounts_cases_and_mistakes_are_distinct():
    variants = [[padding_right(*c) for c in ch2._PAD_CASES]]
    for m in ("top_extra", "k_minus_1", "both_halves", "floor", "clip", "valid_pads"):
        fn = student_padding(**{m: m != "clip"})
        variants.append([fn(*c) for c in ch2._PAD_CASES])
    _all_distinct(variants)
    assert variants[0] == [conv.padding_amounts(*c) for c in ch2._PAD_CASES]
    kernels, strides = {c[1] for c in ch2._PAD_CASES}, {c[2] for c in ch2._PAD_CASES}
    assert {1, 2} <= strides and any(k % 2 for k in kernels) and any(k % 2 == 0 for k in kernels)


def test_padding_amounts_cases_match_tensorflow(tf):
    # TensorFlow agrees: a "same" convolution equals a "valid" one on the input padded by (before, after)
    for size, k, s, padding in ch2._PAD_CASES:
        x = np.arange(size, dtype=np.float64).reshape(1, size, 1, 1) + 1
        w = np.ones((k, 1, 1, 1))
        before, after = padding_right(size, k, s, padding)
        want = tf.nn.conv2d(np.pad(x, ((0, 0), (before, after), (0, 0), (0, 0))), w, s, "VALID").numpy()
        assert np.array_equal(tf.nn.conv2d(x, w, s, padding.upper()).numpy(), want)


# --------------------------------------------------------------------------------------
# notebook 03: receptive_field (exercise 7)
# --------------------------------------------------------------------------------------

def receptive_field_right(layers):
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def receptive_field_from_the_top(layers):
    """A different right answer: from one output unit down, r_below = s·r + (k − s)."""
    r = 1
    for k, s in reversed(layers):
        r = s * r + (k - s)
    return r


def test_receptive_field_right(capsys):
    _right(ch2.check_receptive_field, receptive_field_right, capsys, "receptive_field")
    _right(ch2.check_receptive_field, receptive_field_from_the_top, capsys, "receptive_field")
    _right(ch2.check_receptive_field, conv.receptive_field, capsys, "receptive_field")
    _right(ch2.check_receptive_field, lambda layers: np.int64(receptive_field_right(layers)), capsys,
           "receptive_field")


def test_receptive_field_of_the_04_network_is_10():
    layers = ch2._RF_CASES[0][0]
    assert layers == [(3, 1), (2, 2), (3, 1), (2, 2)]   # conv1 3x3, pool1 2x2, conv2 3x3, pool2 2x2
    assert conv.receptive_field(layers) == receptive_field_right(layers) == 10


def test_receptive_field_student_may_empty_the_list(capsys):
    def pops(layers):
        r, jump = 1, 1
        while layers:
            k, s = layers.pop(0)
            r, jump = r + (k - 1) * jump, jump * s
        return r

    cases = [list(c[0]) for c in ch2._RF_CASES]
    _right(ch2.check_receptive_field, pops, capsys, "receptive_field")
    _right(ch2.check_receptive_field, pops, capsys, "receptive_field")
    assert [c[0] for c in ch2._RF_CASES] == cases


def _rf_with(step):
    """1 + Σ_l (K_l − 1)·step(idx, strides) over the layers l (idx = l − 1 their place in the list), the
    way a student would write the loop; eq. (9)'s step is Π_{l' < l} S_{l'} = prod(strides[:idx])."""
    def receptive_field(layers):
        strides = [s for _, s in layers]
        return 1 + sum((k - 1) * step(idx, strides) for idx, (k, _) in enumerate(layers))
    return receptive_field


@pytest.mark.parametrize("wrong, phrase", [
    (_rf_with(lambda idx, s: math.prod(s[:idx + 1])),
     "the product includes the layer's own stride: layer l widens the field by K_l - 1 steps of its input, and "
     "one step of its input is Π_{l'<l} S_{l'} pixels (its own stride S_l acts on its output)"),
    (_rf_with(lambda idx, s: 1), "the strides are missing"),
    (lambda layers: receptive_field_right(layers) - 1, "the +1 is missing: a pixel sees itself (r_0 = 1"),
    (_rf_with(lambda idx, s: math.prod(s)), "every layer is multiplied by the product of all the strides"),
    (_rf_with(lambda idx, s: math.prod(s[idx + 1:])), "the strides multiplied are those of the layers above"),
    # sum of the kernels: right by chance for the 04 network (10), so the second list is named
    (lambda layers: sum(k for k, _ in layers), "fn([(7, 2), (3, 2), (3, 1), (3, 1)]) returned 16, expected 27"),
    (lambda layers: (receptive_field_right(layers),) * 2, "returned a result of shape (2,), expected one int"),
])
def test_receptive_field_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_receptive_field, wrong, phrase)


def test_receptive_field_mistakes_are_distinct():
    steps = [lambda idx, s: math.prod(s[:idx]), lambda idx, s: math.prod(s[:idx + 1]), lambda idx, s: 1,
             lambda idx, s: math.prod(s), lambda idx, s: math.prod(s[idx + 1:])]
    variants = [[_rf_with(step)(c[0]) for c in ch2._RF_CASES] for step in steps]
    variants.append([receptive_field_right(c[0]) - 1 for c in ch2._RF_CASES])
    _all_distinct(variants)
    assert variants[0] == [receptive_field_right(c[0]) for c in ch2._RF_CASES] == [10, 27, 15]
    assert any(s == 2 for k, s in ch2._RF_CASES[1][0] if k > 2)   # a stride-2 convolution


# --------------------------------------------------------------------------------------
# notebook 03: im2col by the (m, n) loop (exercise 4)
# --------------------------------------------------------------------------------------

def student_im2col(*, order="mnc", rows="eij", step=None, full_size=False):
    """A student's loop over the kernel offsets (m, n), with one mistake switched on."""
    def im2col(x, kernel_size, stride=1):
        N, H, W, C = x.shape
        KH, KW = kernel_size
        S = 1 if full_size else stride
        Ho, Wo = (H - KH) // S + 1, (W - KW) // S + 1
        st = S if step is None else step
        cols = np.zeros((N, Ho, Wo, KH, KW, C))
        for m in range(KH):
            for n in range(KW):
                cols[:, :, :, m, n, :] = x[:, m:m + st * (Ho - 1) + 1:st, n:n + st * (Wo - 1) + 1:st, :]
        cols = cols.transpose(*("eij".index(a) for a in rows), *(3 + "mnc".index(a) for a in order))
        return cols.reshape(N * Ho * Wo, KH * KW * C)
    return im2col


def im2col_by_windows(x, kernel_size, stride=1):
    """A different right answer: a loop over the windows (e, i, j) instead of the offsets (m, n)."""
    N, H, W, C = x.shape
    KH, KW = kernel_size
    Ho, Wo = (H - KH) // stride + 1, (W - KW) // stride + 1
    rows = [x[e, i * stride:i * stride + KH, j * stride:j * stride + KW, :].ravel()
            for e in range(N) for i in range(Ho) for j in range(Wo)]
    return np.array(rows)


def test_im2col_right(capsys):
    _right(ch2.check_im2col_loop, student_im2col(), capsys, "im2col")
    _right(ch2.check_im2col_loop, im2col_by_windows, capsys, "im2col")
    _right(ch2.check_im2col_loop, lambda x, k, s=1: conv.im2col(x, k, s), capsys, "im2col")

    def vectorised(x, kernel_size, stride=1):
        v = np.lib.stride_tricks.sliding_window_view(x, kernel_size, axis=(1, 2))[:, ::stride, ::stride]
        return v.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kernel_size[0] * kernel_size[1] * x.shape[3])

    _right(ch2.check_im2col_loop, vectorised, capsys, "im2col")


def test_im2col_matches_tensorflow_extract_patches(tf):
    for stride in (1, 2):
        x, (KH, KW) = ch2._im2col_inputs(stride)
        patches = tf.image.extract_patches(x, [1, KH, KW, 1], [1, stride, stride, 1], [1, 1, 1, 1], "VALID")
        assert np.array_equal(student_im2col()(x, (KH, KW), stride), patches.numpy().reshape(-1, KH * KW * x.shape[3]))


@pytest.mark.parametrize("wrong, phrase", [
    (student_im2col(order="cmn"), "the columns are in (c, m, n) order"),
    (student_im2col(order="nmc"), "m and n are swapped"),
    (student_im2col(rows="ije"), "the rows are position-major, (i, j, e)"),
    (student_im2col(rows="eji"), "the rows run down the columns, (e, j, i)"),
    (lambda x, k, s=1: student_im2col()(x, k, s).T, "has shape (12, 16), expected (16, 12): cols is transposed"),
    (lambda x, k, s=1: student_im2col()(x[:1], k, s), "has shape (8, 12), expected (16, 12): only one example"),
    (lambda x, k, s=1: student_im2col()(x, k, s).reshape(2, 8, 12), "cols is 3-D"),
    (lambda x, k, s=1: student_im2col()(x, k, s).reshape(2, 2, 4, 3, 2, 2), "cols is still 6-D"),
    (lambda x, k, s=1: im2col_by_windows(x, k[::-1], s), "the kernel's axes are swapped"),
    (lambda x, k, s=1: student_im2col()(x, k, s) + 1, "the result differs from the reference; largest difference"),
])
def test_im2col_wrong_answers_are_named(wrong, phrase):
    fb = _wrong(ch2.check_im2col_loop, wrong, phrase)
    assert not fb.message.startswith("right for stride 1")


@pytest.mark.parametrize("wrong, phrase", [
    (student_im2col(step=1), "right for stride 1, wrong for stride 2: the stride is ignored: window (i, j) starts"),
    (student_im2col(full_size=True),
     "right for stride 1, wrong for stride 2: the result has shape (48, 18), expected (12, 18): the stride is ignored"),
    (lambda x, k, s=1: student_im2col()(x, k, s) if s == 1 else None, "right for stride 1, wrong for stride 2: your "
                                                                      "function returned None"),
    (lambda x, k, s=1: student_im2col()(x, k, s) if s == 1 else 1 / 0,
     "your code raised ZeroDivisionError: division by zero on the stride-2 case (right for stride 1)"),
])
def test_im2col_stride_2_mistakes_are_named(wrong, phrase):
    _wrong(ch2.check_im2col_loop, wrong, phrase)


def test_im2col_inputs_and_mistakes_are_distinct():
    for stride in (1, 2):
        x, kernel = ch2._im2col_inputs(stride)
        assert len(np.unique(x)) == x.size and kernel[0] != kernel[1] and x.shape[0] > 1 and x.shape[3] > 1
        variants = [student_im2col(**m)(x, kernel, stride) for m in
                    ({}, {"order": "cmn"}, {"order": "nmc"}, {"rows": "ije"}, {"rows": "eji"})]
        if stride > 1:
            variants.append(student_im2col(step=1)(x, kernel, stride))
        _all_distinct(variants)
        assert np.array_equal(variants[0], conv.im2col(x, kernel, stride))


# --------------------------------------------------------------------------------------
# notebook 05: batch normalisation's backward pass, its moving averages, a residual block
# --------------------------------------------------------------------------------------

from helpers import nn as _nn  # noqa: E402 -- the notebook-05 section of this file
from helpers import training as _training  # noqa: E402


def student_bn_backward(*, ddof=0, mean_path=True, var_path=True, gamma_in_dx=True, eps_on=True, sum_axis=0,
                        dgamma_of_x=False, mean_not_sum=False, over_n=True, step_by_step=False):
    """A student's batchnorm_backward(dout, x, gamma, eps) for x (N, D), with optional mistakes.

    step_by_step: the graph of the notebook's derivation (dx̂, dσ², dμ, then dx) instead of the
    compact formula: the same numbers, written another way."""
    def fn(dout, x, gamma, eps):
        N = x.shape[0]
        mu = x.mean(axis=0)
        var = ((x - mu) ** 2).sum(axis=0) / (N - ddof)
        std = np.sqrt(var + eps) if eps_on else np.sqrt(var)
        x_hat = (x - mu) / std
        dx_hat = dout * gamma if gamma_in_dx else dout
        if step_by_step:
            dvar = np.sum(dx_hat * (x - mu), axis=0) * -0.5 * std ** -3
            dmu = -np.sum(dx_hat, axis=0) / std
            dx = dx_hat / std + dvar * 2 * (x - mu) / (N - ddof) + dmu / N
        else:
            inner = N * dx_hat
            if mean_path:
                inner = inner - dx_hat.sum(axis=0)
            if var_path:
                inner = inner - x_hat * (dx_hat * x_hat).sum(axis=0)
            dx = inner / (N * std) if over_n else inner / std
        reduce = np.mean if mean_not_sum else np.sum
        dgamma = reduce(dout * (x if dgamma_of_x else x_hat), axis=sum_axis)
        dbeta = reduce(dout, axis=sum_axis)
        return dx, dgamma, dbeta
    return fn


def test_batchnorm_backward_check_expects_helpers_nn():
    dout, x, gamma = ch2._bn_backward_inputs()
    _, cache = _nn.batchnorm_forward(x, gamma, np.zeros(x.shape[1]), ch2.BN_EPS)
    for a, b in zip(ch2._bn_backward_variant(dout, x, gamma, ch2.BN_EPS), _nn.batchnorm_backward(dout, cache)):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_batchnorm_backward_right(capsys):
    _right(ch2.check_batchnorm_backward, student_bn_backward(), capsys, "batchnorm_backward")
    _right(ch2.check_batchnorm_backward, student_bn_backward(step_by_step=True), capsys, "batchnorm_backward")

    def with_helpers(dout, x, gamma, eps):
        return _nn.batchnorm_backward(dout, _nn.batchnorm_forward(x, gamma, np.zeros_like(gamma), eps)[1])

    _right(ch2.check_batchnorm_backward, with_helpers, capsys, "batchnorm_backward")


@pytest.mark.parametrize("wrong, phrase", [
    (student_bn_backward(ddof=1), "the variance is the unbiased one (divided by N − 1)"),
    (student_bn_backward(ddof=1, step_by_step=True), "exact one of that forward pass"),
    (student_bn_backward(mean_path=False, var_path=False), "dx treats μ and σ² as constants"),
    (student_bn_backward(mean_path=False), "dx is missing the path through the mean μ"),
    (student_bn_backward(var_path=False), "dx is missing the path through the variance σ²"),
    (student_bn_backward(gamma_in_dx=False), "γ is missing in dx"),
    (student_bn_backward(over_n=False), "dx is N times too large"),
    (student_bn_backward(eps_on=False), "ε is missing"),
    (student_bn_backward(dgamma_of_x=True), "dgamma uses x where it needs x̂"),
    (student_bn_backward(sum_axis=1), "dgamma is summed over the wrong axis (the features, axis 1)"),
    (student_bn_backward(sum_axis=None), "dgamma is summed over every axis"),
    (student_bn_backward(mean_not_sum=True), "dgamma is a mean over the examples"),
    (lambda d, x, g, e: (*student_bn_backward()(d, x, g, e)[:2], d), "dbeta is not summed"),
    (lambda d, x, g, e: (*student_bn_backward()(d, x, g, e)[:2], d.sum(axis=1)),
     "dbeta is summed over the wrong axis"),
    (lambda d, x, g, e: (*student_bn_backward()(d, x, g, e)[:2], d.mean(axis=0)), "dbeta is a mean"),
    (lambda d, x, g, e: (student_bn_backward()(d, x, g, e)[0].sum(axis=0), *student_bn_backward()(d, x, g, e)[1:]),
     "dx is summed over the examples"),
    (lambda d, x, g, e: student_bn_backward()(d, x, g, e)[:2], "expected a tuple (dx, dgamma, dbeta) of 3 arrays"),
    (lambda d, x, g, e: (student_bn_backward()(d, x, g, e)[0] + 1e-3, *student_bn_backward()(d, x, g, e)[1:]),
     "dx differs from the reference"),
])
def test_batchnorm_backward_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_batchnorm_backward, wrong, phrase)


def test_batchnorm_backward_names_the_right_gradients_too():
    fb = _wrong(ch2.check_batchnorm_backward, student_bn_backward(dgamma_of_x=True), "dgamma uses x")
    assert fb.message.endswith("(dx and dbeta are right)")


def test_batchnorm_backward_mistakes_are_distinct():
    dout, x, gamma = ch2._bn_backward_inputs()
    eps = ch2.BN_EPS
    assert x.shape[0] != x.shape[1] and np.all(np.abs(gamma) != 1)
    variants = [student_bn_backward(**m)(dout, x, gamma, eps) for m in
                ({}, {"ddof": 1}, {"ddof": 1, "step_by_step": True}, {"mean_path": False, "var_path": False},
                 {"mean_path": False}, {"var_path": False}, {"gamma_in_dx": False}, {"over_n": False},
                 {"eps_on": False})]
    _all_distinct([v[0] for v in variants])                                         # dx tells them apart
    dgammas = [student_bn_backward(**m)(dout, x, gamma, eps)[1] for m in
               ({}, {"dgamma_of_x": True}, {"mean_not_sum": True}, {"ddof": 1}, {"eps_on": False})]
    _all_distinct(dgammas)


def student_moving_stats(*, axes=(0, 1, 2), ddof=0, swap=False, std=False, replace=False):
    def fn(moving_mean, moving_var, x, momentum):
        mean = x.mean(axis=axes)
        var = x.var(axis=axes, ddof=ddof)
        if std:
            var = np.sqrt(var)
        if replace:
            return mean, var
        a, b = (1 - momentum, momentum) if swap else (momentum, 1 - momentum)
        return a * moving_mean + b * mean, a * moving_var + b * var
    return fn


def test_moving_stats_check_expects_helpers_nn():
    mm, mv, x, momentum = ch2._moving_stats_inputs()
    cache = _nn.batchnorm_forward(x, np.ones(x.shape[-1]), np.zeros(x.shape[-1]))[1]
    for a, b in zip(ch2._moving_stats_variant(mm, mv, x, momentum), _nn.update_moving_stats(mm, mv, cache, momentum)):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_moving_stats_right(capsys):
    _right(ch2.check_moving_stats, student_moving_stats(), capsys, "update_moving_stats")

    def with_helpers(mm, mv, x, momentum):
        cache = _nn.batchnorm_forward(x, np.ones(x.shape[-1]), np.zeros(x.shape[-1]))[1]
        return _nn.update_moving_stats(mm, mv, cache, momentum)

    _right(ch2.check_moving_stats, with_helpers, capsys, "update_moving_stats")
    # a loop over the channels, as lists: accepted
    _right(ch2.check_moving_stats, lambda mm, mv, x, m: tuple(
        [m * a + (1 - m) * float(np.mean(x[..., c])) for c, a in enumerate(mm)] if k == 0 else
        [m * a + (1 - m) * float(np.var(x[..., c])) for c, a in enumerate(mv)] for k in (0, 1)),
        capsys, "update_moving_stats")


@pytest.mark.parametrize("wrong, phrase", [
    (student_moving_stats(swap=True), "the weights are swapped"),
    (student_moving_stats(replace=True), "the moving statistics are replaced by the batch's"),
    (student_moving_stats(ddof=1), "the batch variance is the unbiased one"),
    (student_moving_stats(std=True), "the standard deviation is averaged"),
    (student_moving_stats(axes=0), "averaged over the examples only (axis 0)"),
    (student_moving_stats(axes=None), "averaged over every axis, channels included"),
    (lambda mm, mv, x, m: (x.mean(axis=(1, 2)), x.var(axis=(1, 2))), "averaged over axes 1 and 2 only"),
    (student_moving_stats(axes=3), "your code raised ValueError: operands could not be broadcast"),
    (student_moving_stats(axes=(0, 1)), "averaged over axes 0 and 1 only"),
    (lambda mm, mv, x, m: student_moving_stats()(mm, mv, x, m)[0], "expected a tuple (new_mean, new_var) of 2"),
])
def test_moving_stats_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_moving_stats, wrong, phrase)


def test_moving_stats_variance_mistake_says_the_mean_is_right():
    fb = _wrong(ch2.check_moving_stats, student_moving_stats(ddof=1), "unbiased")
    assert fb.message.endswith("(new_mean is right)")


def test_moving_stats_mistakes_are_distinct():
    mm, mv, x, momentum = ch2._moving_stats_inputs()
    assert momentum != 0.5
    variants = [np.concatenate(student_moving_stats(**m)(mm, mv, x, momentum)) for m in
                ({}, {"swap": True}, {"replace": True}, {"ddof": 1}, {"std": True})]
    _all_distinct(variants)


def student_residual_backward(*, skip=True, out_mask="s", inner_mask=True, inner_relu=True, mask_skip=True,
                              loops=False):
    """A student's residual_backward(dy, x, w1, b1, w2, b2) with helpers.conv, with optional mistakes.
    loops: the convolutions' gradients by conv2d_backward_naive (the same numbers)."""
    def fn(dy, x, w1, b1, w2, b2):
        z1, c1 = conv.conv2d_forward(x, w1, b1, 1, "same")
        a1 = np.maximum(z1, 0) if inner_relu else z1
        f, c2 = conv.conv2d_forward(a1, w2, b2, 1, "same")
        s = x + f
        ds = dy * {"s": s > 0, "none": 1.0, "F": f > 0}[out_mask]
        if loops:
            da1, dw2, db2 = conv.conv2d_backward_naive(ds, a1, w2, 1, "same")
        else:
            da1, dw2, db2 = conv.conv2d_backward(ds, c2)
        dz1 = da1 * (z1 > 0) if inner_mask else da1
        if loops:
            dx, dw1, db1 = conv.conv2d_backward_naive(dz1, x, w1, 1, "same")
        else:
            dx, dw1, db1 = conv.conv2d_backward(dz1, c1)
        if skip:
            dx = dx + (ds if mask_skip else dy)
        return dx, dw1, db1, dw2, db2
    return fn


def test_residual_check_expects_helpers_training(tf):
    dy, x, w1, b1, w2, b2 = ch2._residual_inputs()
    ours = ch2._residual_variant(dy, x, w1, b1, w2, b2)
    ref = _training.residual_block_backward(dy, _training.residual_block_forward(x, w1, b1, w2, b2)[1])
    assert all(np.allclose(a, b, rtol=1e-12, atol=1e-12) for a, b in zip(ours, ref))
    # and TensorFlow's autodiff agrees
    xs = [tf.constant(a) for a in (x, w1, b1, w2, b2)]
    with tf.GradientTape() as tape:
        for v in xs:
            tape.watch(v)
        a1 = tf.nn.relu(tf.nn.conv2d(xs[0], xs[1], 1, "SAME") + xs[2])
        y = tf.nn.relu(xs[0] + tf.nn.conv2d(a1, xs[3], 1, "SAME") + xs[4])
        total = tf.reduce_sum(y * dy)
    for a, g in zip(ours, tape.gradient(total, xs)):
        assert np.allclose(a, g.numpy(), rtol=1e-10, atol=1e-12)


def test_residual_backward_right(capsys):
    _right(ch2.check_residual_block_backward, student_residual_backward(), capsys, "residual_backward")
    _right(ch2.check_residual_block_backward, student_residual_backward(loops=True), capsys, "residual_backward")

    def with_helpers(dy, x, w1, b1, w2, b2):
        return _training.residual_block_backward(dy, _training.residual_block_forward(x, w1, b1, w2, b2)[1])

    _right(ch2.check_residual_block_backward, with_helpers, capsys, "residual_backward")


@pytest.mark.parametrize("wrong, phrase", [
    (student_residual_backward(skip=False), "dx is missing the identity path"),
    (student_residual_backward(mask_skip=False), "the identity path skips the output ReLU"),
    (student_residual_backward(out_mask="none"), "the output ReLU is ignored"),
    (student_residual_backward(out_mask="F"), "the output ReLU's mask is taken from F(x)"),
    (student_residual_backward(inner_mask=False), "the inner ReLU's mask is missing in the backward pass"),
    (student_residual_backward(inner_relu=False, inner_mask=False), "the inner ReLU is missing, forward and backward"),
    (lambda *a: (student_residual_backward()(*a)[0] - student_residual_backward(skip=False)(*a)[0],
                 *student_residual_backward()(*a)[1:]), "dx is the identity path alone"),
    (lambda *a: (student_residual_backward()(*a)[0][..., :1].repeat(3, axis=-1), *student_residual_backward()(*a)[1:]),
     "dx has the shape of a1"),
    (lambda *a: (lambda dx, dw1, db1, dw2, db2: (dx, dw2, db2, dw1, db1))(*student_residual_backward()(*a)),
     "dw1 has the shape of w2"),
    (lambda *a: student_residual_backward()(*a)[:3], "expected a tuple (dx, dw1, db1, dw2, db2) of 5 arrays"),
])
def test_residual_backward_wrong_answers_are_named(wrong, phrase):
    _wrong(ch2.check_residual_block_backward, wrong, phrase)


def test_residual_backward_identity_mistake_says_the_weights_are_right():
    fb = _wrong(ch2.check_residual_block_backward, student_residual_backward(skip=False), "identity path")
    assert fb.message.endswith("(dw1 and db1 and dw2 and db2 are right)")


def test_residual_inputs_exercise_both_relus_and_the_mistakes_are_distinct():
    dy, x, w1, b1, w2, b2 = ch2._residual_inputs()
    _, cache = _training.residual_block_forward(x, w1, b1, w2, b2)
    assert 0.2 < np.mean(cache.z1 > 0) < 0.8 and 0.2 < np.mean(cache.s > 0) < 0.8   # both masks matter
    assert x.shape[1] != x.shape[2] and w1.shape[3] != x.shape[3]
    args = (dy, x, w1, b1, w2, b2)
    variants = [np.concatenate([g.ravel() for g in student_residual_backward(**m)(*args)]) for m in
                ({}, {"skip": False}, {"mask_skip": False}, {"out_mask": "none"}, {"out_mask": "F"},
                 {"inner_mask": False}, {"inner_relu": False, "inner_mask": False})]
    _all_distinct(variants)


@pytest.mark.parametrize("check, n_results", [(ch2.check_batchnorm_backward, 3), (ch2.check_moving_stats, 2),
                                               (ch2.check_residual_block_backward, 5)])
def test_notebook_05_checks_handle_stub_crash_none_and_text(check, n_results, capsys):
    fb = check(_stub)
    assert not fb and fb.message.startswith(NOT_IMPLEMENTED)
    assert NOT_IMPLEMENTED in capsys.readouterr().out
    fb = check(_crash)
    assert not fb and fb.message.startswith("your code raised KeyError")
    fb = check(lambda *args: None)
    assert not fb and "returned None" in fb.message
    fb = check(lambda *args: ("text",) * n_results)
    assert not fb and "is a str that is not an array of numbers" in fb.message
