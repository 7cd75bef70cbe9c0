"""Recurrent networks in NumPy: the vanilla RNN, backpropagation through time, LSTM.

Chapter 3 (``06_rnn_bptt.ipynb``) derives these; this module is the reference code the
notebook calls, checked against Keras ``SimpleRNN`` / ``LSTM`` in ``tests/test_rnn.py``.

Layout (identical to Keras, so ``layer.get_weights()`` copies straight in)::

    x   (N, T, D)   N sequences, T time steps, D features per step
    W   (D, H)      input-to-hidden kernel        (SimpleRNN kernel)
    U   (H, H)      hidden-to-hidden kernel       (SimpleRNN recurrent_kernel)
    b   (H,)        bias
    h0  (N, H)      initial hidden state (Keras' ``initial_state``; zeros by default)
    hs  (N, T, H)   every hidden state, hs[:, t-1] = h_t for t = 1..T

Notation of the notebook (row vectors, one row per sequence, ⊙ the elementwise product)::

    z_t = x_t W + h_{t-1} U + b,        h_t = tanh(z_t)                          (RNN)
    δ_t = ∂L/∂z_t = ∂L/∂h_t ⊙ (1 - h_t²)                                        (δ)
    ∂L/∂h_t = dhs_t + δ_{t+1} Uᵀ         (direct term + recurrent term; δ_{T+1} = 0) (BPTT)
    ∂L/∂W = Σ_t x_tᵀ δ_t,   ∂L/∂U = Σ_t h_{t-1}ᵀ δ_t,   ∂L/∂b = Σ_t Σ_n δ_t
    ∂L/∂x_t = δ_t Wᵀ,       ∂L/∂h_0 = δ_1 Uᵀ

The gradient that reaches h_t from h_T is a product of Jacobians,

    ∂h_T/∂h_t = J_T J_{T-1} ... J_{t+1},    J_k = ∂h_k/∂h_{k-1} = diag(1 - h_k²) Uᵀ   (Jac)

(in row layout a gradient row vector travels back as g_{k-1} = g_k J_k), so its size grows or
shrinks roughly like ρ(U)^(T-t): vanishing and exploding gradients (Bengio, Simard, Frasconi
1994; Pascanu, Mikolov, Bengio 2013). :func:`hidden_state_jacobian_norms` measures it, and
:func:`clip_by_global_norm` is the remedy for the exploding side.

The LSTM (Hochreiter, Schmidhuber 1997) uses Keras' gate order i, f, c (candidate), o, with
W (D, 4H), U (H, 4H), b (4H,) split into four blocks of H columns each::

    a_t = x_t W + h_{t-1} U + b = [a_i | a_f | a_g | a_o]
    i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)                           (gates)
    c_t = f ⊙ c_{t-1} + i ⊙ g,          h_t = o ⊙ tanh(c_t)                       (LSTM)

which is Keras ``LSTM`` with its defaults (activation tanh, recurrent_activation sigmoid,
use_bias, unit_forget_bias only affects the initial bias). The additive path
c_{t-1} -> c_t (∂c_t/∂c_{t-1} = diag(f)) is what keeps the gradient alive.

Functions come in forward/backward pairs as in the other chapters: ``out, cache =
*_forward(...)`` then ``grads = *_backward(dout, cache)``, gradients in the order of the
inputs. All of them are vectorised over the batch and work in float32 and float64 (float32
in, float32 out; float64 if any input is float64). Inputs are validated and a ``ValueError``
names the function, the argument, and the expected and received shapes. NaN or inf in any
input, state or upstream gradient raises a ``ValueError`` naming the argument; the one
exception is :func:`clip_by_global_norm`, which returns NaN as ``tf.clip_by_global_norm`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from helpers._validate import as_float_array, check_cache, check_finite, result_dtype, upstream_gradient

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "lstm_final_cell_state",
    "clip_by_global_norm", "hidden_state_jacobian_norms", "spectral_radius",
    "RNNStepCache", "RNNCache", "LSTMStepCache", "LSTMCache",
]


# --------------------------------------------------------------------------------------
# caches: named tuples, so that a student can look inside (cache.h_prev) and a backward
# function can tell a wrong cache from the right one
# --------------------------------------------------------------------------------------

class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_backward` needs: x_t (N, D), h_prev (N, H), W, U, h (N, H)."""

    x_t: np.ndarray
    h_prev: np.ndarray
    W: np.ndarray
    U: np.ndarray
    h: np.ndarray


class RNNCache(NamedTuple):
    """What :func:`rnn_backward` needs: x (N, T, D), h0 (N, H), W, U, hs (N, T, H)."""

    x: np.ndarray
    h0: np.ndarray
    W: np.ndarray
    U: np.ndarray
    hs: np.ndarray


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_backward` needs (gates i, f, g, o and tanh(c), each (N, H))."""

    x_t: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    W: np.ndarray
    U: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    tanh_c: np.ndarray


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs: one :class:`LSTMStepCache` per time step."""

    steps: tuple
    x_shape: tuple


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------

def _params(func: str, W, U, b, gates: int = 1):
    """Validate W (D, gates*H), U (H, gates*H), b (gates*H,); return them and D, H."""
    W = as_float_array(W, "W", func, ndim=2)
    U = as_float_array(U, "U", func, ndim=2)
    b = as_float_array(b, "b", func, ndim=1)
    D, GH = W.shape
    if gates == 1:
        H = GH
        if U.shape != (H, H):
            raise ValueError(f"{func}: U must be square (H, H) = ({H}, {H}) with H = {H} hidden units "
                             f"(the columns of W), got U {U.shape} (W {W.shape})")
    else:
        if GH % gates:
            raise ValueError(f"{func}: W must have {gates}H columns (gates i, f, c, o), "
                             f"got W {W.shape} with {GH} columns, not a multiple of {gates}")
        H = GH // gates
        if U.shape != (H, GH):
            raise ValueError(f"{func}: U must have shape (H, {gates}H) = ({H}, {GH}) with H = {H} "
                             f"(from W {W.shape}), got U {U.shape}")
    if b.shape != (GH,):
        raise ValueError(f"{func}: b must have shape ({GH},) to match the {GH} columns of W, "
                         f"got b {b.shape} (W {W.shape})")
    for name, a in (("W", W), ("U", U), ("b", b)):
        check_finite(a, name, func)
    return W, U, b, D, H


def _input_step(func: str, x_t, W, D: int):
    x_t = as_float_array(x_t, "x_t", func, ndim=2)
    if x_t.shape[1] != D:
        raise ValueError(f"{func}: x_t has {x_t.shape[1]} features but W expects {D} "
                         f"(x_t {x_t.shape}, W {W.shape})")
    check_finite(x_t, "x_t", func)
    return x_t


def _input_seq(func: str, x, W, D: int):
    x = as_float_array(x, "x", func, ndim=3)
    if x.shape[2] != D:
        raise ValueError(f"{func}: x has {x.shape[2]} features but W expects {D} "
                         f"(x {x.shape} as (N, T, D), W {W.shape})")
    if x.shape[1] == 0:
        raise ValueError(f"{func}: x must have at least one time step, got x {x.shape} as (N, T, D)")
    check_finite(x, "x", func)
    return x


def _state(func: str, name: str, s, N: int, H: int, *, x_name: str, x_shape: tuple):
    """Validate a state of shape (N, H); None means zeros (float32, promoted later)."""
    if s is None:
        return np.zeros((N, H), dtype=np.float32)
    s = as_float_array(s, name, func, ndim=2)
    if s.shape != (N, H):
        raise ValueError(f"{func}: {name} must have shape (N, H) = ({N}, {H}), got {name} {s.shape} "
                         f"({x_name} {x_shape}, H = {H})")
    check_finite(s, name, func)
    return s


def _cast(dt, *arrays):
    return tuple(a.astype(dt, copy=False) for a in arrays)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^{-a}), written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# --------------------------------------------------------------------------------------
# vanilla RNN
# --------------------------------------------------------------------------------------

def rnn_step_forward(x_t, h_prev, W, U, b):
    """One step of the vanilla (Elman) RNN, as a Keras ``SimpleRNN`` cell.

        z = x_t W + h_prev U + b,    h = tanh(z)                                   (RNN)

    x_t: (N, D) inputs at this step; h_prev: (N, H) previous hidden state h_{t-1};
    W: (D, H); U: (H, H); b: (H,).
    Returns h: (N, H), and a cache (:class:`RNNStepCache`) for :func:`rnn_step_backward`.
    """
    func = "rnn_step_forward"
    W, U, b, D, H = _params(func, W, U, b)
    x_t = _input_step(func, x_t, W, D)
    h_prev = _state(func, "h_prev", h_prev, x_t.shape[0], H, x_name="x_t", x_shape=x_t.shape)
    dt = result_dtype(x_t, h_prev, W, U, b)
    x_t, h_prev, W, U, b = _cast(dt, x_t, h_prev, W, U, b)
    h = np.tanh(x_t @ W + h_prev @ U + b)
    return h, RNNStepCache(x_t, h_prev, W, U, h)


def rnn_step_backward(dh, cache):
    """Backward pass of one RNN step: the gradients of L through h = tanh(x_t W + h_prev U + b).

        δ = dh ⊙ (1 - h²)                      (tanh' = 1 - tanh², so no z is stored)   (δ)
        dx_t = δ Wᵀ,   dh_prev = δ Uᵀ,   dW = x_tᵀ δ,   dU = h_prevᵀ δ,   db = Σ_n δ

    dh: (N, H) upstream gradient ∂L/∂h; cache: from :func:`rnn_step_forward`.
    Returns dx_t (N, D), dh_prev (N, H), dW (D, H), dU (H, H), db (H,).
    """
    func = "rnn_step_backward"
    check_cache(func, cache, RNNStepCache, "rnn_step_forward")
    x_t, h_prev, W, U, h = cache
    dh = upstream_gradient(func, "dh", dh, h.shape, "h")
    dt = result_dtype(dh, h)
    dh, x_t, h_prev, W, U, h = _cast(dt, dh, x_t, h_prev, W, U, h)
    delta = dh * (1.0 - h * h)
    dx_t = delta @ W.T
    dh_prev = delta @ U.T
    dW = x_t.T @ delta
    dU = h_prev.T @ delta
    db = delta.sum(axis=0)
    return dx_t, dh_prev, dW, dU, db


def rnn_forward(x, h0, W, U, b):
    """Run the RNN over whole sequences, as Keras ``SimpleRNN(H, return_sequences=True)``.

        h_t = tanh(x_t W + h_{t-1} U + b),   t = 1..T, starting from h_0 = h0       (RNN)

    x: (N, T, D); h0: (N, H) initial state, or None for zeros (Keras' default);
    W: (D, H); U: (H, H); b: (H,).
    Returns hs: (N, T, H) every hidden state (hs[:, t-1] = h_t, hs[:, -1] = h_T, which is
    what ``return_sequences=False`` returns), and a cache (:class:`RNNCache`).
    """
    func = "rnn_forward"
    W, U, b, D, H = _params(func, W, U, b)
    x = _input_seq(func, x, W, D)
    N, T, _ = x.shape
    h0 = _state(func, "h0", h0, N, H, x_name="x", x_shape=x.shape)
    dt = result_dtype(x, h0, W, U, b)
    x, h0, W, U, b = _cast(dt, x, h0, W, U, b)
    # The input term x_t W + b of every step at once; only h_{t-1} U must wait for the past.
    xw = x @ W + b                                                   # (N, T, H)
    hs = np.empty((N, T, H), dtype=dt)
    h = h0
    for t in range(T):
        h = np.tanh(xw[:, t] + h @ U)
        hs[:, t] = h
    return hs, RNNCache(x, h0, W, U, hs)


def rnn_backward(dhs, cache):
    """Backpropagation through time over the whole sequence.

    dhs[:, t-1] is the *direct* upstream gradient on h_t (from a loss on every output; zeros
    except dhs[:, -1] for a loss on h_T only). Going back from t = T to 1::

        ∂L/∂h_t = dhs_t + δ_{t+1} Uᵀ        (δ_{T+1} = 0)                            (BPTT)
        δ_t     = ∂L/∂h_t ⊙ (1 - h_t²)                                               (δ)

    and then, since W, U, b are shared by every step, their gradients are sums over time::

        dW = Σ_t x_tᵀ δ_t,   dU = Σ_t h_{t-1}ᵀ δ_t,   db = Σ_t Σ_n δ_t,
        dx_t = δ_t Wᵀ,       dh0 = δ_1 Uᵀ.

    dhs: (N, T, H); cache: from :func:`rnn_forward`.
    Returns dx (N, T, D), dh0 (N, H), dW (D, H), dU (H, H), db (H,).
    """
    func = "rnn_backward"
    check_cache(func, cache, RNNCache, "rnn_forward")
    x, h0, W, U, hs = cache
    dhs = upstream_gradient(func, "dhs", dhs, hs.shape, "hs")
    dt = result_dtype(dhs, hs)
    dhs, x, h0, W, U, hs = _cast(dt, dhs, x, h0, W, U, hs)
    N, T, H = hs.shape
    deltas = np.empty_like(hs)                                       # δ_t for t = 1..T
    recurrent = np.zeros((N, H), dtype=dt)                           # δ_{t+1} Uᵀ
    for t in reversed(range(T)):
        deltas[:, t] = (dhs[:, t] + recurrent) * (1.0 - hs[:, t] ** 2)
        recurrent = deltas[:, t] @ U.T
    dh0 = recurrent                                                  # δ_1 Uᵀ
    h_prev = np.concatenate([h0[:, None, :], hs[:, :-1]], axis=1)    # h_{t-1}, (N, T, H)
    dx = deltas @ W.T                                                # (N, T, D)
    dW = np.einsum("ntd,nth->dh", x, deltas)                         # Σ_t x_tᵀ δ_t
    dU = np.einsum("ntk,nth->kh", h_prev, deltas)                    # Σ_t h_{t-1}ᵀ δ_t
    db = deltas.sum(axis=(0, 1))
    return dx, dh0, dW, dU, db


# --------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------

def lstm_step_forward(x_t, h_prev, c_prev, W, U, b):
    """One LSTM step, as a Keras ``LSTM`` cell (gate order i, f, c, o).

        a = x_t W + h_prev U + b = [a_i | a_f | a_g | a_o]    (four blocks of H columns)
        i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)                      (gates)
        c = f ⊙ c_prev + i ⊙ g,    h = o ⊙ tanh(c)                                 (LSTM)

    x_t: (N, D); h_prev, c_prev: (N, H) (None for zeros); W: (D, 4H); U: (H, 4H); b: (4H,)
    (``LSTM.get_weights()`` = [kernel, recurrent_kernel, bias] copy in unchanged).
    Returns h (N, H), c (N, H) and a cache (:class:`LSTMStepCache`).
    """
    func = "lstm_step_forward"
    W, U, b, D, H = _params(func, W, U, b, gates=4)
    x_t = _input_step(func, x_t, W, D)
    N = x_t.shape[0]
    h_prev = _state(func, "h_prev", h_prev, N, H, x_name="x_t", x_shape=x_t.shape)
    c_prev = _state(func, "c_prev", c_prev, N, H, x_name="x_t", x_shape=x_t.shape)
    dt = result_dtype(x_t, h_prev, c_prev, W, U, b)
    x_t, h_prev, c_prev, W, U, b = _cast(dt, x_t, h_prev, c_prev, W, U, b)
    return _lstm_step(x_t, h_prev, c_prev, W, U, b, H)


def _lstm_step(x_t, h_prev, c_prev, W, U, b, H):
    a = x_t @ W + h_prev @ U + b
    i = _sigmoid(a[:, :H])
    f = _sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = _sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, LSTMStepCache(x_t, h_prev, c_prev, W, U, i, f, g, o, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    The cell state receives gradient both directly (dc, from c's use at the next step) and
    through h = o ⊙ tanh(c)::

        dc_tot  = dc + dh ⊙ o ⊙ (1 - tanh²(c))
        do = dh ⊙ tanh(c),  di = dc_tot ⊙ g,  df = dc_tot ⊙ c_prev,  dg = dc_tot ⊙ i
        dc_prev = dc_tot ⊙ f                      (the additive path: only a gate, no Uᵀ)
        da = [di ⊙ i(1-i) | df ⊙ f(1-f) | dg ⊙ (1-g²) | do ⊙ o(1-o)]              (N, 4H)
        dx_t = da Wᵀ,  dh_prev = da Uᵀ,  dW = x_tᵀ da,  dU = h_prevᵀ da,  db = Σ_n da

    dh, dc: (N, H) upstream gradients on h and c (dc None for zeros); cache: from
    :func:`lstm_step_forward`.
    Returns dx_t (N, D), dh_prev (N, H), dc_prev (N, H), dW (D, 4H), dU (H, 4H), db (4H,).
    """
    func = "lstm_step_backward"
    check_cache(func, cache, LSTMStepCache, "lstm_step_forward")
    shape = cache.i.shape
    dh = upstream_gradient(func, "dh", dh, shape, "h")
    if dc is None:
        dc = np.zeros(shape, dtype=dh.dtype)
    dc = upstream_gradient(func, "dc", dc, shape, "c")
    dt = result_dtype(dh, dc, cache.i)
    dh, dc = _cast(dt, dh, dc)
    cache = LSTMStepCache(*_cast(dt, *cache))
    return _lstm_step_backward(dh, dc, cache)


def _lstm_step_backward(dh, dc, cache):
    x_t, h_prev, c_prev, W, U, i, f, g, o, tanh_c = cache
    dc_tot = dc + dh * o * (1.0 - tanh_c * tanh_c)
    da = np.concatenate([
        dc_tot * g * i * (1.0 - i),             # a_i
        dc_tot * c_prev * f * (1.0 - f),        # a_f
        dc_tot * i * (1.0 - g * g),             # a_g
        dh * tanh_c * o * (1.0 - o),            # a_o
    ], axis=1)
    dc_prev = dc_tot * f
    dx_t = da @ W.T
    dh_prev = da @ U.T
    dW = x_t.T @ da
    dU = h_prev.T @ da
    db = da.sum(axis=0)
    return dx_t, dh_prev, dc_prev, dW, dU, db


def lstm_forward(x, h0, c0, W, U, b):
    """Run the LSTM over whole sequences, as Keras ``LSTM(H, return_sequences=True)``.

    Applies :func:`lstm_step_forward` (gates) and (LSTM) for t = 1..T from (h_0, c_0).
    x: (N, T, D); h0, c0: (N, H) (None for zeros); W: (D, 4H); U: (H, 4H); b: (4H,).
    Returns hs (N, T, H) every hidden state, and a cache (:class:`LSTMCache`). The final
    cell state c_T (Keras' third output with ``return_state=True``) is
    :func:`lstm_final_cell_state` (cache); :func:`lstm_backward` takes its gradient as dcT.
    """
    func = "lstm_forward"
    W, U, b, D, H = _params(func, W, U, b, gates=4)
    x = _input_seq(func, x, W, D)
    N, T, _ = x.shape
    h0 = _state(func, "h0", h0, N, H, x_name="x", x_shape=x.shape)
    c0 = _state(func, "c0", c0, N, H, x_name="x", x_shape=x.shape)
    dt = result_dtype(x, h0, c0, W, U, b)
    x, h, c, W, U, b = _cast(dt, x, h0, c0, W, U, b)
    hs = np.empty((N, T, H), dtype=dt)
    steps = []
    for t in range(T):
        h, c, step = _lstm_step(x[:, t], h, c, W, U, b, H)
        hs[:, t] = h
        steps.append(step)
    return hs, LSTMCache(tuple(steps), x.shape)


def lstm_final_cell_state(cache) -> np.ndarray:
    """c_T (N, H) from an :func:`lstm_forward` cache: c_T = f ⊙ c_{T-1} + i ⊙ g at t = T."""
    check_cache("lstm_final_cell_state", cache, LSTMCache, "lstm_forward")
    s = cache.steps[-1]
    return s.f * s.c_prev + s.i * s.g


def lstm_backward(dhs, cache, dcT=None):
    """Backpropagation through time for the LSTM.

    Going back from t = T to 1 with ∂L/∂h_t = dhs_t + (dh_prev of step t+1) and the cell
    gradient dc_t = dc_prev of step t+1 (dcT at t = T), each step as
    :func:`lstm_step_backward`; dW, dU, db are summed over the steps.
    dhs: (N, T, H) upstream gradient on every hidden state; cache: from :func:`lstm_forward`;
    dcT: (N, H) upstream gradient on the final cell state c_T (Keras ``return_state=True``),
        None (default) for zeros.
    Returns dx (N, T, D), dh0 (N, H), dc0 (N, H), dW (D, 4H), dU (H, 4H), db (4H,).
    """
    func = "lstm_backward"
    check_cache(func, cache, LSTMCache, "lstm_forward")
    N, T, D = cache.x_shape
    H = cache.steps[0].i.shape[1]
    dhs = upstream_gradient(func, "dhs", dhs, (N, T, H), "hs")
    dt = result_dtype(dhs, cache.steps[0].i) if dcT is None else \
        result_dtype(dhs, as_float_array(dcT, "dcT", func), cache.steps[0].i)
    dhs = dhs.astype(dt, copy=False)
    dx = np.empty((N, T, D), dtype=dt)
    dh_next = np.zeros((N, H), dtype=dt)
    dc_next = np.zeros((N, H), dtype=dt) if dcT is None else \
        upstream_gradient(func, "dcT", dcT, (N, H), "c_T").astype(dt, copy=False)
    dW = dU = db = 0.0
    for t in reversed(range(T)):
        step = LSTMStepCache(*_cast(dt, *cache.steps[t]))
        dx[:, t], dh_next, dc_next, dW_t, dU_t, db_t = _lstm_step_backward(dhs[:, t] + dh_next, dc_next, step)
        dW, dU, db = dW + dW_t, dU + dU_t, db + db_t
    return dx, dh_next, dc_next, dW, dU, db


# --------------------------------------------------------------------------------------
# exploding and vanishing gradients
# --------------------------------------------------------------------------------------

def clip_by_global_norm(grads, max_norm):
    """Rescale a list of gradients so that their global norm is at most ``max_norm``.

        global_norm = sqrt(Σ_k ||g_k||²)        (over every entry of every array)
        g_k <- g_k · max_norm / max(global_norm, max_norm)

    so the direction of the whole update is kept and only its length is capped (Pascanu,
    Mikolov, Bengio 2013). Same result as ``tf.clip_by_global_norm(grads, max_norm)``:
    ``None`` entries stay ``None``, and if global_norm is inf or NaN every clipped array is
    NaN (TensorFlow's behaviour, so an exploded step is visible rather than silently taken).

    grads: a list/tuple of arrays (any shapes; None allowed) or a dict name -> array;
    max_norm: a positive number.
    Returns (clipped, global_norm): clipped as a list (or a dict with the same keys), each
    array in its own dtype; global_norm a float, the norm *before* clipping.
    """
    func = "clip_by_global_norm"
    ok = (not isinstance(max_norm, (bool, np.bool_)) and np.ndim(max_norm) == 0
          and np.asarray(max_norm).dtype.kind in "iuf" and np.isfinite(max_norm) and max_norm > 0)
    if not ok:
        raise ValueError(f"{func}: max_norm must be a positive finite number, got {max_norm!r}")
    is_dict = isinstance(grads, dict)
    if is_dict:
        keys, items = list(grads.keys()), list(grads.values())
    elif isinstance(grads, (list, tuple)):
        keys, items = None, list(grads)
    else:
        raise ValueError(f"{func}: grads must be a list, tuple or dict of arrays, got {type(grads).__name__}")
    arrays = [None if g is None else as_float_array(g, f"grads[{k!r}]" if is_dict else f"grads[{j}]", func)
              for j, (k, g) in enumerate(zip(keys or range(len(items)), items))]
    sq = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays if g is not None)
    global_norm = float(np.sqrt(sq))
    if not np.isfinite(global_norm):
        clipped = [None if g is None else np.full_like(g, np.nan) for g in arrays]
    else:
        scale = 1.0 if global_norm <= max_norm else float(max_norm) / global_norm
        clipped = [None if g is None else (g * scale).astype(g.dtype, copy=False) for g in arrays]
    if is_dict:
        return dict(zip(keys, clipped)), global_norm
    return clipped, global_norm


def hidden_state_jacobian_norms(hs, U, ord=2):
    """||∂h_T/∂h_t|| for t = T, T-1, ..., 1: how much of a gradient at h_T reaches h_t.

    With J_k = ∂h_k/∂h_{k-1} = diag(1 - h_k²) Uᵀ (H, H) (entry [j, i] = ∂h_k[j]/∂h_{k-1}[i];
    in row layout a gradient row g travels back one step as g J_k),

        ∂h_T/∂h_T = I,    ∂h_T/∂h_t = J_T J_{T-1} ... J_{t+1}                       (Jac)

    built up one factor at a time going back. Each factor has norm at most ||U||₂ (since
    |1 - h²| <= 1), so for a small spectral radius ρ(U) the norms shrink like ρ^(T-t)
    (vanishing gradient) and for ρ > 1 with unsaturated units they can grow (exploding).

    hs: (N, T, H) hidden states from :func:`rnn_forward` (h_1..h_T); U: (H, H).
    ord: 2 (spectral norm, the largest factor by which a gradient can grow; default) or
        "fro" (Frobenius).
    Returns norms (N, T) with norms[:, k] = ||∂h_T/∂h_{T-k}|| for k = T - t = 0..T-1
    (norms[:, 0] = ||I|| = 1 for ord=2), ready to plot against the distance T - t.
    """
    func = "hidden_state_jacobian_norms"
    hs = as_float_array(hs, "hs", func, ndim=3)
    U = as_float_array(U, "U", func, ndim=2)
    N, T, H = hs.shape
    if U.shape != (H, H):
        raise ValueError(f"{func}: U must have shape (H, H) = ({H}, {H}) for hs {hs.shape} as (N, T, H), "
                         f"got U {U.shape}")
    if ord not in (2, "fro"):
        raise ValueError(f"{func}: ord must be 2 or 'fro', got {ord!r}")
    check_finite(hs, "hs", func)
    check_finite(U, "U", func)
    dt = result_dtype(hs, U)
    hs, U = _cast(dt, hs, U)
    norms = np.empty((N, T), dtype=dt)
    P = np.broadcast_to(np.eye(H, dtype=dt), (N, H, H)).copy()       # ∂h_T/∂h_T
    for k in range(T):
        norms[:, k] = np.linalg.norm(P, ord=ord, axis=(1, 2))
        if k < T - 1:
            # P <- P J_{T-k} = P diag(1 - h_{T-k}²) Uᵀ; h_{T-k} is hs[:, T-1-k]
            P = (P * (1.0 - hs[:, T - 1 - k] ** 2)[:, None, :]) @ U.T
    return norms


def spectral_radius(U) -> float:
    """ρ(U) = max |λ| over the eigenvalues λ of the square matrix U (H, H).

    The growth factor per step of the linearised recurrence h_t ≈ h_{t-1} U: below 1 the
    hidden state (and the gradient) forgets geometrically, above 1 it can explode.
    """
    U = as_float_array(U, "U", "spectral_radius", ndim=2)
    if U.shape[0] != U.shape[1]:
        raise ValueError(f"spectral_radius: U must be square (H, H), got U {U.shape}")
    check_finite(U, "U", "spectral_radius")
    return float(np.max(np.abs(np.linalg.eigvals(U.astype(np.float64))))) if U.size else 0.0
