"""Tests for the batch normalisation of helpers.nn (issue 12, item 2).

The reference is ``keras.layers.BatchNormalization(epsilon=1e-3, dtype="float64")`` with gamma,
beta and the moving statistics copied in: its output in training (``training=True``) and at
test time (``training=False``), its moving statistics after one training call, and
``tf.GradientTape`` through it (rel_error < 1e-9). Every gradient is also checked against
centred differences (helpers.gradcheck, rel_error < 1e-7). TensorFlow comes from the ``tf``
fixture (tests/conftest.py), so collecting this file imports no TensorFlow.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_nn import _assert_close  # the shape, non-zero-reference and rel_error check of the dense-layer tests

from helpers import nn
from helpers.gradcheck import gradient_check

NUM_TOL = 1e-7   # analytic vs centred differences (float64)
TF_TOL = 1e-9    # analytic vs Keras / tf.GradientTape (float64)
EPS = 1e-3       # Keras' default epsilon
# (N, D) and (N, H, W, C): N = 1 in 4-D (m = H·W > 1), D = 1, C = 1 and rectangular images included
SHAPES = [(8, 5), (2, 3), (16, 1), (4, 3, 3, 2), (1, 3, 3, 2), (2, 5, 4, 3), (3, 2, 2, 1)]
# (loc, scale) of x: ordinary, σ² far below ε (x̂ ≪ 1), and large values with a large offset
SCALES = [(0.0, 1.0), (0.5, 1e-3), (1e3, 1e2), (-2e4, 3e3)]


def _params(rng, C):
    """Random γ (both signs, |γ| >= 0.5), β, moving mean and moving variance (> 0), float64."""
    gamma = rng.choice([-1.0, 1.0], size=C) * rng.uniform(0.5, 2.0, size=C)
    beta = rng.normal(size=C)
    return gamma, beta, rng.normal(size=C), rng.uniform(0.2, 3.0, size=C)


def _x(rng, shape, loc=0.0, scale=1.0):
    """x with a different mean and spread in every channel (so a wrong axis cannot pass)."""
    C = shape[-1]
    return loc + scale * (rng.uniform(0.5, 2.0, size=C) * rng.normal(size=shape) + rng.normal(size=C))


def _keras_bn(tf, x, gamma, beta, *, training=True, moving=None, momentum=0.99, dout=None):
    """Keras' BatchNormalization(epsilon=1e-3, momentum) in float64 with gamma, beta and the moving
    statistics (default: Keras' initial 0 and 1) copied in, called once on x. Returns its output,
    with dout the gradients of Σ out ⊙ dout w.r.t. x, gamma and beta, and its moving statistics
    after the call."""
    import keras

    C = x.shape[-1]
    mm, mv = moving if moving is not None else (np.zeros(C), np.ones(C))
    layer = keras.layers.BatchNormalization(epsilon=EPS, momentum=momentum, dtype="float64")
    layer.build(x.shape)
    assert [w.path.split("/")[-1] for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    layer.set_weights([gamma, beta, mm, mv])
    xt = tf.constant(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=training)
        total = tf.reduce_sum(out * (0.0 if dout is None else dout))
    grads = [g.numpy() for g in tape.gradient(total, [xt, layer.gamma, layer.beta])] if dout is not None else None
    assert out.dtype == tf.float64
    return SimpleNamespace(out=out.numpy(), grads=grads, moving_mean=layer.moving_mean.numpy(),
                           moving_var=layer.moving_variance.numpy())


# --------------------------------------------------------------------------------------
# forward, moving statistics and inference against Keras
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("loc,scale", SCALES)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_keras_in_training(tf, rng, shape, loc, scale):
    x = _x(rng, shape, loc, scale)
    gamma, beta, _, _ = _params(rng, shape[-1])
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    ref = _keras_bn(tf, x, gamma, beta, training=True)
    _assert_close(out, ref.out, f"batchnorm_forward {shape} x~{loc}±{scale} vs Keras training=True", TF_TOL)
    assert out.dtype == np.float64 and out.shape == x.shape
    # the cache: statistics over every axis but the last, the biased variance (as tf.nn.moments)
    axes = tuple(range(x.ndim - 1))
    mean_tf, var_tf = (t.numpy() for t in tf.nn.moments(tf.constant(x), axes=list(axes)))
    assert isinstance(cache, nn.BatchNormCache) and cache.axes == axes
    _assert_close(cache.mean, mean_tf, "cache.mean vs tf.nn.moments", TF_TOL)
    _assert_close(cache.var, var_tf, "cache.var vs tf.nn.moments (biased)", TF_TOL)
    _assert_close(cache.inv_std, 1 / np.sqrt(var_tf + EPS), "cache.inv_std", TF_TOL)
    _assert_close(cache.x_hat, (x - mean_tf) / np.sqrt(var_tf + EPS), "cache.x_hat", TF_TOL)
    np.testing.assert_array_equal(cache.gamma, gamma)


@pytest.mark.parametrize("momentum", [0.9, 0.99, 0.5, 0.0])
@pytest.mark.parametrize("shape", [(8, 5), (1, 3, 3, 2), (2, 5, 4, 3)])
def test_moving_statistics_match_keras_after_one_training_call(tf, rng, shape, momentum):
    x = _x(rng, shape, loc=2.0, scale=3.0)
    gamma, beta, mm, mv = _params(rng, shape[-1])
    _, cache = nn.batchnorm_forward(x, gamma, beta)
    mm0, mv0 = mm.copy(), mv.copy()
    new_mean, new_var = nn.update_moving_stats(mm, mv, cache, momentum=momentum)
    np.testing.assert_array_equal(mm, mm0)          # the inputs are not changed in place
    np.testing.assert_array_equal(mv, mv0)
    ref = _keras_bn(tf, x, gamma, beta, training=True, moving=(mm, mv), momentum=momentum)
    _assert_close(new_mean, ref.moving_mean, f"moving mean (momentum {momentum}) vs Keras", TF_TOL)
    _assert_close(new_var, ref.moving_var, f"moving variance (momentum {momentum}) vs Keras", TF_TOL)
    # and the documented rule, with the biased batch variance
    axes = tuple(range(x.ndim - 1))
    _assert_close(new_var, momentum * mv + (1 - momentum) * x.var(axis=axes, ddof=0), "moving variance rule", 1e-14)


def test_default_momentum_and_several_batches_track_keras(tf, rng):
    """Keras' defaults (momentum 0.99, moving statistics from 0 and 1), five batches in a row."""
    import keras

    C = 4
    gamma, beta, _, _ = _params(rng, C)
    layer = keras.layers.BatchNormalization(dtype="float64")          # epsilon 1e-3, momentum 0.99
    layer.build((None, 3, 3, C))
    layer.set_weights([gamma, beta, np.zeros(C), np.ones(C)])
    mm, mv = np.zeros(C), np.ones(C)
    for step in range(5):
        x = _x(rng, (6, 3, 3, C), loc=step, scale=1.0 + step)
        out_k = layer(tf.constant(x), training=True).numpy()
        out, cache = nn.batchnorm_forward(x, gamma, beta)
        mm, mv = nn.update_moving_stats(mm, mv, cache)
        _assert_close(out, out_k, f"step {step}: output", TF_TOL)
        _assert_close(mm, layer.moving_mean.numpy(), f"step {step}: moving mean", TF_TOL)
        _assert_close(mv, layer.moving_variance.numpy(), f"step {step}: moving variance", TF_TOL)


@pytest.mark.parametrize("loc,scale", SCALES)
@pytest.mark.parametrize("shape", SHAPES)
def test_inference_matches_keras_with_moving_statistics(tf, rng, shape, loc, scale):
    x = _x(rng, shape, loc, scale)
    gamma, beta, mm, mv = _params(rng, shape[-1])
    mm, mv = loc + scale * mm, scale**2 * mv                  # moving statistics on x's scale
    out = nn.batchnorm_inference(x, gamma, beta, mm, mv)
    ref = _keras_bn(tf, x, gamma, beta, training=False, moving=(mm, mv))
    _assert_close(out, ref.out, f"batchnorm_inference {shape} vs Keras training=False", TF_TOL)
    np.testing.assert_array_equal(ref.moving_mean, mm)       # training=False leaves them alone
    assert out.dtype == np.float64 and out.shape == x.shape


def test_inference_with_the_batch_statistics_is_the_training_output(rng):
    x = _x(rng, (5, 4, 4, 3), loc=1.0, scale=2.0)
    gamma, beta, _, _ = _params(rng, 3)
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    _assert_close(nn.batchnorm_inference(x, gamma, beta, cache.mean, cache.var), out, "inference(μ, σ²)", 1e-13)


# --------------------------------------------------------------------------------------
# backward against tf.GradientTape and centred differences
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("loc,scale", SCALES)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_gradienttape_on_keras(tf, rng, shape, loc, scale):
    x = _x(rng, shape, loc, scale)
    gamma, beta, _, _ = _params(rng, shape[-1])
    dout = rng.normal(size=shape)
    _, cache = nn.batchnorm_forward(x, gamma, beta)
    ours = nn.batchnorm_backward(dout, cache)
    ref = _keras_bn(tf, x, gamma, beta, training=True, dout=dout)
    for g, g_tf, name in zip(ours, ref.grads, ("dx", "dgamma", "dbeta")):
        assert g.dtype == np.float64
        if name == "dx" and shape[0] == 2 and len(shape) == 2 and scale > 1:
            # m = 2: x̂ = ±√(σ²/(σ² + ε)), so dx = O(ε/σ²) ~ 1e-10 is what is left when the O(1) terms
            # of (m dout − Σ dout − x̂ Σ dout x̂) cancel; both sides carry ~1e-16 of those terms.
            # Compare on the scale of the terms, γ/√(σ² + ε)·|dout|.
            err = np.max(np.abs(g - g_tf)) / np.max(np.abs(gamma * cache.inv_std * dout))
            assert err < 1e-13, f"dx {shape} x~{loc}±{scale} vs GradientTape, on the terms' scale: {err:.1e}"
            continue
        _assert_close(g, g_tf, f"{name} {shape} x~{loc}±{scale} vs GradientTape on Keras", TF_TOL)


@pytest.mark.parametrize("shape", [(2, 5, 4, 3), (8, 5)])
def test_backward_matches_gradienttape_on_tf_nn_batch_normalization(tf, rng, shape):
    """A second TensorFlow reference, written with tf.nn.moments and tf.nn.batch_normalization."""
    x = _x(rng, shape, 1.0, 2.0)
    gamma, beta, _, _ = _params(rng, shape[-1])
    dout = rng.normal(size=shape)
    ts = [tf.constant(a) for a in (x, gamma, beta)]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        mean, var = tf.nn.moments(ts[0], axes=list(range(x.ndim - 1)))
        out = tf.nn.batch_normalization(ts[0], mean, var, ts[2], ts[1], EPS)
        total = tf.reduce_sum(out * dout)
    _, cache = nn.batchnorm_forward(x, gamma, beta)
    for g, g_tf, name in zip(nn.batchnorm_backward(dout, cache), tape.gradient(total, ts), ("dx", "dgamma", "dbeta")):
        _assert_close(g, g_tf.numpy(), f"{name} vs GradientTape on tf.nn.batch_normalization", TF_TOL)


@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (3.0, 0.5), (0.5, 1e-3)])
@pytest.mark.parametrize("shape", [(6, 3), (2, 4), (1, 3, 3, 2), (2, 3, 2, 3), (5, 1)])
def test_backward_numerical(rng, shape, loc, scale):
    x = _x(rng, shape, loc, scale)
    gamma, beta, _, _ = _params(rng, shape[-1])
    dout = rng.normal(size=shape)
    _, cache = nn.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = nn.batchnorm_backward(dout, cache)
    params = {"x": x, "gamma": gamma, "beta": beta}
    grads = {"x": dx, "gamma": dgamma, "beta": dbeta}

    def loss():
        return np.sum(dout * nn.batchnorm_forward(x, gamma, beta)[0])

    # x: steps of about 1/100 of its spread (h = 1e-3 for ordinary x); out is linear in γ and β
    results = gradient_check(loss, {"x": x}, grads, h=min(1e-3, 1e-2 * scale))
    results |= gradient_check(loss, {"gamma": gamma, "beta": beta}, grads, h=1e-3)
    assert set(results) == set(params)
    for r in results.values():
        assert r.rel_error < NUM_TOL, f"{shape} x~{loc}±{scale}: {r}"
    assert np.any(dx != 0) and np.any(dgamma != 0) and np.any(dbeta != 0)


# --------------------------------------------------------------------------------------
# properties of the derivation
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 0.03, 1e-3, 50.0])
@pytest.mark.parametrize("shape", [(64, 4), (3, 6, 5, 3)])
def test_output_has_per_channel_mean_beta_and_std_gamma_shrunk_by_eps(rng, shape, scale):
    """mean(out) = β and std(out) = |γ| √(σ²/(σ² + ε)) per channel (std biased, over the axes)."""
    x = _x(rng, shape, loc=1.0, scale=scale)
    gamma, beta, _, _ = _params(rng, shape[-1])
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    axes = tuple(range(x.ndim - 1))
    var = x.var(axis=axes)
    np.testing.assert_allclose(out.mean(axis=axes), beta, rtol=0, atol=1e-12 * np.abs(gamma).max())
    expected_std = np.abs(gamma) * np.sqrt(var / (var + EPS))
    _assert_close(out.std(axis=axes), expected_std, f"per-channel std at scale {scale}", 1e-12)
    np.testing.assert_allclose(cache.x_hat.mean(axis=axes), 0, atol=1e-13)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e3])
@pytest.mark.parametrize("shape", SHAPES)
def test_dx_sums_to_zero_over_the_normalised_axes(rng, shape, scale):
    """Σ_i dx_i = (s/m)(m Σ dx̂ − m Σ dx̂ − Σ x̂ · Σ dx̂ x̂) = 0 per channel, since Σ x̂ = 0."""
    x = _x(rng, shape, loc=5.0, scale=scale)
    gamma, beta, _, _ = _params(rng, shape[-1])
    dout = 1.0 + rng.normal(size=shape)                      # Σ dout ≠ 0: the sum cancels, not vanishes
    _, cache = nn.batchnorm_forward(x, gamma, beta)
    dx, _, dbeta = nn.batchnorm_backward(dout, cache)
    axes = tuple(range(x.ndim - 1))
    size = np.abs(dx).sum(axis=axes) + np.abs(gamma * cache.inv_std * dbeta)
    assert np.all(np.abs(dx.sum(axis=axes)) <= 1e-13 * size), (dx.sum(axis=axes), size)
    assert np.any(dx != 0)


def test_batch_of_one_example_has_zero_variance_as_keras(tf, rng):
    """x (1, D): σ² = 0, x̂ = 0, out = β; dx = 0 (out does not depend on x), dgamma = 0, dbeta = dout."""
    x = rng.normal(size=(1, 5))
    gamma, beta, mm, mv = _params(rng, 5)
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    np.testing.assert_array_equal(cache.var, np.zeros(5))
    np.testing.assert_array_equal(cache.x_hat, np.zeros((1, 5)))
    np.testing.assert_array_equal(out, beta[None, :])
    dout = rng.normal(size=(1, 5))
    ref = _keras_bn(tf, x, gamma, beta, training=True, moving=(mm, mv), momentum=0.9, dout=dout)
    _assert_close(out, ref.out, "x (1, D) vs Keras", TF_TOL)
    dx, dgamma, dbeta = nn.batchnorm_backward(dout, cache)
    np.testing.assert_array_equal(dx, np.zeros_like(x))
    np.testing.assert_array_equal(dgamma, np.zeros(5))
    np.testing.assert_array_equal(dbeta, dout[0])
    np.testing.assert_allclose(ref.grads[0], 0, atol=1e-12)
    np.testing.assert_allclose(ref.grads[1], 0, atol=1e-12)
    _assert_close(dbeta, ref.grads[2], "dbeta of x (1, D) vs Keras", TF_TOL)
    new_mean, new_var = nn.update_moving_stats(mm, mv, cache, momentum=0.9)
    _assert_close(new_mean, ref.moving_mean, "moving mean after x (1, D)", TF_TOL)
    _assert_close(new_var, ref.moving_var, "moving variance after x (1, D) (0.9 σ² shrinks)", TF_TOL)


def test_constant_channel_gives_beta_but_not_a_zero_gradient(tf, rng):
    """σ² = 0 with m > 1: out = β, yet dx = (γ/√ε)(dout − mean(dout)) ≠ 0 (a small change of one
    x_i is amplified by 1/√ε), as in Keras. Only m = 1 gives dx = 0."""
    x = rng.normal(size=(3, 2, 2, 2))
    x[..., 1] = 7.0
    gamma, beta = np.array([1.5, 2.0]), np.array([0.1, -0.4])
    out, cache = nn.batchnorm_forward(x, gamma, beta)
    np.testing.assert_array_equal(out[..., 1], -0.4)
    dout = rng.normal(size=x.shape)
    dx, dgamma, _ = nn.batchnorm_backward(dout, cache)
    _assert_close(dx[..., 1], gamma[1] / np.sqrt(EPS) * (dout[..., 1] - dout[..., 1].mean()), "dx, σ² = 0", 1e-13)
    assert dgamma[1] == 0.0
    ref = _keras_bn(tf, x, gamma, beta, dout=dout)
    for g, g_tf, name in zip((dx, dgamma), ref.grads, ("dx", "dgamma")):
        np.testing.assert_allclose(g, g_tf, rtol=1e-9, atol=1e-12, err_msg=f"{name}, σ² = 0, vs Keras")


# --------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 3, 4)])
def test_float32_is_kept_and_agrees_with_float64(rng, shape):
    x = _x(rng, shape, 1.0, 2.0)
    gamma, beta, mm, mv = _params(rng, shape[-1])
    dout = rng.normal(size=shape)
    f32 = [a.astype(np.float32) for a in (x, gamma, beta, mm, mv, dout)]
    out32, cache32 = nn.batchnorm_forward(*f32[:3])
    grads32 = nn.batchnorm_backward(f32[5], cache32)
    inf32 = nn.batchnorm_inference(*f32[:5])
    moving32 = nn.update_moving_stats(f32[3], f32[4], cache32)
    for a in (out32, *cache32[:5], *grads32, inf32, *moving32):
        assert a.dtype == np.float32
    out64, cache64 = nn.batchnorm_forward(x, gamma, beta)
    pairs = [(out32, out64), (grads32[0], nn.batchnorm_backward(dout, cache64)[0]),
             (inf32, nn.batchnorm_inference(x, gamma, beta, mm, mv)),
             (moving32[1], nn.update_moving_stats(mm, mv, cache64)[1])]
    for a32, a64 in pairs:
        assert a64.dtype == np.float64
        np.testing.assert_allclose(a32, a64, rtol=1e-4, atol=1e-4 * np.abs(a64).max())
    # mixed precision computes in float64; integer x is read as float64
    assert nn.batchnorm_forward(f32[0], gamma, beta)[0].dtype == np.float64
    assert nn.batchnorm_forward(np.arange(12).reshape(4, 3), gamma[:3], beta[:3])[0].dtype == np.float64


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------

def test_forward_validation_errors(rng):
    x = rng.normal(size=(8, 5, 5, 4))
    g, b = np.ones(4), np.zeros(4)
    with pytest.raises(ValueError, match=r"^batchnorm_forward: gamma has shape \(3,\) but x has 4 channels "
                                         r"\(x \(8, 5, 5, 4\)\)"):
        nn.batchnorm_forward(x, np.ones(3), b)
    with pytest.raises(ValueError, match=r"gamma has shape \(1, 4\) but x has 4 channels \(x \(8, 5, 5, 4\)\)"):
        nn.batchnorm_forward(x, np.ones((1, 4)), b)
    with pytest.raises(ValueError, match=r"beta has shape \(5,\) but x has 4 channels \(x \(8, 5, 5, 4\)\)"):
        nn.batchnorm_forward(x, g, np.zeros(5))
    for bad in (rng.normal(size=(2, 3, 4)), rng.normal(size=4), rng.normal(size=(1, 2, 2, 2, 4))):
        with pytest.raises(ValueError, match=r"batchnorm_forward: x must be 2-D \(N, D\) or 4-D \(N, H, W, C\), "
                                             rf"got x \({', '.join(map(str, bad.shape))},?\).*\(gamma \(4,\)\)"):
            nn.batchnorm_forward(bad, g, b)
    for eps in (0, 0.0, -1e-3, float("nan"), float("inf"), True, "0.001"):
        with pytest.raises(ValueError, match=r"batchnorm_forward: eps must be a finite number > 0.*got "
                                             + repr(eps).replace("(", r"\(")):
            nn.batchnorm_forward(x, g, b, eps=eps)
    with pytest.raises(ValueError, match=r"batchnorm_forward: x must hold at least one value.*got x \(0, 4\)"):
        nn.batchnorm_forward(np.zeros((0, 4)), g, b)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"batchnorm_forward: x contains 1 NaN or inf"):
        nn.batchnorm_forward(bad, g, b)
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma contains 1 NaN or inf"):
        nn.batchnorm_forward(x, np.array([1, np.inf, 1, 1]), b)
    with pytest.raises(ValueError, match=r"batchnorm_forward: x must be float32 or float64, got dtype float16"):
        nn.batchnorm_forward(x.astype(np.float16), g, b)


def test_backward_and_update_validation_errors(rng):
    x = rng.normal(size=(8, 5, 5, 4))
    _, cache = nn.batchnorm_forward(x, np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"batchnorm_backward: dout must have the shape of the forward output "
                                         r"out \(8, 5, 5, 4\), got dout \(8, 5, 5, 3\)"):
        nn.batchnorm_backward(np.zeros((8, 5, 5, 3)), cache)
    with pytest.raises(ValueError, match=r"batchnorm_backward: dout contains 1 NaN or inf"):
        nn.batchnorm_backward(np.where(x > x.max() - 1e-12, np.inf, x), cache)
    for func, call in (("batchnorm_backward", lambda c: nn.batchnorm_backward(x, c)),
                       ("update_moving_stats", lambda c: nn.update_moving_stats(np.zeros(4), np.ones(4), c))):
        for bad in (tuple(cache), None, nn.DropoutCache(np.ones(3, bool), 0.5)):
            with pytest.raises(ValueError, match=rf"{func}: cache must be the cache returned by batchnorm_forward, "
                                                 rf"got {type(bad).__name__}"):
                call(bad)
    for momentum in (1.0, 1.5, -0.1, float("nan"), True, "0.9"):
        with pytest.raises(ValueError, match=r"update_moving_stats: momentum must be a number in \[0, 1\).*got "
                                             + repr(momentum)):
            nn.update_moving_stats(np.zeros(4), np.ones(4), cache, momentum=momentum)
    with pytest.raises(ValueError, match=r"update_moving_stats: moving_mean has shape \(3,\) but the batch "
                                         r"statistics have 4 channels \(cache.mean \(4,\)\)"):
        nn.update_moving_stats(np.zeros(3), np.ones(4), cache)
    with pytest.raises(ValueError, match=r"update_moving_stats: moving_var has shape \(4, 1\) but"):
        nn.update_moving_stats(np.zeros(4), np.ones((4, 1)), cache)


def test_inference_validation_errors(rng):
    x = rng.normal(size=(6, 3))
    g, b, mm, mv = np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"batchnorm_inference: moving_mean has shape \(4,\) but x has 3 channels "
                                         r"\(x \(6, 3\)\)"):
        nn.batchnorm_inference(x, g, b, np.zeros(4), mv)
    with pytest.raises(ValueError, match=r"batchnorm_inference: moving_var has shape \(2,\) but x has 3 channels"):
        nn.batchnorm_inference(x, g, b, mm, np.ones(2))
    with pytest.raises(ValueError, match=r"batchnorm_inference: gamma has shape \(2,\) but x has 3 channels"):
        nn.batchnorm_inference(x, np.ones(2), b, mm, mv)
    with pytest.raises(ValueError, match=r"batchnorm_inference: moving_var must be >= 0"):
        nn.batchnorm_inference(x, g, b, mm, np.array([1.0, -0.5, 1.0]))
    with pytest.raises(ValueError, match=r"batchnorm_inference: x must be 2-D \(N, D\) or 4-D.*got x \(6, 3, 1\)"):
        nn.batchnorm_inference(x[..., None], g, b, mm, mv)
    with pytest.raises(ValueError, match=r"batchnorm_inference: eps must be a finite number > 0.*got 0"):
        nn.batchnorm_inference(x, g, b, mm, mv, eps=0)
    with pytest.raises(ValueError, match=r"batchnorm_inference: moving_mean contains 1 NaN or inf"):
        nn.batchnorm_inference(x, g, b, np.array([0.0, np.nan, 0.0]), mv)
