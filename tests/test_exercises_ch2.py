"""Chapter 2 exercise checks: right answers pass, typical wrong answers get named, stubs do not crash."""

from __future__ import annotations

import itertools
import math

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
# notebook 03: conv_output_size
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
# notebook 03: conv2d_loop
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
# notebook 03: max_pool_backward
# --------------------------------------------------------------------------------------

def _route_each_window(x, dout, pick):
    # 2x2 windows, stride 2: dout[i, j] goes to the entry of window (i, j) that `pick` selects
    dx = np.zeros_like(x)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            window = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            p, q = np.unravel_index(pick(window), window.shape)
            dx[2 * i + p, 2 * j + q] = dout[i, j]
    return dx


def max_pool_backward_right(x, dout):
    return _route_each_window(x, dout, np.argmax)


def _to_min(x, dout):
    return _route_each_window(x, dout, np.argmin)


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


def test_max_pool_backward_inputs_have_no_ties_and_mistakes_are_distinct():
    for k, (H, W) in enumerate(((4, 6), (5, 7))):
        x, dout = ch2._pool_inputs(H, W, seed=2031 + k)
        assert len(np.unique(x)) == x.size and np.all(dout != 0)
        right = max_pool_backward_right(x, dout)
        assert np.allclose(right, ch2._reference_max_pool_grad(x, dout))
        _all_distinct([right, _spread(x, dout, 0.25), _spread(x, dout, 1.0), _to_min(x, dout)])


# --------------------------------------------------------------------------------------
# notebook 03/04: conv_param_count
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
# notebook 04: cnn_shapes
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
