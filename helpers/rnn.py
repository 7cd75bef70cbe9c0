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

(in row layout a gradient row vector travels back as g_{k-1} = g_k J_k), so its size is at
most ||U||₂^(T-t) and, over long distances, grows or shrinks like ρ(U)^(T-t) (asymptotically:
a non-normal U, with ||U||₂ > ρ(U), can first grow): vanishing and exploding gradients (Bengio, Simard, Frasconi
1994; Pascanu, Mikolov, Bengio 2013). :func:`hidden_state_jacobian_norms` measures it, and
:func:`clip_by_global_norm` is the remedy for the exploding side.

The LSTM (Hochreiter, Schmidhuber 1997; the forget gate f is from Gers, Schmidhuber, Cummins
2000) uses Keras' gate order i, f, c (candidate), o, with
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

Chapter 3 continued (``06_rnn_bptt.ipynb``, ``07_rnn_architectures.ipynb``):

* **Masking** (sequences of different lengths, padded to T): ``rnn_forward(..., mask)`` with
  m_t = mask[:, t-1] (N,) True for a real step, as Keras ``Masking`` / ``mask_zero``::

      h_t = m_t ⊙ tanh(x_t W + h_{t-1} U + b) + (1 - m_t) ⊙ h_{t-1}                 (mask)

  so a masked step carries the state unchanged, and in BPTT δ_t = 0 while ∂L/∂h_{t-1}
  receives ∂L/∂h_t unchanged.
* **Truncated BPTT** BPTT(k1, k2) (Williams, Peng 1990): :func:`rnn_backward_truncated`, and
  :func:`truncation_mask` (which step's gradient reaches which earlier step).
* **Outputs and losses**: :func:`temporal_dense_forward` y_t = h_t V + c at every step (Keras
  ``Dense`` on a 3-D tensor) and :func:`temporal_softmax_cross_entropy` (a label per step,
  averaged over the counted steps). Sequence-to-one needs no new function: logits = h_T V + c
  = ``hs[:, -1] @ V + c`` and ``helpers.nn.softmax_cross_entropy_with_logits``.
* **Bidirectional RNN**: :func:`birnn_forward` / :func:`birnn_backward`, Keras
  ``Bidirectional(SimpleRNN(H, return_sequences=True))`` with merge_mode="concat".
* **GRU** (Cho et al. 2014) in Keras' default convention ``reset_after=True``, gate order
  z, r, h (W (D, 3H), U (H, 3H), b (2, 3H): row 0 the input bias b^in, row 1 the recurrent
  bias b^rec, exactly ``GRU.get_weights()``)::

      z = σ(x_t W_z + b_z^in + h_{t-1} U_z + b_z^rec)                             (GRU-z)
      r = σ(x_t W_r + b_r^in + h_{t-1} U_r + b_r^rec)                             (GRU-r)
      ĥ = tanh(x_t W_h + b_h^in + r ⊙ (h_{t-1} U_h + b_h^rec))                    (GRU-ĥ)
      h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ĥ                                             (GRU-h)

  (reset_after=True applies r *after* the recurrent product; the original GRU of Cho et al.
  applies it before, (r ⊙ h_{t-1}) U_h, which is Keras' ``reset_after=False``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from helpers._validate import as_float_array, check_cache, check_finite, integer_labels, result_dtype, upstream_gradient

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "rnn_backward_truncated", "truncation_mask",
    "temporal_dense_forward", "temporal_dense_backward", "temporal_softmax_cross_entropy",
    "birnn_forward", "birnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "lstm_final_cell_state",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward", "gru_parameter_count",
    "clip_by_global_norm", "hidden_state_jacobian_norms", "spectral_radius",
    "RNNStepCache", "RNNCache", "MaskedRNNCache", "TemporalDenseCache", "BiRNNCache",
    "LSTMStepCache", "LSTMCache", "GRUStepCache", "GRUCache",
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
    """What :func:`rnn_backward` needs: x (N, T, D), h0 (N, H), W, U, hs (N, T, H).

    Returned by :func:`rnn_forward` without a mask; it unpacks into these five arrays
    (``x, h0, W, U, hs = cache``). ``cache.mask`` is None (every step is real).
    """

    x: np.ndarray
    h0: np.ndarray
    W: np.ndarray
    U: np.ndarray
    hs: np.ndarray

    @property
    def mask(self) -> None:
        """No mask: every step is a real step."""
        return None


class MaskedRNNCache(NamedTuple):
    """:class:`RNNCache` plus the mask (N, T) bool: returned by :func:`rnn_forward` with a mask.

    A separate type, so that the five-array :class:`RNNCache` of unmasked sequences still
    unpacks as ``x, h0, W, U, hs = cache``; both have ``cache.mask`` and both are accepted by
    :func:`rnn_backward` and :func:`rnn_backward_truncated`.
    """

    x: np.ndarray
    h0: np.ndarray
    W: np.ndarray
    U: np.ndarray
    hs: np.ndarray
    mask: np.ndarray


_RNN_CACHES = (RNNCache, MaskedRNNCache)


class TemporalDenseCache(NamedTuple):
    """What :func:`temporal_dense_backward` needs: hs (N, T, H), V (H, K)."""

    hs: np.ndarray
    V: np.ndarray


class BiRNNCache(NamedTuple):
    """What :func:`birnn_backward` needs: the caches of the two directions and the mask.

    forward: the :func:`rnn_forward` cache of the forward RNN over x_1..x_T;
    backward: the cache of the backward RNN over the *reversed* sequence x_T..x_1 (so
    ``backward.hs[:, -1]`` is its state after reading the whole sequence);
    mask: (N, T) bool or None.
    """

    forward: RNNCache | MaskedRNNCache
    backward: RNNCache | MaskedRNNCache
    mask: np.ndarray | None


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


class GRUStepCache(NamedTuple):
    """What :func:`gru_step_backward` needs: x_t, h_prev, W, U, the gates z, r, the candidate
    ĥ and u_h = h_prev U_h + b_h^rec (the recurrent part of ĥ's argument), each (N, H)."""

    x_t: np.ndarray
    h_prev: np.ndarray
    W: np.ndarray
    U: np.ndarray
    z: np.ndarray
    r: np.ndarray
    h_hat: np.ndarray
    u_h: np.ndarray


class GRUCache(NamedTuple):
    """What :func:`gru_backward` needs: one :class:`GRUStepCache` per time step."""

    steps: tuple
    x_shape: tuple


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------

def _params(func: str, W, U, b, gates: int = 1, suffix: str = ""):
    """Validate W (D, gates*H), U (H, gates*H), b (gates*H,); return them and D, H.

    suffix names the arrays in messages ("_f" -> W_f, U_f, b_f); gates=3 is the GRU
    (b (2, 3H)), gates=4 the LSTM.
    """
    nW, nU, nb = f"W{suffix}", f"U{suffix}", f"b{suffix}"
    W = as_float_array(W, nW, func, ndim=2)
    U = as_float_array(U, nU, func, ndim=2)
    b = as_float_array(b, nb, func, ndim=2 if gates == 3 else 1)
    D, GH = W.shape
    if gates == 1:
        H = GH
        if U.shape != (H, H):
            raise ValueError(f"{func}: {nU} must be square (H, H) = ({H}, {H}) with H = {H} hidden units "
                             f"(the columns of {nW}), got {nU} {U.shape} ({nW} {W.shape})")
    else:
        names = "gates i, f, c, o" if gates == 4 else "gates z, r, h"
        if GH % gates:
            raise ValueError(f"{func}: {nW} must have {gates}H columns ({names}), "
                             f"got {nW} {W.shape} with {GH} columns, not a multiple of {gates}")
        H = GH // gates
        if U.shape != (H, GH):
            raise ValueError(f"{func}: {nU} must have shape (H, {gates}H) = ({H}, {GH}) with H = {H} "
                             f"(from {nW} {W.shape}), got {nU} {U.shape}")
    if gates == 3:
        if b.shape != (2, GH):
            raise ValueError(f"{func}: {nb} must have shape (2, 3H) = (2, {GH}) (row 0 the input bias, row 1 "
                             f"the recurrent bias: Keras GRU with reset_after=True), got {nb} {b.shape} "
                             f"({nW} {W.shape})")
    elif b.shape != (GH,):
        raise ValueError(f"{func}: {nb} must have shape ({GH},) to match the {GH} columns of {nW}, "
                         f"got {nb} {b.shape} ({nW} {W.shape})")
    for name, a in ((nW, W), (nU, U), (nb, b)):
        check_finite(a, name, func)
    return W, U, b, D, H


def _mask(func: str, mask, N: int, T: int, x_name: str, x_shape: tuple):
    """Validate a mask (N, T) of True/False (or 1/0): True = a real step. None stays None."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.ndim != 2 or m.shape != (N, T):
        raise ValueError(f"{func}: mask must have shape (N, T) = ({N}, {T}) to match {x_name} {x_shape}, "
                         f"got mask {m.shape}")
    if m.dtype.kind == "b":
        return m.copy()
    if m.dtype.kind not in "iuf" or not np.all((m == 0) | (m == 1)):
        bad = m.dtype if m.dtype.kind not in "iuf" else np.unique(m[(m != 0) & (m != 1)])[:5]
        raise ValueError(f"{func}: mask must hold True/False (or 1/0) for each step, got {bad} "
                         f"(mask {m.shape})")
    return m.astype(bool)


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


def rnn_forward(x, h0, W, U, b, mask=None):
    """Run the RNN over whole sequences, as Keras ``SimpleRNN(H, return_sequences=True)``.

        h_t = tanh(x_t W + h_{t-1} U + b),   t = 1..T, starting from h_0 = h0       (RNN)

    x: (N, T, D); h0: (N, H) initial state, or None for zeros (Keras' default);
    W: (D, H); U: (H, H); b: (H,).
    mask: None (every step real), or (N, T) bool (or 1/0), True = a real step, as Keras'
        ``Masking`` layer / ``mask_zero`` / the ``mask`` argument. At a masked step the state
        is carried unchanged,

            h_t = m_t ⊙ tanh(x_t W + h_{t-1} U + b) + (1 - m_t) ⊙ h_{t-1}           (mask)

        and hs[:, t-1] holds that carried state: what Keras ``SimpleRNN(...,
        return_sequences=True)`` returns with its default ``zero_output_for_mask=False``
        (``Bidirectional`` sets it to True and returns zeros there: see :func:`birnn_forward`).
        hs[:, -1] is the state after each sequence's last real step, which is what
        ``return_sequences=False`` returns. One corner differs: Keras carries its previous
        *output*, which starts at zero, so at masked steps *before* a sequence's first real
        step (pre-padding) it returns zeros where hs holds the carried state h_0 (and an
        upstream gradient on those outputs reaches h_0 here, not in Keras); the two agree
        whenever h0 is zero and those steps get no gradient, or the padding comes after the
        real steps.
    Returns hs: (N, T, H) every hidden state (hs[:, t-1] = h_t, hs[:, -1] = h_T, which is
    what ``return_sequences=False`` returns), and a cache: :class:`RNNCache` without a mask,
    :class:`MaskedRNNCache` with one.
    """
    func = "rnn_forward"
    W, U, b, D, H = _params(func, W, U, b)
    x = _input_seq(func, x, W, D)
    N, T, _ = x.shape
    h0 = _state(func, "h0", h0, N, H, x_name="x", x_shape=x.shape)
    mask = _mask(func, mask, N, T, "x", x.shape)
    dt = result_dtype(x, h0, W, U, b)
    x, h0, W, U, b = _cast(dt, x, h0, W, U, b)
    hs = _rnn_scan(x, h0, W, U, b, mask)
    if mask is None:
        return hs, RNNCache(x, h0, W, U, hs)
    return hs, MaskedRNNCache(x, h0, W, U, hs, mask)


def _rnn_scan(x, h0, W, U, b, mask):
    """The recurrence (RNN), or (mask) when a mask is given, on validated arrays of one dtype."""
    N, T, _ = x.shape
    # The input term x_t W + b of every step at once; only h_{t-1} U must wait for the past.
    xw = x @ W + b                                                   # (N, T, H)
    hs = np.empty((N, T, W.shape[1]), dtype=x.dtype)
    h = h0
    for t in range(T):
        h_new = np.tanh(xw[:, t] + h @ U)
        h = h_new if mask is None else np.where(mask[:, t, None], h_new, h)
        hs[:, t] = h
    return hs


def _rnn_unpack(func: str, dhs, cache):
    """Check an rnn_forward cache and its upstream gradient dhs; cast both to one dtype."""
    check_cache(func, cache, _RNN_CACHES, "rnn_forward")
    x, h0, W, U, hs = cache[:5]
    dhs = upstream_gradient(func, "dhs", dhs, hs.shape, "hs")
    dt = result_dtype(dhs, hs)
    dhs, x, h0, W, U, hs = _cast(dt, dhs, x, h0, W, U, hs)
    return dhs, x, h0, W, U, hs, cache.mask


def _rnn_weight_grads(deltas, x, h0, W, hs):
    """dx, dW, dU, db from the δ_t of every step (zeros where no gradient arrived)."""
    h_prev = np.concatenate([h0[:, None, :], hs[:, :-1]], axis=1)    # h_{t-1}, (N, T, H)
    dx = deltas @ W.T                                                # δ_t Wᵀ, (N, T, D)
    dW = np.einsum("ntd,nth->dh", x, deltas)                         # Σ_t x_tᵀ δ_t
    dU = np.einsum("ntk,nth->kh", h_prev, deltas)                    # Σ_t h_{t-1}ᵀ δ_t
    db = deltas.sum(axis=(0, 1))
    return dx, dW, dU, db


def _bptt_window(dhs, hs, U, mask, deltas, lo, start, end):
    """Backpropagate the direct gradients of steps start..end-1 (0-based) from end-1 down to lo.

    Adds each step's δ_t into deltas and returns ∂L/∂h_lo-1, the gradient that would flow on
    below the window (h_0 when lo = 0). Steps lo..start-1 receive no direct gradient here.
    """
    g_next = np.zeros_like(hs[:, 0])                                 # δ_{t+1} Uᵀ (or carried)
    for t in reversed(range(lo, end)):
        g = g_next + dhs[:, t] if t >= start else g_next             # ∂L/∂h_t   (BPTT)
        delta = g * (1.0 - hs[:, t] ** 2)                            # δ_t       (δ)
        if mask is None:
            g_next = delta @ U.T
        else:                                                        # masked: δ_t = 0, ∂L/∂h_t passes on
            m = mask[:, t, None]
            delta = np.where(m, delta, 0.0)
            g_next = np.where(m, delta @ U.T, g)
        deltas[:, t] += delta
    return g_next


def rnn_backward(dhs, cache):
    """Backpropagation through time over the whole sequence.

    dhs[:, t-1] is the *direct* upstream gradient on h_t (from a loss on every output; zeros
    except dhs[:, -1] for a loss on h_T only). Going back from t = T to 1::

        ∂L/∂h_t = dhs_t + δ_{t+1} Uᵀ        (δ_{T+1} = 0)                            (BPTT)
        δ_t     = ∂L/∂h_t ⊙ (1 - h_t²)                                               (δ)

    and then, since W, U, b are shared by every step, their gradients are sums over time::

        dW = Σ_t x_tᵀ δ_t,   dU = Σ_t h_{t-1}ᵀ δ_t,   db = Σ_t Σ_n δ_t,
        dx_t = δ_t Wᵀ,       dh0 = δ_1 Uᵀ.

    With a mask (a :class:`MaskedRNNCache`), a masked step t (h_t = h_{t-1}, eq. (mask)) has
    δ_t = 0 (so dx_t = 0 and it adds nothing to dW, dU, db) and passes its whole ∂L/∂h_t on to
    h_{t-1} unchanged, in place of δ_t Uᵀ.

    dhs: (N, T, H); cache: from :func:`rnn_forward`.
    Returns dx (N, T, D), dh0 (N, H), dW (D, H), dU (H, H), db (H,).
    """
    return _full_bptt("rnn_backward", dhs, cache)


def _full_bptt(func: str, dhs, cache):
    """(BPTT) over every step for an rnn_forward cache: (dx, dh0, dW, dU, db)."""
    dhs, x, h0, W, U, hs, mask = _rnn_unpack(func, dhs, cache)
    T = hs.shape[1]
    deltas = np.zeros_like(hs)                                       # δ_t for t = 1..T
    dh0 = _bptt_window(dhs, hs, U, mask, deltas, 0, 0, T)            # δ_1 Uᵀ
    dx, dW, dU, db = _rnn_weight_grads(deltas, x, h0, W, hs)
    return dx, dh0, dW, dU, db


# --------------------------------------------------------------------------------------
# truncated BPTT
# --------------------------------------------------------------------------------------

def _truncation_args(func: str, k1, k2):
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise ValueError(f"{func}: {name} must be an integer number of time steps, got {name} = {k!r}")
    if not 1 <= k1 <= k2:
        raise ValueError(f"{func}: need 1 <= k1 <= k2 (a backward pass every k1 steps, each reaching k2 steps "
                         f"back), got k1 = {k1}, k2 = {k2}")
    return int(k1), int(k2)


def _truncation_windows(T: int, k1: int, k2: int):
    """(lo, start, end), 0-based: chunk steps start..end-1, backpropagated down to step lo."""
    return [(max(start - (k2 - k1), 0), start, min(start + k1, T)) for start in range(0, T, k1)]


def truncation_mask(T, k1, k2) -> np.ndarray:
    """Which step's direct gradient reaches which earlier step under BPTT(k1, k2).

    Returns M (T, T) bool with M[s-1, t-1] True when the direct gradient at step t
    (dhs_t, from the loss at step t) reaches step s (s <= t): the upper triangle (s <= t, as
    ``np.triu``) of full BPTT, minus what truncation cuts off. See :func:`rnn_backward_truncated` for the rule:
    the chunk of k1 steps that holds t is backpropagated from its end e down to e - k2 + 1
    (never below 1), i.e. down to k2 - k1 steps before the chunk's first step. Full BPTT is
    k1 = T (any k2 >= T): M is then the whole upper triangle.
    T: int >= 1; k1, k2: ints with 1 <= k1 <= k2 (k2 may exceed T).
    """
    func = "truncation_mask"
    if isinstance(T, (bool, np.bool_)) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"{func}: T must be a positive integer number of time steps, got T = {T!r}")
    k1, k2 = _truncation_args(func, k1, k2)
    M = np.zeros((T, T), dtype=bool)
    for lo, start, end in _truncation_windows(int(T), k1, k2):
        for t in range(start, end):
            M[lo:t + 1, t] = True
    return M


def rnn_backward_truncated(dhs, cache, k1, k2):
    """Truncated backpropagation through time, BPTT(k1, k2) (Williams, Peng 1990).

    The forward pass ran over the whole sequence (:func:`rnn_forward`). Every k1 steps, at the
    chunk ends e = k1, 2k1, ... (and T), the direct gradients dhs_t of the chunk's steps
    t = e-k1+1..e are backpropagated with (BPTT) and (δ) from e down to step e-k2+1 (never
    below 1); whatever would flow on below that step is dropped::

        chunk (s, e] = (s, min(s + k1, T)],   window: steps max(s - (k2 - k1), 0) + 1 .. e  (TBPTT)

    So a gradient travels at most k2 - 1 steps back, and at least k2 - k1 (when it comes from a
    chunk's first step); counting its own step, it reaches at most k2 and at least k2 - k1 + 1
    steps. When k1 does not divide T the last, shorter chunk reaches back the
    same k2 - k1 steps before its first step as every other chunk (not k2 steps from T), so
    that BPTT(k, k) is exactly "detach the state every k steps": TensorFlow autodiff with
    ``tf.stop_gradient`` on h_k, h_2k, ... . Special cases: k1 = T (any k2 >= T) is full BPTT,
    :func:`rnn_backward`; k1 = k2 = 1 keeps only each step's own δ_t. Steps covered by several
    windows (k2 > k1) add up the δ_t of each window. dW, dU, db, dx are then formed from these
    δ_t as in :func:`rnn_backward`; dh0 is nonzero only from windows that reach step 1 (the
    first chunk's window always does). A mask in the cache is honoured as in
    :func:`rnn_backward` (masked steps count as steps of the window).
    :func:`truncation_mask` (T, k1, k2) shows which step's gradient reaches which step.

    dhs: (N, T, H); cache: from :func:`rnn_forward`; k1, k2: ints, 1 <= k1 <= k2 (k2 may
    exceed T).
    Returns dx (N, T, D), dh0 (N, H), dW (D, H), dU (H, H), db (H,).
    """
    func = "rnn_backward_truncated"
    k1, k2 = _truncation_args(func, k1, k2)
    dhs, x, h0, W, U, hs, mask = _rnn_unpack(func, dhs, cache)
    T = hs.shape[1]
    deltas = np.zeros_like(hs)
    dh0 = np.zeros_like(h0)
    for lo, start, end in _truncation_windows(T, k1, k2):
        g_below = _bptt_window(dhs, hs, U, mask, deltas, lo, start, end)
        if lo == 0:
            dh0 += g_below
    dx, dW, dU, db = _rnn_weight_grads(deltas, x, h0, W, hs)
    return dx, dh0, dW, dU, db


# --------------------------------------------------------------------------------------
# outputs and losses at every step
# --------------------------------------------------------------------------------------

def temporal_dense_forward(hs, V, c):
    """The same dense output layer at every time step (Keras ``Dense`` on a 3-D tensor,
    = ``TimeDistributed(Dense(K))``)::

        y_t = h_t V + c,    t = 1..T                                                (out)

    hs: (N, T, H) hidden states; V: (H, K); c: (K,).
    Returns y (N, T, K) (logits, for a label per step) and a cache
    (:class:`TemporalDenseCache`). For sequence-to-one use ``hs[:, -1] @ V + c`` (N, K).
    """
    func = "temporal_dense_forward"
    hs = as_float_array(hs, "hs", func, ndim=3)
    V = as_float_array(V, "V", func, ndim=2)
    c = as_float_array(c, "c", func, ndim=1)
    if hs.shape[2] != V.shape[0]:
        raise ValueError(f"{func}: hs has {hs.shape[2]} hidden units but V expects {V.shape[0]} "
                         f"(hs {hs.shape} as (N, T, H), V {V.shape} as (H, K))")
    if c.shape != (V.shape[1],):
        raise ValueError(f"{func}: c must have shape ({V.shape[1]},) to match the {V.shape[1]} columns of V, "
                         f"got c {c.shape} (V {V.shape})")
    for name, a in (("hs", hs), ("V", V), ("c", c)):
        check_finite(a, name, func)
    dt = result_dtype(hs, V, c)
    hs, V, c = _cast(dt, hs, V, c)
    return hs @ V + c, TemporalDenseCache(hs, V)


def temporal_dense_backward(dy, cache):
    """Backward pass of :func:`temporal_dense_forward`; V and c are shared by every step::

        ∂L/∂h_t = dy_t Vᵀ,    dV = Σ_n Σ_t h_tᵀ dy_t,    dc = Σ_n Σ_t dy_t

    dy: (N, T, K) upstream gradient on y; cache: from :func:`temporal_dense_forward`.
    Returns dhs (N, T, H) (the direct gradients that enter BPTT), dV (H, K), dc (K,).
    """
    func = "temporal_dense_backward"
    check_cache(func, cache, TemporalDenseCache, "temporal_dense_forward")
    hs, V = cache
    dy = upstream_gradient(func, "dy", dy, hs.shape[:2] + V.shape[1:], "y")
    dt = result_dtype(dy, hs)
    dy, hs, V = _cast(dt, dy, hs, V)
    return dy @ V.T, np.einsum("nth,ntk->hk", hs, dy), dy.sum(axis=(0, 1))


def temporal_softmax_cross_entropy(logits, y, mask=None):
    """Softmax cross-entropy with a label at every step, averaged over the counted steps.

        L = (1 / Σ m) Σ_{n,t} m_{n,t} [ −log softmax(z_{n,t})_{y_{n,t}} ]            (CE)
        ∂L/∂z_{n,t} = m_{n,t} (softmax(z_{n,t}) − onehot(y_{n,t})) / Σ m              (dCE)

    (with the stable log-softmax of ``helpers.nn.softmax_cross_entropy_with_logits``). Without
    a mask this is the mean over all N·T steps, Keras' ``SparseCategoricalCrossentropy(
    from_logits=True)`` on (N, T, K) logits; with one it is
    Σ m · ``tf.nn.sparse_softmax_cross_entropy_with_logits`` / Σ m (padding does not count).

    logits z: (N, T, K); y: (N, T) integer labels in [0, K) (whole-number floats accepted;
    at masked steps any integer, e.g. a padding value -1, is allowed and ignored);
    mask: (N, T) bool (or 1/0), True = a counted step, or None (all counted).
    Returns (L, dlogits): a scalar of the logits' dtype and an array (N, T, K).
    """
    func = "temporal_softmax_cross_entropy"
    z = as_float_array(logits, "logits", func, ndim=3)
    N, T, K = z.shape
    if z.size == 0:
        raise ValueError(f"{func}: logits is empty (shape {z.shape}); the loss needs at least one step "
                         f"and one class")
    check_finite(z, "logits", func)
    y = np.asarray(y)
    if y.shape != (N, T):
        raise ValueError(f"{func}: y must hold one integer label per step, shape (N, T) = ({N}, {T}), "
                         f"got y {y.shape} for logits {z.shape}")
    labels = integer_labels(func, y, K)
    m = np.ones((N, T), dtype=bool) if mask is None else _mask(func, mask, N, T, "logits", z.shape)
    count = int(m.sum())
    if count == 0:
        raise ValueError(f"{func}: mask has no True entry (mask {m.shape}): the mean over the counted steps "
                         f"is undefined")
    bad = m & ((labels < 0) | (labels >= K))
    if np.any(bad):
        raise ValueError(f"{func}: y must hold class labels 0..{K - 1} for logits {z.shape} at the counted steps, "
                         f"got {labels[bad].min()} .. {labels[bad].max()} out of range at {int(bad.sum())} step(s)")
    labels = np.where(m, labels, 0)
    with np.errstate(under="ignore"):
        shifted = z - z.max(axis=2, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=2, keepdims=True)
        nll = np.log(s[..., 0]) - np.take_along_axis(shifted, labels[..., None], axis=2)[..., 0]
        loss = np.sum(nll[m]) / count
        dz = e / s
    np.put_along_axis(dz, labels[..., None], np.take_along_axis(dz, labels[..., None], axis=2) - 1.0, axis=2)
    dz *= m[..., None] / count
    return z.dtype.type(loss), dz


# --------------------------------------------------------------------------------------
# bidirectional RNN
# --------------------------------------------------------------------------------------

def birnn_forward(x, h0_f, h0_b, W_f, U_f, b_f, W_b, U_b, b_b, mask=None):
    """A bidirectional RNN, as Keras ``Bidirectional(SimpleRNN(H, return_sequences=True))``.

    Two independent RNNs (RNN): a forward one over x_1..x_T and a backward one over
    x_T..x_1, each with its own weights; their states are concatenated step by step::

        h→_t = tanh(x_t W_f + h→_{t-1} U_f + b_f),   t = 1..T,  h→_0 = h0_f
        h←_t = tanh(x_t W_b + h←_{t+1} U_b + b_b),   t = T..1,  h←_{T+1} = h0_b        (BiRNN)
        out_t = [h→_t | h←_t]                          (merge_mode="concat", (N, 2H))

    h←_t is aligned with time (the backward RNN's state after reading x_T, ..., x_t), as Keras
    returns it, so out_t sees the whole sequence: the past through h→_t, the future through h←_t.

    x: (N, T, D); h0_f, h0_b: (N, H) or None (zeros; Keras' ``initial_state=[h0_f, h0_b]``);
    W_f, U_f, b_f, W_b, U_b, b_b: (D, H), (H, H), (H,) each, in the order of
    ``Bidirectional.get_weights()`` (forward kernel, recurrent kernel, bias, then backward).
    mask: None or (N, T) bool, True = a real step. Each direction then skips the masked steps
    (its state is carried, eq. (mask)), and, as Keras' Bidirectional with return_sequences=True
    (which sets ``zero_output_for_mask=True`` on both layers), out_t = 0 at a masked step. With
    post-padding the backward RNN starts on the padding, carries h0_b through it and reads the
    real steps from the last one back, so h←_t at the real steps is that of the unpadded
    sequence.
    Returns out (N, T, 2H) and a cache (:class:`BiRNNCache`).

    Keras' ``return_sequences=False`` form is concat(h→_T, h←_1) = concat(out[:, -1, :H],
    out[:, 0, H:]) for unpadded sequences (the backward RNN's final state sits at t = 1). With
    a mask it is the final states of the two directions, concat(cache.forward.hs[:, -1],
    cache.backward.hs[:, -1]) (the carried states, which ``out`` zeroes at padded steps).
    """
    func = "birnn_forward"
    W_f, U_f, b_f, D, H = _params(func, W_f, U_f, b_f, suffix="_f")
    W_b, U_b, b_b, D_b, H_b = _params(func, W_b, U_b, b_b, suffix="_b")
    if W_b.shape != W_f.shape:
        raise ValueError(f"{func}: the backward direction must have the forward one's shapes (Keras' Bidirectional "
                         f"copies one layer), got W_b {W_b.shape} and W_f {W_f.shape}")
    x = _input_seq(func, x, W_f, D)
    N, T, _ = x.shape
    h0_f = _state(func, "h0_f", h0_f, N, H, x_name="x", x_shape=x.shape)
    h0_b = _state(func, "h0_b", h0_b, N, H, x_name="x", x_shape=x.shape)
    mask = _mask(func, mask, N, T, "x", x.shape)
    dt = result_dtype(x, h0_f, h0_b, W_f, U_f, b_f, W_b, U_b, b_b)
    x, h0_f, h0_b, W_f, U_f, b_f, W_b, U_b, b_b = _cast(dt, x, h0_f, h0_b, W_f, U_f, b_f, W_b, U_b, b_b)
    x_rev = np.ascontiguousarray(x[:, ::-1])
    mask_rev = None if mask is None else np.ascontiguousarray(mask[:, ::-1])
    hs_f = _rnn_scan(x, h0_f, W_f, U_f, b_f, mask)
    hs_b = _rnn_scan(x_rev, h0_b, W_b, U_b, b_b, mask_rev)           # in reversed time
    out = np.concatenate([hs_f, hs_b[:, ::-1]], axis=2)
    if mask is None:
        return out, BiRNNCache(RNNCache(x, h0_f, W_f, U_f, hs_f), RNNCache(x_rev, h0_b, W_b, U_b, hs_b), None)
    out *= mask[:, :, None]
    return out, BiRNNCache(MaskedRNNCache(x, h0_f, W_f, U_f, hs_f, mask),
                           MaskedRNNCache(x_rev, h0_b, W_b, U_b, hs_b, mask_rev), mask)


def birnn_backward(dout, cache):
    """Backward pass of :func:`birnn_forward`: BPTT in each direction, dx summed.

    dout is split into the forward half dout[..., :H] (the dhs of the forward RNN) and the
    backward half dout[..., H:], reversed in time (the dhs of the backward RNN, which ran over
    x_T..x_1); each runs through :func:`rnn_backward`, and x receives both::

        dx_t = δ→_t W_fᵀ + δ←_t W_bᵀ

    With a mask, out_t = 0 at a masked step, so dout there is ignored.
    dout: (N, T, 2H); cache: from :func:`birnn_forward`.
    Returns dx (N, T, D), dh0_f (N, H), dh0_b (N, H), dW_f, dU_f, db_f, dW_b, dU_b, db_b.
    """
    func = "birnn_backward"
    check_cache(func, cache, BiRNNCache, "birnn_forward")
    fwd, bwd, mask = cache
    N, T, H = fwd.hs.shape
    dout = upstream_gradient(func, "dout", dout, (N, T, 2 * H), "out")
    if mask is not None:
        dout = dout * mask[:, :, None]
    dx_f, dh0_f, *dp_f = _full_bptt(func, dout[:, :, :H], fwd)
    dx_b, dh0_b, *dp_b = _full_bptt(func, dout[:, ::-1, H:], bwd)       # the backward RNN ran in reversed time
    return (dx_f + dx_b[:, ::-1], dh0_f, dh0_b, *dp_f, *dp_b)


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
# GRU (Keras' reset_after=True)
# --------------------------------------------------------------------------------------

def gru_parameter_count(D, H) -> int:
    """Trainable parameters of a Keras ``GRU(H)`` (reset_after=True) on D input features::

        3 (D H + H² + 2 H)       (W (D, 3H), U (H, 3H), b (2, 3H): two biases per gate)

    (reset_after=False has one bias per gate: 3 (D H + H² + H); an LSTM has 4 (D H + H² + H)).
    """
    func = "gru_parameter_count"
    for name, v in (("D", D), ("H", H)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{func}: {name} must be a positive integer, got {name} = {v!r}")
    D, H = int(D), int(H)
    return 3 * (D * H + H * H + 2 * H)


def gru_step_forward(x_t, h_prev, W, U, b):
    """One GRU step, as a Keras ``GRU`` cell with its defaults (reset_after=True, gates z, r, h).

        a = x_t W + b^in,   u = h_prev U + b^rec          (N, 3H) each, blocks [z | r | h]
        z = σ(a_z + u_z),   r = σ(a_r + u_r)                                    (GRU-z, GRU-r)
        ĥ = tanh(a_h + r ⊙ u_h)                                                 (GRU-ĥ)
        h = z ⊙ h_prev + (1 − z) ⊙ ĥ                                            (GRU-h)

    z is the update gate (z ≈ 1 keeps the old state), r the reset gate (how much of the old
    state enters the candidate ĥ); b^in = b[0], b^rec = b[1].
    x_t: (N, D); h_prev: (N, H) (None for zeros); W: (D, 3H); U: (H, 3H); b: (2, 3H)
    (``GRU.get_weights()`` = [kernel, recurrent_kernel, bias] copy in unchanged).
    Returns h (N, H) and a cache (:class:`GRUStepCache`).
    """
    func = "gru_step_forward"
    W, U, b, D, H = _params(func, W, U, b, gates=3)
    x_t = _input_step(func, x_t, W, D)
    h_prev = _state(func, "h_prev", h_prev, x_t.shape[0], H, x_name="x_t", x_shape=x_t.shape)
    dt = result_dtype(x_t, h_prev, W, U, b)
    x_t, h_prev, W, U, b = _cast(dt, x_t, h_prev, W, U, b)
    return _gru_step(x_t, h_prev, W, U, b, H)


def _gru_step(x_t, h_prev, W, U, b, H):
    a = x_t @ W + b[0]
    u = h_prev @ U + b[1]
    z = _sigmoid(a[:, :H] + u[:, :H])
    r = _sigmoid(a[:, H:2 * H] + u[:, H:2 * H])
    u_h = u[:, 2 * H:]
    h_hat = np.tanh(a[:, 2 * H:] + r * u_h)
    h = z * h_prev + (1.0 - z) * h_hat
    return h, GRUStepCache(x_t, h_prev, W, U, z, r, h_hat, u_h)


def gru_step_backward(dh, cache):
    """Backward pass of one GRU step (reset_after=True).

    From (GRU-h), h_prev reaches h directly through z ⊙ h_prev and through the gates::

        dz = dh ⊙ (h_prev − ĥ),    dĥ = dh ⊙ (1 − z)
        dâ = dĥ ⊙ (1 − ĥ²)                      (the gradient on ĥ's argument a_h + r ⊙ u_h)
        dr = dâ ⊙ u_h
        da = [dz ⊙ z(1−z) | dr ⊙ r(1−r) | dâ]          (N, 3H), on a = x_t W + b^in
        du = [dz ⊙ z(1−z) | dr ⊙ r(1−r) | dâ ⊙ r]      (N, 3H), on u = h_prev U + b^rec
        dx_t = da Wᵀ,   dh_prev = dh ⊙ z + du Uᵀ,   dW = x_tᵀ da,   dU = h_prevᵀ du,
        db = [Σ_n da ; Σ_n du]                        (2, 3H)

    The term dh ⊙ z is the GRU's additive path: with z ≈ 1 the gradient passes back almost
    unchanged, without a product with U.
    dh: (N, H) upstream gradient on h; cache: from :func:`gru_step_forward`.
    Returns dx_t (N, D), dh_prev (N, H), dW (D, 3H), dU (H, 3H), db (2, 3H).
    """
    func = "gru_step_backward"
    check_cache(func, cache, GRUStepCache, "gru_step_forward")
    dh = upstream_gradient(func, "dh", dh, cache.z.shape, "h")
    dt = result_dtype(dh, cache.z)
    dh = dh.astype(dt, copy=False)
    return _gru_step_backward(dh, GRUStepCache(*_cast(dt, *cache)))


def _gru_step_backward(dh, cache):
    x_t, h_prev, W, U, z, r, h_hat, u_h = cache
    dz = dh * (h_prev - h_hat)
    da_h = dh * (1.0 - z) * (1.0 - h_hat * h_hat)
    dr = da_h * u_h
    da_z = dz * z * (1.0 - z)
    da_r = dr * r * (1.0 - r)
    da = np.concatenate([da_z, da_r, da_h], axis=1)
    du = np.concatenate([da_z, da_r, da_h * r], axis=1)
    dx_t = da @ W.T
    dh_prev = dh * z + du @ U.T
    dW = x_t.T @ da
    dU = h_prev.T @ du
    db = np.stack([da.sum(axis=0), du.sum(axis=0)])
    return dx_t, dh_prev, dW, dU, db


def gru_forward(x, h0, W, U, b):
    """Run the GRU over whole sequences, as Keras ``GRU(H, return_sequences=True)`` (reset_after=True).

    Applies :func:`gru_step_forward`, eqs. (GRU-z) to (GRU-h), for t = 1..T from h_0.
    x: (N, T, D); h0: (N, H) (None for zeros); W: (D, 3H); U: (H, 3H); b: (2, 3H).
    Returns hs (N, T, H) every hidden state, and a cache (:class:`GRUCache`).
    """
    func = "gru_forward"
    W, U, b, D, H = _params(func, W, U, b, gates=3)
    x = _input_seq(func, x, W, D)
    N, T, _ = x.shape
    h0 = _state(func, "h0", h0, N, H, x_name="x", x_shape=x.shape)
    dt = result_dtype(x, h0, W, U, b)
    x, h, W, U, b = _cast(dt, x, h0, W, U, b)
    hs = np.empty((N, T, H), dtype=dt)
    steps = []
    for t in range(T):
        h, step = _gru_step(x[:, t], h, W, U, b, H)
        hs[:, t] = h
        steps.append(step)
    return hs, GRUCache(tuple(steps), x.shape)


def gru_backward(dhs, cache):
    """Backpropagation through time for the GRU.

    Going back from t = T to 1 with ∂L/∂h_t = dhs_t + (dh_prev of step t+1), each step as
    :func:`gru_step_backward`; dW, dU, db are summed over the steps.
    dhs: (N, T, H) upstream gradient on every hidden state; cache: from :func:`gru_forward`.
    Returns dx (N, T, D), dh0 (N, H), dW (D, 3H), dU (H, 3H), db (2, 3H).
    """
    func = "gru_backward"
    check_cache(func, cache, GRUCache, "gru_forward")
    N, T, D = cache.x_shape
    H = cache.steps[0].z.shape[1]
    dhs = upstream_gradient(func, "dhs", dhs, (N, T, H), "hs")
    dt = result_dtype(dhs, cache.steps[0].z)
    dhs = dhs.astype(dt, copy=False)
    dx = np.empty((N, T, D), dtype=dt)
    dh_next = np.zeros((N, H), dtype=dt)
    dW = dU = db = 0.0
    for t in reversed(range(T)):
        step = GRUStepCache(*_cast(dt, *cache.steps[t]))
        dx[:, t], dh_next, dW_t, dU_t, db_t = _gru_step_backward(dhs[:, t] + dh_next, step)
        dW, dU, db = dW + dW_t, dU + dU_t, db + db_t
    return dx, dh_next, dW, dU, db


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
    |1 - h²| <= 1), so for a small ||U||₂ the norms shrink at least like ||U||₂^(T-t)
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
