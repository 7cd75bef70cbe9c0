"""Tests for the sequence-modelling helpers of chapter 3 (notebooks 06 and 07) in helpers.rnn.

Masked RNNs, truncated BPTT, temporal dense layer and per-step loss, bidirectional RNN, GRU.
As in tests/test_rnn.py, every backward function is checked twice: against TensorFlow
autodiff (a Keras layer with the same weights copied in, float64, rel_error < 1e-9) and
against centred differences (float64, rel_error < 1e-7); TensorFlow's gradients are asserted
to be non-zero first, so that two all-zero arrays can never pass as "equal". Every Keras
comparison also runs our function on float32 copies of the inputs: float32 out, within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import rnn
from helpers.gradcheck import numerical_gradient, rel_error

KERAS_TOL = 1e-9
NUM_TOL = 1e-7

# (N, T, D, H): batch, time steps, features, hidden units; T=1 and N=1 included.
SHAPES = [(2, 5, 3, 4), (1, 1, 2, 3), (3, 7, 1, 2), (1, 6, 2, 5)]


def _params(rng, D, H, gates=1, scale=0.6):
    b = rng.normal(scale=0.3, size=(2, 3 * H) if gates == 3 else gates * H)
    return rng.normal(scale=scale, size=(D, gates * H)), rng.normal(scale=scale, size=(H, gates * H)), b


def _ragged_mask(N, T):
    """Post-padding, pre-padding and a gap, cycling over the rows; at least one real step each."""
    mask = np.ones((N, T), dtype=bool)
    for n in range(N):
        kind, cut = n % 3, max(1, T - 1 - n % max(T - 1, 1))
        if kind == 0:
            mask[n, cut:] = False          # post-padding: the real steps first
        elif kind == 1:
            mask[n, :T - cut] = False      # pre-padding: the real steps last
        elif T > 2:
            mask[n, T // 2] = False        # a gap in the middle
    return mask


def _assert_close(ours, theirs, names, tol, what):
    for a, b, name in zip(ours, theirs, names, strict=True):
        assert np.shape(a) == np.shape(b), f"{what} {name}: shape {np.shape(a)} vs {np.shape(b)}"
        assert np.any(b != 0), f"{what} {name}: the reference is all zeros, the check would be vacuous"
        err = rel_error(a, b)
        assert err < tol, f"{what} {name}: rel_error {err:.2e} >= {tol:.0e}"


def _assert_float32(run, args, ref, what):
    """run(*float32 args) returns float32 arrays within 1e-4 of the float64 reference."""
    got = run(*[a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a for a in args])
    for j, (g, r) in enumerate(zip(got, ref, strict=True)):
        assert g.dtype == np.float32, f"{what} output {j} is {g.dtype}"
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=2e-5, err_msg=f"{what} output {j}")


def _tape(tf, fn, inputs, upstream):
    """Value of fn(*inputs) and the gradients of Σ upstream ⊙ fn w.r.t. inputs (tf.Variables or constants)."""
    consts = [tf.constant(a) for a in inputs if isinstance(a, np.ndarray)]
    it = iter(consts)
    inputs = [next(it) if isinstance(a, np.ndarray) else a for a in inputs]
    with tf.GradientTape() as tape:
        tape.watch(consts)
        out = fn(*inputs)
        loss = tf.reduce_sum(out * upstream)
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, inputs)]


def _num_check(f, params, grads, names, what):
    """f() -> scalar loss reading the arrays in params (perturbed in place)."""
    for p, g, name in zip(params, grads, names, strict=True):
        num = numerical_gradient(lambda _: f(), p)
        assert np.any(num != 0), f"{what} {name}: numerical gradient is all zeros"
        err = rel_error(g, num)
        assert err < NUM_TOL, f"{what} {name}: rel_error {err:.2e} vs numerical"


# --------------------------------------------------------------------------------------
# 1. masking: SimpleRNN with a mask, against Keras
# --------------------------------------------------------------------------------------

def _keras_simplernn(tf, keras, x, h0, W, U, b, mask, dhs):
    layer = keras.layers.SimpleRNN(W.shape[1], return_sequences=True, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([W, U, b])
    return _tape(tf, lambda x_, h0_, *w: layer(x_, initial_state=h0_, mask=tf.constant(mask)),
                 [x, h0, *layer.trainable_weights], dhs)


@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_masked_rnn_matches_keras_simplernn(tf, rng, N, T, D, H):
    """The mask argument of Keras; h0 nonzero: post-padding and gaps carry the state."""
    import keras

    x, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H)
    mask = _ragged_mask(N, T)
    # Keras outputs zeros (not h_0) before a row's first real step, so an upstream gradient
    # there does not reach its h_0: give those rows h0 = 0 and no gradient on those steps
    # (test_masked_rnn_prepadding_with_h0_differs_from_keras_before_the_first_real_step)
    h0 = rng.normal(scale=0.5, size=(N, H)) * mask[:, :1]
    dhs *= np.cumsum(mask, axis=1)[:, :, None] > 0
    out, kgrads = _keras_simplernn(tf, keras, x, h0, W, U, b, mask, dhs)

    hs, cache = rnn.rnn_forward(x, h0, W, U, b, mask)
    assert isinstance(cache, rnn.MaskedRNNCache) and cache.mask.dtype == bool
    _assert_close([hs], [out], ["hs"], KERAS_TOL, "masked rnn_forward vs SimpleRNN")
    grads = rnn.rnn_backward(dhs, cache)
    names = ["dx", "dh0", "dW", "dU", "db"]
    if not np.any(kgrads[1]):  # every row starts with padding: dh0 = 0 is right, nothing to compare
        assert np.all(grads[1] == 0)
        grads, kgrads, names = grads[:1] + grads[2:], kgrads[:1] + kgrads[2:], names[:1] + names[2:]
    _assert_close(grads, kgrads, names, KERAS_TOL, "masked rnn_backward vs SimpleRNN")
    assert np.all(grads[0][~mask] == 0), "a masked step's input gets no gradient"

    def run(x, h0, W, U, b, dhs):
        hs, c = rnn.rnn_forward(x, h0, W, U, b, mask.astype(int))  # 1/0 accepted as well
        return [hs, *rnn.rnn_backward(dhs, c)]
    _assert_float32(run, [x, h0, W, U, b, dhs], [hs, *rnn.rnn_backward(dhs, cache)], "masked rnn float32")


def test_masked_rnn_matches_keras_masking_layer(tf, rng):
    """Keras' Masking layer (zeros in x mark padding) in front of SimpleRNN, return_sequences False and True."""
    import keras

    N, T, D, H = 3, 6, 2, 4
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]], dtype=bool)
    x = rng.normal(size=(N, T, D)) * mask[:, :, None]
    W, U, b = _params(rng, D, H)
    for seq in (True, False):
        model = keras.Sequential([keras.Input((T, D), dtype="float64"), keras.layers.Masking(0.0, dtype="float64"),
                                  keras.layers.SimpleRNN(H, return_sequences=seq, dtype="float64")])
        model.layers[-1].set_weights([W, U, b])
        up = rng.normal(size=(N, T, H) if seq else (N, H))
        out, kgrads = _tape(tf, lambda x_, *w, model=model: model(x_), [x, *model.trainable_weights], up)
        hs, cache = rnn.rnn_forward(x, None, W, U, b, mask)
        dhs = up if seq else np.zeros((N, T, H))
        if not seq:
            dhs[:, -1] = up    # return_sequences=False is hs[:, -1], the state after the last real step
        assert rel_error(hs if seq else hs[:, -1], out) < KERAS_TOL
        dx, _, *dp = rnn.rnn_backward(dhs, cache)
        _assert_close([dx, *dp], kgrads, ["dx", "dW", "dU", "db"], KERAS_TOL, f"Masking, return_sequences={seq}")


def test_masked_rnn_prepadding_with_h0_differs_from_keras_before_the_first_real_step(tf, rng):
    """The documented corner: Keras carries its output (from zero), we carry the state (from h_0)."""
    import keras

    N, T, D, H = 2, 5, 3, 4
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    W, U, b = _params(rng, D, H)
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 0, 1]], dtype=bool)
    out, _ = _keras_simplernn(tf, keras, x, h0, W, U, b, mask, np.ones((N, T, H)))
    hs, _ = rnn.rnn_forward(x, h0, W, U, b, mask)
    np.testing.assert_array_equal(hs[0, :2], np.broadcast_to(h0[0], (2, H)))   # the carried state h_0
    np.testing.assert_array_equal(out[0, :2], 0.0)                              # Keras: zeros
    assert rel_error(hs[0, 2:], out[0, 2:]) < KERAS_TOL                         # the same from the first real step
    assert rel_error(hs[1], out[1]) < KERAS_TOL


def test_mask_all_true_equals_no_mask_and_all_false_carries_h0(rng):
    N, T, D, H = 2, 4, 3, 5
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H)
    hs, cache = rnn.rnn_forward(x, h0, W, U, b)
    hs1, cache1 = rnn.rnn_forward(x, h0, W, U, b, np.ones((N, T), dtype=bool))
    assert isinstance(cache, rnn.RNNCache) and cache.mask is None and len(cache) == 5
    np.testing.assert_array_equal(hs, hs1)
    for a, c in zip(rnn.rnn_backward(dhs, cache), rnn.rnn_backward(dhs, cache1)):
        np.testing.assert_allclose(a, c, rtol=1e-14, atol=1e-15)
    hs0, cache0 = rnn.rnn_forward(x, h0, W, U, b, np.zeros((N, T)))
    np.testing.assert_array_equal(hs0, np.broadcast_to(h0[:, None], (N, T, H)))
    dx, dh0, dW, dU, db = rnn.rnn_backward(dhs, cache0)
    assert not np.any(dx) and not np.any(dW) and not np.any(dU) and not np.any(db)
    np.testing.assert_allclose(dh0, dhs.sum(axis=1), rtol=1e-14)  # every step's gradient reaches h_0 unchanged


def test_masked_rnn_backward_numerical(rng):
    N, T, D, H = 3, 6, 2, 3
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H, scale=0.8)
    mask = _ragged_mask(N, T)
    _, cache = rnn.rnn_forward(x, h0, W, U, b, mask)
    grads = rnn.rnn_backward(dhs, cache)
    _num_check(lambda: np.sum(dhs * rnn.rnn_forward(x, h0, W, U, b, mask)[0]), [x, h0, W, U, b], grads,
               ["dx", "dh0", "dW", "dU", "db"], "masked rnn_backward")


# --------------------------------------------------------------------------------------
# 2. truncated BPTT
# --------------------------------------------------------------------------------------

def _tf_truncated(tf, x, h0, W, U, b, dhs, k1, k2):
    """TensorFlow autodiff of BPTT(k1, k2): one tape per chunk, the state detached
    (tf.stop_gradient) k2 - k1 steps before the chunk's first step, the loss on the chunk only."""
    N, T, _ = x.shape
    total = None
    for start in range(0, T, k1):
        end, lo = min(start + k1, T), max(start - (k2 - k1), 0)
        xt, h0t = tf.constant(x), tf.constant(h0)
        Wt, Ut, bt = (tf.Variable(a) for a in (W, U, b))
        with tf.GradientTape() as tape:
            tape.watch([xt, h0t])
            h, loss = h0t, 0.0
            for t in range(end):
                if t == lo and t > 0:
                    h = tf.stop_gradient(h)
                h = tf.tanh(xt[:, t] @ Wt + h @ Ut + bt)
                if t >= start:
                    loss += tf.reduce_sum(h * dhs[:, t])
        g = [np.zeros(v.shape) if d is None else d.numpy()
             for v, d in zip([xt, h0t, Wt, Ut, bt], tape.gradient(loss, [xt, h0t, Wt, Ut, bt]))]
        total = g if total is None else [a + c for a, c in zip(total, g)]
    return total


def _tf_stopped_every_k(tf, x, h0, W, U, b, dhs, k):
    """BPTT(k, k) as it is used in practice: one forward pass, the state detached every k steps."""
    xt, h0t = tf.constant(x), tf.constant(h0)
    Wt, Ut, bt = (tf.Variable(a) for a in (W, U, b))
    with tf.GradientTape() as tape:
        tape.watch([xt, h0t])
        h, loss = h0t, 0.0
        for t in range(x.shape[1]):
            if t and t % k == 0:
                h = tf.stop_gradient(h)
            h = tf.tanh(xt[:, t] @ Wt + h @ Ut + bt)
            loss += tf.reduce_sum(h * dhs[:, t])
    return [g.numpy() for g in tape.gradient(loss, [xt, h0t, Wt, Ut, bt])]


def _brute_force_truncated(x, h0, W, U, b, dhs, k1, k2):
    """Σ over t of each step's own chain: dhs_t alone, backpropagated from t down to the first
    step of its window (k2 - k1 steps before its chunk), written out step by step."""
    hs, _ = rnn.rnn_forward(x, h0, W, U, b)
    N, T, H = hs.shape
    prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    dx, dh0, dW, dU, db = np.zeros_like(x), np.zeros_like(h0), np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for t in range(T):
        first = max((t // k1) * k1 - (k2 - k1), 0)
        g = dhs[:, t]
        for s in range(t, first - 1, -1):
            delta = g * (1 - hs[:, s] ** 2)
            dx[:, s] += delta @ W.T
            dW += x[:, s].T @ delta
            dU += prev[:, s].T @ delta
            db += delta.sum(axis=0)
            g = delta @ U.T
        if first == 0:
            dh0 += g
    return [dx, dh0, dW, dU, db]


NAMES5 = ["dx", "dh0", "dW", "dU", "db"]
# (N, T, D, H, k): k dividing T or not, k = 1, k = T, k > T, T = 1, N = 1
TRUNC_K = [(2, 7, 3, 4, 3), (1, 6, 2, 3, 2), (3, 5, 2, 2, 1), (2, 4, 1, 3, 4), (1, 3, 2, 2, 5), (2, 1, 3, 2, 1)]


@pytest.mark.parametrize("N,T,D,H,k", TRUNC_K)
def test_truncated_bptt_kk_equals_tf_stop_gradient_every_k_steps(tf, rng, N, T, D, H, k):
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H)
    _, cache = rnn.rnn_forward(x, h0, W, U, b)
    grads = rnn.rnn_backward_truncated(dhs, cache, k, k)
    _assert_close(grads, _tf_stopped_every_k(tf, x, h0, W, U, b, dhs, k), NAMES5, KERAS_TOL,
                  f"BPTT({k}, {k}) vs tf.stop_gradient")

    def run(x, h0, W, U, b, dhs):
        return rnn.rnn_backward_truncated(dhs, rnn.rnn_forward(x, h0, W, U, b)[1], k, k)
    _assert_float32(run, [x, h0, W, U, b, dhs], grads, "truncated float32")


# (N, T, D, H, k1, k2) with k1 < k2: overlapping windows; k2 > T; k1 not dividing T
TRUNC_K1K2 = [(2, 7, 3, 4, 2, 3), (1, 9, 2, 3, 3, 5), (3, 5, 2, 2, 1, 2), (2, 6, 1, 3, 4, 9), (1, 1, 2, 2, 1, 3)]


@pytest.mark.parametrize("N,T,D,H,k1,k2", TRUNC_K1K2)
def test_truncated_bptt_overlapping_windows_match_tf_and_brute_force(tf, rng, N, T, D, H, k1, k2):
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H)
    _, cache = rnn.rnn_forward(x, h0, W, U, b)
    grads = rnn.rnn_backward_truncated(dhs, cache, k1, k2)
    _assert_close(grads, _tf_truncated(tf, x, h0, W, U, b, dhs, k1, k2), NAMES5, KERAS_TOL,
                  f"BPTT({k1}, {k2}) vs TensorFlow")
    _assert_close(grads, _brute_force_truncated(x, h0, W, U, b, dhs, k1, k2), NAMES5, 1e-12,
                  f"BPTT({k1}, {k2}) vs brute force")


@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_truncated_bptt_with_k1_equal_to_t_is_full_bptt(rng, N, T, D, H):
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H)
    for mask in (None, _ragged_mask(N, T)):
        _, cache = rnn.rnn_forward(x, h0, W, U, b, mask)
        full = rnn.rnn_backward(dhs, cache)
        for k2 in (T, T + 3):
            for a, c in zip(rnn.rnn_backward_truncated(dhs, cache, T, k2), full, strict=True):
                np.testing.assert_array_equal(a, c)
    # and a truncation that bites differs from full BPTT (when there is something to cut)
    if T > 2:
        _, cache = rnn.rnn_forward(x, h0, W, U, b)
        assert rel_error(rnn.rnn_backward_truncated(dhs, cache, 1, 2)[3], rnn.rnn_backward(dhs, cache)[3]) > 1e-3


@pytest.mark.parametrize("T,k", [(7, 3), (6, 2), (1, 1)])
def test_truncated_bptt_kk_numerical_against_a_detached_forward(rng, T, k):
    """Finite differences of a NumPy forward that restarts each chunk of k steps from a
    constant state (the one the unperturbed forward reached): what BPTT(k, k) differentiates."""
    N, D, H = 2, 2, 3
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H, scale=0.8)
    hs, cache = rnn.rnn_forward(x, h0, W, U, b)
    starts = {s: hs[:, s - 1].copy() for s in range(k, T, k)}   # detached: constants

    def detached_loss():
        total = 0.0
        for s in range(0, T, k):
            h_start = h0 if s == 0 else starts[s]
            chunk, _ = rnn.rnn_forward(x[:, s:s + k], h_start, W, U, b)
            total += np.sum(dhs[:, s:s + k] * chunk)
        return total

    grads = rnn.rnn_backward_truncated(dhs, cache, k, k)
    _num_check(detached_loss, [x, h0, W, U, b], grads, NAMES5, f"BPTT({k}, {k})")


def test_truncated_bptt_with_a_mask_matches_tf_stop_gradient(tf, rng):
    """A masked step counts as a step of the window, and passes its gradient on unchanged."""
    import keras

    N, T, D, H, k = 3, 7, 2, 3, 3
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H)
    mask = _ragged_mask(N, T)
    cell = keras.layers.SimpleRNNCell(H, dtype="float64")
    cell.build((N, D))
    cell.set_weights([W, U, b])
    xt, h0t = tf.constant(x), tf.constant(h0)
    with tf.GradientTape() as tape:
        tape.watch([xt, h0t])
        h, loss = h0t, 0.0
        for t in range(T):
            if t and t % k == 0:
                h = tf.stop_gradient(h)
            h = tf.where(mask[:, t, None], cell(xt[:, t], [h])[0], h)
            loss += tf.reduce_sum(h * dhs[:, t])
    kgrads = [g.numpy() for g in tape.gradient(loss, [xt, h0t, *cell.trainable_weights])]
    _, cache = rnn.rnn_forward(x, h0, W, U, b, mask)
    _assert_close(rnn.rnn_backward_truncated(dhs, cache, k, k), kgrads, NAMES5, KERAS_TOL, "masked BPTT(3, 3)")


def test_truncation_mask_pictures_the_rule():
    M = rnn.truncation_mask(7, 2, 3)
    expected = np.array([  # column t: the steps s that step t's gradient reaches
        [1, 1, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 0, 0],
        [0, 0, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 1, 0],
        [0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 0, 0, 1, 1],
        [0, 0, 0, 0, 0, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(M, expected)
    assert M.dtype == bool and M.shape == (7, 7)
    np.testing.assert_array_equal(rnn.truncation_mask(5, 5, 5), np.triu(np.ones((5, 5), dtype=bool)))
    np.testing.assert_array_equal(rnn.truncation_mask(5, 5, 50), np.triu(np.ones((5, 5), dtype=bool)))
    np.testing.assert_array_equal(rnn.truncation_mask(4, 1, 1), np.eye(4, dtype=bool))
    for T, k1, k2 in [(9, 2, 5), (10, 3, 3), (6, 4, 4), (8, 3, 7)]:
        M = rnn.truncation_mask(T, k1, k2)
        reach = M.sum(axis=0)                                    # steps reached by each t's gradient
        t = np.arange(1, T + 1)
        assert np.all(np.diag(M)) and not np.any(np.tril(M, -1))
        assert np.all(reach <= k2) and np.all(reach >= np.minimum(k2 - k1 + 1, t))
        # and the mask is what rnn_backward_truncated does: a gradient on step t only reaches M[:, t-1]
        rng = np.random.default_rng(T)
        x, W, U, b = rng.normal(size=(1, T, 2)), *_params(rng, 2, 3)
        _, cache = rnn.rnn_forward(x, None, W, U, b)
        for j in range(T):
            dhs = np.zeros((1, T, 3))
            dhs[0, j] = 1.0
            dx = rnn.rnn_backward_truncated(dhs, cache, k1, k2)[0]
            np.testing.assert_array_equal(np.any(dx[0] != 0, axis=1), M[:, j])


# --------------------------------------------------------------------------------------
# 3. outputs and losses at every step
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("N,T,H,K", [(2, 5, 4, 3), (1, 1, 2, 1), (3, 4, 1, 5)])
def test_temporal_dense_matches_keras_dense_on_3d(tf, rng, N, T, H, K):
    import keras

    hs, V, c, dy = rng.normal(size=(N, T, H)), rng.normal(size=(H, K)), rng.normal(size=K), rng.normal(size=(N, T, K))
    dense = keras.layers.Dense(K, dtype="float64")
    dense.build((N, T, H))
    dense.set_weights([V, c])
    out, kgrads = _tape(tf, lambda h, *w: dense(h), [hs, *dense.trainable_weights], dy)
    y, cache = rnn.temporal_dense_forward(hs, V, c)
    _assert_close([y], [out], ["y"], KERAS_TOL, "temporal_dense_forward vs Dense")
    grads = rnn.temporal_dense_backward(dy, cache)
    _assert_close(grads, kgrads, ["dhs", "dV", "dc"], KERAS_TOL, "temporal_dense_backward vs Dense")
    _num_check(lambda: np.sum(dy * rnn.temporal_dense_forward(hs, V, c)[0]), [hs, V, c], grads,
               ["dhs", "dV", "dc"], "temporal_dense_backward")

    def run(hs, V, c, dy):
        y, cache = rnn.temporal_dense_forward(hs, V, c)
        return [y, *rnn.temporal_dense_backward(dy, cache)]
    _assert_float32(run, [hs, V, c, dy], [y, *grads], "temporal dense float32")


@pytest.mark.parametrize("N,T,K", [(2, 5, 3), (1, 1, 2), (3, 4, 1), (4, 6, 5)])
@pytest.mark.parametrize("masked", [False, True])
def test_temporal_softmax_cross_entropy_matches_tf(tf, rng, N, T, K, masked):
    logits = rng.normal(scale=2.0, size=(N, T, K))
    y = rng.integers(0, K, size=(N, T))
    mask = _ragged_mask(N, T) if masked else None
    m = np.ones((N, T)) if mask is None else mask.astype(float)
    zt = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        per_step = tf.nn.sparse_softmax_cross_entropy_with_logits(y, zt)
        tf_loss = tf.reduce_sum(per_step * m) / tf.reduce_sum(m)
    tf_grad = tape.gradient(tf_loss, zt).numpy()
    loss, dlogits = rnn.temporal_softmax_cross_entropy(logits, y, mask)
    assert isinstance(loss, np.float64)
    assert abs(loss - float(tf_loss)) <= 1e-12 * max(1.0, abs(float(tf_loss)))
    if K > 1:
        _assert_close([dlogits], [tf_grad], ["dlogits"], KERAS_TOL, "temporal_softmax_cross_entropy vs tf")
        assert not np.any(dlogits[~m.astype(bool)]), "padding gets no gradient"
        num = numerical_gradient(lambda _: rnn.temporal_softmax_cross_entropy(logits, y, mask)[0], logits)
        assert rel_error(dlogits, num) < NUM_TOL
    else:  # one class: the loss is 0 and so is every gradient
        assert loss == 0 and not np.any(dlogits) and not np.any(tf_grad)
    loss32, d32 = rnn.temporal_softmax_cross_entropy(logits.astype(np.float32), y, mask)
    assert isinstance(loss32, np.float32) and d32.dtype == np.float32
    assert abs(loss32 - loss) < 1e-5 and np.allclose(d32, dlogits, atol=1e-6)


def test_temporal_softmax_cross_entropy_unmasked_is_keras_loss_and_padding_labels_are_ignored(tf, rng):
    import keras

    N, T, K = 3, 4, 5
    logits, y = rng.normal(size=(N, T, K)), rng.integers(0, K, size=(N, T))
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, tf.constant(logits))
    assert abs(rnn.temporal_softmax_cross_entropy(logits, y)[0] - float(keras_loss)) < 1e-6  # Keras: float32
    # a padded label (-1, or K) at a masked step is ignored; the same as any valid label there
    mask = _ragged_mask(N, T)
    y_pad = np.where(mask, y, -1)
    a, da = rnn.temporal_softmax_cross_entropy(logits, y_pad, mask)
    b, db = rnn.temporal_softmax_cross_entropy(logits, y, mask)
    assert a == b and np.array_equal(da, db)
    # the mean over the counted steps: one real step alone is that step's cross-entropy
    one = np.zeros((N, T), dtype=bool)
    one[1, 2] = True
    z = logits[1, 2]
    expected = np.log(np.sum(np.exp(z))) - z[y[1, 2]]
    assert abs(rnn.temporal_softmax_cross_entropy(logits, y, one)[0] - expected) < 1e-12
    # large logits stay finite (log-softmax with the maximum subtracted)
    big, dbig = rnn.temporal_softmax_cross_entropy(1e3 * logits, y)
    assert np.isfinite(big) and np.all(np.isfinite(dbig))


def test_sequence_to_sequence_chain_matches_keras_model(tf, rng):
    """Masking -> SimpleRNN -> Dense -> masked loss: our forward and backward chain, one gradient."""
    import keras

    N, T, D, H, K = 3, 6, 2, 4, 3
    mask = _ragged_mask(N, T)
    x = rng.normal(size=(N, T, D)) * mask[:, :, None]
    y = rng.integers(0, K, size=(N, T))
    W, U, b = _params(rng, D, H)
    V, c = rng.normal(size=(H, K)), rng.normal(scale=0.3, size=K)
    model = keras.Sequential([keras.Input((T, D), dtype="float64"), keras.layers.Masking(0.0, dtype="float64"),
                              keras.layers.SimpleRNN(H, return_sequences=True, dtype="float64"),
                              keras.layers.Dense(K, dtype="float64")])
    model.set_weights([W, U, b, V, c])
    with tf.GradientTape() as tape:
        logits = model(tf.constant(x))
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        loss = tf.reduce_sum(ce * mask) / mask.sum()
    kgrads = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]

    hs, rcache = rnn.rnn_forward(x, None, W, U, b, mask)
    z, dcache = rnn.temporal_dense_forward(hs, V, c)
    ours, dz = rnn.temporal_softmax_cross_entropy(z, y, mask)
    dhs, dV, dc = rnn.temporal_dense_backward(dz, dcache)
    _, _, dW, dU, db = rnn.rnn_backward(dhs, rcache)
    assert abs(ours - float(loss)) < 1e-12
    _assert_close([dW, dU, db, dV, dc], kgrads, ["dW", "dU", "db", "dV", "dc"], KERAS_TOL, "seq2seq chain")


# --------------------------------------------------------------------------------------
# 4. bidirectional RNN
# --------------------------------------------------------------------------------------

def _keras_birnn(tf, keras, x, h0_f, h0_b, weights, mask, dout, return_sequences=True):
    H = weights[0].shape[1]
    layer = keras.layers.Bidirectional(
        keras.layers.SimpleRNN(H, return_sequences=return_sequences, dtype="float64"), dtype="float64")
    layer.build(x.shape)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    layer.set_weights(weights)
    km = None if mask is None else tf.constant(mask)
    return _tape(tf, lambda x_, f, b_, *w: layer(x_, initial_state=[f, b_], mask=km),
                 [x, h0_f, h0_b, *layer.trainable_weights], dout)


BI_NAMES = ["dx", "dh0_f", "dh0_b", "dW_f", "dU_f", "db_f", "dW_b", "dU_b", "db_b"]


@pytest.mark.parametrize("N,T,D,H", SHAPES)
@pytest.mark.parametrize("masked", [False, True])
def test_birnn_matches_keras_bidirectional(tf, rng, N, T, D, H, masked):
    import keras

    x, dout = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, 2 * H))
    h0_f, h0_b = rng.normal(scale=0.5, size=(N, H)), rng.normal(scale=0.5, size=(N, H))
    weights = [*_params(rng, D, H), *_params(rng, D, H)]
    mask = _ragged_mask(N, T) if masked else None
    out, kgrads = _keras_birnn(tf, keras, x, h0_f, h0_b, weights, mask, dout)

    ours, cache = rnn.birnn_forward(x, h0_f, h0_b, *weights, mask=mask)
    _assert_close([ours], [out], ["out"], KERAS_TOL, "birnn_forward vs Bidirectional")
    grads = rnn.birnn_backward(dout, cache)
    names = BI_NAMES
    if masked:
        assert np.all(ours[~mask] == 0), "Bidirectional returns zeros at padded steps"
        assert np.all(grads[0][~mask] == 0)
        keep = [j for j, g in enumerate(kgrads) if np.any(g)]   # dh0 of a row padded at its start is 0
        assert all(not np.any(grads[j]) for j in range(9) if j not in keep)
        grads, kgrads, names = [grads[j] for j in keep], [kgrads[j] for j in keep], [names[j] for j in keep]
    _assert_close(grads, kgrads, names, KERAS_TOL, "birnn_backward vs Bidirectional")

    def run(x, h0_f, h0_b, *rest):
        *w, dout = rest
        out, c = rnn.birnn_forward(x, h0_f, h0_b, *w, mask=mask)
        return [out, *rnn.birnn_backward(dout, c)]
    _assert_float32(run, [x, h0_f, h0_b, *weights, dout], [ours, *rnn.birnn_backward(dout, cache)], "birnn float32")


@pytest.mark.parametrize("masked", [False, True])
def test_birnn_last_output_form_is_final_states(tf, rng, masked):
    """Bidirectional(SimpleRNN(return_sequences=False)) = concat(h→_T, h←_1): out[:, -1, :H],
    out[:, 0, H:] without padding; the final states in the cache with it."""
    import keras

    N, T, D, H = 3, 6, 2, 4
    x = rng.normal(size=(N, T, D))
    weights = [*_params(rng, D, H), *_params(rng, D, H)]
    mask = _ragged_mask(N, T) if masked else None
    up = rng.normal(size=(N, 2 * H))
    zeros = np.zeros((N, H))
    last, kgrads = _keras_birnn(tf, keras, x, zeros, zeros, weights, mask, up, return_sequences=False)
    out, cache = rnn.birnn_forward(x, None, None, *weights, mask=mask)
    final = np.concatenate([cache.forward.hs[:, -1], cache.backward.hs[:, -1]], axis=1)
    assert rel_error(final, last) < KERAS_TOL
    if not masked:
        np.testing.assert_array_equal(final, np.concatenate([out[:, -1, :H], out[:, 0, H:]], axis=1))
    # its gradient: the upstream on the two final states, through each direction's BPTT
    dhs_f, dhs_b = np.zeros((N, T, H)), np.zeros((N, T, H))
    dhs_f[:, -1], dhs_b[:, -1] = up[:, :H], up[:, H:]
    dx_f, _, *dp_f = rnn.rnn_backward(dhs_f, cache.forward)
    dx_b, _, *dp_b = rnn.rnn_backward(dhs_b, cache.backward)
    _assert_close([dx_f + dx_b[:, ::-1], *dp_f, *dp_b], [kgrads[0], *kgrads[3:]],
                  [BI_NAMES[0], *BI_NAMES[3:]], KERAS_TOL, "return_sequences=False")


def test_birnn_is_two_rnns_and_numerical(rng):
    N, T, D, H = 2, 5, 3, 2
    x, h0_f, h0_b = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    weights = [*_params(rng, D, H, scale=0.8), *_params(rng, D, H, scale=0.8)]
    out, cache = rnn.birnn_forward(x, h0_f, h0_b, *weights)
    hs_f, _ = rnn.rnn_forward(x, h0_f, *weights[:3])
    hs_b, _ = rnn.rnn_forward(x[:, ::-1], h0_b, *weights[3:])
    np.testing.assert_array_equal(out, np.concatenate([hs_f, hs_b[:, ::-1]], axis=2))
    for mask in (None, _ragged_mask(N, T)):
        dout = rng.normal(size=(N, T, 2 * H))
        _, cache = rnn.birnn_forward(x, h0_f, h0_b, *weights, mask=mask)
        grads = rnn.birnn_backward(dout, cache)
        _num_check(lambda d=dout, m=mask: np.sum(d * rnn.birnn_forward(x, h0_f, h0_b, *weights, mask=m)[0]),
                   [x, h0_f, h0_b, *weights], grads, BI_NAMES, f"birnn_backward mask={mask is not None}")


# --------------------------------------------------------------------------------------
# 5. GRU (reset_after=True) against Keras GRU
# --------------------------------------------------------------------------------------

def _keras_gru(tf, keras, x, h0, W, U, b, dhs):
    layer = keras.layers.GRU(W.shape[1] // 3, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    assert [w.shape for w in layer.get_weights()] == [W.shape, U.shape, b.shape]
    assert layer.cell.reset_after
    layer.set_weights([W, U, b])
    return _tape(tf, lambda x_, h0_, *w: layer(x_, initial_state=h0_), [x, h0, *layer.trainable_weights], dhs)


@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_gru_forward_backward_match_keras(tf, rng, N, T, D, H):
    import keras

    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(scale=0.5, size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H, gates=3)
    out, kgrads = _keras_gru(tf, keras, x, h0, W, U, b, dhs)
    hs, cache = rnn.gru_forward(x, h0, W, U, b)
    _assert_close([hs], [out], ["hs"], KERAS_TOL, "gru_forward vs GRU")
    grads = rnn.gru_backward(dhs, cache)
    _assert_close(grads, kgrads, NAMES5, KERAS_TOL, "gru_backward vs GRU")

    def run(x, h0, W, U, b, dhs):
        hs, c = rnn.gru_forward(x, h0, W, U, b)
        return [hs, *rnn.gru_backward(dhs, c)]
    _assert_float32(run, [x, h0, W, U, b, dhs], [hs, *grads], "gru float32")


@pytest.mark.parametrize("N,D,H", [(3, 4, 5), (1, 2, 1)])
def test_gru_step_matches_keras_one_timestep_and_chains(tf, rng, N, D, H):
    import keras

    x_t, h_prev, dh = rng.normal(size=(N, D)), rng.normal(scale=0.5, size=(N, H)), rng.normal(size=(N, H))
    W, U, b = _params(rng, D, H, gates=3)
    out, kgrads = _keras_gru(tf, keras, x_t[:, None], h_prev, W, U, b, dh[:, None])
    kgrads[0] = kgrads[0][:, 0]
    h, cache = rnn.gru_step_forward(x_t, h_prev, W, U, b)
    _assert_close([h], [out[:, 0]], ["h"], KERAS_TOL, "gru_step_forward vs GRU")
    _assert_close(rnn.gru_step_backward(dh, cache), kgrads, ["dx_t", "dh_prev", "dW", "dU", "db"], KERAS_TOL,
                  "gru_step_backward vs GRU")
    # the defaults: h_prev None is zeros
    np.testing.assert_array_equal(rnn.gru_step_forward(x_t, None, W, U, b)[0],
                                  rnn.gru_step_forward(x_t, np.zeros((N, H)), W, U, b)[0])


def test_gru_numerical(rng):
    N, T, D, H = 2, 4, 3, 3
    x, h0, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W, U, b = _params(rng, D, H, gates=3, scale=0.8)
    _, cache = rnn.gru_forward(x, h0, W, U, b)
    _num_check(lambda: np.sum(dhs * rnn.gru_forward(x, h0, W, U, b)[0]), [x, h0, W, U, b],
               rnn.gru_backward(dhs, cache), NAMES5, "gru_backward")
    x_t, dh = x[:, 0], dhs[:, 0]
    _, scache = rnn.gru_step_forward(x_t, h0, W, U, b)
    _num_check(lambda: np.sum(dh * rnn.gru_step_forward(x_t, h0, W, U, b)[0]), [x_t, h0, W, U, b],
               rnn.gru_step_backward(dh, scache), ["dx_t", "dh_prev", "dW", "dU", "db"], "gru_step_backward")


@pytest.mark.parametrize("D,H", [(1, 1), (3, 4), (70, 32), (2, 64)])
def test_gru_parameter_count_matches_keras(tf, D, H):
    import keras

    layer = keras.layers.GRU(H)
    layer.build((None, 5, D))
    assert rnn.gru_parameter_count(D, H) == layer.count_params() == 3 * (D * H + H * H + 2 * H)


# --------------------------------------------------------------------------------------
# 6. bad input: ValueError naming the function, the argument and the shapes or values
# --------------------------------------------------------------------------------------

def _bad_calls():
    z = np.zeros
    W, U, b = z((3, 5)), z((5, 5)), z(5)
    Wg, Ug, bg = z((3, 6)), z((2, 6)), z((2, 6))
    x = z((4, 6, 3))
    _, rcache = rnn.rnn_forward(x, None, W, U, b)
    _, scache = rnn.rnn_step_forward(z((4, 3)), None, W, U, b)
    _, dcache = rnn.temporal_dense_forward(z((4, 6, 5)), z((5, 2)), z(2))
    _, bcache = rnn.birnn_forward(x, None, None, W, U, b, W, U, b)
    _, gcache = rnn.gru_forward(x, None, Wg, Ug, bg)
    _, gscache = rnn.gru_step_forward(z((4, 3)), None, Wg, Ug, bg)
    logits, y = z((4, 6, 3)), z((4, 6), dtype=int)
    return [
        # masking
        (lambda: rnn.rnn_forward(x, None, W, U, b, mask=np.ones((4, 5), bool)),
         r"rnn_forward: mask must have shape \(N, T\) = \(4, 6\) to match x \(4, 6, 3\), got mask \(4, 5\)"),
        (lambda: rnn.rnn_forward(x, None, W, U, b, mask=np.ones(6, bool)),
         r"rnn_forward: mask must have shape \(N, T\) = \(4, 6\).*got mask \(6,\)"),
        (lambda: rnn.rnn_forward(x, None, W, U, b, mask=np.full((4, 6), 0.5)),
         r"rnn_forward: mask must hold True/False \(or 1/0\) for each step, got \[0.5\]"),
        # truncated BPTT
        (lambda: rnn.rnn_backward_truncated(z((4, 6, 5)), rcache, 3, 2),
         r"rnn_backward_truncated: need 1 <= k1 <= k2 .*got k1 = 3, k2 = 2"),
        (lambda: rnn.rnn_backward_truncated(z((4, 6, 5)), rcache, 0, 2),
         r"rnn_backward_truncated: need 1 <= k1 <= k2 .*got k1 = 0, k2 = 2"),
        (lambda: rnn.rnn_backward_truncated(z((4, 6, 5)), rcache, 2.0, 3),
         r"rnn_backward_truncated: k1 must be an integer number of time steps, got k1 = 2.0"),
        (lambda: rnn.rnn_backward_truncated(z((4, 5, 5)), rcache, 2, 3),
         r"rnn_backward_truncated: dhs must have the shape of the forward output hs \(4, 6, 5\), got dhs \(4, 5, 5\)"),
        (lambda: rnn.rnn_backward_truncated(z((4, 6, 5)), scache, 2, 3),
         r"rnn_backward_truncated: cache must be the cache returned by rnn_forward, got RNNStepCache"),
        (lambda: rnn.truncation_mask(0, 1, 1), r"truncation_mask: T must be a positive integer.*got T = 0"),
        (lambda: rnn.truncation_mask(5, 2, 1), r"truncation_mask: need 1 <= k1 <= k2.*got k1 = 2, k2 = 1"),
        # temporal dense and loss
        (lambda: rnn.temporal_dense_forward(z((4, 6, 5)), z((4, 2)), z(2)),
         r"temporal_dense_forward: hs has 5 hidden units but V expects 4 \(hs \(4, 6, 5\) as \(N, T, H\), V \(4, 2\)"),
        (lambda: rnn.temporal_dense_forward(z((4, 6, 5)), z((5, 2)), z(3)),
         r"temporal_dense_forward: c must have shape \(2,\).*got c \(3,\) \(V \(5, 2\)\)"),
        (lambda: rnn.temporal_dense_forward(z((4, 5)), z((5, 2)), z(2)),
         r"temporal_dense_forward: hs must be 3-D, got shape \(4, 5\)"),
        (lambda: rnn.temporal_dense_backward(z((4, 6, 3)), dcache),
         r"temporal_dense_backward: dy must have the shape of the forward output y \(4, 6, 2\), got dy \(4, 6, 3\)"),
        (lambda: rnn.temporal_dense_backward(z((4, 6, 2)), rcache),
         r"temporal_dense_backward: cache must be the cache returned by temporal_dense_forward, got RNNCache"),
        (lambda: rnn.temporal_softmax_cross_entropy(logits, z((4, 5), dtype=int)),
         r"temporal_softmax_cross_entropy: y must hold one integer label per step, shape \(N, T\) = \(4, 6\), "
         r"got y \(4, 5\) for logits \(4, 6, 3\)"),
        (lambda: rnn.temporal_softmax_cross_entropy(logits, np.full((4, 6), 3)),
         r"temporal_softmax_cross_entropy: y must hold class labels 0..2 for logits \(4, 6, 3\) at the counted "
         r"steps, got 3 .. 3 out of range at 24 step"),
        (lambda: rnn.temporal_softmax_cross_entropy(logits, np.full((4, 6), -1), np.eye(4, 6, dtype=bool)),
         r"temporal_softmax_cross_entropy: y must hold class labels 0..2.*got -1 .. -1 out of range at 4 step"),
        (lambda: rnn.temporal_softmax_cross_entropy(logits, y, np.zeros((4, 6), bool)),
         r"temporal_softmax_cross_entropy: mask has no True entry \(mask \(4, 6\)\)"),
        (lambda: rnn.temporal_softmax_cross_entropy(logits, y, np.ones((6, 4), bool)),
         r"temporal_softmax_cross_entropy: mask must have shape \(N, T\) = \(4, 6\) to match logits \(4, 6, 3\), "
         r"got mask \(6, 4\)"),
        (lambda: rnn.temporal_softmax_cross_entropy(z((4, 3)), z(4, dtype=int)),
         r"temporal_softmax_cross_entropy: logits must be 3-D, got shape \(4, 3\)"),
        (lambda: rnn.temporal_softmax_cross_entropy(logits, np.full((4, 6), 0.5)),
         r"temporal_softmax_cross_entropy: y must hold whole-number class labels 0..2"),
        # bidirectional
        (lambda: rnn.birnn_forward(x, None, None, W, U, b, z((3, 4)), z((4, 4)), z(4)),
         r"birnn_forward: the backward direction must have the forward one's shapes.*"
         r"got W_b \(3, 4\) and W_f \(3, 5\)"),
        (lambda: rnn.birnn_forward(x, None, None, W, U, b, W, z((5, 4)), b),
         r"birnn_forward: U_b must be square \(H, H\) = \(5, 5\).*got U_b \(5, 4\) \(W_b \(3, 5\)\)"),
        (lambda: rnn.birnn_forward(x, None, z((4, 4)), W, U, b, W, U, b),
         r"birnn_forward: h0_b must have shape \(N, H\) = \(4, 5\), got h0_b \(4, 4\)"),
        (lambda: rnn.birnn_forward(z((4, 6, 2)), None, None, W, U, b, W, U, b),
         r"birnn_forward: x has 2 features but W expects 3 \(x \(4, 6, 2\) as \(N, T, D\), W \(3, 5\)\)"),
        (lambda: rnn.birnn_forward(x, None, None, W, U, b, W, U, b, mask=np.ones((4, 7))),
         r"birnn_forward: mask must have shape \(N, T\) = \(4, 6\) to match x \(4, 6, 3\), got mask \(4, 7\)"),
        (lambda: rnn.birnn_backward(z((4, 6, 5)), bcache),
         r"birnn_backward: dout must have the shape of the forward output out \(4, 6, 10\), got dout \(4, 6, 5\)"),
        (lambda: rnn.birnn_backward(z((4, 6, 10)), rcache),
         r"birnn_backward: cache must be the cache returned by birnn_forward, got RNNCache"),
        # GRU
        (lambda: rnn.gru_forward(x, None, Wg, Ug, z(6)),
         r"gru_forward: b must have shape \(2, 3H\) = \(2, 6\) \(row 0 the input bias, row 1 the recurrent bias: "
         r"Keras GRU with reset_after=True\), got b \(1, 6\)|gru_forward: b must be 2-D, got shape \(6,\)"),
        (lambda: rnn.gru_forward(x, None, Wg, Ug, z((1, 6))),
         r"gru_forward: b must have shape \(2, 3H\) = \(2, 6\).*got b \(1, 6\) \(W \(3, 6\)\)"),
        (lambda: rnn.gru_step_forward(z((4, 3)), None, z((3, 7)), Ug, bg),
         r"gru_step_forward: W must have 3H columns \(gates z, r, h\), got W \(3, 7\)"),
        (lambda: rnn.gru_step_forward(z((4, 3)), None, Wg, z((2, 8)), bg),
         r"gru_step_forward: U must have shape \(H, 3H\) = \(2, 6\).*got U \(2, 8\)"),
        (lambda: rnn.gru_step_forward(z((4, 3)), z((4, 3)), Wg, Ug, bg),
         r"gru_step_forward: h_prev must have shape \(N, H\) = \(4, 2\), got h_prev \(4, 3\)"),
        (lambda: rnn.gru_backward(z((4, 6, 3)), gcache),
         r"gru_backward: dhs must have the shape of the forward output hs \(4, 6, 2\), got dhs \(4, 6, 3\)"),
        (lambda: rnn.gru_step_backward(z((4, 2)), gcache),
         r"gru_step_backward: cache must be the cache returned by gru_step_forward, got GRUCache"),
        (lambda: rnn.gru_backward(z((4, 6, 2)), gscache),
         r"gru_backward: cache must be the cache returned by gru_forward, got GRUStepCache"),
        (lambda: rnn.gru_parameter_count(0, 4), r"gru_parameter_count: D must be a positive integer, got D = 0"),
        (lambda: rnn.gru_parameter_count(3, 2.5), r"gru_parameter_count: H must be a positive integer, got H = 2.5"),
    ]


BAD = _bad_calls()


@pytest.mark.parametrize("case", range(len(BAD)), ids=[m[:40] for _, m in BAD])
def test_validation_errors_name_shapes_and_values(case):
    call, message = BAD[case]
    with pytest.raises(ValueError, match=message):
        call()


def test_nan_and_inf_are_refused_naming_the_argument(rng):
    W, U, b = _params(rng, 3, 2)
    Wg, Ug, bg = _params(rng, 3, 2, gates=3)
    x = rng.normal(size=(2, 4, 3))
    _, rcache = rnn.rnn_forward(x, None, W, U, b)
    _, gcache = rnn.gru_forward(x, None, Wg, Ug, bg)
    _, bcache = rnn.birnn_forward(x, None, None, W, U, b, W, U, b)
    _, dcache = rnn.temporal_dense_forward(rng.normal(size=(2, 4, 2)), W.T, np.zeros(3))
    bad = np.full((2, 4, 2), np.nan)
    cases = [
        ("rnn_backward_truncated", "dhs", lambda: rnn.rnn_backward_truncated(bad, rcache, 1, 2)),
        ("gru_backward", "dhs", lambda: rnn.gru_backward(bad, gcache)),
        ("gru_forward", "b", lambda: rnn.gru_forward(x, None, Wg, Ug, np.full_like(bg, np.inf))),
        ("birnn_forward", "W_b", lambda: rnn.birnn_forward(x, None, None, W, U, b, np.full_like(W, np.nan), U, b)),
        ("birnn_backward", "dout", lambda: rnn.birnn_backward(np.full((2, 4, 4), np.inf), bcache)),
        ("temporal_dense_forward", "hs", lambda: rnn.temporal_dense_forward(bad, W.T, np.zeros(3))),
        ("temporal_dense_backward", "dy", lambda: rnn.temporal_dense_backward(np.full((2, 4, 3), np.nan), dcache)),
        ("temporal_softmax_cross_entropy", "logits",
         lambda: rnn.temporal_softmax_cross_entropy(bad, np.zeros((2, 4), dtype=int))),
    ]
    for func, arg, call in cases:
        with pytest.raises(ValueError, match=rf"^{func}: {arg} contains \d+ NaN or inf value"):
            call()
