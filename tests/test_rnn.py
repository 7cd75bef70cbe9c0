"""Tests for helpers.rnn: the RNN step and BPTT, the LSTM, clipping and Jacobian norms.

Every backward function is checked twice: against TensorFlow autodiff (a Keras layer with
the same weights copied in, float64, rel_error < 1e-9) and against centred differences
(float64, rel_error < 1e-7). Gradients of TensorFlow are asserted to be non-zero first, so
that two all-zero arrays can never pass as "equal".
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import rnn
from helpers.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

KERAS_TOL = 1e-9
NUM_TOL = 1e-7

# (N, T, D, H): batch, time steps, features, hidden units. T=1 and N=1 included.
SHAPES = [(2, 5, 3, 4), (1, 1, 3, 2), (4, 1, 2, 5), (1, 7, 1, 3), (3, 12, 6, 8)]


def _rnn_params(rng, D, H, scale=0.5):
    return (rng.normal(scale=scale, size=(D, H)), rng.normal(scale=scale, size=(H, H)),
            rng.normal(scale=0.3, size=H))


def _lstm_params(rng, D, H, scale=0.5):
    return (rng.normal(scale=scale, size=(D, 4 * H)), rng.normal(scale=scale, size=(H, 4 * H)),
            rng.normal(scale=0.3, size=4 * H))


def _keras(tf, layer_cls, H, x, states, weights, upstreams, **kw):
    """Run a float64 Keras RNN layer with ``weights`` copied in; return outputs and the
    gradients of Σ upstream ⊙ output w.r.t. x, the initial states and the layer's weights."""
    layer = layer_cls(H, return_sequences=True, dtype="float64", **kw)
    layer.build(x.shape)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    xt = tf.constant(x)
    st = [tf.constant(s) for s in states]
    with tf.GradientTape() as tape:
        tape.watch([xt, *st])
        outs = layer(xt, initial_state=st if len(st) > 1 else st[0])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        loss = tf.add_n([tf.reduce_sum(o * u) for o, u in zip(outs, upstreams)])
    grads = tape.gradient(loss, [xt, *st, *layer.trainable_weights])
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


def _assert_close(ours, theirs, names, tol, what):
    for a, b, name in zip(ours, theirs, names, strict=True):
        assert np.shape(a) == np.shape(b), f"{what} {name}: shape {np.shape(a)} vs {np.shape(b)}"
        assert np.any(b != 0), f"{what} {name}: the reference is all zeros, the check would be vacuous"
        err = rel_error(a, b)
        assert err < tol, f"{what} {name}: rel_error {err:.2e} >= {tol:.0e}"


# --------------------------------------------------------------------------------------
# vanilla RNN against Keras SimpleRNN
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_rnn_forward_backward_match_keras_simplernn(tf, rng, N, T, D, H):
    import keras

    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(scale=0.5, size=(N, H))
    W, U, b = _rnn_params(rng, D, H)
    dhs = rng.normal(size=(N, T, H))
    (out,), kgrads = _keras(tf, keras.layers.SimpleRNN, H, x, [h0], [W, U, b], [dhs])

    hs, cache = rnn.rnn_forward(x, h0, W, U, b)
    _assert_close([hs], [out], ["hs"], KERAS_TOL, "rnn_forward vs SimpleRNN")
    grads = rnn.rnn_backward(dhs, cache)
    _assert_close(grads, kgrads, ["dx", "dh0", "dW", "dU", "db"], KERAS_TOL, "rnn_backward vs SimpleRNN")


@pytest.mark.parametrize("N,D,H", [(3, 4, 5), (1, 2, 1)])
def test_rnn_step_matches_keras_one_timestep(tf, rng, N, D, H):
    import keras

    x_t = rng.normal(size=(N, D))
    h_prev = rng.normal(scale=0.5, size=(N, H))
    W, U, b = _rnn_params(rng, D, H)
    dh = rng.normal(size=(N, H))
    (out,), kgrads = _keras(tf, keras.layers.SimpleRNN, H, x_t[:, None], [h_prev], [W, U, b], [dh[:, None]])
    kgrads[0] = kgrads[0][:, 0]

    h, cache = rnn.rnn_step_forward(x_t, h_prev, W, U, b)
    _assert_close([h], [out[:, 0]], ["h"], KERAS_TOL, "rnn_step_forward vs SimpleRNN")
    grads = rnn.rnn_step_backward(dh, cache)
    _assert_close(grads, kgrads, ["dx_t", "dh_prev", "dW", "dU", "db"], KERAS_TOL, "rnn_step_backward")


def test_rnn_forward_default_h0_is_zeros_like_keras(tf, rng):
    import keras

    N, T, D, H = 2, 4, 3, 5
    x = rng.normal(size=(N, T, D))
    W, U, b = _rnn_params(rng, D, H)
    layer = keras.layers.SimpleRNN(H, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([W, U, b])
    hs, cache = rnn.rnn_forward(x, None, W, U, b)
    assert rel_error(hs, layer(tf.constant(x)).numpy()) < KERAS_TOL
    assert np.all(cache.h0 == 0) and cache.h0.shape == (N, H)


def test_rnn_forward_and_backward_are_steps_chained(rng):
    """rnn_forward is rnn_step_forward T times; rnn_backward with a loss on h_T only is
    rnn_step_backward chained backwards, with dW, dU, db summed over the steps."""
    N, T, D, H = 3, 6, 2, 4
    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H))
    W, U, b = _rnn_params(rng, D, H)
    hs, cache = rnn.rnn_forward(x, h0, W, U, b)
    h, caches = h0, []
    for t in range(T):
        h, c = rnn.rnn_step_forward(x[:, t], h, W, U, b)
        caches.append(c)
        np.testing.assert_allclose(h, hs[:, t], rtol=0, atol=1e-14)

    dhT = rng.normal(size=(N, H))
    dhs = np.zeros((N, T, H))
    dhs[:, -1] = dhT
    dx, dh0, dW, dU, db = rnn.rnn_backward(dhs, cache)
    dh, sums = dhT, [0, 0, 0]
    for t in reversed(range(T)):
        dx_t, dh, *dp = rnn.rnn_step_backward(dh, caches[t])
        sums = [s + d for s, d in zip(sums, dp)]
        np.testing.assert_allclose(dx[:, t], dx_t, rtol=1e-12, atol=1e-14)
    for ours, chained in zip([dh0, dW, dU, db], [dh, *sums]):
        np.testing.assert_allclose(ours, chained, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------
# LSTM against Keras LSTM
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("N,D,H", [(3, 4, 5), (1, 2, 1), (2, 1, 3)])
def test_lstm_step_matches_keras_one_timestep(tf, rng, N, D, H):
    """One Keras LSTM step with initial_state=[h, c]; upstream gradients on both h and c."""
    import keras

    x_t = rng.normal(size=(N, D))
    h_prev = rng.normal(scale=0.5, size=(N, H))
    c_prev = rng.normal(size=(N, H))
    W, U, b = _lstm_params(rng, D, H)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    # outputs of return_state=True: [sequence, h_T, c_T]; upstream on h via h_T, on c via c_T
    (seq, hk, ck), kgrads = _keras(tf, keras.layers.LSTM, H, x_t[:, None], [h_prev, c_prev], [W, U, b],
                                   [np.zeros((N, 1, H)), dh, dc], return_state=True)
    kgrads[0] = kgrads[0][:, 0]

    h, c, cache = rnn.lstm_step_forward(x_t, h_prev, c_prev, W, U, b)
    _assert_close([h, c], [hk, ck], ["h", "c"], KERAS_TOL, "lstm_step_forward vs LSTM")
    assert np.array_equal(seq[:, 0], hk)
    grads = rnn.lstm_step_backward(dh, dc, cache)
    _assert_close(grads, kgrads, ["dx_t", "dh_prev", "dc_prev", "dW", "dU", "db"], KERAS_TOL,
                  "lstm_step_backward vs LSTM")


@pytest.mark.parametrize("N,T,D,H", [(2, 6, 3, 4), (1, 1, 2, 3)])
def test_lstm_forward_backward_match_keras(tf, rng, N, T, D, H):
    import keras

    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(scale=0.5, size=(N, H))
    c0 = rng.normal(size=(N, H))
    W, U, b = _lstm_params(rng, D, H)
    dhs, dcT = rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    (seq, _, cT), kgrads = _keras(tf, keras.layers.LSTM, H, x, [h0, c0], [W, U, b],
                                  [dhs, np.zeros((N, H)), dcT], return_state=True)

    hs, cache = rnn.lstm_forward(x, h0, c0, W, U, b)
    _assert_close([hs, rnn.lstm_final_cell_state(cache)], [seq, cT], ["hs", "c_T"], KERAS_TOL,
                  "lstm_forward vs LSTM")
    grads = rnn.lstm_backward(dhs, cache, dcT)
    _assert_close(grads, kgrads, ["dx", "dh0", "dc0", "dW", "dU", "db"], KERAS_TOL, "lstm_backward vs LSTM")


# --------------------------------------------------------------------------------------
# numerical gradient checks (float64)
# --------------------------------------------------------------------------------------

def _num_check(f, params, grads, names, what):
    """f() -> scalar loss reading the arrays in params (perturbed in place)."""
    for p, g, name in zip(params, grads, names, strict=True):
        num = numerical_gradient(lambda _: f(), p)  # Richardson-extrapolated, eq. (1R)
        assert np.any(num != 0), f"{what} {name}: numerical gradient is all zeros"
        err = rel_error(g, num)
        assert err < NUM_TOL, f"{what} {name}: rel_error {err:.2e} vs numerical"


def test_rnn_step_backward_numerical(rng):
    N, D, H = 4, 3, 5
    x_t, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    W, U, b = _rnn_params(rng, D, H)
    dh = rng.normal(size=(N, H))
    _, cache = rnn.rnn_step_forward(x_t, h_prev, W, U, b)
    grads = rnn.rnn_step_backward(dh, cache)
    _num_check(lambda: np.sum(dh * rnn.rnn_step_forward(x_t, h_prev, W, U, b)[0]), [x_t, h_prev, W, U, b],
               grads, ["dx_t", "dh_prev", "dW", "dU", "db"], "rnn_step_backward")
    # the plain centred difference of helpers.gradcheck (what the notebook shows) agrees too,
    # to the looser accuracy of its O(h²) error
    num = numerical_gradient_array(lambda _: rnn.rnn_step_forward(x_t, h_prev, W, U, b)[0], U, dh)
    assert rel_error(grads[3], num) < 1e-6


@pytest.mark.parametrize("N,T,D,H", [(3, 6, 3, 4), (1, 1, 2, 3)])
def test_rnn_backward_numerical(rng, N, T, D, H):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    W, U, b = _rnn_params(rng, D, H, scale=0.7)
    dhs = rng.normal(size=(N, T, H))
    _, cache = rnn.rnn_forward(x, h0, W, U, b)
    grads = rnn.rnn_backward(dhs, cache)
    _num_check(lambda: np.sum(dhs * rnn.rnn_forward(x, h0, W, U, b)[0]), [x, h0, W, U, b], grads,
               ["dx", "dh0", "dW", "dU", "db"], "rnn_backward")


def test_lstm_step_backward_numerical(rng):
    N, D, H = 3, 4, 3
    x_t, h_prev, c_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    W, U, b = _lstm_params(rng, D, H, scale=0.8)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))

    def loss():
        h, c, _ = rnn.lstm_step_forward(x_t, h_prev, c_prev, W, U, b)
        return np.sum(dh * h) + np.sum(dc * c)

    _, _, cache = rnn.lstm_step_forward(x_t, h_prev, c_prev, W, U, b)
    grads = rnn.lstm_step_backward(dh, dc, cache)
    _num_check(loss, [x_t, h_prev, c_prev, W, U, b], grads,
               ["dx_t", "dh_prev", "dc_prev", "dW", "dU", "db"], "lstm_step_backward")
    # dc=None means no upstream gradient on c
    g0 = rnn.lstm_step_backward(dh, None, cache)
    gz = rnn.lstm_step_backward(dh, np.zeros_like(dc), cache)
    for a, z in zip(g0, gz):
        np.testing.assert_array_equal(a, z)


def test_lstm_backward_numerical(rng):
    N, T, D, H = 2, 5, 3, 3
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    W, U, b = _lstm_params(rng, D, H, scale=0.8)
    dhs, dcT = rng.normal(size=(N, T, H)), rng.normal(size=(N, H))

    def loss():
        hs, cache = rnn.lstm_forward(x, h0, c0, W, U, b)
        return np.sum(dhs * hs) + np.sum(dcT * rnn.lstm_final_cell_state(cache))

    _, cache = rnn.lstm_forward(x, h0, c0, W, U, b)
    grads = rnn.lstm_backward(dhs, cache, dcT)
    _num_check(loss, [x, h0, c0, W, U, b], grads, ["dx", "dh0", "dc0", "dW", "dU", "db"], "lstm_backward")


# --------------------------------------------------------------------------------------
# gradient clipping
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_clip_by_global_norm_matches_tf(tf, rng, dtype, max_norm):
    grads = [rng.normal(size=(3, 4)).astype(dtype), None, rng.normal(size=(4,)).astype(dtype),
             rng.normal(size=(2, 2, 2)).astype(dtype)]
    clipped, norm = rnn.clip_by_global_norm(grads, max_norm)
    tf_clipped, tf_norm = tf.clip_by_global_norm([None if g is None else tf.constant(g) for g in grads],
                                                 max_norm)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    assert abs(norm - float(tf_norm)) <= tol * float(tf_norm)
    assert len(clipped) == len(grads) and clipped[1] is None and tf_clipped[1] is None
    for ours, theirs, g in zip(clipped, tf_clipped, grads):
        if g is None:
            continue
        assert ours.dtype == g.dtype
        assert rel_error(ours, theirs.numpy()) < tol
    new_norm = np.sqrt(sum(np.sum(np.square(c, dtype=np.float64)) for c in clipped if c is not None))
    if norm > max_norm:  # clipped: length capped, direction kept
        assert new_norm == pytest.approx(max_norm, rel=10 * tol)
        assert rel_error(clipped[0] / new_norm, grads[0] / norm) < 1e-5
    else:  # untouched
        for c, g in zip(clipped, grads):
            assert c is None or np.array_equal(c, g)


def test_clip_by_global_norm_dict_and_nonfinite(tf):
    grads = {"W": np.array([[3.0, 0.0]]), "b": np.array([4.0])}
    clipped, norm = rnn.clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0, rel=1e-15)
    assert set(clipped) == {"W", "b"}
    np.testing.assert_allclose(clipped["W"], [[0.6, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(clipped["b"], [0.8], rtol=1e-15)
    # an exploded gradient: TensorFlow returns NaN everywhere and the inf norm; so do we
    bad = [np.array([1.0, np.inf]), np.array([2.0])]
    ours, ours_norm = rnn.clip_by_global_norm(bad, 1.0)
    theirs, tf_norm = tf.clip_by_global_norm([tf.constant(g) for g in bad], 1.0)
    assert np.isinf(ours_norm) and np.isinf(float(tf_norm))
    for o, t in zip(ours, theirs):
        assert np.all(np.isnan(o)) and np.all(np.isnan(t.numpy()))


# --------------------------------------------------------------------------------------
# Jacobian norms: vanishing and exploding gradients
# --------------------------------------------------------------------------------------

def _scaled_orthogonal(rng, H, rho):
    q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    return rho * q


def test_hidden_state_jacobian_norms_match_tf_jacobian(tf, rng):
    """Explicit ∂h_T/∂h_t from TensorFlow: re-run the recurrence from h_t and take its Jacobian."""
    N, T, D, H = 2, 6, 3, 4
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    W, U, b = _rnn_params(rng, D, H, scale=0.8)
    hs, _ = rnn.rnn_forward(x, h0, W, U, b)
    norms = rnn.hidden_state_jacobian_norms(hs, U)
    fro = rnn.hidden_state_jacobian_norms(hs, U, ord="fro")
    assert norms.shape == fro.shape == (N, T)
    for k in range(T):  # distance k = T - t, h_t = hs[:, T-1-k]
        h_t = tf.constant(hs[:, T - 1 - k])
        with tf.GradientTape() as tape:
            tape.watch(h_t)
            h = h_t
            for s in range(T - k, T):  # steps t+1 .. T
                h = tf.tanh(x[:, s] @ W + h @ U + b)
        J = tape.batch_jacobian(h, h_t).numpy() if k else np.broadcast_to(np.eye(H), (N, H, H))
        assert rel_error(norms[:, k], np.linalg.norm(J, ord=2, axis=(1, 2))) < 1e-12
        assert rel_error(fro[:, k], np.linalg.norm(J, ord="fro", axis=(1, 2))) < 1e-12
    assert np.all(norms[:, 0] == 1.0)
    assert np.ptp(norms) > 0.1  # the check above compared something that varies


def test_hidden_state_jacobian_norms_follow_spectral_radius(rng):
    N, T, D, H = 3, 25, 2, 6
    x = rng.normal(size=(N, T, D))
    W = rng.normal(size=(D, H))
    # small spectral radius: each factor diag(1 - h²) Uᵀ has norm <= ρ, so ||∂h_T/∂h_t|| <= ρ^(T-t)
    U = _scaled_orthogonal(rng, H, 0.5)
    assert rnn.spectral_radius(U) == pytest.approx(0.5, rel=1e-12)
    hs, _ = rnn.rnn_forward(x, rng.normal(size=(N, H)), W, U, np.zeros(H))
    norms = rnn.hidden_state_jacobian_norms(hs, U)
    k = np.arange(T)
    assert np.all(norms <= 0.5 ** k * (1 + 1e-12))
    assert np.all(np.diff(norms, axis=1) < 0)
    assert np.all(norms[:, -1] < 1e-7)  # vanished
    # large spectral radius in the linear regime (x = 0, h0 = 0, b = 0: every h_k = 0, so
    # diag(1 - h²) = I) the product is (Uᵀ)^(T-t) with norm exactly ρ^(T-t): it explodes
    U = _scaled_orthogonal(rng, H, 1.5)
    hs, _ = rnn.rnn_forward(np.zeros((N, T, D)), np.zeros((N, H)), W, U, np.zeros(H))
    norms = rnn.hidden_state_jacobian_norms(hs, U)
    np.testing.assert_allclose(norms, np.broadcast_to(1.5 ** k, (N, T)), rtol=1e-10)
    assert norms[0, -1] > 1e4


def test_spectral_radius(rng):
    assert rnn.spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])) == pytest.approx(2.0)  # λ = ±2i
    U = rng.normal(size=(5, 5))
    assert rnn.spectral_radius(0.3 * U) == pytest.approx(0.3 * rnn.spectral_radius(U), rel=1e-12)


# --------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------

def test_float32_in_float32_out_and_close_to_float64(rng):
    N, T, D, H = 2, 5, 3, 4
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    W, U, b = _rnn_params(rng, D, H)
    Wl, Ul, bl = _lstm_params(rng, D, H)
    dhs = rng.normal(size=(N, T, H))
    f32 = [a.astype(np.float32) for a in (x, h0, W, U, b, dhs)]

    def run_all(x, h0, W, U, b, dhs, c0, Wl, Ul, bl):
        out = []
        h, cache = rnn.rnn_step_forward(x[:, 0], h0, W, U, b)
        out += [h, *rnn.rnn_step_backward(dhs[:, 0], cache)]
        hs, cache = rnn.rnn_forward(x, h0, W, U, b)
        out += [hs, *rnn.rnn_backward(dhs, cache)]
        h, c, cache = rnn.lstm_step_forward(x[:, 0], h0, c0, Wl, Ul, bl)
        out += [h, c, *rnn.lstm_step_backward(dhs[:, 0], dhs[:, 1], cache)]
        hs, cache = rnn.lstm_forward(x, h0, c0, Wl, Ul, bl)
        out += [hs, *rnn.lstm_backward(dhs, cache, dhs[:, 0])]
        out += [rnn.hidden_state_jacobian_norms(hs, U)]
        return out

    lstm64 = (c0, Wl, Ul, bl)
    ref = run_all(x, h0, W, U, b, dhs, *lstm64)
    got = run_all(*f32, *[a.astype(np.float32) for a in lstm64])
    assert len(got) == len(ref) == 28
    for j, (g, r) in enumerate(zip(got, ref)):
        assert g.dtype == np.float32, f"output {j} is {g.dtype}"
        assert r.dtype == np.float64
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5, err_msg=f"output {j}")
    # one float64 input promotes the result to float64
    hs, _ = rnn.rnn_forward(f32[0], f32[1], W, f32[3], f32[4])
    assert hs.dtype == np.float64


# --------------------------------------------------------------------------------------
# validation messages name the function, the argument and both shapes
# --------------------------------------------------------------------------------------

def _bad_calls():
    z = np.zeros
    W, U, b = z((3, 5)), z((5, 5)), z(5)
    Wl, Ul, bl = z((3, 8)), z((2, 8)), z(8)
    _, rcache = rnn.rnn_forward(z((4, 6, 3)), None, W, U, b)
    _, scache = rnn.rnn_step_forward(z((4, 3)), z((4, 5)), W, U, b)
    _, lcache = rnn.lstm_forward(z((4, 6, 3)), None, None, Wl, Ul, bl)
    nan_x = z((4, 3))
    nan_x[1, 2] = np.nan
    return [
        (lambda: rnn.rnn_step_forward(z((4, 2)), z((4, 5)), W, U, b),
         r"rnn_step_forward: x_t has 2 features but W expects 3 \(x_t \(4, 2\), W \(3, 5\)\)"),
        (lambda: rnn.rnn_step_forward(z((4, 3)), z((4, 5)), W, z((5, 4)), b),
         r"rnn_step_forward: U must be square \(H, H\) = \(5, 5\).*got U \(5, 4\)"),
        (lambda: rnn.rnn_forward(z((4, 6, 3)), None, W, U, z(4)),
         r"rnn_forward: b must have shape \(5,\).*got b \(4,\) \(W \(3, 5\)\)"),
        (lambda: rnn.rnn_forward(z((4, 6, 3)), z((4, 3)), W, U, b),
         r"rnn_forward: h0 must have shape \(N, H\) = \(4, 5\), got h0 \(4, 3\) \(x \(4, 6, 3\)"),
        (lambda: rnn.rnn_step_forward(z((4, 3)), z((2, 5)), W, U, b),
         r"rnn_step_forward: h_prev must have shape \(N, H\) = \(4, 5\), got h_prev \(2, 5\)"),
        (lambda: rnn.rnn_forward(z((4, 3)), None, W, U, b),
         r"rnn_forward: x must be 3-D, got shape \(4, 3\) \(2-D\)"),
        (lambda: rnn.rnn_step_forward(z((4, 1, 3)), z((4, 5)), W, U, b),
         r"rnn_step_forward: x_t must be 2-D, got shape \(4, 1, 3\) \(3-D\)"),
        (lambda: rnn.rnn_forward(z((4, 6, 2)), None, W, U, b),
         r"rnn_forward: x has 2 features but W expects 3 \(x \(4, 6, 2\) as \(N, T, D\), W \(3, 5\)\)"),
        (lambda: rnn.rnn_forward(z((4, 0, 3)), None, W, U, b), r"rnn_forward: x must have at least one"),
        (lambda: rnn.rnn_backward(z((4, 5, 5)), rcache),
         r"rnn_backward: dhs must have the shape of the forward output hs \(4, 6, 5\), got dhs \(4, 5, 5\)"),
        (lambda: rnn.rnn_step_backward(z((4, 4)), scache),
         r"rnn_step_backward: dh must have the shape of the forward output h \(4, 5\), got dh \(4, 4\)"),
        (lambda: rnn.rnn_backward(z((4, 6, 5)), scache),
         r"rnn_backward: cache must be the cache returned by rnn_forward, got RNNStepCache"),
        (lambda: rnn.rnn_step_forward(nan_x, z((4, 5)), W, U, b),
         r"rnn_step_forward: x_t contains 1 NaN or inf value\(s\) \(shape \(4, 3\)\)"),
        (lambda: rnn.rnn_forward(z((4, 6, 3)), None, W, np.full((5, 5), np.inf), b),
         r"rnn_forward: U contains 25 NaN or inf value\(s\) \(shape \(5, 5\)\)"),
        (lambda: rnn.rnn_backward(np.full((4, 6, 5), np.nan), rcache),
         r"rnn_backward: dhs contains 120 NaN or inf value\(s\)"),
        (lambda: rnn.lstm_step_forward(z((4, 3)), None, None, z((3, 10)), Ul, bl),
         r"lstm_step_forward: W must have 4H columns.*got W \(3, 10\)"),
        (lambda: rnn.lstm_step_forward(z((4, 3)), None, None, Wl, z((2, 2)), bl),
         r"lstm_step_forward: U must have shape \(H, 4H\) = \(2, 8\).*got U \(2, 2\)"),
        (lambda: rnn.lstm_forward(z((4, 6, 3)), None, z((4, 3)), Wl, Ul, bl),
         r"lstm_forward: c0 must have shape \(N, H\) = \(4, 2\), got c0 \(4, 3\)"),
        (lambda: rnn.lstm_backward(z((4, 6, 2)), lcache, z((4, 3))),
         r"lstm_backward: dcT must have the shape of the forward output c_T \(4, 2\), got dcT \(4, 3\)"),
        (lambda: rnn.lstm_step_backward(z((4, 5)), None, scache),
         r"lstm_step_backward: cache must be the cache returned by lstm_step_forward"),
        (lambda: rnn.clip_by_global_norm([z(3)], 0.0), r"clip_by_global_norm: max_norm must be a positive"),
        (lambda: rnn.clip_by_global_norm(z(3), 1.0), r"clip_by_global_norm: grads must be a list"),
        (lambda: rnn.hidden_state_jacobian_norms(z((2, 6, 5)), z((4, 4))),
         r"hidden_state_jacobian_norms: U must have shape \(H, H\) = \(5, 5\) for hs \(2, 6, 5\).*got U \(4, 4\)"),
        (lambda: rnn.spectral_radius(z((2, 3))), r"spectral_radius: U must be square \(H, H\), got U \(2, 3\)"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_calls())))
def test_validation_errors_name_shapes(case):
    call, message = _bad_calls()[case]
    with pytest.raises(ValueError, match=message):
        call()
