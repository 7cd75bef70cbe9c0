"""Tests for helpers.nn: activations, the dense layer, losses, the MLP, SGD and Adam.

Every gradient is checked twice, in float64: against centred differences
(helpers.gradcheck, rel_error < 1e-7) and against TensorFlow autodiff (``tf.GradientTape`` on
the same computation written with TF ops, rel_error < 1e-9). A reference that is all zeros
is refused, so that two zero arrays can never pass as "equal". Stability tests run under
``np.errstate(all="raise")`` with warnings turned into errors.
"""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np
import pytest

from helpers import nn
from helpers.gradcheck import (
    gradient_check,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)

NUM_TOL = 1e-7   # analytic vs centred differences (float64)
TF_TOL = 1e-9    # analytic vs tf.GradientTape (float64)
ELEMENTWISE = ["sigmoid", "tanh", "relu", "linear"]
SHAPES_2D = [(1, 1), (4, 3), (5, 1), (1, 6)]          # (N, D): N = 1 and D = 1 included
EXTREME = np.array([-1e3, -710.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 710.0, 1e3])


def _assert_close(ours, ref, what, tol):
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs reference {ref.shape}"
    assert np.any(ref != 0), f"{what}: the reference is all zeros, the comparison would be vacuous"
    err = rel_error(ours, ref)
    assert err < tol, f"{what}: rel_error {err:.2e} >= {tol:.0e}"


@contextlib.contextmanager
def _strict():
    """Any floating-point overflow, invalid operation, division by zero or underflow raises
    (FloatingPointError), and so does any warning."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _away_from_zero(rng, shape, margin=0.1):
    """Normal values pushed at least ``margin`` away from 0 (ReLU's kink; centred
    differences, with steps up to h = 1e-3, must not straddle it). The first entry is positive and, when
    there are two or more, the last negative, so both sides of ReLU are always exercised."""
    z = np.sign(rng.normal(size=shape)) * (margin + np.abs(rng.normal(size=shape)))
    z.flat[0] = abs(z.flat[0])
    if z.size > 1:
        z.flat[-1] = -abs(z.flat[-1])
    return z


def _tf_act(tf, name):
    return {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "relu": tf.nn.relu, "linear": tf.identity,
            "softmax": tf.nn.softmax}[name]


def _tape(tf, fn, *arrays):
    """fn(*tensors) -> scalar; returns (value, [∂value/∂array]) with TF autodiff in float64."""
    ts = [tf.constant(a, dtype=tf.float64) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        out = fn(*ts)
    return out.numpy(), [g.numpy() for g in tape.gradient(out, ts)]


# --------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", SHAPES_2D)
def test_elementwise_activation_gradients_numerical_and_tf(tf, rng, name, shape):
    f, fprime = nn.ACTIVATIONS[name]
    z = _away_from_zero(rng, shape)
    da = rng.normal(size=shape)
    a, cache = nn.activation_forward(z, name)
    dz = nn.activation_backward(da, cache)
    np.testing.assert_array_equal(a, f(z))
    np.testing.assert_array_equal(dz, da * fprime(z))                      # dz = da ⊙ f'(z)
    _assert_close(dz, numerical_gradient_array(lambda t: f(t), z.copy(), da), f"{name} vs numerical", NUM_TOL)
    _, (dz_tf,) = _tape(tf, lambda t: tf.reduce_sum(_tf_act(tf, name)(t) * da), z)
    _assert_close(a, _tf_act(tf, name)(tf.constant(z)).numpy(), f"{name} forward vs TF", TF_TOL)
    _assert_close(dz, dz_tf, f"{name} backward vs GradientTape", TF_TOL)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_tf_on_a_grid_including_zero(tf, name):
    z = np.linspace(-8, 8, 33)                       # holds 0.0 exactly: relu'(0) is 0 in both
    _, (g,) = _tape(tf, lambda t: tf.reduce_sum(_tf_act(tf, name)(t)), z)
    fprime = nn.ACTIVATIONS[name][1](z)
    _assert_close(fprime, g, f"{name}' vs GradientTape", TF_TOL)
    if name == "relu":
        assert fprime[z == 0.0] == [0.0], "relu'(0) must be 0, as in TensorFlow"
        np.testing.assert_array_equal(fprime, (z > 0).astype(float))


@pytest.mark.parametrize("shape", [(1, 2), (4, 3), (2, 7), (3, 2)])
def test_softmax_gradients_numerical_and_tf(tf, rng, shape):
    z = rng.normal(scale=2.0, size=shape)
    da = rng.normal(size=shape)
    s, cache = nn.activation_forward(z, "softmax")
    dz = nn.activation_backward(da, cache)
    _assert_close(s, tf.nn.softmax(tf.constant(z)).numpy(), "softmax vs tf.nn.softmax", TF_TOL)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-15)
    _assert_close(dz, numerical_gradient_array(nn.softmax, z.copy(), da), "softmax backward vs numerical", NUM_TOL)
    _, (dz_tf,) = _tape(tf, lambda t: tf.reduce_sum(tf.nn.softmax(t) * da), z)
    _assert_close(dz, dz_tf, "softmax backward vs GradientTape", TF_TOL)


@pytest.mark.parametrize("shape", [(1, 2), (3, 4)])
def test_softmax_jacobian_matches_tf_batch_jacobian(tf, rng, shape):
    z = rng.normal(size=shape)
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        s = tf.nn.softmax(zt)
    J_tf = tape.batch_jacobian(s, zt).numpy()
    J = nn.softmax_jacobian(z)
    _assert_close(J, J_tf, "softmax_jacobian vs batch_jacobian", TF_TOL)
    np.testing.assert_allclose(J, np.swapaxes(J, -1, -2), rtol=0, atol=0)        # symmetric
    np.testing.assert_allclose(J.sum(axis=-1), 0.0, atol=1e-15)                   # rows sum to 0
    # and the backward pass is the Jacobian product da J
    da = rng.normal(size=shape)
    _, cache = nn.activation_forward(z, "softmax")
    np.testing.assert_allclose(nn.activation_backward(da, cache), np.einsum("nk,nkj->nj", da, J), rtol=1e-12)


def test_softmax_of_a_single_class_is_one_with_zero_gradient(rng):
    z = rng.normal(size=(3, 1))
    s, cache = nn.activation_forward(z, "softmax")
    np.testing.assert_array_equal(s, np.ones((3, 1)))
    np.testing.assert_array_equal(nn.activation_backward(rng.normal(size=(3, 1)), cache), np.zeros((3, 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func", [nn.sigmoid, nn.sigmoid_derivative, nn.tanh, nn.tanh_derivative, nn.relu,
                                  nn.relu_derivative, nn.linear, nn.linear_derivative, nn.softmax])
def test_activations_are_stable_at_extreme_inputs(func, dtype):
    z = EXTREME.astype(dtype)
    with _strict():
        out = func(z)
        out2 = func(z.reshape(-1, 1))
    assert out.dtype == dtype and out2.dtype == dtype
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(out2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_limits_are_exact_at_extremes(dtype):
    z = np.array([-1e3, 1e3], dtype=dtype)
    with _strict():
        np.testing.assert_array_equal(nn.sigmoid(z), [0.0, 1.0])
        np.testing.assert_array_equal(nn.sigmoid_derivative(z), [0.0, 0.0])
        np.testing.assert_array_equal(nn.tanh(z), [-1.0, 1.0])
        np.testing.assert_array_equal(nn.tanh_derivative(z), [0.0, 0.0])
        np.testing.assert_array_equal(nn.softmax(np.array([[1e3, 0.0, -1e3]], dtype=dtype)), [[1.0, 0.0, 0.0]])
        _, cache = nn.activation_forward(np.array([[1e3, -1e3]], dtype=dtype), "softmax")
        dz = nn.activation_backward(np.ones((1, 2), dtype=dtype), cache)
        np.testing.assert_array_equal(dz, [[0.0, 0.0]])
        _, cache = nn.activation_forward(z, "sigmoid")
        np.testing.assert_array_equal(nn.activation_backward(np.ones(2, dtype=dtype), cache), [0.0, 0.0])


def test_sigmoid_is_accurate_in_the_tails():
    # 1 − σ(z) or 0.5·(1 + tanh(z/2)) would lose every digit here; the e^{-|z|} form keeps them
    z = np.array([-30.0, -40.0, 40.0, 700.0])
    exact_sigmoid = np.array([1 / (1 + np.exp(30.0)), 1 / (1 + np.exp(40.0)), 1.0, 1.0])
    _assert_close(nn.sigmoid(z), exact_sigmoid, "σ in the tails", 1e-15)
    exact_deriv = np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))) ** 2
    _assert_close(nn.sigmoid_derivative(z), exact_deriv, "σ' in the tails", 1e-15)
    assert nn.sigmoid_derivative(np.array([40.0]))[0] > 0


def test_softmax_is_shift_invariant_and_does_not_overflow(rng):
    z = rng.normal(size=(4, 5))
    with _strict():
        shifted = nn.softmax(z + 1000.0)
        low = nn.softmax(z - 1000.0)
    _assert_close(shifted, nn.softmax(z), "softmax(z + 1000)", 1e-12)
    _assert_close(low, nn.softmax(z), "softmax(z − 1000)", 1e-12)


@pytest.mark.parametrize("name", [*ELEMENTWISE, "softmax"])
def test_activation_pair_keeps_float32(rng, name):
    z = rng.normal(size=(3, 4)).astype(np.float32)
    a, cache = nn.activation_forward(z, name)
    dz = nn.activation_backward(np.ones_like(z), cache)
    assert a.dtype == np.float32 and dz.dtype == np.float32
    a64, _ = nn.activation_forward(z.astype(np.float64), name)
    assert a64.dtype == np.float64
    np.testing.assert_allclose(a, a64, rtol=1e-6, atol=1e-7)


def test_activation_validation_errors(rng):
    with pytest.raises(ValueError, match=r"unknown activation 'swish'"):
        nn.activation_forward(np.zeros((2, 2)), "swish")
    with pytest.raises(ValueError, match=r"sigmoid: z contains 1 NaN"):
        nn.sigmoid(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"float32 or float64, got dtype float16"):
        nn.relu(np.zeros(3, dtype=np.float16))
    _, cache = nn.activation_forward(np.zeros((2, 3)), "tanh")
    with pytest.raises(ValueError, match=r"forward output a \(2, 3\), got da \(3, 2\)"):
        nn.activation_backward(np.zeros((3, 2)), cache)
    with pytest.raises(ValueError, match=r"cache returned by activation_forward"):
        nn.activation_backward(np.zeros((2, 3)), (np.zeros((2, 3)),))


# --------------------------------------------------------------------------------------
# the dense layer
# --------------------------------------------------------------------------------------

DENSE_SHAPES = [(4, 3, 2), (1, 5, 3), (6, 1, 4), (3, 4, 1), (1, 1, 1)]   # (N, D_in, D_out)


@pytest.mark.parametrize("N,D_in,D_out", DENSE_SHAPES)
def test_dense_forward_is_the_neuron_formula(rng, N, D_in, D_out):
    x, W, b = rng.normal(size=(N, D_in)), rng.normal(size=(D_in, D_out)), rng.normal(size=D_out)
    z, _ = nn.dense_forward(x, W, b)
    # z_j = Σ_i w_ij x_i + b_j, one example and one unit at a time
    loop = np.array([[sum(W[i, j] * x[n, i] for i in range(D_in)) + b[j] for j in range(D_out)]
                     for n in range(N)])
    _assert_close(z, loop, "dense_forward vs z_j = Σ_i w_ij x_i + b_j", 1e-12)


@pytest.mark.parametrize("N,D_in,D_out", DENSE_SHAPES)
def test_dense_backward_numerical_and_tf(tf, rng, N, D_in, D_out):
    x, W, b = rng.normal(size=(N, D_in)), rng.normal(size=(D_in, D_out)), rng.normal(size=D_out)
    dz = rng.normal(size=(N, D_out))
    z, cache = nn.dense_forward(x, W, b)
    dx, dW, db = nn.dense_backward(dz, cache)
    num = [numerical_gradient_array(lambda _: nn.dense_forward(x, W, b)[0], p, dz) for p in (x, W, b)]
    for ours, ref, name in zip((dx, dW, db), num, ("dx", "dW", "db"), strict=True):
        _assert_close(ours, ref, f"dense_backward {name} vs numerical", NUM_TOL)
    _, grads_tf = _tape(tf, lambda xt, Wt, bt: tf.reduce_sum((tf.matmul(xt, Wt) + bt) * dz), x, W, b)
    _assert_close(z, (tf.matmul(x, W) + b).numpy(), "dense_forward vs tf.matmul", TF_TOL)
    for ours, ref, name in zip((dx, dW, db), grads_tf, ("dx", "dW", "db"), strict=True):
        _assert_close(ours, ref, f"dense_backward {name} vs GradientTape", TF_TOL)


def test_dense_keeps_float32_and_promotes_mixed_inputs(rng):
    x, W, b = (rng.normal(size=s).astype(np.float32) for s in [(3, 4), (4, 2), (2,)])
    z, cache = nn.dense_forward(x, W, b)
    grads = nn.dense_backward(np.ones_like(z), cache)
    assert z.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    z64, cache64 = nn.dense_forward(x.astype(np.float64), W, b)
    assert z64.dtype == np.float64
    assert all(g.dtype == np.float64 for g in nn.dense_backward(np.ones_like(z64), cache64))
    assert nn.dense_backward(np.ones_like(z, dtype=np.float64), cache)[1].dtype == np.float64


def test_dense_bad_shapes_name_both_shapes():
    x, W, b = np.zeros((8, 3)), np.zeros((4, 2)), np.zeros(2)
    with pytest.raises(ValueError, match=r"dense_forward: x has 3 features but W expects 4 \(x \(8, 3\), W \(4, 2\)\)"):
        nn.dense_forward(x, W, b)
    with pytest.raises(ValueError, match=r"dense_forward: b must have shape \(D_out,\) = \(2,\)"
                                         r".*got b \(3,\) \(W \(4, 2\)\)"):
        nn.dense_forward(np.zeros((8, 4)), W, np.zeros(3))
    with pytest.raises(ValueError, match=r"b \(1, 2\) \(W \(4, 2\)\)"):
        nn.dense_forward(np.zeros((8, 4)), W, np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D_in\), got x \(4,\) \(W \(4, 2\)\).*x\[None, :\]"):
        nn.dense_forward(np.zeros(4), W, b)
    with pytest.raises(ValueError, match=r"W must be 2-D, got shape \(4,\)"):
        nn.dense_forward(np.zeros((8, 4)), np.zeros(4), b)
    _, cache = nn.dense_forward(np.zeros((8, 4)), W, b)
    with pytest.raises(ValueError, match=r"dense_backward: dz must have the shape of the forward output "
                                         r"z \(8, 2\), got dz \(8, 3\)"):
        nn.dense_backward(np.zeros((8, 3)), cache)
    with pytest.raises(ValueError, match=r"cache returned by dense_forward"):
        nn.dense_backward(np.zeros((8, 2)), (np.zeros((8, 4)), W, b))
    W_nan = np.zeros((4, 2))
    W_nan[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"dense_forward: W contains 1 NaN or inf value\(s\) \(shape \(4, 2\)\)"):
        nn.dense_forward(np.zeros((8, 4)), W_nan, b)


# --------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (6,), (1,), (4, 3)])
def test_binary_cross_entropy_numerical_and_tf(tf, rng, shape):
    z = rng.normal(scale=2.0, size=shape)
    y = (rng.random(shape) < 0.5).astype(np.float64)
    loss, dz = nn.binary_cross_entropy_with_logits(z, y)
    # the textbook formula, fine for moderate logits
    p = 1 / (1 + np.exp(-z))
    _assert_close(loss, -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), "BCE vs textbook formula", 1e-12)
    _assert_close(dz, numerical_gradient(lambda t: nn.binary_cross_entropy_with_logits(t, y)[0], z.copy()),
                  "BCE dlogits vs numerical", NUM_TOL)
    loss_tf, (dz_tf,) = _tape(tf, lambda t: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.constant(y), logits=t)), z)
    _assert_close(loss, loss_tf, "BCE vs tf.nn.sigmoid_cross_entropy_with_logits", TF_TOL)
    _assert_close(dz, dz_tf, "BCE dlogits vs GradientTape", TF_TOL)


def test_binary_cross_entropy_with_soft_labels_matches_tf(tf, rng):
    z, y = rng.normal(size=(5, 2)), rng.random((5, 2))
    loss, dz = nn.binary_cross_entropy_with_logits(z, y)
    loss_tf, (dz_tf,) = _tape(tf, lambda t: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.constant(y), logits=t)), z)
    _assert_close(loss, loss_tf, "soft-label BCE", TF_TOL)
    _assert_close(dz, dz_tf, "soft-label BCE dlogits", TF_TOL)


def test_binary_cross_entropy_label_vector_is_not_broadcast(rng):
    z = rng.normal(size=(5, 1))
    y = np.array([0, 1, 1, 0, 1])
    loss_vec, dz_vec = nn.binary_cross_entropy_with_logits(z, y)          # y (N,) with logits (N, 1)
    loss_col, dz_col = nn.binary_cross_entropy_with_logits(z, y[:, None])
    assert loss_vec == loss_col and dz_vec.shape == (5, 1)
    np.testing.assert_array_equal(dz_vec, dz_col)
    with pytest.raises(ValueError, match=r"y must have the shape of logits \(5, 1\).*got y \(4,\)"):
        nn.binary_cross_entropy_with_logits(z, y[:4])
    with pytest.raises(ValueError, match=r"logits \(5, 1\).*got y \(5, 5\)"):
        nn.binary_cross_entropy_with_logits(z, np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"labels 0/1 .* got values from -1 to 2"):
        nn.binary_cross_entropy_with_logits(np.zeros(3), np.array([-1, 0, 2]))
    with pytest.raises(ValueError, match=r"logits is empty \(shape \(0, 1\)\)"):
        nn.binary_cross_entropy_with_logits(np.zeros((0, 1)), np.zeros(0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_is_stable_for_extreme_logits(tf, dtype):
    z = np.array([1e3, 1e3, -1e3, -1e3, 710.0, -710.0, 0.0], dtype=dtype)
    y = np.array([1, 0, 1, 0, 0, 1, 1])
    with _strict():
        loss, dz = nn.binary_cross_entropy_with_logits(z, y)
    assert loss.dtype == dtype and dz.dtype == dtype
    # per entry: 0, 1000, 1000, 0, 710, 710, log 2
    expected = (0 + 1000 + 1000 + 0 + 710 + 710 + np.log(2)) / 7
    _assert_close(loss, expected, f"BCE at ±1e3 ({np.dtype(dtype).name})", 1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_array_equal(dz, np.array([0, 1, -1, 0, 1, -1, -0.5], dtype=dtype) / 7)
    if dtype == np.float64:
        loss_tf, (dz_tf,) = _tape(tf, lambda t: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.constant(y, tf.float64), logits=t)), z)
        _assert_close(loss, loss_tf, "BCE at ±1e3 vs TF", TF_TOL)
        _assert_close(dz, dz_tf, "BCE dlogits at ±1e3 vs TF", TF_TOL)


@pytest.mark.parametrize("N,K", [(1, 2), (4, 3), (6, 5), (1, 4)])
def test_softmax_cross_entropy_numerical_and_tf(tf, rng, N, K):
    # moderate logits: a plain centred difference (h = 1e-5) carries an absolute error ~1e-11,
    # so entries of dlogits much below 1e-4 could not be checked to 1e-7 (TF checks them to 1e-9)
    z = rng.normal(scale=1.0, size=(N, K))
    y = rng.integers(0, K, size=N)
    loss, dz = nn.softmax_cross_entropy_with_logits(z, y)
    s = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    _assert_close(loss, -np.mean(np.log(s[np.arange(N), y])), "softmax CE vs textbook formula", 1e-12)
    _assert_close(dz, numerical_gradient(lambda t: nn.softmax_cross_entropy_with_logits(t, y)[0], z.copy()),
                  "softmax CE dlogits vs numerical", NUM_TOL)
    loss_tf, (dz_tf,) = _tape(tf, lambda t: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant(y), logits=t)), z)
    _assert_close(loss, loss_tf, "softmax CE vs tf.nn.sparse_softmax_cross_entropy_with_logits", TF_TOL)
    _assert_close(dz, dz_tf, "softmax CE dlogits vs GradientTape", TF_TOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_is_stable_for_extreme_logits(tf, dtype):
    z = np.array([[1e3, -1e3, 0.0], [1e3, -1e3, 0.0], [1e3, 1e3, -1e3]], dtype=dtype)
    y = np.array([0, 1, 2])
    with _strict():
        loss, dz = nn.softmax_cross_entropy_with_logits(z, y)
    assert loss.dtype == dtype and dz.dtype == dtype
    expected = (0.0 + 2000.0 + (2000.0 + np.log(2))) / 3
    _assert_close(loss, expected, "softmax CE at ±1e3", 1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(dz, np.array([[0, 0, 0], [1, -1, 0], [0.5, 0.5, -1]]) / 3, rtol=1e-6, atol=0)
    if dtype == np.float64:
        loss_tf, (dz_tf,) = _tape(tf, lambda t: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant(y), logits=t)), z)
        _assert_close(loss, loss_tf, "softmax CE at ±1e3 vs TF", TF_TOL)
        _assert_close(dz, dz_tf, "softmax CE dlogits at ±1e3 vs TF", TF_TOL)


def test_softmax_cross_entropy_label_validation():
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"labels 0\.\.2 for logits \(4, 3\), got labels from 0 to 3"):
        nn.softmax_cross_entropy_with_logits(z, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"shape \(N,\) = \(4,\), got y \(4, 3\).*one-hot"):
        nn.softmax_cross_entropy_with_logits(z, np.eye(4, 3))
    with pytest.raises(ValueError, match=r"shape \(N,\) = \(4,\), got y \(3,\) for logits \(4, 3\)"):
        nn.softmax_cross_entropy_with_logits(z, [0, 1, 2])
    with pytest.raises(ValueError, match=r"whole-number class labels"):
        nn.softmax_cross_entropy_with_logits(z, [0, 1.5, 2, 0])
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, K\), got logits \(4,\) \(y \(4,\)\)"):
        nn.softmax_cross_entropy_with_logits(np.zeros(4), [0, 1, 2, 0])
    # whole-number float labels are accepted, as Keras' sparse categorical loss does
    a = nn.softmax_cross_entropy_with_logits(z + np.arange(3), [0.0, 1.0, 2.0, 0.0])
    b = nn.softmax_cross_entropy_with_logits(z + np.arange(3), [0, 1, 2, 0])
    assert a[0] == b[0]


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (4, 3), (7,)])
def test_mean_squared_error_numerical_and_tf(tf, rng, shape):
    p, y = rng.normal(size=shape), rng.normal(size=shape)
    loss, dp = nn.mean_squared_error(p, y)
    _assert_close(loss, np.mean((p - y) ** 2), "MSE vs definition", 1e-14)
    num = numerical_gradient(lambda t: nn.mean_squared_error(t, y)[0], p.copy())
    _assert_close(dp, num, "MSE vs numerical", NUM_TOL)
    loss_tf, (dp_tf,) = _tape(tf, lambda t: tf.reduce_mean(tf.square(t - y)), p)
    _assert_close(loss, loss_tf, "MSE vs TF", TF_TOL)
    _assert_close(dp, dp_tf, "MSE gradient vs GradientTape", TF_TOL)


def test_mean_squared_error_shapes(rng):
    p = rng.normal(size=(5, 1))
    y = rng.normal(size=5)
    assert nn.mean_squared_error(p, y)[0] == nn.mean_squared_error(p, y[:, None])[0]
    with pytest.raises(ValueError, match=r"y must have the shape of y_pred \(5, 2\).*got y \(2, 5\)"):
        nn.mean_squared_error(np.zeros((5, 2)), np.zeros((2, 5)))


@pytest.mark.parametrize("loss_fn,logits,y", [
    (nn.binary_cross_entropy_with_logits, np.array([[0.3], [-1.2]]), np.array([1, 0])),
    (nn.softmax_cross_entropy_with_logits, np.array([[0.3, 1.0], [-1.2, 0.1]]), np.array([1, 0])),
    (nn.mean_squared_error, np.array([[0.3], [-1.2]]), np.array([1, 0])),
])
def test_losses_keep_float32_with_integer_labels(loss_fn, logits, y):
    loss, d = loss_fn(logits.astype(np.float32), y)
    assert loss.dtype == np.float32 and d.dtype == np.float32
    loss64, d64 = loss_fn(logits, y)
    assert loss64.dtype == np.float64 and d64.dtype == np.float64
    np.testing.assert_allclose(d, d64, rtol=1e-6)


# --------------------------------------------------------------------------------------
# the MLP: whole-network backward, numerically and against TensorFlow
# --------------------------------------------------------------------------------------

# (sizes, hidden, output, loss, N)
ARCHS = [
    ([3, 4, 1], "relu", "sigmoid", None, 5),
    ([3, 4, 1], "relu", "sigmoid", None, 1),
    ([2, 5, 3, 1], "tanh", "sigmoid", None, 4),
    ([4, 6, 3], "relu", "softmax", None, 6),
    ([1, 3, 1], "sigmoid", "linear", None, 5),
    ([2, 3, 1], "relu", "sigmoid", "mse", 4),     # loss on a^L: δ^L = ∂C/∂a^L ⊙ σ'(z^L) (BP1)
    ([3, 2], "relu", "softmax", None, 3),         # one layer: softmax regression
    ([2, 1], "relu", "sigmoid", None, 1),         # logistic regression, N = 1, D_out = 1
]


def _arch_data(rng, sizes, output, N):
    x = rng.normal(size=(N, sizes[0]))
    if output == "sigmoid":
        y = (rng.random(N) < 0.5).astype(np.float64)
        y[0] = 1.0
    elif output == "softmax":
        y = rng.integers(0, sizes[-1], size=N)
    else:
        y = rng.normal(size=(N, sizes[-1]))
    return x, y


def _mlp(sizes, hidden, output, loss, seed=3):
    m = nn.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    r = np.random.default_rng(seed + 100)
    for name in m.params:                       # non-zero biases, so that db is tested too
        if name.startswith("b"):
            m.params[name][...] = r.normal(scale=0.1, size=m.params[name].shape)
    return m


def _tf_mlp(tf, mlp, x, y, keeps=(), rate=0.0, l2=0.0):
    """The same network and loss written with TF ops; returns loss, grads by name, δ^l list.

    keeps: one boolean mask per hidden layer (dropout: a^l ⊙ keep^l / (1 − rate)); l2: adds
    l2 Σ_l Σ_ij (W^l_ij)² to the loss."""
    params = {k: tf.Variable(v) for k, v in mlp.params.items()}
    with tf.GradientTape(persistent=True) as tape:
        a, zs = tf.constant(x), []
        for l, act in enumerate(mlp.activations, start=1):
            z = tf.matmul(a, params[f"W{l}"]) + params[f"b{l}"]
            zs.append(z)
            a = _tf_act(tf, act)(z)
            if keeps and l < mlp.n_layers:
                a = a * tf.constant(keeps[l - 1], tf.float64) / (1 - rate)
        if mlp.loss_name == "binary_crossentropy":
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.constant(np.reshape(y, zs[-1].shape), tf.float64), logits=zs[-1]))
        elif mlp.loss_name == "sparse_categorical_crossentropy":
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=zs[-1]))
        else:
            loss = tf.reduce_mean(tf.square(a - np.reshape(y, a.shape)))
        if l2:
            loss += l2 * tf.add_n([tf.reduce_sum(tf.square(p)) for k, p in params.items() if k.startswith("W")])
    grads = dict(zip(params, (g.numpy() for g in tape.gradient(loss, list(params.values())))))
    deltas = [g.numpy() for g in tape.gradient(loss, zs)]
    return loss.numpy(), grads, deltas


@pytest.mark.parametrize("sizes,hidden,output,loss,N", ARCHS)
def test_mlp_backward_numerical(rng, sizes, hidden, output, loss, N):
    mlp = _mlp(sizes, hidden, output, loss)
    x, y = _arch_data(rng, sizes, output, N)
    _, grads = mlp.loss_and_grads(x, y)
    assert list(grads) == list(mlp.params)
    results = gradient_check(lambda: mlp.loss(x, y), mlp.params, grads)
    for r in results.values():
        assert r.ok, str(r)
    assert max(r.rel_error for r in results.values()) < NUM_TOL


@pytest.mark.parametrize("sizes,hidden,output,loss,N", ARCHS)
def test_mlp_backward_matches_gradient_tape(tf, rng, sizes, hidden, output, loss, N):
    mlp = _mlp(sizes, hidden, output, loss)
    x, y = _arch_data(rng, sizes, output, N)
    a_L, cache = mlp.forward(x)
    value, grads = mlp.loss_and_grads(x, y)
    loss_tf, grads_tf, deltas_tf = _tf_mlp(tf, mlp, x, y)
    _assert_close(value, loss_tf, "MLP loss vs TF", TF_TOL)
    for name in mlp.params:
        _assert_close(grads[name], grads_tf[name], f"MLP {name} vs GradientTape", TF_TOL)
    # every δ^l = ∂C/∂z^l of (BP1)-(BP2), against TF's gradient w.r.t. the tensor z^l
    if mlp.loss_name == "mse":
        delta_L = mlp.output_delta(nn.mean_squared_error(a_L, y)[1], cache)      # (BP1)
    elif mlp.loss_name == "binary_crossentropy":
        delta_L = nn.binary_cross_entropy_with_logits(cache.logits, y)[1]
    else:
        delta_L = nn.softmax_cross_entropy_with_logits(cache.logits, y)[1]
    grads2, deltas = mlp.backward(delta_L, cache, return_deltas=True)
    assert len(deltas) == mlp.n_layers
    for l, (d, d_tf) in enumerate(zip(deltas, deltas_tf, strict=True), start=1):
        _assert_close(d, d_tf, f"δ^{l} vs ∂C/∂z^{l} from GradientTape", TF_TOL)
    for name in grads:
        np.testing.assert_array_equal(grads2[name], grads[name])


def test_mlp_backward_follows_the_derivation(rng):
    """BP1-BP4 spelled out by hand for a 3-layer sigmoid-output network."""
    mlp = _mlp([3, 5, 4, 1], "tanh", "sigmoid", None)
    x, y = _arch_data(rng, [3, 5, 4, 1], "sigmoid", 6)
    _, cache = mlp.forward(x)
    W = {l: mlp.params[f"W{l}"] for l in (1, 2, 3)}
    a, z = cache.a, {l: cache.z[l - 1] for l in (1, 2, 3)}
    d3 = (a[3] - y[:, None]) / len(x)                           # BP1 for sigmoid + BCE
    d2 = (d3 @ W[3].T) * (1 - np.tanh(z[2]) ** 2)               # BP2
    d1 = (d2 @ W[2].T) * (1 - np.tanh(z[1]) ** 2)
    grads, deltas = mlp.backward(d3, cache, return_deltas=True)
    for l, d in ((1, d1), (2, d2), (3, d3)):
        np.testing.assert_allclose(deltas[l - 1], d, rtol=1e-12)
        np.testing.assert_allclose(grads[f"W{l}"], a[l - 1].T @ d, rtol=1e-12)   # BP3
        np.testing.assert_allclose(grads[f"b{l}"], d.sum(axis=0), rtol=1e-12)   # BP4


def test_mlp_float32_end_to_end(rng):
    mlp = nn.MLP([3, 4, 1], dtype=np.float32, seed=1)
    assert all(p.dtype == np.float32 for p in mlp.params.values())
    x, y = _arch_data(rng, [3, 4, 1], "sigmoid", 8)
    loss, grads = mlp.loss_and_grads(x, y)                      # float64 x is cast, as Keras does
    assert loss.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    mlp.fit(x, y, epochs=3, optimizer=nn.Adam(0.01))
    assert all(p.dtype == np.float32 for p in mlp.params.values())
    assert mlp.predict_proba(x).dtype == np.float32


def test_mlp_validation_errors(rng):
    mlp = nn.MLP([3, 4, 1])
    with pytest.raises(ValueError, match=r"MLP.forward: x must have shape \(N, 3\), got x \(5, 2\) \(W1 \(3, 4\)\)"):
        mlp.forward(np.zeros((5, 2)))
    _, cache = mlp.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"MLP.backward: delta_L must have the shape of the forward output "
                                         r"z\^L \(5, 1\), got delta_L \(5,\)"):
        mlp.backward(np.zeros(5), cache)
    with pytest.raises(ValueError, match=r"y must have one row per example of x, got y \(4,\) and x \(5, 3\)"):
        mlp.fit(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"'binary_crossentropy' is computed on the logits of a sigmoid output"):
        nn.MLP([3, 2], output="softmax", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"softmax is for the output layer only"):
        nn.MLP([3, 4, 2], hidden="softmax", output="softmax")
    with pytest.raises(ValueError, match=r"2 hidden layer\(s\) in sizes \[3, 4, 4, 1\] but 1"):
        nn.MLP([3, 4, 4, 1], hidden=["relu"])
    with pytest.raises(ValueError, match=r"at least 2 positive entries"):
        nn.MLP([3])
    with pytest.raises(ValueError, match=r"optimizer must be 'adam', 'sgd'"):
        mlp.fit(np.zeros((5, 3)), np.zeros(5), optimizer="rmsprop")


# --------------------------------------------------------------------------------------
# initialisation
# --------------------------------------------------------------------------------------

def test_he_and_xavier_initialisation_statistics():
    r = np.random.default_rng(0)
    W = nn.he_init(400, 300, r)
    assert W.shape == (400, 300)
    assert abs(W.std() / np.sqrt(2 / 400) - 1) < 0.02 and abs(W.mean()) < 3e-3
    W = nn.xavier_init(400, 300, r)
    limit = np.sqrt(6 / 700)
    assert np.all(np.abs(W) <= limit) and W.max() > 0.99 * limit
    assert abs(W.std() / np.sqrt(2 / 700) - 1) < 0.02


def test_mlp_init_is_seeded_and_picks_he_for_relu():
    a, b = nn.MLP([5, 8, 2], output="softmax", seed=7), nn.MLP([5, 8, 2], output="softmax", seed=7)
    for w1, w2 in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)
    c = nn.MLP([5, 8, 2], output="softmax", seed=8)
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    g = nn.MLP([5, 8, 2], output="softmax", seed=np.random.default_rng(7))
    np.testing.assert_array_equal(g.params["W1"], a.params["W1"])
    np.testing.assert_array_equal(a.params["W1"], nn.he_init(5, 8, np.random.default_rng(7)))
    assert a.init == "he" and nn.MLP([5, 8, 1], hidden="tanh").init == "xavier"
    assert all(not np.any(a.params[f"b{l}"]) for l in (1, 2))
    assert a.n_params == 5 * 8 + 8 + 8 * 2 + 2


# --------------------------------------------------------------------------------------
# optimisers
# --------------------------------------------------------------------------------------

def test_sgd_step_is_theta_minus_eta_g(rng):
    p = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    g = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    expected = {k: v - 0.1 * g[k] for k, v in p.items()}
    W_obj = p["W1"]
    nn.SGD(0.1).step(p, g)
    assert p["W1"] is W_obj, "the step must update the arrays in place"
    for k, v in p.items():
        np.testing.assert_allclose(v, expected[k], rtol=1e-15)


@pytest.mark.parametrize("make_ours,make_keras", [
    (lambda: nn.SGD(0.125, momentum=0.5), lambda k: k.optimizers.SGD(0.125, momentum=0.5)),
    # Keras raises β to the power t in float32 (β = 0.999 becomes 0.99900001), which moves its
    # default step by ~7e-6; hyperparameters exact in float32 make the comparison exact.
    (lambda: nn.Adam(0.125, beta_1=0.875, beta_2=1 - 2.0**-9, epsilon=2.0**-23),
     lambda k: k.optimizers.Adam(0.125, beta_1=0.875, beta_2=1 - 2.0**-9, epsilon=2.0**-23)),
    (lambda: nn.Adam(0.0625, beta_1=0.5, beta_2=0.75, epsilon=1e-3),
     lambda k: k.optimizers.Adam(0.0625, beta_1=0.5, beta_2=0.75, epsilon=1e-3)),
])
def test_optimizers_match_keras(tf, rng, make_ours, make_keras):
    import keras

    p = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    variables = [tf.Variable(v.copy()) for v in p.values()]
    ours, theirs = make_ours(), make_keras(keras)
    start = {k: v.copy() for k, v in p.items()}
    for _ in range(4):
        g = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
        ours.step(p, g)
        theirs.apply_gradients(zip([tf.constant(v) for v in g.values()], variables))
    for (k, v), var in zip(p.items(), variables, strict=True):
        _assert_close(v - start[k], var.numpy() - start[k], f"{type(ours).__name__} update of {k} vs Keras", TF_TOL)


def test_adam_first_step_has_size_learning_rate(rng):
    p = {"w": np.zeros(5)}
    g = {"w": rng.normal(size=5)}
    nn.Adam(0.01, epsilon=1e-12).step(p, g)
    np.testing.assert_allclose(p["w"], -0.01 * np.sign(g["w"]), rtol=1e-9)


def test_optimizer_errors():
    p = {"W1": np.zeros((3, 2))}
    with pytest.raises(ValueError, match=r"no gradient for parameter 'W1'"):
        nn.Adam().step(p, {})
    with pytest.raises(ValueError, match=r"gradient of 'W1' has shape \(2, 3\) but W1 has shape \(3, 2\)"):
        nn.SGD().step(p, {"W1": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"learning_rate must be > 0"):
        nn.SGD(0.0)


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------

def _blobs(rng, n=120):
    """Two well separated Gaussian clouds in 2-D, label 1 for the one at (+2, +2)."""
    y = np.arange(n) % 2
    x = rng.normal(scale=0.7, size=(n, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
    return x, y


@pytest.mark.parametrize("optimizer,batch_size", [(lambda: nn.Adam(0.05), None), (lambda: nn.SGD(0.1), 16)])
def test_mlp_learns_a_separable_problem(rng, optimizer, batch_size):
    x, y = _blobs(rng)
    mlp = nn.MLP([2, 4, 1], hidden="relu", output="sigmoid", seed=0)
    before = float(mlp.loss(x, y))
    history = mlp.fit(x, y, epochs=60, batch_size=batch_size, optimizer=optimizer())
    assert len(history["loss"]) == 60
    assert history["loss"][-1] < 0.1 * history["loss"][0], history["loss"][::10]
    after = float(mlp.loss(x, y))
    assert after < 0.1 * before and after < 0.05
    assert mlp.accuracy(x, y) == 1.0
    np.testing.assert_array_equal(mlp.predict(x), (mlp.predict_proba(x)[:, 0] >= 0.5).astype(int))


def test_mlp_softmax_learns_three_classes(rng):
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = np.arange(150) % 3
    x = centres[y] + rng.normal(scale=0.6, size=(150, 2))
    mlp = nn.MLP([2, 8, 3], output="softmax", seed=1)
    history = mlp.fit(x, y, epochs=40, batch_size=32, optimizer="adam", learning_rate=0.05,
                      validation_data=(x[:30], y[:30]))
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    assert len(history["val_loss"]) == 40 and history["val_loss"][-1] < 0.1
    assert mlp.accuracy(x, y) > 0.98
    p = mlp.predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


def test_training_is_reproducible_with_a_seed(rng):
    x, y = _blobs(rng, 64)
    runs = []
    for _ in range(2):
        mlp = nn.MLP([2, 3, 1], seed=5)
        runs.append((mlp.fit(x, y, epochs=5, batch_size=10, optimizer="sgd", learning_rate=0.1), mlp.get_weights()))
    assert runs[0][0]["loss"] == runs[1][0]["loss"]          # ("time" is wall-clock, never equal)
    for w1, w2 in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(w1, w2)
    other = nn.MLP([2, 3, 1], seed=6).fit(x, y, epochs=5, batch_size=10, optimizer="sgd", learning_rate=0.1)
    assert other["loss"] != runs[0][0]["loss"]


def test_fit_batches_are_the_hand_written_loop_and_shuffling_happens(rng):
    x, y = _blobs(rng, 50)
    hand = nn.MLP([2, 3, 1], seed=4)
    opt, history = nn.SGD(0.1), []
    for _ in range(3):                                   # unshuffled mini-batches of 16, 16, 16, 2
        total = 0.0
        for start in range(0, 50, 16):
            loss, grads = hand.loss_and_grads(x[start:start + 16], y[start:start + 16])
            opt.step(hand.params, grads)
            total += float(loss) * len(x[start:start + 16])
        history.append(total / 50)
    fitted = nn.MLP([2, 3, 1], seed=4)
    unshuffled = fitted.fit(x, y, epochs=3, batch_size=16, optimizer="sgd", learning_rate=0.1, shuffle=False)
    assert unshuffled["loss"] == history
    for w1, w2 in zip(fitted.get_weights(), hand.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)
    shuffled = nn.MLP([2, 3, 1], seed=4).fit(x, y, epochs=3, batch_size=16, optimizer="sgd", learning_rate=0.1)
    assert shuffled["loss"] != history, "shuffle=True must change the order of the mini-batches"


# --------------------------------------------------------------------------------------
# weights to and from Keras
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes,hidden,output", [([2, 4, 1], "relu", "sigmoid"), ([5, 6, 4, 3], "tanh", "softmax"),
                                                 ([3, 3, 3, 1], "relu", "sigmoid"), ([1, 1], "relu", "sigmoid")])
def test_to_keras_and_back_gives_identical_predictions(tf, rng, sizes, hidden, output):
    mlp = _mlp(sizes, hidden, output, None)
    model = mlp.to_keras()
    assert [w.shape for w in model.get_weights()] == [w.shape for w in mlp.get_weights()]
    x = rng.normal(size=(7, sizes[0]))
    ours, theirs = mlp.predict_proba(x), model(x).numpy()
    assert theirs.dtype == np.float64
    _assert_close(ours, theirs, "MLP vs Keras Sequential (float64)", 1e-13)
    # and back: a fresh MLP (other initial weights) takes Keras' weights, square W^l included
    back = nn.MLP.from_keras(model, seed=99)
    assert back.sizes == sizes and back.activations == mlp.activations
    _assert_close(back.predict_proba(x), theirs, "MLP.from_keras vs Keras", 1e-13)


def test_keras_article_model_weights_copy_into_the_mlp(tf, rng):
    """The article's Sequential([Dense(4, relu, input_dim=2), Dense(1, sigmoid)]), in float32."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[0].bias.assign(rng.normal(size=4).astype(np.float32))
    mlp = nn.MLP.from_keras(model)
    assert mlp.sizes == [2, 4, 1] and mlp.activations == ["relu", "sigmoid"] and mlp.dtype == np.float32
    for ours, theirs in zip(mlp.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    x = rng.normal(size=(16, 2)).astype(np.float32)
    np.testing.assert_allclose(mlp.predict_proba(x), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    # and in float64 through set_weights: the same numbers, identical to rounding
    mlp64 = nn.MLP([2, 4, 1])
    mlp64.set_weights(model.get_weights())
    model64 = mlp64.to_keras()
    _assert_close(mlp64.predict_proba(x), model64(x.astype(np.float64)).numpy(), "float64 round trip", 1e-13)


def test_trained_weights_transfer_to_keras(tf, rng):
    x, y = _blobs(rng, 60)
    mlp = nn.MLP([2, 4, 1], seed=2)
    mlp.fit(x, y, epochs=20, optimizer="adam", learning_rate=0.05)
    model = mlp.to_keras()
    _assert_close(mlp.predict_proba(x), model(x).numpy(), "trained MLP vs Keras", 1e-13)
    back = nn.MLP.from_keras(model)
    np.testing.assert_array_equal(back.predict_proba(x), mlp.predict_proba(x))


def test_set_weights_checks_count_and_shapes():
    mlp = nn.MLP([3, 4, 1])
    W1_obj = mlp.params["W1"]
    with pytest.raises(ValueError, match=r"expected 4 arrays \(W1, b1, W2, b2\), got 2"):
        mlp.set_weights([np.zeros((3, 4)), np.zeros(4)])
    with pytest.raises(ValueError, match=r"W1 must have shape \(3, 4\), got \(4, 3\)"):
        mlp.set_weights([np.zeros((4, 3)), np.zeros(4), np.zeros((4, 1)), np.zeros(1)])
    new = [np.full((3, 4), 0.5), np.ones(4), np.full((4, 1), 2.0), np.zeros(1)]
    mlp.set_weights(new)
    assert mlp.params["W1"] is W1_obj
    for ours, w in zip(mlp.get_weights(), new, strict=True):
        np.testing.assert_array_equal(ours, w)


# --------------------------------------------------------------------------------------
# regularisation: inverted dropout
# --------------------------------------------------------------------------------------

DROPOUT_RATES = [0.2, 0.7]      # not 0.5: a mask drawn with < instead of >= must change the keep rate


def _binomial_ok(kept: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """kept ~ Binomial(n, p) lies within `sigmas` standard deviations √(n p (1 − p)) of n p."""
    return abs(kept - n * p) <= sigmas * np.sqrt(n * p * (1 - p))


def _keras_dropout(tf, x, rate, seed, dout=None):
    """Keras' Dropout(rate) in training on float64 x; with dout also ∂Σ(out ⊙ dout)/∂x."""
    import keras

    layer = keras.layers.Dropout(rate, seed=seed, dtype="float64")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=True)
        total = tf.reduce_sum(out * (0.0 if dout is None else dout))
    grad = tape.gradient(total, xt).numpy()
    return out.numpy(), grad


@pytest.mark.parametrize("rate", DROPOUT_RATES)
def test_dropout_forward_matches_keras_scaling_and_keep_rate(tf, rng, rate):
    x = _away_from_zero(rng, (400, 250))                  # 10^5 entries, none 0: out == 0 iff dropped
    n = x.size
    out_k, _ = _keras_dropout(tf, x, rate, seed=3)
    keep_k = out_k != 0
    # Keras' kept entries are x / (1 − rate) (its scale 1/(1 − rate) rounded once: rel_error ~1e-16)
    _assert_close(out_k[keep_k], x[keep_k] / (1 - rate), "Keras kept entries vs x/(1 − rate)", 1e-15)
    assert _binomial_ok(int(keep_k.sum()), n, 1 - rate), f"Keras keeps {keep_k.mean():.4f}, not {1 - rate}"
    out, cache = nn.dropout_forward(x, rate, np.random.default_rng(0))
    assert isinstance(cache, nn.DropoutCache) and cache.keep.dtype == bool and cache.rate == rate
    assert _binomial_ok(int(cache.keep.sum()), n, 1 - rate), f"ours keeps {cache.keep.mean():.4f}, not {1 - rate}"
    # the mask is drawn as documented (u >= rate) and out is zero exactly where it drops
    np.testing.assert_array_equal(cache.keep, np.random.default_rng(0).random(x.shape) >= rate)
    np.testing.assert_array_equal(out == 0, ~cache.keep)
    _assert_close(out[cache.keep], x[cache.keep] / (1 - rate), "ours kept entries vs x/(1 − rate)", 1e-15)
    # and, for Keras' own mask, the same numbers bit for bit (dx of dout = x is x ⊙ keep / (1 − rate))
    np.testing.assert_array_equal(nn.dropout_backward(x, nn.DropoutCache(keep_k, rate)), out_k)


@pytest.mark.parametrize("rate", DROPOUT_RATES)
def test_dropout_is_unbiased(rate):
    """E[out] = x: over M independent draws the mean of out_i lies within 5 standard errors
    |x_i| √(rate / ((1 − rate) M)) of x_i (Var out_i = x_i² rate / (1 − rate))."""
    x = np.array([3.0, -1.5, 0.25, 7.0, -4.0])
    M = 40_000
    out, _ = nn.dropout_forward(np.broadcast_to(x, (M, x.size)), rate, np.random.default_rng(1))
    stderr = np.abs(x) * np.sqrt(rate / ((1 - rate) * M))
    assert np.all(np.abs(out.mean(axis=0) - x) < 5 * stderr), (out.mean(axis=0), x, stderr)


@pytest.mark.parametrize("rate", DROPOUT_RATES)
@pytest.mark.parametrize("shape", [(4, 3), (1, 1), (2, 3, 4), (2, 5, 5, 3)])
def test_dropout_backward_matches_tf_and_numerical(tf, rng, rate, shape):
    x = _away_from_zero(rng, shape)
    dout = rng.normal(size=shape)
    out_k, dx_tf = _keras_dropout(tf, x, rate, seed=5, dout=dout)
    cache_k = nn.DropoutCache(out_k != 0, rate)          # Keras' mask, read from its output
    dx = nn.dropout_backward(dout, cache_k)
    if np.any(cache_k.keep):
        _assert_close(dx, dx_tf, "dropout_backward vs GradientTape on keras Dropout", TF_TOL)
    else:                                                # (1, 1) can drop its only entry
        np.testing.assert_array_equal(dx, dx_tf)
    # numerically, with our own forward: a fresh generator of one seed draws the same mask each call
    seed = next(s for s in range(9, 100) if np.any(np.random.default_rng(s).random(shape) >= rate))
    _, cache = nn.dropout_forward(x, rate, np.random.default_rng(seed))       # keeps at least one entry
    num = numerical_gradient_array(lambda t: nn.dropout_forward(t, rate, np.random.default_rng(seed))[0],
                                   x.copy(), dout)
    _assert_close(nn.dropout_backward(dout, cache), num, "dropout_backward vs numerical", NUM_TOL)


def test_dropout_rate_zero_dtypes_and_shapes(rng):
    x = rng.normal(size=(3, 4))
    state = np.random.default_rng(2)
    out, cache = nn.dropout_forward(x, 0.0, state)
    np.testing.assert_array_equal(out, x)
    assert cache.keep.shape == x.shape and cache.keep.all()
    np.testing.assert_array_equal(nn.dropout_backward(x, cache), x)
    for shape in [(), (7,), (2, 3, 4, 5)]:
        for dtype in (np.float32, np.float64):
            x = rng.normal(size=shape).astype(dtype)
            out, cache = nn.dropout_forward(x, 0.25, rng)
            assert out.dtype == dtype and out.shape == x.shape and cache.keep.shape == x.shape
            dx = nn.dropout_backward(np.ones(shape, dtype=dtype), cache)
            assert dx.dtype == dtype
            np.testing.assert_array_equal(dx, cache.keep * dtype(1 / 0.75))
            np.testing.assert_array_equal(out, x * cache.keep * dtype(1 / 0.75))


def test_dropout_validation_errors(rng):
    x = rng.normal(size=(3, 4))
    for bad in (1.0, -0.1, float("nan"), 1.5, True):
        with pytest.raises(ValueError, match=r"dropout_forward: rate must be a number in \[0, 1\).*got " + repr(bad)):
            nn.dropout_forward(x, bad, rng)
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\).*got '0.5'"):
        nn.dropout_forward(x, "0.5", rng)
    for bad in (np.random.RandomState(0), 0, None):
        with pytest.raises(ValueError, match=r"dropout_forward: rng must be a np.random.Generator.*got "
                                             + type(bad).__name__):
            nn.dropout_forward(x, 0.5, bad)
    _, cache = nn.dropout_forward(x, 0.5, rng)
    with pytest.raises(ValueError, match=r"dropout_backward: dout must have the shape of the forward output "
                                         r"out \(3, 4\), got dout \(4, 3\)"):
        nn.dropout_backward(np.zeros((4, 3)), cache)
    with pytest.raises(ValueError, match=r"cache must be the cache returned by dropout_forward, got tuple"):
        nn.dropout_backward(x, tuple(cache))
    with pytest.raises(ValueError, match=r"cache.keep must be a boolean mask.*got dtype float64"):
        nn.dropout_backward(x, nn.DropoutCache(cache.keep.astype(float), 0.5))


# --------------------------------------------------------------------------------------
# regularisation: L2 weight decay
# --------------------------------------------------------------------------------------

# Keras casts l2 to the weights' dtype through float32 (0.01 becomes 0.0099999998), which moves its
# penalty by ~1e-8 relative; factors exact in float32 make the comparison with Keras exact.
L2_FACTORS = [2.0**-7, 0.25]


@pytest.mark.parametrize("l2", L2_FACTORS)
def test_l2_penalty_matches_tf_keras_and_numerical(tf, l2):
    import keras

    params = _mlp([4, 5, 3, 2], "relu", "softmax", None).params      # non-zero biases
    penalty, grads = nn.l2_penalty(params, l2)
    assert list(grads) == list(params) and all(grads[k].shape == params[k].shape for k in params)
    kernels = [params[k] for k in params if k.startswith("W")]
    value_tf, grads_tf = _tape(tf, lambda *Ws: l2 * tf.add_n([tf.reduce_sum(tf.square(W)) for W in Ws]), *kernels)
    _assert_close(penalty, value_tf, "l2_penalty vs l2·Σ W² in TF", TF_TOL)
    keras_value = sum(float(keras.regularizers.L2(l2)(tf.constant(W))) for W in kernels)
    _assert_close(penalty, keras_value, "l2_penalty vs Σ keras.regularizers.L2(l2)(W)", TF_TOL)
    for name, g_tf in zip([k for k in params if k.startswith("W")], grads_tf, strict=True):
        _assert_close(grads[name], g_tf, f"∂penalty/∂{name} vs GradientTape", TF_TOL)
    for name in params:
        if name.startswith("b"):
            np.testing.assert_array_equal(grads[name], np.zeros_like(params[name]))   # biases: no decay
    results = gradient_check(lambda: nn.l2_penalty(params, l2)[0], params, grads)
    assert max(r.rel_error for r in results.values()) < NUM_TOL, [str(r) for r in results.values()]
    # float32 kernels: float32 penalty and gradients
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    pen32, g32 = nn.l2_penalty(p32, l2)
    assert pen32.dtype == np.float32 and all(g.dtype == np.float32 for g in g32.values())


def test_l2_penalty_validation_errors():
    params = {"W1": np.ones((2, 2)), "b1": np.ones(2)}
    for bad in (-0.1, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(ValueError, match=r"l2_penalty: l2 must be a finite number >= 0, got " + repr(bad)):
            nn.l2_penalty(params, bad)
    with pytest.raises(ValueError, match=r"parameter names must start with 'W'.*got 'gamma'"):
        nn.l2_penalty({"W1": np.ones((2, 2)), "gamma": np.ones(2)}, 0.1)
    penalty, grads = nn.l2_penalty(params, 0.0)
    assert penalty == 0 and not any(np.any(g) for g in grads.values())


# --------------------------------------------------------------------------------------
# the MLP with L2 and dropout
# --------------------------------------------------------------------------------------

REG_ARCHS = [                                     # sizes, hidden, output, N
    ([3, 5, 1], "relu", "sigmoid", 6),
    ([4, 6, 5, 3], "tanh", "softmax", 7),
    ([2, 4, 3, 2], "sigmoid", "linear", 5),        # mse, δ^L through (BP1)
]


def _reg_mlp(sizes, hidden, output, l2=0.0, dropout=0.0, seed=3):
    m = nn.MLP(sizes, hidden=hidden, output=output, seed=seed, l2=l2, dropout=dropout)
    m.set_weights(_mlp(sizes, hidden, output, None, seed=seed).get_weights())     # non-zero biases
    return m


@pytest.mark.parametrize("sizes,hidden,output,N", REG_ARCHS)
def test_mlp_l2_matches_a_regularised_keras_sequential(tf, rng, sizes, hidden, output, N):
    import keras

    l2 = L2_FACTORS[0]                            # exact in float32, as Keras casts it (see above)
    mlp = _reg_mlp(sizes, hidden, output, l2=l2)
    x, y = _arch_data(rng, sizes, output, N)
    value, grads = mlp.loss_and_grads(x, y)
    model = keras.Sequential([keras.Input(shape=(sizes[0],), dtype="float64")] + [
        keras.layers.Dense(n, activation=a, dtype="float64", kernel_regularizer=keras.regularizers.L2(l2))
        for n, a in zip(sizes[1:], mlp.activations)])
    model.set_weights(mlp.get_weights())
    loss_fn = {"binary_crossentropy": keras.losses.BinaryCrossentropy,       # on the probabilities
               "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
               "mse": keras.losses.MeanSquaredError}[mlp.loss_name](dtype="float64")
    y_k = np.reshape(y, (N, 1)) if mlp.loss_name == "binary_crossentropy" else y
    with tf.GradientTape() as tape:
        objective = loss_fn(y_k, model(x, training=True)) + tf.add_n(model.losses)   # Keras' training objective
    grads_k = tape.gradient(objective, model.trainable_variables)
    assert len(model.losses) == mlp.n_layers
    _assert_close(value, objective.numpy(), "MLP(l2) objective vs Keras loss + sum(model.losses)", TF_TOL)
    for name, g_k in zip(mlp.params, grads_k, strict=True):
        _assert_close(grads[name], g_k.numpy(), f"MLP(l2) {name} vs Keras GradientTape", TF_TOL)
    # C = C_data + penalty; loss() is the data loss alone; the gradients agree numerically
    plain = _reg_mlp(sizes, hidden, output)
    assert mlp.loss(x, y) == plain.loss(x, y)
    assert value == plain.loss(x, y) + nn.l2_penalty(mlp.params, l2)[0]
    results = gradient_check(lambda: mlp.loss_and_grads(x, y)[0], mlp.params, grads)
    assert max(r.rel_error for r in results.values()) < NUM_TOL, [str(r) for r in results.values()]


def _dropout_masks(mlp, N, seed):
    """The masks loss_and_grads(training=True, rng=default_rng(seed)) draws: rng.random((N, H_l))
    >= rate, one per hidden layer in order (dropout_forward's draw)."""
    r = np.random.default_rng(seed)
    return [r.random((N, h)) >= mlp.dropout for h in mlp.sizes[1:-1]]


@pytest.mark.parametrize("sizes,hidden,output,N", REG_ARCHS)
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_mlp_dropout_gradients_numerical_and_tf(tf, rng, sizes, hidden, output, N, l2):
    rate, seed = 0.4, 21
    mlp = _reg_mlp(sizes, hidden, output, l2=l2, dropout=rate)
    x, y = _arch_data(rng, sizes, output, N)
    value, grads = mlp.loss_and_grads(x, y, training=True, rng=np.random.default_rng(seed))
    keeps = _dropout_masks(mlp, N, seed)
    assert all(k.any() and not k.all() for k in keeps), "the masks must drop some units and keep some"
    # the masks are the ones the training pass used: the cache of dropout_forward holds them
    _, cache = mlp._forward(mlp._inputs("forward", x), np.random.default_rng(seed))
    for keep, dc in zip(keeps, cache.dropout, strict=True):
        np.testing.assert_array_equal(dc.keep, keep)
    plain_value, plain_grads = mlp.loss_and_grads(x, y)
    assert value != plain_value and not np.array_equal(grads["W1"], plain_grads["W1"])
    results = gradient_check(
        lambda: mlp.loss_and_grads(x, y, training=True, rng=np.random.default_rng(seed))[0], mlp.params, grads)
    assert max(r.rel_error for r in results.values()) < NUM_TOL, [str(r) for r in results.values()]
    loss_tf, grads_tf, _ = _tf_mlp(tf, mlp, x, y, keeps=keeps, rate=rate, l2=l2)
    _assert_close(value, loss_tf, "MLP(dropout) loss vs TF with the same masks", TF_TOL)
    for name in mlp.params:
        _assert_close(grads[name], grads_tf[name], f"MLP(dropout) {name} vs GradientTape", TF_TOL)


def test_mlp_dropout_only_in_training(rng):
    sizes = [4, 8, 6, 1]
    mlp = _reg_mlp(sizes, "relu", "sigmoid", dropout=0.5)
    ref = _reg_mlp(sizes, "relu", "sigmoid")
    x, y = _arch_data(rng, sizes, "sigmoid", 10)
    for value_grads in (mlp.loss_and_grads(x, y), mlp.loss_and_grads(x, y, training=False)):
        value, grads = value_grads
        ref_value, ref_grads = ref.loss_and_grads(x, y)
        assert value == ref_value
        for name in grads:
            np.testing.assert_array_equal(grads[name], ref_grads[name])
    p = mlp.predict_proba(x)
    np.testing.assert_array_equal(p, mlp.predict_proba(x))
    np.testing.assert_array_equal(p, ref.predict_proba(x))
    np.testing.assert_array_equal(mlp.forward(x)[0], p)
    assert mlp.forward(x)[1].dropout == ()
    np.testing.assert_array_equal(mlp.predict(x), ref.predict(x))
    assert mlp.loss(x, y) == ref.loss(x, y) and mlp.accuracy(x, y) == ref.accuracy(x, y)
    # training=True without an rng draws fresh masks from the model's own generator
    first, second = mlp.loss_and_grads(x, y, training=True)[0], mlp.loss_and_grads(x, y, training=True)[0]
    assert first != second
    same = [mlp.loss_and_grads(x, y, training=True, rng=np.random.default_rng(4))[0] for _ in range(2)]
    assert same[0] == same[1]
    # dropout = 0: training=True changes nothing
    assert ref.loss_and_grads(x, y, training=True)[0] == ref.loss_and_grads(x, y)[0]


def test_mlp_repr_and_regularisation_errors():
    assert repr(nn.MLP([30, 4, 1])) == "MLP(input 30: Dense(4, relu), Dense(1, sigmoid); loss binary_crossentropy, " \
                                       "129 parameters)"
    m = nn.MLP([30, 4, 3, 1], l2=1e-3, dropout=0.5)
    assert (m.l2, m.dropout) == (1e-3, 0.5)
    assert repr(m) == ("MLP(input 30: Dense(4, relu), Dropout(0.5), Dense(3, relu), Dropout(0.5), Dense(1, sigmoid); "
                       "loss binary_crossentropy + L2(0.001) on the kernels, 143 parameters)")
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"MLP: dropout must be a number in \[0, 1\).*got " + repr(bad)):
            nn.MLP([3, 4, 1], dropout=bad)
    for bad in (-0.1, float("inf")):
        with pytest.raises(ValueError, match=r"MLP: l2 must be a finite number >= 0, got " + repr(bad)):
            nn.MLP([3, 4, 1], l2=bad)
    with pytest.raises(ValueError, match=r"MLP.loss_and_grads: rng must be a np.random.Generator.*got int"):
        nn.MLP([3, 4, 1], dropout=0.5).loss_and_grads(np.zeros((2, 3)), np.zeros(2), training=True, rng=0)


# --------------------------------------------------------------------------------------
# fit with regularisation, wall-clock time and early stopping
# --------------------------------------------------------------------------------------

def test_fit_trains_the_regularised_objective(rng):
    """fit is the hand-written loop over loss_and_grads(..., training=True): penalty and dropout
    (masks from the model's generator) are in the reported loss; val_loss is the data loss."""
    x, y = _blobs(rng, 40)
    hand = nn.MLP([2, 6, 1], seed=4, l2=0.01, dropout=0.3)
    opt, losses = nn.SGD(0.1), []
    for _ in range(3):
        loss, grads = hand.loss_and_grads(x, y, training=True)
        opt.step(hand.params, grads)
        losses.append(float(loss))
    fitted = nn.MLP([2, 6, 1], seed=4, l2=0.01, dropout=0.3)
    history = fitted.fit(x, y, epochs=3, optimizer="sgd", learning_rate=0.1, shuffle=False,
                         validation_data=(x, y))
    assert history["loss"] == losses
    for w1, w2 in zip(fitted.get_weights(), hand.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)
    assert history["val_loss"][-1] == float(fitted.loss(x, y))      # no penalty, no dropout


def test_fit_history_records_time_and_epochs(rng):
    x, y = _blobs(rng, 40)
    start = time.perf_counter()
    history = nn.MLP([2, 4, 1], seed=0).fit(x, y, epochs=6, batch_size=8, validation_data=(x[:10], y[:10]))
    elapsed = time.perf_counter() - start
    assert len(history["time"]) == len(history["loss"]) == len(history["val_loss"]) == 6
    assert 0 < history["time"][0] and np.all(np.diff(history["time"]) > 0)
    assert 0.5 * elapsed < history["time"][-1] <= elapsed           # cumulative from the start of fit
    assert history["stopped_epoch"] == 6
    assert history["best_epoch"] == int(np.argmin(history["val_loss"])) + 1
    plain = nn.MLP([2, 4, 1], seed=0).fit(x, y, epochs=2)
    assert set(plain) == {"loss", "time", "stopped_epoch"} and plain["stopped_epoch"] == 2


def _overfitting_run(early_stopping=None, restore_best_weights=True, epochs=300):
    """A wide network on 30 noisy examples with random labels: val_loss rises after a few epochs."""
    r = np.random.default_rng(0)
    x, y = r.normal(size=(30, 5)), r.integers(0, 2, size=30)
    xv, yv = r.normal(size=(30, 5)), r.integers(0, 2, size=30)
    mlp = nn.MLP([5, 64, 1], seed=1)
    history = mlp.fit(x, y, epochs=epochs, optimizer="adam", learning_rate=0.01, validation_data=(xv, yv),
                      early_stopping=early_stopping, restore_best_weights=restore_best_weights)
    return mlp, history, (xv, yv)


def test_early_stopping_stops_and_restores_the_best_weights():
    patience = 5
    full_mlp, full, val = _overfitting_run()
    mlp, history, _ = _overfitting_run(early_stopping=patience)
    stopped, best = history["stopped_epoch"], history["best_epoch"]
    assert stopped < 300 and len(history["loss"]) == len(history["val_loss"]) == len(history["time"]) == stopped
    assert best == int(np.argmin(history["val_loss"])) + 1 and stopped - best == patience
    assert history["val_loss"] == full["val_loss"][:stopped]      # the same run, cut short
    assert float(mlp.loss(*val)) == history["val_loss"][best - 1]  # restored: exactly the best epoch's val_loss
    assert float(mlp.loss(*val)) < history["val_loss"][-1]
    kept_mlp, kept, _ = _overfitting_run(early_stopping=patience, restore_best_weights=False)
    assert kept["stopped_epoch"] == stopped and kept["best_epoch"] == best
    assert float(kept_mlp.loss(*val)) == kept["val_loss"][-1]       # the last weights, not the best


@pytest.mark.parametrize("vals,patience", [
    ([1.0, 0.9, 0.95, 0.9, 0.9, 0.8, 0.85, 0.86, 0.87, 0.7], 3),   # ties are not improvements
    ([1.0, 1.1, 0.5, 0.6, 0.7, 0.4, 0.45], 1),
    ([0.5, 0.4, 0.3, 0.2, 0.1], 2),                                 # never stops
])
def test_early_stopping_follows_the_keras_callback(tf, vals, patience):
    """Our early stopping and keras.callbacks.EarlyStopping, fed the same val_loss sequence,
    stop after the same epoch and name the same best epoch."""
    import keras

    model = nn.MLP([2, 1]).to_keras()
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    callback.set_model(model)
    model.stop_training = False                                     # (Model.fit sets this)
    callback.on_train_begin()
    keras_last = len(vals)
    for epoch, v in enumerate(vals):
        callback.on_epoch_end(epoch, {"val_loss": v})
        if model.stop_training:
            keras_last = epoch + 1
            break
    mlp = nn.MLP([2, 1])
    sequence = iter(vals)
    mlp.loss = lambda *_: next(sequence)                            # the validation losses, one per epoch
    history = mlp.fit(np.zeros((4, 2)), np.zeros(4), epochs=len(vals), validation_data=(np.zeros((4, 2)), np.zeros(4)),
                      early_stopping=patience)
    assert history["stopped_epoch"] == keras_last
    assert history["best_epoch"] == callback.best_epoch + 1


def test_fit_early_stopping_errors():
    x, y = np.zeros((4, 3)), np.zeros(4)
    mlp = nn.MLP([3, 2, 1])
    with pytest.raises(ValueError, match=r"MLP.fit: early_stopping=3 monitors val_loss and needs validation_data"):
        mlp.fit(x, y, epochs=2, early_stopping=3)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match=r"early_stopping must be None or a patience \(an int >= 1\), got "
                                             + repr(bad)):
            mlp.fit(x, y, epochs=2, validation_data=(x, y), early_stopping=bad)
