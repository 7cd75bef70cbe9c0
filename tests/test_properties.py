"""Property-based tests (hypothesis): helpers.nn, helpers.conv and helpers.rnn against TensorFlow.

tests/test_nn.py, test_conv.py and test_rnn.py check hand-picked shapes. Here hypothesis draws
the shapes (batch, features, image sizes, channels, filters, kernels, strides, paddings, time
steps, hidden units, dtypes) and the values, and every draw must

1. agree with TensorFlow: forward values, and gradients from ``tf.GradientTape`` for a random
   upstream gradient (float64: max |ours - tf| <= 1e-10 x max(1, max |tf|); a float32 input
   must give a float32 result, within 1e-4 of TensorFlow's float64 answer);
2. refuse an invalid shape with a ValueError that names the function and *both* shapes that
   disagree (``str(x.shape)`` and ``str(w.shape)``), and never raise another exception type,
   whatever shapes it is given;
3. refuse NaN and inf with the ValueError of ``helpers._validate.check_finite``
   ("f: x contains 1 NaN or inf value(s) ..."), except where a docstring promises otherwise:
   ``clip_by_global_norm`` (NaN everywhere and an inf norm, as ``tf.clip_by_global_norm``) and
   ``im2col`` / ``col2im`` (rearrangements: a NaN is copied, exactly as TensorFlow's
   ``extract_patches`` copies it).

The search is sized for a busy 2-core machine (the whole file in well under a minute).
``DL4HEALTH_HYPOTHESIS_SCALE=10`` multiplies every number of examples for a deeper search;
``pytest --hypothesis-show-statistics`` prints how many ran; a failure prints the smallest
example found and a ``@reproduce_failure`` line to replay it.
"""

from __future__ import annotations

import os
import re
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import conv, nn, rnn

_SCALE = float(os.environ.get("DL4HEALTH_HYPOTHESIS_SCALE", "1"))


def examples(n: int):
    """Settings for a property: n examples (times DL4HEALTH_HYPOTHESIS_SCALE), no deadline
    (TensorFlow's first call of an op takes ~100 ms, which is not a failure)."""
    return settings(max_examples=max(1, round(n * _SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


TOL = {np.float64: 1e-10, np.float32: 1e-4}

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float64, np.float32])
paddings = st.sampled_from(["valid", "same"])
strides = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
# Values as large as the modules promise to handle (|z| ~ 1e3), without subnormals (TensorFlow
# flushes those to zero on CPU, a difference of 1e-308 that says nothing about the code).
finite = st.floats(-1e3, 1e3, allow_subnormal=False, width=64)


def z_arrays(min_dims=0, max_dims=3):
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=5),
                      elements=finite)


def _normal(r, shape, dtype=np.float64, scale=1.0):
    return np.asarray(scale * r.standard_normal(shape), dtype=dtype)   # an array even for shape ()


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# --------------------------------------------------------------------------------------
# comparing with TensorFlow
# --------------------------------------------------------------------------------------

def tf_value_and_grads(tf, fn, inputs, upstream=None):
    """fn(*inputs) in TensorFlow (float64) and the gradients of Σ upstream ⊙ fn w.r.t. each input
    (upstream None: of Σ fn). Unconnected gradients are zeros, as ours are."""
    ts = [tf.constant(np.asarray(a, dtype=np.float64)) for a in inputs]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        out = fn(*ts)
    up = None if upstream is None else tf.constant(np.asarray(upstream, dtype=np.float64))
    grads = tape.gradient(out, ts, output_gradients=up, unconnected_gradients="zero")
    return out.numpy(), [g.numpy() for g in grads]


def tf_batch_jacobian(tf, fn, x):
    """J[n, i, j] = ∂fn(x)[n, i] / ∂x[n, j] for an fn that treats the rows of x (M, K) apart:
    one gradient per output column (tape.batch_jacobian is ~100x slower in eager mode)."""
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        y = fn(xt)
        columns = [y[:, i] for i in range(y.shape[1])]
    return np.stack([tape.gradient(c, xt, unconnected_gradients="zero").numpy() for c in columns], axis=1)


def assert_close(ours, ref, what, dtype=np.float64):
    """Same shape, ours in ``dtype``, and max |ours - ref| <= TOL[dtype] x max(1, max |ref|)."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape}, TensorFlow {ref.shape}"
    assert ours.dtype == dtype, f"{what}: dtype {ours.dtype}, expected {np.dtype(dtype)}"
    if ref.size == 0:
        return
    err = float(np.max(np.abs(ours.astype(np.float64) - ref)))
    scale = max(1.0, float(np.max(np.abs(ref))))
    assert err <= TOL[dtype] * scale, f"{what}: max |ours - tf| = {err:.2e} > {TOL[dtype]:.0e} x {scale:.3g}"


def assert_all_close(ours, refs, names, dtype=np.float64):
    for a, b, name in zip(ours, refs, names, strict=True):
        assert_close(a, b, name, dtype)


# --------------------------------------------------------------------------------------
# 1. nn: activations, losses, dense layer, MLP, optimisers
# --------------------------------------------------------------------------------------

TF_ACTIVATION = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "nn.relu", "linear": "identity",
                 "softmax": "nn.softmax"}


def tf_activation(tf, name):
    fn = tf
    for part in TF_ACTIVATION[name].split("."):
        fn = getattr(fn, part)
    return fn


@examples(60)
@given(name=st.sampled_from(sorted(nn.ACTIVATIONS)), z=z_arrays(), seed=seeds)
def test_elementwise_activations_and_derivatives_match_tf(tf, name, z, seed):
    f, f_prime = nn.ACTIVATIONS[name]
    da = _normal(np.random.default_rng(seed), z.shape)
    with np.errstate(all="raise"):  # nn's docstring: no overflow and no warning for |z| ~ 1e3
        a, d = f(z), f_prime(z)
        a2, cache = nn.activation_forward(z, name)
        dz = nn.activation_backward(da, cache)
    a_tf, (d_tf,) = tf_value_and_grads(tf, tf_activation(tf, name), [z])  # elementwise: ∂Σf/∂z = f'(z)
    _, (dz_tf,) = tf_value_and_grads(tf, tf_activation(tf, name), [z], da)
    assert_all_close([a, d, a2, dz], [a_tf, d_tf, a_tf, dz_tf], [name, f"{name}'", "activation_forward",
                                                                 "activation_backward"])


@examples(40)
@given(z=z_arrays(min_dims=1), seed=seeds)
def test_softmax_its_jacobian_and_backward_match_tf(tf, z, seed):
    da = _normal(np.random.default_rng(seed), z.shape)
    with np.errstate(all="raise"):
        s = nn.softmax(z)
        J = nn.softmax_jacobian(z)
        _, cache = nn.activation_forward(z, "softmax")
        dz = nn.activation_backward(da, cache)
    s_tf, (dz_tf,) = tf_value_and_grads(tf, tf.nn.softmax, [z], da)
    K = z.shape[-1]
    J_tf = tf_batch_jacobian(tf, tf.nn.softmax, z.reshape(-1, K)).reshape(z.shape + (K,))  # ∂s_i/∂z_j
    assert_all_close([s, J, dz], [s_tf, J_tf, dz_tf], ["softmax", "softmax_jacobian", "softmax backward"])
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-12)


@st.composite
def bce_cases(draw):
    z = draw(z_arrays(min_dims=1, max_dims=2))
    soft = draw(st.booleans())
    y = draw(hnp.arrays(np.float64, z.shape, elements=st.floats(0, 1) if soft else st.sampled_from([0.0, 1.0])))
    if z.ndim == 2 and z.shape[1] == 1 and draw(st.booleans()):
        y = y[:, 0]                      # labels (N,) for logits (N, 1): explicitly allowed
    return z, y


@examples(50)
@given(case=bce_cases())
def test_binary_cross_entropy_matches_tf(tf, case):
    z, y = case
    with np.errstate(all="raise"):
        loss, dz = nn.binary_cross_entropy_with_logits(z, y)
    y_full = y.reshape(z.shape)
    loss_tf, (dz_tf,) = tf_value_and_grads(
        tf, lambda t: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_full, logits=t)), [z])
    assert_all_close([loss, dz], [loss_tf, dz_tf], ["loss", "dlogits"])


@st.composite
def sparse_ce_cases(draw):
    N, K = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    z = draw(hnp.arrays(np.float64, (N, K), elements=finite))
    y = draw(hnp.arrays(np.int64, (N,), elements=st.integers(0, K - 1)))
    return z, y


@examples(40)
@given(case=sparse_ce_cases())
def test_softmax_cross_entropy_matches_tf(tf, case):
    z, y = case
    with np.errstate(all="raise"):
        loss, dz = nn.softmax_cross_entropy_with_logits(z, y)
    loss_tf, (dz_tf,) = tf_value_and_grads(
        tf, lambda t: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=t)), [z])
    assert_all_close([loss, dz], [loss_tf, dz_tf], ["loss", "dlogits"])


@examples(30)
@given(p=z_arrays(min_dims=1), seed=seeds)
def test_mean_squared_error_matches_tf(tf, p, seed):
    y = _normal(np.random.default_rng(seed), p.shape, scale=100.0)
    loss, dp = nn.mean_squared_error(p, y)
    loss_tf, (dp_tf,) = tf_value_and_grads(tf, lambda t: tf.reduce_mean(tf.square(t - y)), [p])
    assert_all_close([loss, dp], [loss_tf, dp_tf], ["loss", "dy_pred"])


@examples(50)
@given(N=st.integers(0, 6), D_in=st.integers(1, 6), D_out=st.integers(1, 6), dtype=dtypes, seed=seeds)
def test_dense_forward_backward_match_tf(tf, N, D_in, D_out, dtype, seed):
    r = np.random.default_rng(seed)
    x, W, b = _normal(r, (N, D_in), dtype), _normal(r, (D_in, D_out), dtype), _normal(r, D_out, dtype)
    z, cache = nn.dense_forward(x, W, b)
    dz = _normal(r, z.shape, dtype)
    grads = nn.dense_backward(dz, cache)
    z_tf, grads_tf = tf_value_and_grads(tf, lambda x, W, b: tf.matmul(x, W) + b, [x, W, b], dz)
    assert_all_close([z, *grads], [z_tf, *grads_tf], ["z", "dx", "dW", "db"], dtype)


@st.composite
def mlp_cases(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    hidden = draw(st.lists(st.sampled_from(sorted(nn.ACTIVATIONS)), min_size=len(sizes) - 2,
                           max_size=len(sizes) - 2))
    output = draw(st.sampled_from(["sigmoid", "softmax", "linear"]))
    loss = draw(st.sampled_from([None, "mse"]))
    return sizes, hidden, output, loss, draw(st.integers(1, 5)), draw(seeds)


def tf_mlp(tf, mlp, x, y):
    """The same network and loss written with TF ops: the loss and its gradient per parameter."""
    names = list(mlp.params)

    def loss_fn(x, *params):
        p = dict(zip(names, params))
        a = x
        for layer, act in enumerate(mlp.activations, start=1):
            z = tf.matmul(a, p[f"W{layer}"]) + p[f"b{layer}"]
            a = tf_activation(tf, act)(z)
        if mlp.loss_name == "binary_crossentropy":
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=np.reshape(y, z.shape), logits=z))
        if mlp.loss_name == "sparse_categorical_crossentropy":
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z))
        return tf.reduce_mean(tf.square(a - np.reshape(y, a.shape)))

    loss, grads = tf_value_and_grads(tf, loss_fn, [x, *mlp.params.values()])
    return loss, dict(zip(names, grads[1:]))


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")   # Keras, for D_out = 1
@examples(25)
@given(case=mlp_cases())
def test_mlp_loss_gradients_and_keras_copy_match_tf(tf, case):
    sizes, hidden, output, loss, N, seed = case
    mlp = nn.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    r = np.random.default_rng(seed)
    for name in mlp.params:
        if name.startswith("b"):
            mlp.params[name][...] = _normal(r, mlp.params[name].shape, scale=0.3)  # db is tested too
    x = _normal(r, (N, sizes[0]))
    if mlp.loss_name == "sparse_categorical_crossentropy":
        y = r.integers(0, sizes[-1], N)
    elif mlp.loss_name == "binary_crossentropy":
        y = r.integers(0, 2, (N, sizes[-1])).astype(np.float64)
    else:
        y = _normal(r, (N, sizes[-1]))
    value, grads = mlp.loss_and_grads(x, y)
    value_tf, grads_tf = tf_mlp(tf, mlp, x, y)
    assert list(grads) == list(mlp.params)
    assert_all_close([value, *grads.values()], [value_tf, *grads_tf.values()], ["loss", *grads])
    assert_close(mlp.predict_proba(x), mlp.to_keras()(x).numpy(), "predict_proba vs to_keras()")


@examples(15)
@given(shapes=st.lists(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), min_size=1, max_size=3),
       kind=st.sampled_from(["sgd", "momentum", "adam"]), steps=st.integers(1, 4),
       lr=st.sampled_from([2.0**-3, 2.0**-6]), seed=seeds)
def test_optimizers_match_keras(tf, shapes, kind, steps, lr, seed):
    import keras

    # Hyperparameters exact in float32: Keras raises β to the power t in float32 (test_nn.py).
    if kind == "adam":
        ours, theirs = (nn.Adam(lr, beta_1=0.875, beta_2=1 - 2.0**-9, epsilon=2.0**-23),
                        keras.optimizers.Adam(lr, beta_1=0.875, beta_2=1 - 2.0**-9, epsilon=2.0**-23))
    else:
        momentum = 0.5 if kind == "momentum" else 0.0
        ours, theirs = nn.SGD(lr, momentum=momentum), keras.optimizers.SGD(lr, momentum=momentum)
    r = np.random.default_rng(seed)
    params = {f"p{k}": _normal(r, s) for k, s in enumerate(shapes)}
    variables = [tf.Variable(p.copy()) for p in params.values()]
    for _ in range(steps):
        grads = {k: _normal(r, p.shape) for k, p in params.items()}
        ours.step(params, grads)
        theirs.apply_gradients(zip([tf.constant(g) for g in grads.values()], variables))
    for (name, p), v in zip(params.items(), variables, strict=True):
        assert_close(p, v.numpy(), f"{kind} {name} after {steps} steps")


@examples(20)
@given(fan_in=st.integers(1, 50), fan_out=st.integers(1, 50), dtype=dtypes, seed=seeds)
def test_initialisers_have_the_documented_shape_dtype_and_range(fan_in, fan_out, dtype, seed):
    W = nn.xavier_init(fan_in, fan_out, np.random.default_rng(seed), dtype)
    assert W.shape == (fan_in, fan_out) and W.dtype == dtype
    assert np.all(np.abs(W) <= np.sqrt(6.0 / (fan_in + fan_out)) * (1 + 1e-6))   # U(-r, r)
    H = nn.he_init(fan_in, fan_out, np.random.default_rng(seed), dtype)
    assert H.shape == (fan_in, fan_out) and H.dtype == dtype and np.all(np.isfinite(H))


# --------------------------------------------------------------------------------------
# 2. conv: convolution, im2col / col2im, pooling
# --------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    """(x shape, w shape, stride, padding): K <= H, W for "valid"; any kernel up to 5 for "same"."""
    N, H, W = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    C = draw(st.sampled_from([1, 2, 3, 9]))         # 9: im2col's strided-view path (C >= 8)
    F = draw(st.integers(1, 4))
    padding = draw(paddings)
    kh_max, kw_max = (min(H, 5), min(W, 5)) if padding == "valid" else (5, 5)
    KH, KW = draw(st.integers(1, kh_max)), draw(st.integers(1, kw_max))
    return (N, H, W, C), (KH, KW, C, F), draw(strides), padding


@examples(60)
@given(case=conv_cases(), dtype=dtypes, one_image_per_block=st.booleans(), seed=seeds)
def test_conv2d_forward_backward_match_tf(tf, case, dtype, one_image_per_block, seed):
    x_shape, w_shape, stride, padding = case
    r = np.random.default_rng(seed)
    x, w, b = _normal(r, x_shape, dtype), _normal(r, w_shape, dtype), _normal(r, w_shape[3], dtype)
    # _BLOCK_BYTES = 1: every image is its own block of im2col, so block boundaries are tested too.
    with mock.patch.object(conv, "_BLOCK_BYTES", 1 if one_image_per_block else conv._BLOCK_BYTES):
        out, cache = conv.conv2d_forward(x, w, b, stride, padding)
        dout = _normal(r, out.shape, dtype)
        grads = conv.conv2d_backward(dout, cache)
    sh, sw = _pair(stride)
    out_tf, grads_tf = tf_value_and_grads(
        tf, lambda x, w, b: tf.nn.conv2d(x, w, strides=[sh, sw], padding=padding.upper()) + b, [x, w, b], dout)
    assert_all_close([out, *grads], [out_tf, *grads_tf], ["out", "dx", "dw", "db"], dtype)

    # eq. (size) and the padding split are TensorFlow's: explicit padding reproduces "same".
    H, W_ = x_shape[1:3]
    assert out.shape[1:3] == (conv.conv_output_size(H, w_shape[0], sh, padding),
                              conv.conv_output_size(W_, w_shape[1], sw, padding))
    pads = [[0, 0], list(conv.padding_amounts(H, w_shape[0], sh, padding)),
            list(conv.padding_amounts(W_, w_shape[1], sw, padding)), [0, 0]]
    explicit = tf.nn.conv2d(x.astype(np.float64), w.astype(np.float64), strides=[sh, sw], padding=pads) + b
    assert_close(out, explicit.numpy(), "out vs tf.nn.conv2d with padding_amounts", dtype)


@examples(20)
@given(case=conv_cases(), seed=seeds)
def test_conv2d_naive_loops_match_tf(tf, case, seed):
    x_shape, w_shape, stride, padding = case
    r = np.random.default_rng(seed)
    x, w, b = _normal(r, x_shape), _normal(r, w_shape), _normal(r, w_shape[3])
    out = conv.conv2d_naive(x, w, b, stride, padding)
    dout = _normal(r, out.shape)
    grads = conv.conv2d_backward_naive(dout, x, w, stride, padding)
    sh, sw = _pair(stride)
    out_tf, grads_tf = tf_value_and_grads(
        tf, lambda x, w, b: tf.nn.conv2d(x, w, strides=[sh, sw], padding=padding.upper()) + b, [x, w, b], dout)
    assert_all_close([out, *grads], [out_tf, *grads_tf], ["out", "dx", "dw", "db"])


def tf_patches(tf, x, kernel, stride, padding):
    (kh, kw), (sh, sw) = kernel, stride
    return tf.image.extract_patches(x, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, 1, 1, 1],
                                    padding=padding.upper())


@examples(40)
@given(case=conv_cases(), seed=seeds)
def test_im2col_is_tf_extract_patches_and_col2im_its_gradient(tf, case, seed):
    x_shape, (KH, KW, _, _), stride, padding = case
    r = np.random.default_rng(seed)
    x = _normal(r, x_shape)
    cols = conv.im2col(x, (KH, KW), stride, padding)
    dcols = _normal(r, cols.shape)
    dx = conv.col2im(dcols, x_shape, (KH, KW), stride, padding)
    patches, (dx_tf,) = tf_value_and_grads(
        tf, lambda t: tf.reshape(tf_patches(tf, t, (KH, KW), _pair(stride), padding), cols.shape), [x], dcols)
    assert_all_close([cols, dx], [patches, dx_tf], ["im2col", "col2im"])


@examples(25)
@given(case=conv_cases(), bad=st.sampled_from([np.nan, np.inf, -np.inf]), data=st.data())
def test_im2col_and_col2im_copy_nan_and_inf_as_documented(tf, case, bad, data):
    """im2col / col2im only move and add numbers: a NaN or inf lands exactly where TF puts it."""
    x_shape, (KH, KW, _, _), stride, padding = case
    x = np.random.default_rng(0).standard_normal(x_shape)
    x.flat[data.draw(st.integers(0, x.size - 1), label="where")] = bad
    cols = conv.im2col(x, (KH, KW), stride, padding)
    ref = tf.reshape(tf_patches(tf, x, (KH, KW), _pair(stride), padding), cols.shape).numpy()
    np.testing.assert_array_equal(cols, ref)               # NaN == NaN for assert_array_equal
    # col2im: the NaN reaches every x entry that one of its window rows covers, and only those.
    dcols = np.ones(cols.shape)
    dcols.flat[data.draw(st.integers(0, dcols.size - 1), label="where in dcols")] = np.nan
    dx = conv.col2im(dcols, x_shape, (KH, KW), stride, padding)
    reached = conv.col2im(np.isnan(dcols).astype(np.float64), x_shape, (KH, KW), stride, padding) > 0
    np.testing.assert_array_equal(np.isnan(dx), reached)


@st.composite
def pool_cases(draw):
    N, H, W, C = draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 3))
    padding = draw(paddings)
    kh_max, kw_max = (min(H, 4), min(W, 4)) if padding == "valid" else (4, 4)
    size = draw(st.one_of(st.integers(1, min(kh_max, kw_max)),
                          st.tuples(st.integers(1, kh_max), st.integers(1, kw_max))))
    stride = draw(st.one_of(st.none(), strides))
    return (N, H, W, C), size, stride, padding


@examples(60)
@given(case=pool_cases(), kind=st.sampled_from(["max", "avg"]), dtype=dtypes, seed=seeds)
def test_pooling_forward_backward_match_tf(tf, case, kind, dtype, seed):
    x_shape, size, stride, padding = case
    r = np.random.default_rng(seed)
    # A permutation has no ties, so the max-pool gradient has exactly one right answer.
    x = (r.permutation(int(np.prod(x_shape))).reshape(x_shape) - np.prod(x_shape) / 2).astype(dtype)
    forward, backward = ((conv.max_pool2d_forward, conv.max_pool2d_backward) if kind == "max"
                         else (conv.avg_pool2d_forward, conv.avg_pool2d_backward))
    out, cache = forward(x, size, stride, padding)
    dout = _normal(r, out.shape, dtype)
    dx = backward(dout, cache)
    op = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    ksize = _pair(size)
    stride_tf = ksize if stride is None else _pair(stride)
    out_tf, (dx_tf,) = tf_value_and_grads(
        tf, lambda t: op(t, ksize=list(ksize), strides=list(stride_tf), padding=padding.upper()), [x], dout)
    assert_all_close([out, dx], [out_tf, dx_tf], [f"{kind} pool", f"{kind} pool dx"], dtype)


# --------------------------------------------------------------------------------------
# 3. rnn: steps against TF ops, sequences against Keras layers with copied weights
# --------------------------------------------------------------------------------------

rnn_dims = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4))  # N, T, D, H


def tf_rnn_step(tf, x, h, W, U, b):
    return tf.tanh(tf.matmul(x, W) + tf.matmul(h, U) + b)


def tf_lstm_step(tf, x, h, c, W, U, b):
    """Keras' LSTM cell: gate blocks i, f, c (candidate), o."""
    i, f, g, o = tf.split(tf.matmul(x, W) + tf.matmul(h, U) + b, 4, axis=1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


@examples(40)
@given(dims=rnn_dims, dtype=dtypes, seed=seeds)
def test_rnn_step_matches_tf(tf, dims, dtype, seed):
    N, _, D, H = dims
    r = np.random.default_rng(seed)
    args = [_normal(r, s, dtype, 0.7) for s in [(N, D), (N, H), (D, H), (H, H), (H,)]]
    h, cache = rnn.rnn_step_forward(*args)
    dh = _normal(r, h.shape, dtype)
    grads = rnn.rnn_step_backward(dh, cache)
    h_tf, grads_tf = tf_value_and_grads(tf, lambda *a: tf_rnn_step(tf, *a), args, dh)
    assert_all_close([h, *grads], [h_tf, *grads_tf], ["h", "dx_t", "dh_prev", "dW", "dU", "db"], dtype)


@examples(40)
@given(dims=rnn_dims, dtype=dtypes, no_dc=st.booleans(), seed=seeds)
def test_lstm_step_matches_tf(tf, dims, dtype, no_dc, seed):
    N, _, D, H = dims
    r = np.random.default_rng(seed)
    args = [_normal(r, s, dtype, 0.7) for s in [(N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)]]
    h, c, cache = rnn.lstm_step_forward(*args)
    dh, dc = _normal(r, h.shape, dtype), (np.zeros(c.shape, dtype) if no_dc else _normal(r, c.shape, dtype))
    grads = rnn.lstm_step_backward(dh, None if no_dc else dc, cache)
    hc_tf, grads_tf = tf_value_and_grads(tf, lambda *a: tf.stack(tf_lstm_step(tf, *a)), args, np.stack([dh, dc]))
    names = ["h", "c", "dx_t", "dh_prev", "dc_prev", "dW", "dU", "db"]
    assert_all_close([h, c, *grads], [hc_tf[0], hc_tf[1], *grads_tf], names, dtype)


def keras_sequence(tf, layer_cls, H, x, states, weights, upstreams, mask=None):
    """A float64 Keras layer (return_sequences, return_state for LSTM) with ``weights`` copied in:
    its outputs and the gradients of Σ upstream ⊙ output w.r.t. x, the states and the weights
    (mask: None or (N, T) bool, Keras' ``mask`` argument)."""
    lstm = layer_cls.__name__ == "LSTM"
    layer = layer_cls(H, return_sequences=True, return_state=lstm, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([np.asarray(w, np.float64) for w in weights])
    xt, st_ = tf.constant(np.asarray(x, np.float64)), [tf.constant(np.asarray(s, np.float64)) for s in states]
    upstreams = [np.asarray(u, np.float64) for u in upstreams]
    with tf.GradientTape() as tape:
        tape.watch([xt, *st_])
        outs = layer(xt, initial_state=st_ if lstm else st_[0], mask=None if mask is None else tf.constant(mask))
        outs = list(outs) if lstm else [outs]
        outs = [outs[0], outs[2]] if lstm else outs          # hs, and c_T for the LSTM
        loss = tf.add_n([tf.reduce_sum(o * u) for o, u in zip(outs, upstreams)])
    grads = tape.gradient(loss, [xt, *st_, *layer.trainable_weights], unconnected_gradients="zero")
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


@examples(25)
@given(dims=rnn_dims, zero_h0=st.booleans(), seed=seeds)
def test_rnn_forward_backward_match_keras_simplernn(tf, dims, zero_h0, seed):
    import keras

    N, T, D, H = dims
    r = np.random.default_rng(seed)
    x, h0 = _normal(r, (N, T, D)), (np.zeros((N, H)) if zero_h0 else _normal(r, (N, H)))
    W, U, b = _normal(r, (D, H), scale=0.7), _normal(r, (H, H), scale=0.7), _normal(r, H, scale=0.3)
    hs, cache = rnn.rnn_forward(x, None if zero_h0 else h0, W, U, b)
    dhs = _normal(r, hs.shape)
    grads = rnn.rnn_backward(dhs, cache)
    (hs_k,), grads_k = keras_sequence(tf, keras.layers.SimpleRNN, H, x, [h0], [W, U, b], [dhs])
    assert_all_close([hs, *grads], [hs_k, *grads_k], ["hs", "dx", "dh0", "dW", "dU", "db"])


@examples(25)
@given(dims=rnn_dims, zero_states=st.booleans(), with_dcT=st.booleans(), seed=seeds)
def test_lstm_forward_backward_match_keras_lstm(tf, dims, zero_states, with_dcT, seed):
    import keras

    N, T, D, H = dims
    r = np.random.default_rng(seed)
    x = _normal(r, (N, T, D))
    h0, c0 = (np.zeros((N, H)), np.zeros((N, H))) if zero_states else (_normal(r, (N, H)), _normal(r, (N, H)))
    W, U, b = _normal(r, (D, 4 * H), scale=0.7), _normal(r, (H, 4 * H), scale=0.7), _normal(r, 4 * H, scale=0.3)
    states = (None, None) if zero_states else (h0, c0)
    hs, cache = rnn.lstm_forward(x, *states, W, U, b)
    cT = rnn.lstm_final_cell_state(cache)
    dhs, dcT = _normal(r, hs.shape), (_normal(r, (N, H)) if with_dcT else np.zeros((N, H)))
    grads = rnn.lstm_backward(dhs, cache, dcT if with_dcT else None)
    (hs_k, cT_k), grads_k = keras_sequence(tf, keras.layers.LSTM, H, x, [h0, c0], [W, U, b], [dhs, dcT])
    assert_all_close([hs, cT, *grads], [hs_k, cT_k, *grads_k], ["hs", "c_T", "dx", "dh0", "dc0", "dW", "dU", "db"])


def tf_gru_step(tf, x, h, W, U, b):
    """Keras' GRU cell with reset_after=True: gate blocks z, r, h; b = [input bias, recurrent bias]."""
    az, ar, ah = tf.split(tf.matmul(x, W) + b[0], 3, axis=1)
    uz, ur, uh = tf.split(tf.matmul(h, U) + b[1], 3, axis=1)
    z, r = tf.sigmoid(az + uz), tf.sigmoid(ar + ur)
    return z * h + (1.0 - z) * tf.tanh(ah + r * uh)


def gru_params(r, D, H, dtype=np.float64):
    return [_normal(r, (D, 3 * H), dtype, 0.7), _normal(r, (H, 3 * H), dtype, 0.7), _normal(r, (2, 3 * H), dtype, 0.3)]


@examples(40)
@given(dims=rnn_dims, dtype=dtypes, seed=seeds)
def test_gru_step_matches_tf(tf, dims, dtype, seed):
    N, _, D, H = dims
    r = np.random.default_rng(seed)
    args = [_normal(r, (N, D), dtype), _normal(r, (N, H), dtype, 0.7), *gru_params(r, D, H, dtype)]
    h, cache = rnn.gru_step_forward(*args)
    dh = _normal(r, h.shape, dtype)
    grads = rnn.gru_step_backward(dh, cache)
    h_tf, grads_tf = tf_value_and_grads(tf, lambda *a: tf_gru_step(tf, *a), args, dh)
    assert_all_close([h, *grads], [h_tf, *grads_tf], ["h", "dx_t", "dh_prev", "dW", "dU", "db"], dtype)


@examples(15)
@given(dims=rnn_dims, dtype=dtypes, zero_h0=st.booleans(), seed=seeds)
def test_gru_forward_backward_match_keras_gru(tf, dims, dtype, zero_h0, seed):
    """Keras' default GRU (reset_after=True, b of shape (2, 3H)) with our weights copied in."""
    import keras

    N, T, D, H = dims
    r = np.random.default_rng(seed)
    x, h0 = _normal(r, (N, T, D), dtype), (np.zeros((N, H), dtype) if zero_h0 else _normal(r, (N, H), dtype))
    W, U, b = gru_params(r, D, H, dtype)
    hs, cache = rnn.gru_forward(x, None if zero_h0 else h0, W, U, b)
    dhs = _normal(r, hs.shape, dtype)
    grads = rnn.gru_backward(dhs, cache)
    (hs_k,), grads_k = keras_sequence(tf, keras.layers.GRU, H, x, [h0], [W, U, b], [dhs])
    assert_all_close([hs, *grads], [hs_k, *grads_k], ["hs", "dx", "dh0", "dW", "dU", "db"], dtype)


def rnn_params(r, D, H, dtype=np.float64):
    return [_normal(r, (D, H), dtype, 0.7), _normal(r, (H, H), dtype, 0.7), _normal(r, H, dtype, 0.3)]


def post_padding_mask(lengths, T):
    """mask[n, t] = True for the first lengths[n] steps: the real steps first, then padding."""
    return np.arange(T) < np.asarray(lengths)[:, None]


@examples(20)
@given(dims=rnn_dims, dtype=dtypes, masked=st.booleans(), data=st.data(), seed=seeds)
def test_truncated_bptt_kk_matches_tf_stop_gradient_every_k_steps(tf, dims, dtype, masked, data, seed):
    """BPTT(k, k) = autodiff of one forward pass with tf.stop_gradient on h_k, h_2k, ... (k > T: full
    BPTT); a mask (any pattern) carries the state, as tf.where does."""
    N, T, D, H = dims
    k = data.draw(st.integers(1, T + 1), label="k")
    r = np.random.default_rng(seed)
    x, h0, (W, U, b) = _normal(r, (N, T, D), dtype), _normal(r, (N, H), dtype), rnn_params(r, D, H, dtype)
    mask = r.random((N, T)) < 0.7 if masked else None
    hs, cache = rnn.rnn_forward(x, h0, W, U, b, mask)
    dhs = _normal(r, hs.shape, dtype)
    grads = rnn.rnn_backward_truncated(dhs, cache, k, k)

    def detached_every_k(x, h, W, U, b):
        out = []
        for t in range(T):
            if t and t % k == 0:
                h = tf.stop_gradient(h)                   # h_t for t = k, 2k, ...: nothing flows below
            h_new = tf_rnn_step(tf, x[:, t], h, W, U, b)
            h = h_new if mask is None else tf.where(mask[:, t, None], h_new, h)
            out.append(h)
        return tf.stack(out, axis=1)

    hs_tf, grads_tf = tf_value_and_grads(tf, detached_every_k, [x, h0, W, U, b], dhs)
    assert_all_close([hs, *grads], [hs_tf, *grads_tf], ["hs", "dx", "dh0", "dW", "dU", "db"], dtype)


@examples(25)
@given(dims=rnn_dims, dtype=dtypes, extra=st.integers(0, 3), masked=st.booleans(), seed=seeds)
def test_truncated_bptt_with_k1_equal_to_t_is_rnn_backward(dims, dtype, extra, masked, seed):
    N, T, D, H = dims
    r = np.random.default_rng(seed)
    x, h0, (W, U, b) = _normal(r, (N, T, D), dtype), _normal(r, (N, H), dtype), rnn_params(r, D, H, dtype)
    mask = r.random((N, T)) < 0.7 if masked else None
    hs, cache = rnn.rnn_forward(x, h0, W, U, b, mask)
    dhs = _normal(r, hs.shape, dtype)
    full = rnn.rnn_backward(dhs, cache)
    assert_all_close(rnn.rnn_backward_truncated(dhs, cache, T, T + extra), [g.astype(np.float64) for g in full],
                     [f"BPTT({T}, {T + extra}) {n}" for n in ["dx", "dh0", "dW", "dU", "db"]], dtype)


@examples(15)
@given(dims=rnn_dims, dtype=dtypes, data=st.data(), seed=seeds)
def test_masked_rnn_forward_backward_match_keras_simplernn(tf, dims, dtype, data, seed):
    """Post-padding (random lengths >= 1, random values in the padding), h0 = 0: Keras' mask."""
    import keras

    N, T, D, H = dims
    lengths = data.draw(st.lists(st.integers(1, T), min_size=N, max_size=N), label="lengths")
    mask = post_padding_mask(lengths, T)
    r = np.random.default_rng(seed)
    x, (W, U, b) = _normal(r, (N, T, D), dtype), rnn_params(r, D, H, dtype)
    hs, cache = rnn.rnn_forward(x, None, W, U, b, mask)
    dhs = _normal(r, hs.shape, dtype)
    grads = rnn.rnn_backward(dhs, cache)
    (hs_k,), grads_k = keras_sequence(tf, keras.layers.SimpleRNN, H, x, [np.zeros((N, H))], [W, U, b], [dhs],
                                      mask=mask)
    assert_all_close([hs, *grads], [hs_k, *grads_k], ["hs", "dx", "dh0", "dW", "dU", "db"], dtype)
    assert not np.any(grads[0][~mask]), "a padded step's input gets no gradient"


def keras_bidirectional(tf, H, x, h0_f, h0_b, weights, dout, mask=None):
    """Keras ``Bidirectional(SimpleRNN(H, return_sequences=True))`` in float64 with ``weights``
    copied in: out and the gradients of Σ dout ⊙ out w.r.t. x, h0_f, h0_b and the six weights."""
    import keras

    layer = keras.layers.Bidirectional(keras.layers.SimpleRNN(H, return_sequences=True, dtype="float64"),
                                       dtype="float64")
    layer.build(x.shape)
    layer.set_weights([np.asarray(w, np.float64) for w in weights])
    xt, ft, bt = (tf.constant(np.asarray(a, np.float64)) for a in (x, h0_f, h0_b))
    with tf.GradientTape() as tape:
        tape.watch([xt, ft, bt])
        out = layer(xt, initial_state=[ft, bt], mask=None if mask is None else tf.constant(mask))
        loss = tf.reduce_sum(out * np.asarray(dout, np.float64))
    grads = tape.gradient(loss, [xt, ft, bt, *layer.trainable_weights], unconnected_gradients="zero")
    return out.numpy(), [g.numpy() for g in grads]


@examples(12)
@given(dims=rnn_dims, dtype=dtypes, zero_h0=st.booleans(), padded=st.booleans(), data=st.data(), seed=seeds)
def test_birnn_forward_backward_match_keras_bidirectional(tf, dims, dtype, zero_h0, padded, data, seed):
    """Copied weights (forward then backward, as Bidirectional.get_weights()); padded: a post-padding
    mask, where Bidirectional returns zeros."""
    N, T, D, H = dims
    mask = None
    if padded:
        mask = post_padding_mask(data.draw(st.lists(st.integers(1, T), min_size=N, max_size=N), label="lengths"), T)
    r = np.random.default_rng(seed)
    x = _normal(r, (N, T, D), dtype)
    h0_f, h0_b = (np.zeros((N, H), dtype),) * 2 if zero_h0 else (_normal(r, (N, H), dtype), _normal(r, (N, H), dtype))
    weights = [*rnn_params(r, D, H, dtype), *rnn_params(r, D, H, dtype)]
    states = (None, None) if zero_h0 else (h0_f, h0_b)
    out, cache = rnn.birnn_forward(x, *states, *weights, mask=mask)
    dout = _normal(r, out.shape, dtype)
    grads = rnn.birnn_backward(dout, cache)
    out_k, grads_k = keras_bidirectional(tf, H, x, h0_f, h0_b, weights, dout, mask)
    names = ["out", "dx", "dh0_f", "dh0_b", "dW_f", "dU_f", "db_f", "dW_b", "dU_b", "db_b"]
    assert_all_close([out, *grads], [out_k, *grads_k], names, dtype)


@examples(25)
@given(dims=rnn_dims, scale=st.sampled_from([0.3, 1.0, 2.0]), ord_=st.sampled_from([2, "fro"]), seed=seeds)
def test_hidden_state_jacobian_norms_match_tf_jacobians(tf, dims, scale, ord_, seed):
    N, T, D, H = dims
    r = np.random.default_rng(seed)
    x, W, U, b = _normal(r, (N, T, D)), _normal(r, (D, H)), _normal(r, (H, H), scale=scale), _normal(r, H)
    hs, _ = rnn.rnn_forward(x, None, W, U, b)
    norms = rnn.hidden_state_jacobian_norms(hs, U, ord=ord_)
    ref = np.empty((N, T))
    for k in range(T):                                    # ∂h_T/∂h_{T-k}: run steps T-k+1..T in TF

        def h_last(h, k=k):
            for s in range(T - k, T):
                h = tf_rnn_step(tf, x[:, s], h, W, U, b)
            return h

        J = tf_batch_jacobian(tf, h_last, hs[:, T - 1 - k])
        ref[:, k] = np.linalg.norm(J, ord=ord_, axis=(1, 2))
    assert_close(norms, ref, f"||∂h_T/∂h_t|| ({ord_})")
    assert_close(rnn.spectral_radius(U), np.max(np.abs(tf.linalg.eigvals(U).numpy())), "spectral_radius")


@examples(40)
@given(shapes=st.lists(st.one_of(st.none(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
                       min_size=1, max_size=4),
       max_norm=st.floats(1e-3, 1e3), blow_up=st.sampled_from([None, np.inf, -np.inf, np.nan]),
       dtype=dtypes, seed=seeds)
def test_clip_by_global_norm_matches_tf_including_nan_and_inf(tf, shapes, max_norm, blow_up, dtype, seed):
    """The documented behaviour for a non-finite gradient is TensorFlow's: NaN everywhere."""
    r = np.random.default_rng(seed)
    grads = [None if s is None else _normal(r, s, dtype, scale=10.0) for s in shapes]
    arrays = [g for g in grads if g is not None and g.size]
    if blow_up is not None:
        assume(arrays)
        arrays[0].flat[0] = blow_up
    clipped, norm = rnn.clip_by_global_norm(grads, max_norm)
    clipped_tf, norm_tf = tf.clip_by_global_norm([None if g is None else tf.constant(g.astype(np.float64))
                                                  for g in grads], max_norm)
    if blow_up is None:
        assert np.isclose(norm, float(norm_tf), rtol=1e-6)
    else:
        assert not np.isfinite(norm) and not np.isfinite(float(norm_tf))
    for ours, theirs in zip(clipped, clipped_tf, strict=True):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours.dtype == dtype
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=TOL[dtype] * 10, atol=TOL[dtype] * max_norm)


# --------------------------------------------------------------------------------------
# 4. invalid shapes: a ValueError naming the function and both shapes, never anything else
# --------------------------------------------------------------------------------------

def assert_names_shapes(err, func, *shapes):
    msg = str(err.value)
    assert msg.startswith(f"{func}:"), f"the message does not start with {func!r}: {msg}"
    for s in shapes:
        assert str(tuple(s)) in msg, f"{tuple(s)} is not named in: {msg}"


small = st.integers(1, 4)


def other_than(v):
    return small.filter(lambda o: o != v)


@examples(40)
@given(N=small, D_w=small, D_out=small, which=st.sampled_from(["x", "b"]), data=st.data())
def test_dense_forward_names_both_shapes(N, D_w, D_out, which, data):
    if which == "x":
        x, W, b = np.ones((N, data.draw(other_than(D_w)))), np.ones((D_w, D_out)), np.ones(D_out)
        pair = (x.shape, W.shape)
    else:
        x, W, b = np.ones((N, D_w)), np.ones((D_w, D_out)), np.ones(data.draw(other_than(D_out)))
        pair = (b.shape, W.shape)
    with pytest.raises(ValueError) as err:
        nn.dense_forward(x, W, b)
    assert_names_shapes(err, "dense_forward", *pair)


@st.composite
def bad_conv_cases(draw):
    """A conv whose shapes disagree in one way: channels, bias, or a kernel too big for 'valid'."""
    N, H, W, C, F = (draw(st.integers(1, 6)) for _ in range(5))
    KH, KW = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    how = draw(st.sampled_from(["channels", "bias", "kernel"]))
    C_w, F_b, padding = C, F, draw(paddings)
    if how == "channels":
        C_w = draw(st.integers(1, 6).filter(lambda c: c != C))
    elif how == "bias":
        F_b = draw(st.integers(1, 6).filter(lambda f: f != F))
    else:
        padding = "valid"
        assume(KH > H or KW > W)
    return (N, H, W, C), (KH, KW, C_w, F), (F_b,), padding, how


@examples(60)
@given(case=bad_conv_cases(), naive=st.booleans())
def test_conv2d_forward_names_both_shapes(case, naive):
    x_shape, w_shape, b_shape, padding, how = case
    func = conv.conv2d_naive if naive else conv.conv2d_forward
    with pytest.raises(ValueError) as err:
        func(np.ones(x_shape), np.ones(w_shape), np.ones(b_shape), 1, padding)
    assert_names_shapes(err, func.__name__, *([b_shape, w_shape] if how == "bias" else [x_shape, w_shape]))


@examples(30)
@given(H=small, W=small, KH=st.integers(1, 6), KW=st.integers(1, 6), kind=st.sampled_from(["max", "avg"]))
def test_pooling_window_too_big_names_both_shapes(H, W, KH, KW, kind):
    assume(KH > H or KW > W)
    func = conv.max_pool2d_forward if kind == "max" else conv.avg_pool2d_forward
    with pytest.raises(ValueError) as err:
        func(np.ones((2, H, W, 1)), (KH, KW), padding="valid")
    assert_names_shapes(err, func.__name__, (2, H, W, 1), (KH, KW))
    with pytest.raises(ValueError) as err:
        conv.im2col(np.ones((2, H, W, 1)), (KH, KW))
    assert_names_shapes(err, "im2col", (2, H, W, 1), (KH, KW))


GATES = {"rnn": 1, "birnn": 1, "gru": 3, "lstm": 4}


@st.composite
def bad_rnn_cases(draw):
    """A recurrent layer whose shapes disagree in one way; the GRU's b is (2, 3H), birnn's
    arrays are those of its forward direction (x, h0_f, W_f, U_f, b_f)."""
    N, D, H = draw(small), draw(small), draw(small)
    cell = draw(st.sampled_from(sorted(GATES)))
    GH = GATES[cell] * H
    which = draw(st.sampled_from(["x", "U", "b", "h0"] + (["mask"] if cell in ("rnn", "birnn") else [])))
    shapes = {"x": (N, 3, D), "h0": (N, H), "W": (D, GH), "U": (H, GH), "b": (2, GH) if cell == "gru" else (GH,)}
    if which == "x":
        shapes["x"] = (N, 3, draw(other_than(D)))
        pair = ("x", "W")
    elif which == "U":
        shapes["U"] = (draw(other_than(H)), GH)
        pair = ("U", "W")
    elif which == "b":
        shapes["b"] = shapes["b"][:-1] + (draw(st.integers(1, 17).filter(lambda o: o != GH)),)
        pair = ("b", "W")
    elif which == "h0":
        shapes["h0"] = (N, draw(other_than(H)))
        pair = ("h0", "x")
    else:
        shapes["mask"] = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).filter(lambda m: m != (N, 3)))
        pair = ("mask", "x")
    return cell, shapes, pair


FORWARDS = {("rnn", False): "rnn_forward", ("rnn", True): "rnn_step_forward", ("lstm", False): "lstm_forward",
            ("lstm", True): "lstm_step_forward", ("gru", False): "gru_forward", ("gru", True): "gru_step_forward"}


@examples(80)
@given(case=bad_rnn_cases(), step=st.booleans())
def test_rnn_lstm_gru_and_birnn_name_both_shapes(case, step):
    cell, s, pair = case
    a = {k: np.ones(v) for k, v in s.items()}
    kwargs = {"mask": a.pop("mask")} if "mask" in a else {}
    if cell == "birnn":        # both directions get the same (valid or invalid) weights
        name = "birnn_forward"
        args = [a["x"], a["h0"], None, a["W"], a["U"], a["b"], a["W"], a["U"], a["b"]]
    else:
        step = step and not kwargs
        if step:   # the step functions call x "x_t" and h0 "h_prev", and take one time step
            a["x"] = a["x"][:, 0]
        name = FORWARDS[cell, step]
        args = [a["x"], a["h0"]] + ([None] if cell == "lstm" else []) + [a["W"], a["U"], a["b"]]
    with pytest.raises(ValueError) as err:
        getattr(rnn, name)(*args, **kwargs)
    shapes = {**a, **kwargs}
    assert_names_shapes(err, name, *(shapes[k].shape for k in pair))


@examples(40)
@given(T=st.integers(1, 6), k1=st.integers(-2, 8), k2=st.integers(-2, 8), cut=st.booleans())
def test_invalid_truncation_lengths_name_both_values(T, k1, k2, cut):
    assume(not 1 <= k1 <= k2)
    r = np.random.default_rng(0)
    _, cache = rnn.rnn_forward(r.standard_normal((2, T, 3)), None, *rnn_params(r, 3, 2))
    func = "truncation_mask" if cut else "rnn_backward_truncated"
    with pytest.raises(ValueError, match=rf"^{func}: .*k1 = {k1}, k2 = {k2}"):
        rnn.truncation_mask(T, k1, k2) if cut else rnn.rnn_backward_truncated(np.zeros((2, T, 2)), cache, k1, k2)


@examples(40)
@given(N=small, T=small, H=small, K=small, which=st.sampled_from(["hs", "c", "y", "mask"]), data=st.data())
def test_temporal_dense_and_loss_name_both_shapes(N, T, H, K, which, data):
    other_shape = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)
    if which in ("hs", "c"):
        hs = np.ones((N, T, H if which == "c" else data.draw(other_than(H), label="H'")))
        V, c = np.ones((H, K)), np.ones(K if which == "hs" else data.draw(other_than(K), label="K'"))
        with pytest.raises(ValueError) as err:
            rnn.temporal_dense_forward(hs, V, c)
        assert_names_shapes(err, "temporal_dense_forward", (hs if which == "hs" else c).shape, V.shape)
        return
    logits = np.zeros((N, T, K))
    bad = data.draw(other_shape.filter(lambda s: s != (N, T)), label=which)
    y, mask = (np.zeros(bad, dtype=int), None) if which == "y" else (np.zeros((N, T), dtype=int), np.ones(bad, bool))
    with pytest.raises(ValueError) as err:
        rnn.temporal_softmax_cross_entropy(logits, y, mask)
    assert_names_shapes(err, "temporal_softmax_cross_entropy", bad, logits.shape)


@examples(40)
@given(loss=st.sampled_from(["binary_cross_entropy_with_logits", "mean_squared_error",
                             "softmax_cross_entropy_with_logits"]), data=st.data())
def test_losses_name_both_shapes(loss, data):
    shapes = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
    if loss == "softmax_cross_entropy_with_logits":   # logits (N, K), labels (N,)
        logits_shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=4), label="logits")
        y_shape = data.draw(shapes.filter(lambda s: s != logits_shape[:1]), label="y")
    else:                                             # y of the logits' shape, or (N,) for (N, 1)
        logits_shape = data.draw(shapes, label="logits")
        allowed = [logits_shape] + ([logits_shape[:1]] if logits_shape[1:] == (1,) else [])
        y_shape = data.draw(shapes.filter(lambda s: s not in allowed), label="y")
    y = np.zeros(y_shape, dtype=np.int64 if loss.startswith("softmax") else np.float64)
    with pytest.raises(ValueError) as err:
        getattr(nn, loss)(np.zeros(logits_shape), y)
    assert_names_shapes(err, loss, logits_shape, y_shape)


def _forward_caches():
    """(name, backward function, cache, output shape, the name of its upstream argument)."""
    r = np.random.default_rng(0)
    z = _normal(r, (3, 2))
    out = {}
    _, c = nn.dense_forward(r.standard_normal((3, 4)), r.standard_normal((4, 2)), np.zeros(2))
    out["dense_backward"] = (lambda d: nn.dense_backward(d, c), (3, 2))
    _, c1 = nn.activation_forward(z, "softmax")
    out["activation_backward"] = (lambda d: nn.activation_backward(d, c1), (3, 2))
    x4 = r.standard_normal((2, 5, 5, 3))
    _, c2 = conv.conv2d_forward(x4, r.standard_normal((3, 3, 3, 4)), np.zeros(4), 1, "same")
    out["conv2d_backward"] = (lambda d: conv.conv2d_backward(d, c2), (2, 5, 5, 4))
    _, c3 = conv.max_pool2d_forward(x4, 2)
    out["max_pool2d_backward"] = (lambda d: conv.max_pool2d_backward(d, c3), (2, 2, 2, 3))
    _, c4 = conv.avg_pool2d_forward(x4, 2, 1, "same")
    out["avg_pool2d_backward"] = (lambda d: conv.avg_pool2d_backward(d, c4), (2, 5, 5, 3))
    out["conv2d_backward_naive"] = (
        lambda d: conv.conv2d_backward_naive(d, x4, np.ones((3, 3, 3, 4)), 1, "same"), (2, 5, 5, 4))
    W, U, b = r.standard_normal((3, 2)), r.standard_normal((2, 2)), np.zeros(2)
    _, c5 = rnn.rnn_step_forward(r.standard_normal((4, 3)), None, W, U, b)
    out["rnn_step_backward"] = (lambda d: rnn.rnn_step_backward(d, c5), (4, 2))
    _, c6 = rnn.rnn_forward(r.standard_normal((4, 5, 3)), None, W, U, b)
    out["rnn_backward"] = (lambda d: rnn.rnn_backward(d, c6), (4, 5, 2))
    W4, U4, b4 = r.standard_normal((3, 8)), r.standard_normal((2, 8)), np.zeros(8)
    _, _, c7 = rnn.lstm_step_forward(r.standard_normal((4, 3)), None, None, W4, U4, b4)
    out["lstm_step_backward"] = (lambda d: rnn.lstm_step_backward(d, None, c7), (4, 2))
    _, c8 = rnn.lstm_forward(r.standard_normal((4, 5, 3)), None, None, W4, U4, b4)
    out["lstm_backward"] = (lambda d: rnn.lstm_backward(d, c8), (4, 5, 2))
    mask = r.random((4, 5)) < 0.5
    _, c9 = rnn.rnn_forward(r.standard_normal((4, 5, 3)), None, W, U, b, mask)
    out["rnn_backward_truncated"] = (lambda d: rnn.rnn_backward_truncated(d, c9, 2, 3), (4, 5, 2))
    _, c10 = rnn.birnn_forward(r.standard_normal((4, 5, 3)), None, None, W, U, b, W, U, b, mask=mask)
    out["birnn_backward"] = (lambda d: rnn.birnn_backward(d, c10), (4, 5, 4))
    W3, U3, b3 = r.standard_normal((3, 6)), r.standard_normal((2, 6)), np.zeros((2, 6))
    _, c11 = rnn.gru_step_forward(r.standard_normal((4, 3)), None, W3, U3, b3)
    out["gru_step_backward"] = (lambda d: rnn.gru_step_backward(d, c11), (4, 2))
    _, c12 = rnn.gru_forward(r.standard_normal((4, 5, 3)), None, W3, U3, b3)
    out["gru_backward"] = (lambda d: rnn.gru_backward(d, c12), (4, 5, 2))
    _, c13 = rnn.temporal_dense_forward(r.standard_normal((4, 5, 2)), r.standard_normal((2, 3)), np.zeros(3))
    out["temporal_dense_backward"] = (lambda d: rnn.temporal_dense_backward(d, c13), (4, 5, 3))
    return out


BACKWARD = _forward_caches()


@examples(120)
@given(name=st.sampled_from(sorted(BACKWARD)), shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6))
def test_backward_with_a_wrong_upstream_shape_names_both_shapes(name, shape):
    backward, expected = BACKWARD[name]
    assume(shape != expected)
    with pytest.raises(ValueError) as err:
        backward(np.ones(shape))
    assert_names_shapes(err, name, shape, expected)


# Every array argument of these functions gets an arbitrary shape (0 to 5 axes, empty axes too).
FUZZ = {
    "dense_forward": (nn.dense_forward, 3),
    "activation_forward": (lambda z: nn.activation_forward(z, "softmax"), 1),
    "softmax": (nn.softmax, 1),
    "softmax_jacobian": (nn.softmax_jacobian, 1),
    "binary_cross_entropy_with_logits": (nn.binary_cross_entropy_with_logits, 2),
    "mean_squared_error": (nn.mean_squared_error, 2),
    "softmax_cross_entropy_with_logits": (lambda z, y: nn.softmax_cross_entropy_with_logits(z, y.astype(int)), 2),
    "conv2d_forward": (lambda x, w, b: conv.conv2d_forward(x, w, b, 2, "same"), 3),
    "conv2d_naive": (lambda x, w, b: conv.conv2d_naive(x, w, b, 1, "valid"), 3),
    "max_pool2d_forward": (lambda x: conv.max_pool2d_forward(x, 2), 1),
    "avg_pool2d_forward": (lambda x: conv.avg_pool2d_forward(x, (2, 3), 1, "same"), 1),
    "im2col": (lambda x: conv.im2col(x, 2), 1),
    "col2im": (lambda d: conv.col2im(d, (1, 3, 3, 1), 2), 1),
    "rnn_step_forward": (rnn.rnn_step_forward, 5),
    "rnn_forward": (rnn.rnn_forward, 5),
    "lstm_step_forward": (rnn.lstm_step_forward, 6),
    "lstm_forward": (rnn.lstm_forward, 6),
    "gru_step_forward": (rnn.gru_step_forward, 5),
    "gru_forward": (rnn.gru_forward, 5),
    "birnn_forward": (rnn.birnn_forward, 10),                       # with a mask (zeros: all padding)
    "temporal_dense_forward": (rnn.temporal_dense_forward, 3),
    "temporal_softmax_cross_entropy": (rnn.temporal_softmax_cross_entropy, 3),
    "hidden_state_jacobian_norms": (rnn.hidden_state_jacobian_norms, 2),
    "spectral_radius": (rnn.spectral_radius, 1),
}


@examples(200)
@given(name=st.sampled_from(sorted(FUZZ)), data=st.data())
def test_any_shapes_give_a_result_or_a_valueerror_naming_a_shape(name, data):
    func, n_args = FUZZ[name]
    shapes = [data.draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4), label=f"arg {k}")
              for k in range(n_args)]
    try:
        func(*(np.zeros(s) for s in shapes))
    except ValueError as err:
        msg = str(err)
        assert msg.startswith(f"{name}:"), f"a ValueError that does not name {name}: {msg}"
        assert any(str(tuple(s)) in msg for s in shapes), f"no argument's shape in: {msg}"
    # Any other exception type fails the test: hypothesis reports it with the shapes.


# --------------------------------------------------------------------------------------
# 5. NaN and inf: refused with check_finite's message, naming the function and the argument
# --------------------------------------------------------------------------------------

def _nan_cases():
    """(function name in the message, argument name, call(**kwargs), valid kwargs)."""
    r = np.random.default_rng(0)

    def n(*shape):
        return r.standard_normal(shape)

    cases = [(f, "z", getattr(nn, f), {"z": n(3, 2)}) for f in (
        "sigmoid", "sigmoid_derivative", "tanh", "tanh_derivative", "relu", "relu_derivative", "linear",
        "linear_derivative", "softmax", "softmax_jacobian")]
    cases.append(("activation_forward", "z", lambda z: nn.activation_forward(z, "tanh"), {"z": n(3, 2)}))
    _, act_cache = nn.activation_forward(n(3, 2), "softmax")
    cases.append(("activation_backward", "da", lambda da: nn.activation_backward(da, act_cache), {"da": n(3, 2)}))
    dense = {"x": n(4, 3), "W": n(3, 2), "b": n(2)}
    cases += [("dense_forward", k, nn.dense_forward, dense) for k in dense]
    _, dense_cache = nn.dense_forward(**dense)
    cases.append(("dense_backward", "dz", lambda dz: nn.dense_backward(dz, dense_cache), {"dz": n(4, 2)}))
    bce = {"logits": n(4, 1), "y": np.array([[0.0], [1.0], [1.0], [0.0]])}
    cases += [("binary_cross_entropy_with_logits", k, nn.binary_cross_entropy_with_logits, bce) for k in bce]
    sce = {"logits": n(4, 3), "y": np.array([0.0, 2.0, 1.0, 1.0])}   # float labels: whole numbers
    cases += [("softmax_cross_entropy_with_logits", k, nn.softmax_cross_entropy_with_logits, sce) for k in sce]
    mse = {"y_pred": n(4, 2), "y": n(4, 2)}
    cases += [("mean_squared_error", k, nn.mean_squared_error, mse) for k in mse]
    mlp = nn.MLP([3, 4, 1], seed=0)
    cases.append(("MLP.forward", "x", mlp.forward, {"x": n(5, 3)}))
    _, mlp_cache = mlp.forward(n(5, 3))
    cases.append(("MLP.backward", "delta_L", lambda delta_L: mlp.backward(delta_L, mlp_cache), {"delta_L": n(5, 1)}))
    weights = dict(zip(mlp.params, mlp.get_weights()))
    cases += [("MLP.set_weights", k, lambda **w: mlp.set_weights(list(w.values())), weights) for k in weights]
    for opt in ("SGD", "Adam"):
        cases.append((f"{opt}.step", "grads['W1']",
                      lambda g, opt=opt: getattr(nn, opt)().step({"W1": np.zeros((3, 2))}, {"W1": g}),
                      {"g": n(3, 2)}))

    x4, w4, b4 = n(2, 5, 5, 3), n(3, 3, 3, 4), n(4)
    for f in ("conv2d_forward", "conv2d_naive"):
        cases += [(f, k, lambda f=f, **a: getattr(conv, f)(a["x"], a["w"], a["b"], 1, "same"),
                   {"x": x4, "w": w4, "b": b4}) for k in ("x", "w", "b")]
    _, conv_cache = conv.conv2d_forward(x4, w4, b4, 2, "same")
    cases.append(("conv2d_backward", "dout", lambda dout: conv.conv2d_backward(dout, conv_cache),
                  {"dout": n(2, 3, 3, 4)}))
    cases += [("conv2d_backward_naive", k, lambda **a: conv.conv2d_backward_naive(a["dout"], a["x"], a["w"], 2, "same"),
               {"dout": n(2, 3, 3, 4), "x": x4, "w": w4}) for k in ("dout", "x", "w")]
    for kind in ("max", "avg"):
        fwd, bwd = getattr(conv, f"{kind}_pool2d_forward"), getattr(conv, f"{kind}_pool2d_backward")
        cases.append((fwd.__name__, "x", lambda x, fwd=fwd: fwd(x, 2, 1, "same"), {"x": x4}))
        _, pool_cache = fwd(x4, 2)
        cases.append((bwd.__name__, "dout", lambda dout, bwd=bwd, c=pool_cache: bwd(dout, c), {"dout": n(2, 2, 2, 3)}))

    W, U, b, W4, U4, b4 = n(3, 2), n(2, 2), n(2), n(3, 8), n(2, 8), n(8)
    step = {"x_t": n(4, 3), "h_prev": n(4, 2), "W": W, "U": U, "b": b}
    cases += [("rnn_step_forward", k, rnn.rnn_step_forward, step) for k in step]
    _, c = rnn.rnn_step_forward(**step)
    cases.append(("rnn_step_backward", "dh", lambda dh: rnn.rnn_step_backward(dh, c), {"dh": n(4, 2)}))
    seq = {"x": n(4, 5, 3), "h0": n(4, 2), "W": W, "U": U, "b": b}
    cases += [("rnn_forward", k, rnn.rnn_forward, seq) for k in seq]
    hs, c_seq = rnn.rnn_forward(**seq)
    cases.append(("rnn_backward", "dhs", lambda dhs: rnn.rnn_backward(dhs, c_seq), {"dhs": n(4, 5, 2)}))
    lstep = {"x_t": n(4, 3), "h_prev": n(4, 2), "c_prev": n(4, 2), "W": W4, "U": U4, "b": b4}
    cases += [("lstm_step_forward", k, rnn.lstm_step_forward, lstep) for k in lstep]
    _, _, c_l = rnn.lstm_step_forward(**lstep)
    cases += [("lstm_step_backward", k, lambda dh, dc: rnn.lstm_step_backward(dh, dc, c_l),
               {"dh": n(4, 2), "dc": n(4, 2)}) for k in ("dh", "dc")]
    lseq = {"x": n(4, 5, 3), "h0": n(4, 2), "c0": n(4, 2), "W": W4, "U": U4, "b": b4}
    cases += [("lstm_forward", k, rnn.lstm_forward, lseq) for k in lseq]
    _, c_lseq = rnn.lstm_forward(**lseq)
    cases += [("lstm_backward", k, lambda dhs, dcT: rnn.lstm_backward(dhs, c_lseq, dcT),
               {"dhs": n(4, 5, 2), "dcT": n(4, 2)}) for k in ("dhs", "dcT")]
    cases += [("hidden_state_jacobian_norms", k, rnn.hidden_state_jacobian_norms, {"hs": hs, "U": U})
              for k in ("hs", "U")]
    cases.append(("spectral_radius", "U", rnn.spectral_radius, {"U": U}))
    cases.append(("rnn_backward_truncated", "dhs", lambda dhs: rnn.rnn_backward_truncated(dhs, c_seq, 2, 3),
                  {"dhs": n(4, 5, 2)}))
    bi = {"x": n(4, 5, 3), "h0_f": n(4, 2), "h0_b": n(4, 2), "W_f": W, "U_f": U, "b_f": b, "W_b": W, "U_b": U, "b_b": b}
    cases += [("birnn_forward", k, rnn.birnn_forward, bi) for k in bi]
    _, c_bi = rnn.birnn_forward(**bi)
    cases.append(("birnn_backward", "dout", lambda dout: rnn.birnn_backward(dout, c_bi), {"dout": n(4, 5, 4)}))
    W3, U3, b3 = n(3, 6), n(2, 6), n(2, 6)
    gstep = {"x_t": n(4, 3), "h_prev": n(4, 2), "W": W3, "U": U3, "b": b3}
    cases += [("gru_step_forward", k, rnn.gru_step_forward, gstep) for k in gstep]
    _, c_g = rnn.gru_step_forward(**gstep)
    cases.append(("gru_step_backward", "dh", lambda dh: rnn.gru_step_backward(dh, c_g), {"dh": n(4, 2)}))
    gseq = {"x": n(4, 5, 3), "h0": n(4, 2), "W": W3, "U": U3, "b": b3}
    cases += [("gru_forward", k, rnn.gru_forward, gseq) for k in gseq]
    _, c_gseq = rnn.gru_forward(**gseq)
    cases.append(("gru_backward", "dhs", lambda dhs: rnn.gru_backward(dhs, c_gseq), {"dhs": n(4, 5, 2)}))
    td = {"hs": hs, "V": n(2, 3), "c": n(3)}
    cases += [("temporal_dense_forward", k, rnn.temporal_dense_forward, td) for k in td]
    _, c_td = rnn.temporal_dense_forward(**td)
    cases.append(("temporal_dense_backward", "dy", lambda dy: rnn.temporal_dense_backward(dy, c_td),
                  {"dy": n(4, 5, 3)}))
    tce = {"logits": n(4, 5, 3), "y": r.integers(0, 3, (4, 5)).astype(float)}   # float labels: whole numbers
    cases += [("temporal_softmax_cross_entropy", k, rnn.temporal_softmax_cross_entropy, tce) for k in tce]
    return cases


NAN_CASES = _nan_cases()


@pytest.mark.parametrize("func, arg, call, kwargs", NAN_CASES, ids=[f"{c[0]}-{c[1]}" for c in NAN_CASES])
@examples(4)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), data=st.data())
def test_nan_and_inf_are_refused_naming_function_and_argument(func, arg, call, kwargs, bad, data):
    key = "g" if arg.startswith("grads[") else arg
    kwargs = {k: v.copy() for k, v in kwargs.items()}        # the valid inputs stay valid
    call(**kwargs)                                           # the valid call succeeds
    poisoned = kwargs[key]
    poisoned.flat[data.draw(st.integers(0, poisoned.size - 1), label="where")] = bad
    with pytest.raises(ValueError, match=rf"^{re.escape(func)}: {re.escape(arg)} contains 1 NaN or inf value"):
        call(**kwargs)


def test_optimizer_step_with_a_nan_gradient_changes_no_parameter():
    """All or nothing: the gradients are checked before the first parameter moves."""
    for opt in (nn.SGD(0.1, momentum=0.5), nn.Adam()):
        params = {"W1": np.ones((2, 2)), "b1": np.ones(2)}
        with pytest.raises(ValueError, match=r"grads\['b1'\] contains 1 NaN"):
            opt.step(params, {"W1": np.ones((2, 2)), "b1": np.array([1.0, np.nan])})
        np.testing.assert_array_equal(params["W1"], np.ones((2, 2)))
