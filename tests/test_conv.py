"""helpers.conv: convolution and pooling, checked against TensorFlow, numerically, and the loops.

TensorFlow is the reference for the semantics (padding split, strides, pooling counts, which
input receives the max-pool gradient): every forward value and every gradient is compared in
float64 with ``tf.GradientTape`` on ``tf.nn.conv2d`` / ``max_pool2d`` / ``avg_pool2d``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from helpers import conv
from helpers.gradcheck import numerical_gradient_array, rel_error

TOL_TF = 1e-9     # float64, NumPy vs TensorFlow (same sums in another order)
TOL_NUM = 1e-7    # float64, analytic vs centred differences

# (x shape (N, H, W, C), kernel (KH, KW), filters F, stride, padding)
CONV_CASES = [
    pytest.param((2, 7, 7, 3), (3, 3), 4, 1, "valid", id="3x3-valid"),
    pytest.param((2, 7, 7, 3), (3, 3), 4, 1, "same", id="3x3-same"),
    pytest.param((2, 8, 6, 2), (2, 2), 3, 1, "same", id="even-kernel-same-asymmetric"),
    pytest.param((1, 9, 7, 1), (4, 3), 2, 2, "same", id="N1-C1-4x3-stride2-same"),
    pytest.param((2, 10, 9, 3), (3, 3), 2, 2, "valid", id="stride2-valid-nonsquare"),
    pytest.param((2, 11, 8, 2), (2, 3), 3, (3, 2), "valid", id="stride-pair-valid"),
    pytest.param((2, 9, 10, 2), (2, 2), 2, 3, "valid", id="stride-gt-kernel-valid"),
    pytest.param((2, 10, 9, 2), (2, 2), 2, 3, "same", id="stride-gt-kernel-same"),
    pytest.param((1, 5, 5, 1), (5, 5), 1, 1, "valid", id="kernel-equals-input"),
    pytest.param((1, 3, 4, 2), (5, 4), 2, 1, "same", id="kernel-larger-than-input-same"),
    pytest.param((2, 6, 5, 16), (1, 1), 4, 1, "valid", id="1x1-many-channels"),
    pytest.param((2, 9, 8, 9), (3, 2), 3, (2, 1), "same", id="many-channels-stride-pair-same"),
    pytest.param((3, 12, 11, 8), (4, 4), 5, 2, "same", id="many-channels-even-kernel-same"),
]

# (x shape, size, stride (None = size), padding)
POOL_CASES = [
    pytest.param((2, 6, 6, 3), 2, None, "valid", id="2x2-valid"),
    pytest.param((2, 7, 7, 2), 2, None, "same", id="2x2-same-odd-input"),
    pytest.param((1, 7, 9, 1), 3, 2, "same", id="N1-C1-overlapping-same"),
    pytest.param((2, 8, 7, 3), (2, 3), (1, 2), "valid", id="rect-window-stride-pair"),
    pytest.param((2, 9, 9, 2), 2, 3, "valid", id="stride-gt-size-valid"),
    pytest.param((2, 10, 9, 2), 2, 3, "same", id="stride-gt-size-same"),
    pytest.param((1, 3, 4, 2), 4, 1, "same", id="window-larger-than-input-same"),
    pytest.param((2, 5, 6, 4), (3, 2), 1, "same", id="overlapping-stride1-same"),
    pytest.param((1, 20, 18, 2), (17, 16), 2, "valid", id="window-over-256-entries"),
]


# --------------------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------------------

def draw_conv(rng, x_shape, kernel, filters, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(tuple(kernel) + (x_shape[3], filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    return x, w, b


def tf_conv(tf, x, w, b, stride, padding, rng):
    """TensorFlow's out and (dx, dw, db) for a random upstream gradient dout (returned too)."""
    xt, wt, bt = tf.constant(x), tf.constant(w), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([xt, wt, bt])
        y = tf.nn.conv2d(xt, wt, strides=stride, padding=padding.upper()) + bt
    dout = rng.standard_normal(tuple(y.shape))
    grads = tape.gradient(y, [xt, wt, bt], output_gradients=tf.constant(dout))
    return y.numpy(), dout, [g.numpy() for g in grads]


def tf_pool(tf, kind, x, size, stride, padding, rng):
    """TensorFlow's pooled output and dx for a random upstream gradient (returned too)."""
    op = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = op(xt, ksize=size, strides=size if stride is None else stride, padding=padding.upper())
    dout = rng.standard_normal(tuple(y.shape))
    return y.numpy(), dout, tape.gradient(y, xt, output_gradients=tf.constant(dout)).numpy()


POOLS = {
    "max": (conv.max_pool2d_forward, conv.max_pool2d_backward),
    "avg": (conv.avg_pool2d_forward, conv.avg_pool2d_backward),
}


# --------------------------------------------------------------------------------------
# convolution vs TensorFlow, the loops and numerical gradients
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape, kernel, filters, stride, padding", CONV_CASES)
def test_conv2d_matches_tensorflow(tf, rng, x_shape, kernel, filters, stride, padding):
    x, w, b = draw_conv(rng, x_shape, kernel, filters)
    ref_out, dout, (ref_dx, ref_dw, ref_db) = tf_conv(tf, x, w, b, stride, padding, rng)
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    assert out.shape == ref_out.shape
    assert rel_error(out, ref_out) < TOL_TF
    dx, dw, db = conv.conv2d_backward(dout, cache)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    assert rel_error(dx, ref_dx) < TOL_TF
    assert rel_error(dw, ref_dw) < TOL_TF
    assert rel_error(db, ref_db) < TOL_TF


@pytest.mark.parametrize("x_shape, kernel, filters, stride, padding", CONV_CASES)
def test_conv2d_naive_agrees_with_fast(rng, x_shape, kernel, filters, stride, padding):
    x, w, b = draw_conv(rng, x_shape, kernel, filters)
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    assert rel_error(conv.conv2d_naive(x, w, b, stride, padding), out) < 1e-12
    dout = rng.standard_normal(out.shape)
    for naive, fast in zip(conv.conv2d_backward_naive(dout, x, w, stride, padding),
                           conv.conv2d_backward(dout, cache)):
        assert naive.shape == fast.shape
        assert rel_error(naive, fast) < 1e-12


@pytest.mark.parametrize("x_shape, kernel, filters, stride, padding", [
    ((2, 5, 6, 3), (3, 3), 2, 1, "valid"),
    ((2, 5, 6, 3), (2, 3), 2, 2, "same"),
    ((1, 6, 5, 9), (2, 2), 3, (1, 2), "same"),      # the strided-view im2col (C >= 8)
    ((2, 7, 7, 1), (2, 2), 2, 3, "valid"),          # stride > kernel: some inputs unused
])
def test_conv2d_numerical_gradients(rng, x_shape, kernel, filters, stride, padding):
    x, w, b = draw_conv(rng, x_shape, kernel, filters)
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv.conv2d_backward(dout, cache)
    num_dx = numerical_gradient_array(lambda v: conv.conv2d_forward(v, w, b, stride, padding)[0], x, dout)
    num_dw = numerical_gradient_array(lambda v: conv.conv2d_forward(x, v, b, stride, padding)[0], w, dout)
    num_db = numerical_gradient_array(lambda v: conv.conv2d_forward(x, w, v, stride, padding)[0], b, dout)
    assert rel_error(dx, num_dx) < TOL_NUM
    assert rel_error(dw, num_dw) < TOL_NUM
    assert rel_error(db, num_db) < TOL_NUM
    assert np.abs(dx).max() > 0.1 and np.abs(dw).max() > 0.1  # the check compared real numbers


@pytest.mark.parametrize("images_per_block", [1, 2])
@pytest.mark.parametrize("channels", [2, 9])
def test_conv2d_blocks_of_images_give_the_same_result(tf, rng, monkeypatch, images_per_block, channels):
    """The fast path works on blocks of images (big batches); 5 images = blocks of 1 or 2 + 1."""
    x, w, b = draw_conv(rng, (5, 8, 7, channels), (3, 2), 3)
    ref_out, dout, ref_grads = tf_conv(tf, x, w, b, (2, 1), "same", rng)
    K = 3 * 2 * channels                  # a row of cols: K entries (+ 1 for the bias trick)
    rows_per_image = 4 * 7
    monkeypatch.setattr(conv, "_BLOCK_BYTES", images_per_block * rows_per_image * (K + 1) * x.itemsize)
    for row_bytes in (K * x.itemsize, (K + 1) * x.itemsize):
        assert len(conv._image_blocks(5, rows_per_image, row_bytes)) == -(-5 // images_per_block)
    out, cache = conv.conv2d_forward(x, w, b, (2, 1), "same")
    assert rel_error(out, ref_out) < TOL_TF
    for mine, ref in zip(conv.conv2d_backward(dout, cache), ref_grads):
        assert rel_error(mine, ref) < TOL_TF


def test_conv2d_formula_by_hand():
    """One output entry written out: out[e, i, j, f] = Σ x_pad[e, i·S + m, j·S + n, c] w[m, n, c, f] + b[f]."""
    x = np.arange(2 * 5 * 4 * 2, dtype=np.float64).reshape(2, 5, 4, 2)
    w = np.arange(2 * 3 * 2 * 3, dtype=np.float64).reshape(2, 3, 2, 3) / 10
    b = np.array([1.0, -2.0, 0.5])
    out, _ = conv.conv2d_forward(x, w, b, stride=2, padding="same")
    assert out.shape == (2, 3, 2, 3)
    # "same" for H=5, K=2, S=2: Ho = 3, P_total = (3-1)·2 + 2 - 5 = 1 -> top 0, bottom 1;
    # W=4, K=3, S=2: Wo = 2, P_total = (2-1)·2 + 3 - 4 = 1 -> left 0, right 1.
    x_pad = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
    e, i, j, f = 1, 2, 1, 2
    expected = sum(x_pad[e, i * 2 + m, j * 2 + n, c] * w[m, n, c, f]
                   for m in range(2) for n in range(3) for c in range(2)) + b[f]
    assert out[e, i, j, f] == pytest.approx(expected, rel=1e-14)


def test_conv2d_is_cross_correlation_not_convolution():
    """An asymmetric kernel is applied as is (not flipped), like tf.nn.conv2d."""
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 1.0                       # an impulse in the middle
    w = np.arange(9, dtype=np.float64).reshape(3, 3, 1, 1)
    out, _ = conv.conv2d_forward(x, w, np.zeros(1), padding="same")
    # correlating an impulse gives the kernel flipped; a true convolution would give it as is
    assert np.array_equal(out[0, :, :, 0], w[::-1, ::-1, 0, 0])


def test_dx_is_a_full_convolution_with_the_kernel_as_it_is(rng):
    """The module docstring: for stride 1 and 'valid', dx[e, :, :, c] = Σ_f (dout[e, :, :, f] * w[:, :, c, f])
    with * the 'full' convolution of mathematics (scipy's convolve2d) and w NOT flipped; equivalently a
    correlation of the padded dout with the flipped kernel, C and F exchanged. With stride 2, dout dilated."""
    from scipy.signal import convolve2d

    x, w, b = draw_conv(rng, (2, 7, 6, 3), (3, 2), 4)
    out, cache = conv.conv2d_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx = conv.conv2d_backward(dout, cache)[0]

    def full_conv(d, kernel):   # Σ_f convolve2d(d[e, :, :, f], kernel[:, :, c, f], "full") for every e, c
        return np.stack([np.stack([sum(convolve2d(d[e, :, :, f], kernel[:, :, c, f], mode="full")
                                       for f in range(d.shape[3])) for c in range(kernel.shape[2])], axis=-1)
                         for e in range(d.shape[0])])

    assert rel_error(dx, full_conv(dout, w)) < 1e-12
    assert rel_error(dx, full_conv(dout, w[::-1, ::-1])) > 0.1          # the flipped kernel is wrong here
    padded = np.pad(dout, ((0, 0), (2, 2), (1, 1), (0, 0)))             # KH - 1 rows, KW - 1 columns
    as_correlation, _ = conv.conv2d_forward(padded, w[::-1, ::-1].transpose(0, 1, 3, 2), np.zeros(3))
    assert rel_error(dx, as_correlation) < 1e-12

    x2 = rng.standard_normal((1, 8, 7, 2))                             # stride 2: row 7 and column 6 unseen
    out2, cache2 = conv.conv2d_forward(x2, w[:, :, :2], b, stride=2)
    dout2 = rng.standard_normal(out2.shape)
    dilated = np.zeros((1, 2 * out2.shape[1] - 1, 2 * out2.shape[2] - 1, 4))
    dilated[:, ::2, ::2] = dout2
    by_formula = np.zeros_like(x2)
    full = full_conv(dilated, w[:, :, :2])
    by_formula[:, :full.shape[1], :full.shape[2]] = full
    assert rel_error(conv.conv2d_backward(dout2, cache2)[0], by_formula) < 1e-12


@pytest.mark.parametrize("x_shape, kernel, filters, stride, padding", CONV_CASES)
def test_dx_is_tensorflows_transposed_convolution(tf, rng, x_shape, kernel, filters, stride, padding):
    """The module docstring: dout -> dx is a transposed convolution, tf.nn.conv2d_transpose (Keras'
    Conv2DTranspose) with the forward kernel w as it is and output_shape = x.shape, for every stride and padding."""
    x, w, b = draw_conv(rng, x_shape, kernel, filters)
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    strides = list(stride) if isinstance(stride, tuple) else stride
    transposed = tf.nn.conv2d_transpose(tf.constant(dout), tf.constant(w), x.shape, strides, padding.upper())
    assert rel_error(conv.conv2d_backward(dout, cache)[0], transposed.numpy()) < TOL_TF


# --------------------------------------------------------------------------------------
# padding and output sizes
# --------------------------------------------------------------------------------------

def test_padding_amounts_and_output_sizes():
    assert conv.padding_amounts(28, 3, 1, "same") == (1, 1)
    assert conv.padding_amounts(28, 4, 1, "same") == (1, 2)      # even kernel: extra at the end
    assert conv.padding_amounts(5, 2, 2, "same") == (0, 1)
    assert conv.padding_amounts(28, 3, 2, "same") == (0, 1)      # odd kernel, stride 2: extra at the end too
    assert conv.padding_amounts(9, 2, 3, "same") == (0, 0)       # stride > kernel: none needed
    assert conv.padding_amounts(28, 3, 1, "valid") == (0, 0)
    # the chapter's CNN: valid 28 -> 26 -> 13 -> 11 -> 5, same 28 -> 28 -> 14 -> 14 -> 7
    valid = [conv.conv_output_size(28, 3), conv.conv_output_size(26, 2, 2),
             conv.conv_output_size(13, 3), conv.conv_output_size(11, 2, 2)]
    same = [conv.conv_output_size(28, 3, 1, "same"), conv.conv_output_size(28, 2, 2, "same"),
            conv.conv_output_size(14, 3, 1, "same"), conv.conv_output_size(14, 2, 2, "same")]
    assert valid == [26, 13, 11, 5]
    assert same == [28, 14, 14, 7]


def test_padding_reproduces_tensorflow_on_a_grid(tf):
    """Every (size, kernel, stride) with size <= 9: our split and output size equal TF's."""
    rng = np.random.default_rng(7)
    checked = 0
    for size in range(1, 10):
        x = rng.standard_normal((1, size, 1, 1))
        for k in range(1, 5):
            w = rng.standard_normal((k, 1, 1, 1))
            for s in range(1, 5):
                for padding in ("valid", "same"):
                    if padding == "valid" and k > size:
                        continue
                    ref = tf.nn.conv2d(x, w, strides=s, padding=padding.upper()).numpy()
                    n_out = conv.conv_output_size(size, k, s, padding)
                    before, after = conv.padding_amounts(size, k, s, padding)
                    assert n_out == ref.shape[1] == (size + before + after - k) // s + 1
                    if padding == "same":
                        assert n_out == math.ceil(size / s)
                    out, _ = conv.conv2d_forward(x, w, np.zeros(1), s, padding)
                    assert rel_error(out, ref) < TOL_TF, (size, k, s, padding)
                    checked += 1
    assert checked > 200


# --------------------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [2, 9])  # both ways of building cols
def test_im2col_is_the_matrix_form_of_conv(rng, channels):
    x, w, b = draw_conv(rng, (2, 7, 6, channels), (3, 2), 4)
    cols = conv.im2col(x, (3, 2), stride=2, padding="same")
    out, _ = conv.conv2d_forward(x, w, b, 2, "same")
    assert cols.shape == (2 * 4 * 3, 3 * 2 * channels)
    assert rel_error((cols @ w.reshape(-1, 4) + b).reshape(out.shape), out) < 1e-13
    # row (e, i, j), column (m, n, c) is x_pad[e, i·S + m, j·S + n, c]; here top/left pad 0 or 1
    (top, _), (left, _) = conv.padding_amounts(7, 3, 2, "same"), conv.padding_amounts(6, 2, 2, "same")
    x_pad = np.pad(x, ((0, 0), (top, 3), (left, 3), (0, 0)))
    e, i, j, m, n, c = 1, 2, 1, 2, 1, channels - 1
    assert cols[(e * 4 + i) * 3 + j, (m * 2 + n) * channels + c] == x_pad[e, i * 2 + m, j * 2 + n, c]


@pytest.mark.parametrize("channels, stride, padding", [(2, 1, "valid"), (9, 2, "same"), (3, (2, 1), "same")])
def test_im2col_rows_are_the_windows_in_order(rng, channels, stride, padding):
    """The layout of the docstring, every entry: row (e·Ho + i)·Wo + j is window (i, j) of example e,
    flattened in (m, n, c) order, the loop over windows that notebook 03 shows."""
    x = rng.standard_normal((2, 7, 6, channels))
    KH, KW = 3, 2
    (SH, SW) = (stride, stride) if isinstance(stride, int) else stride
    pads = (conv.padding_amounts(7, KH, SH, padding), conv.padding_amounts(6, KW, SW, padding))
    x_pad = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    Ho, Wo = conv.conv_output_size(7, KH, SH, padding), conv.conv_output_size(6, KW, SW, padding)
    by_windows = np.stack([x_pad[e, i * SH:i * SH + KH, j * SW:j * SW + KW, :].ravel()
                           for e in range(2) for i in range(Ho) for j in range(Wo)])
    assert np.array_equal(conv.im2col(x, (KH, KW), stride, padding), by_windows)


def test_im2col_returns_a_fresh_array(rng):
    x = rng.standard_normal((2, 4, 4, 8))
    cols = conv.im2col(x, 1)             # 1x1 windows: the rows are exactly x's pixels
    assert np.array_equal(cols, x.reshape(-1, 8))
    cols[0, 0] = 99.0                     # writeable, and not a view of x
    assert x[0, 0, 0, 0] != 99.0


@pytest.mark.parametrize("channels, stride, padding", [(1, 1, "same"), (3, 2, "valid"), (10, (2, 1), "same")])
def test_col2im_is_the_adjoint_of_im2col(rng, channels, stride, padding):
    """<im2col(x), Y> = <x, col2im(Y)> for all x, Y: col2im adds each window back."""
    x = rng.standard_normal((2, 7, 8, channels))
    cols = conv.im2col(x, (3, 2), stride, padding)
    y = rng.standard_normal(cols.shape)
    back = conv.col2im(y, x.shape, (3, 2), stride, padding)
    assert back.shape == x.shape
    assert np.sum(cols * y) == pytest.approx(np.sum(x * back), rel=1e-12)


# --------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, size, stride, padding", POOL_CASES)
def test_pooling_matches_tensorflow(tf, rng, kind, x_shape, size, stride, padding):
    x = rng.standard_normal(x_shape)  # continuous: no ties
    ref_out, dout, ref_dx = tf_pool(tf, kind, x, size, stride, padding, rng)
    forward, backward = POOLS[kind]
    out, cache = forward(x, size, stride, padding)
    assert out.shape == ref_out.shape
    assert rel_error(out, ref_out) < TOL_TF
    dx = backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, ref_dx) < TOL_TF


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, size, stride, padding", [
    ((2, 5, 6, 2), 2, None, "same"),
    ((1, 6, 5, 3), 3, 2, "same"),
    ((2, 6, 6, 1), (2, 3), 1, "valid"),
])
def test_pooling_numerical_gradients(rng, kind, x_shape, size, stride, padding):
    forward, backward = POOLS[kind]
    # distinct values 0.05 apart: a step of h (1e-3) cannot change which entry is a maximum
    n = int(np.prod(x_shape))
    x = (rng.permutation(n).reshape(x_shape) - n / 2) * 0.05
    out, cache = forward(x, size, stride, padding)
    dout = rng.standard_normal(out.shape)
    num = numerical_gradient_array(lambda v: forward(v, size, stride, padding)[0], x, dout)
    dx = backward(dout, cache)
    assert rel_error(dx, num) < TOL_NUM
    assert np.abs(dx).max() > 0.1


def test_max_pool_ties_follow_tensorflow(tf, rng):
    """On a tie the first maximum in row-major order of the window gets the gradient, as in TF."""
    x = np.zeros((1, 2, 2, 1))
    _, cache = conv.max_pool2d_forward(x, 2)
    assert np.array_equal(conv.max_pool2d_backward(np.ones((1, 1, 1, 1)), cache).ravel(), [1, 0, 0, 0])
    for size, stride, padding in [(2, None, "valid"), (3, 1, "same"), ((2, 3), (2, 1), "same")]:
        x = rng.integers(0, 3, (2, 7, 8, 3)).astype(np.float64)  # many ties
        _, dout, ref_dx = tf_pool(tf, "max", x, size, stride, padding, rng)
        _, cache = conv.max_pool2d_forward(x, size, stride, padding)
        assert rel_error(conv.max_pool2d_backward(dout, cache), ref_dx) < TOL_TF


def test_pool_padding_values():
    """Max pool pads with -inf (a negative image stays negative), avg pool counts real entries."""
    x = -np.ones((1, 3, 3, 1)) - np.arange(9.0).reshape(1, 3, 3, 1)
    out, _ = conv.max_pool2d_forward(x, 2, padding="same")
    assert out.shape == (1, 2, 2, 1)
    assert np.array_equal(out[0, :, :, 0], [[-1.0, -3.0], [-7.0, -9.0]])
    ones = np.ones((1, 3, 3, 1))
    avg, cache = conv.avg_pool2d_forward(ones, 2, padding="same")
    assert np.array_equal(avg, np.ones((1, 2, 2, 1)))   # not 1/2 or 1/4 at the border
    assert np.array_equal(cache.count[:, :, 0], [[4, 2], [2, 1]])


# --------------------------------------------------------------------------------------
# dtypes and odd inputs
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    x, w, b = draw_conv(rng, (2, 6, 5, 3), (3, 3), 4, dtype)
    out, cache = conv.conv2d_forward(x, w, b, 1, "same")
    grads = conv.conv2d_backward(np.ones_like(out), cache)
    assert out.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert conv.conv2d_naive(x, w, b).dtype == dtype
    for forward, backward in POOLS.values():
        p, c = forward(x, 2, padding="same")
        assert p.dtype == dtype and backward(np.ones_like(p), c).dtype == dtype
    # float32 agrees with float64 to float32 precision
    out64, _ = conv.conv2d_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, "same")
    assert np.max(np.abs(out - out64)) < 1e-5 * np.max(np.abs(out64))


def test_mixed_and_integer_inputs_promote_to_float64(rng):
    x, w, b = draw_conv(rng, (1, 5, 5, 2), (3, 3), 2, np.float32)
    out, _ = conv.conv2d_forward(x, w.astype(np.float64), b)
    assert out.dtype == np.float64
    out_int, _ = conv.conv2d_forward(np.ones((1, 4, 4, 1), dtype=int), np.ones((2, 2, 1, 1), dtype=int), [0])
    assert out_int.dtype == np.float64 and np.all(out_int == 4.0)


@pytest.mark.parametrize("channels", [2, 9])
def test_non_contiguous_input(rng, channels):
    big = rng.standard_normal((2, 14, 9, 2 * channels))
    x = big[:, ::2, :, ::2]                      # a strided view, not a copy
    w = rng.standard_normal((3, 2, channels, 3))
    b = rng.standard_normal(3)
    out, cache = conv.conv2d_forward(x, w, b, (2, 1), "valid")
    ref, ref_cache = conv.conv2d_forward(np.ascontiguousarray(x), w, b, (2, 1), "valid")
    assert np.array_equal(out, ref)
    dout = rng.standard_normal(out.shape)
    for a, r in zip(conv.conv2d_backward(dout, cache), conv.conv2d_backward(dout, ref_cache)):
        assert np.array_equal(a, r)


def test_inputs_and_cache_are_not_modified(rng):
    x, w, b = draw_conv(rng, (2, 6, 6, 3), (3, 3), 2)
    copies = [a.copy() for a in (x, w, b)]
    out, cache = conv.conv2d_forward(x, w, b, 2, "same")
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    first = conv.conv2d_backward(dout, cache)
    second = conv.conv2d_backward(dout, cache)      # a cache can be used twice
    for a, c in zip((x, w, b, dout), copies + [dout_copy]):
        assert np.array_equal(a, c)
    for g1, g2 in zip(first, second):
        assert np.array_equal(g1, g2)


# --------------------------------------------------------------------------------------
# validation: ValueError naming the function, the argument and the shapes
# --------------------------------------------------------------------------------------

X = np.zeros((8, 28, 28, 1))
W = np.zeros((3, 3, 1, 32))
B = np.zeros(32)


@pytest.mark.parametrize("args, kwargs, message", [
    ((np.zeros((8, 28, 28, 3)), W, B), {},
     "conv2d_forward: x has 3 channels but w expects 1 (x (8, 28, 28, 3), w (3, 3, 1, 32))"),
    ((np.zeros((1, 2, 4, 1)), W, B), {},
     "conv2d_forward: the 3x3 kernel does not fit in the 2x4 input with padding='valid' "
     "(x (1, 2, 4, 1), w (3, 3, 1, 32))"),
    ((X, W, B), {"padding": "full"}, "conv2d_forward: padding must be 'valid' or 'same', got 'full'"),
    ((X, W, B), {"padding": None}, "conv2d_forward: padding must be 'valid' or 'same', got None"),
    ((np.zeros((28, 28, 1)), W, B), {}, "conv2d_forward: x must be 4-D, got shape (28, 28, 1) (3-D)"),
    ((X, np.zeros((3, 3, 32)), B), {}, "conv2d_forward: w must be 4-D, got shape (3, 3, 32) (3-D)"),
    ((X, W, np.zeros((1, 32))), {}, "conv2d_forward: b must be 1-D, got shape (1, 32) (2-D)"),
    ((X, W, np.zeros(16)), {}, "conv2d_forward: b has 16 entries but w has 32 filters (b (16,), w (3, 3, 1, 32))"),
    ((X, W, B), {"stride": 0}, "conv2d_forward: stride must be a positive int or a pair of positive ints, got 0"),
    ((X, W, B), {"stride": (1, -2)}, "got (1, -2)"),
    ((X, W, B), {"stride": (1, 2, 1)}, "got (1, 2, 1)"),
    ((X, W, B), {"stride": 1.5}, "got 1.5"),
    ((X, W, B), {"stride": True}, "got True"),
    ((X, W, B), {"stride": "2"}, "got '2'"),
    ((X.astype(np.float16), W, B), {}, "conv2d_forward: x must be float32 or float64, got dtype float16"),
    ((np.full((1, 4, 4, 1), np.nan), W, B), {}, "conv2d_forward: x contains 16 NaN or inf value(s)"),
    ((X, np.zeros((3, 3, 1, 0)), np.zeros(0)), {}, "conv2d_forward: w has an empty axis"),
])
def test_conv2d_forward_validation(args, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        conv.conv2d_forward(*args, **kwargs)


def test_naive_validates_like_fast():
    with pytest.raises(ValueError, match=re.escape("conv2d_naive: x has 3 channels but w expects 1")):
        conv.conv2d_naive(np.zeros((1, 5, 5, 3)), W, B)
    with pytest.raises(ValueError, match=re.escape("conv2d_backward_naive: dout has shape (1, 3, 3, 32) "
                                                   "but the forward output had shape (1, 3, 3, 2)")):
        conv.conv2d_backward_naive(np.zeros((1, 3, 3, 32)), np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 2)))


def test_conv2d_backward_validation(rng):
    x, w, b = draw_conv(rng, (2, 6, 6, 1), (3, 3), 4)
    out, cache = conv.conv2d_forward(x, w, b)
    with pytest.raises(ValueError, match=re.escape("conv2d_backward: dout has shape (2, 6, 6, 4) but the "
                                                   "forward output had shape (2, 4, 4, 4)")):
        conv.conv2d_backward(np.zeros((2, 6, 6, 4)), cache)
    with pytest.raises(ValueError, match=re.escape("conv2d_backward: cache must be the ConvCache returned "
                                                   "by conv2d_forward, got tuple")):
        conv.conv2d_backward(out, tuple(cache))
    _, pool_cache = conv.max_pool2d_forward(x, 2)
    with pytest.raises(ValueError, match="got MaxPoolCache"):
        conv.conv2d_backward(out, pool_cache)
    with pytest.raises(ValueError, match=re.escape("conv2d_backward: dout contains 1 NaN or inf")):
        bad = np.zeros(out.shape)
        bad[0, 0, 0, 0] = np.inf
        conv.conv2d_backward(bad, cache)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_validation(kind):
    forward, backward = POOLS[kind]
    name = f"{kind}_pool2d_forward"
    x = np.zeros((2, 5, 5, 3))
    cases = [
        ((x, 6), {}, f"{name}: the 6x6 window does not fit in the 5x5 input with padding='valid' "
                     "(x (2, 5, 5, 3), size (6, 6))"),
        ((x, 2), {"padding": "VALID!"}, f"{name}: padding must be 'valid' or 'same', got 'VALID!'"),
        ((x, 0), {}, f"{name}: size must be a positive int or a pair of positive ints, got 0"),
        ((x, 2), {"stride": (0, 1)}, f"{name}: stride must be a positive int or a pair of positive ints"),
        ((x[0], 2), {}, f"{name}: x must be 4-D, got shape (5, 5, 3) (3-D)"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            forward(*args, **kwargs)
    out, cache = forward(x, 2)
    with pytest.raises(ValueError, match=re.escape(f"{kind}_pool2d_backward: dout has shape (2, 3, 3, 3) "
                                                   "but the forward output had shape (2, 2, 2, 3)")):
        backward(np.zeros((2, 3, 3, 3)), cache)
    other = "avg" if kind == "max" else "max"
    _, other_cache = POOLS[other][0](x, 2)
    with pytest.raises(ValueError, match=f"{kind}_pool2d_backward: cache must be the"):
        backward(out, other_cache)


def test_size_helpers_and_im2col_validation():
    with pytest.raises(ValueError, match=re.escape("conv_output_size: kernel 5 does not fit in size 3")):
        conv.conv_output_size(3, 5)
    with pytest.raises(ValueError, match=re.escape("padding_amounts: stride must be a positive int, got 0")):
        conv.padding_amounts(5, 3, 0, "same")
    with pytest.raises(ValueError, match=re.escape("conv_output_size: padding must be 'valid' or 'same'")):
        conv.conv_output_size(5, 3, 1, "full")
    with pytest.raises(ValueError, match=re.escape("im2col: the 3x3 kernel does not fit in the 2x2 input")):
        conv.im2col(np.zeros((1, 2, 2, 1)), 3)
    with pytest.raises(ValueError, match=re.escape("col2im: dcols has shape (5, 9) but x_shape (1, 4, 4, 1) "
                                                   "and kernel (3, 3) give (4, 9)")):
        conv.col2im(np.zeros((5, 9)), (1, 4, 4, 1), 3)


@pytest.mark.parametrize("layers, expected", [
    ([(3, 1), (2, 2), (3, 1), (2, 2)], 10),          # the 04 network: conv, pool, conv, pool
    ([(7, 2), (3, 2), (3, 1), (3, 1)], 27),          # a ResNet stem: a stride-2 conv, then a pool
    ([(3, 2), (3, 2), (3, 2)], 15),
    ([(5, 3)], 5),
    ([], 1),
])
def test_receptive_field_formula_and_measured_support(layers, expected):
    assert conv.receptive_field(layers) == expected
    if not layers:
        return
    # measure it: the input pixels whose gradient reaches output unit (0, 0) through the stack,
    # with all-positive weights (no cancellation); a (2, 2) layer is average pooling (linear, so
    # every entry of its window gets gradient, as a kernel of ones would)
    H = expected + 8
    x, steps = np.ones((1, H, H, 1)), []
    for k, s in layers:
        if (k, s) == (2, 2):
            x, cache = conv.avg_pool2d_forward(x, 2)
            steps.append(lambda d, cache=cache: conv.avg_pool2d_backward(d, cache))
        else:
            x, cache = conv.conv2d_forward(x, np.ones((k, k, 1, 1)), np.zeros(1), stride=s)
            steps.append(lambda d, cache=cache: conv.conv2d_backward(d, cache)[0])
    dout = np.zeros(x.shape)
    dout[0, 0, 0, 0] = 1.0
    for step in reversed(steps):
        dout = step(dout)
    rows, cols = np.nonzero(dout[0, :, :, 0])
    assert rows.max() + 1 == cols.max() + 1 == expected and rows.min() == cols.min() == 0


def test_receptive_field_validation():
    for layers, message in [(5, "layers must be a list of (kernel, stride) pairs, got 5"),
                            ([(3, 1), (2,)], "layer 1 must be a (kernel, stride) pair of positive ints, got (2,)"),
                            ([(0, 1)], "layer 0 must be a (kernel, stride) pair of positive ints, got (0, 1)"),
                            ([(3.0, 1)], "layer 0 must be a (kernel, stride) pair")]:
        with pytest.raises(ValueError, match=re.escape(f"receptive_field: {message}")):
            conv.receptive_field(layers)
