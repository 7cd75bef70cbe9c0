"""Exercise checks for chapter 3: recurrent networks (notebooks 06 to 09).

Each check runs the student's function on fixed inputs, compares it with the reference
(``helpers.rnn`` or scikit-learn) and names the typical mistake when one matches: a
transposed U, a missing bias, an off-by-one time step, a forgotten recurrent term ...
Inputs are chosen so that every named mistake gives a different answer from the right one
and from each other (D != H, a non-symmetric U, an upstream gradient on every time step).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers import rnn
from helpers.exercises import Feedback, check_against

__all__ = ["check_rnn_step", "check_rnn_backward", "check_clip_by_global_norm", "check_cut_beats",
           "check_class_weights", "check_truncated_bptt", "check_birnn_forward", "check_gru_step"]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------
# notebook 06: one RNN step
# --------------------------------------------------------------------------------------

def _step_inputs():
    """x_t (2, 3), h_prev (2, 4), W (3, 4), U (4, 4) non-symmetric, b (4,): D != H on purpose."""
    r = _rng(305)
    x_t = r.normal(size=(2, 3))
    h_prev = r.normal(scale=0.5, size=(2, 4))
    W = r.normal(scale=0.5, size=(3, 4))
    U = r.normal(scale=0.5, size=(4, 4))
    b = r.normal(scale=0.5, size=4)
    return x_t, h_prev, W, U, b


def check_rnn_step(rnn_step: Callable) -> Feedback:
    """Notebook 06: ``rnn_step(x_t, h_prev, W, U, b) -> h_t``, eqs. (1)-(2): h_t = tanh(x_t W + h_{t-1} U + b)."""
    x_t, h_prev, W, U, b = args = _step_inputs()
    expected = np.tanh(x_t @ W + h_prev @ U + b)
    mistakes = {
        "U is transposed: with row vectors the recurrent term is h_{t-1} U (U[i, j] connects unit i at "
        "t-1 to unit j at t, as Keras' recurrent_kernel), not h_{t-1} Uᵀ": np.tanh(x_t @ W + h_prev @ U.T + b),
        "the bias b is missing: z_t = x_t W + h_{t-1} U + b, eq. (1)": np.tanh(x_t @ W + h_prev @ U),
        "the recurrent term h_{t-1} U is missing: without it h_t forgets everything before step t "
        "and the network is a dense layer applied at each step": np.tanh(x_t @ W + b),
        "the activation is missing: h_t = tanh(z_t), eq. (2); z_t itself is unbounded": x_t @ W + h_prev @ U + b,
        "sigmoid is used instead of tanh: the vanilla RNN (and Keras SimpleRNN) uses tanh, eq. (2)":
            1.0 / (1.0 + np.exp(-(x_t @ W + h_prev @ U + b))),
    }
    return check_against("rnn_step", rnn_step, args, expected, mistakes)


# --------------------------------------------------------------------------------------
# notebook 06: backpropagation through time
# --------------------------------------------------------------------------------------

def _bptt(dhs, cache, *, recurrent=True, transpose_u=True, previous_state=True, tanh_grad=True, all_steps=True):
    """Reference BPTT with switches that reproduce the typical mistakes."""
    x, h0, W, U, hs = cache
    N, T, H = hs.shape
    Ub = U.T if transpose_u else U
    deltas = np.zeros_like(hs)
    carry = np.zeros((N, H))
    for t in reversed(range(T)):
        g = dhs[:, t] + (carry if recurrent else 0.0)
        deltas[:, t] = g * (1.0 - hs[:, t] ** 2) if tanh_grad else g
        carry = deltas[:, t] @ Ub
    dh0 = carry
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    paired = h_prev if previous_state else hs
    steps = slice(None) if all_steps else slice(T - 1, T)
    dx = deltas @ W.T
    dW = np.einsum("ntd,nth->dh", x[:, steps], deltas[:, steps])
    dU = np.einsum("ntk,nth->kh", paired[:, steps], deltas[:, steps])
    db = deltas[:, steps].sum(axis=(0, 1))
    return dx, dh0, dW, dU, db


def _rnn_case(seed: int, T: int, scale: float):
    """A random RNN run (N = 2, D = 3, H = 4) and an upstream gradient on every hidden state."""
    r = _rng(seed)
    N, D, H = 2, 3, 4
    x = r.normal(size=(N, T, D))
    h0 = r.normal(scale=0.5, size=(N, H))
    W = r.normal(scale=scale, size=(D, H))
    U = r.normal(scale=scale, size=(H, H))
    b = r.normal(scale=0.3, size=H)
    _, cache = rnn.rnn_forward(x, h0, W, U, b)
    dhs = r.normal(size=(N, T, H))  # a loss on every hidden state: every mistake shows
    return dhs, cache


def _bptt_inputs():
    return _rnn_case(3051, T=5, scale=0.6)


def check_rnn_backward(rnn_backward: Callable) -> Feedback:
    """Notebook 06: ``rnn_backward(dhs, cache) -> (dx, dh0, dW, dU, db)``, eqs. (5)-(8).

    cache is the :class:`helpers.rnn.RNNCache` (x, h0, W, U, hs) of ``rnn.rnn_forward``.
    """
    dhs, cache = _bptt_inputs()
    expected = _bptt(dhs, cache)
    mistakes = {
        "the recurrent term is missing: ∂L/∂h_t = dhs_t + δ_{t+1} Uᵀ, eq. (5); h_t also reaches the "
        "loss through h_{t+1}, so the gradient must be carried back from step t+1":
            _bptt(dhs, cache, recurrent=False),
        "off by one time step in dU: ∂L/∂U = Σ_t h_{t-1}ᵀ δ_t, eq. (7), pairs δ_t with the state that "
        "entered step t (h_0 for t = 1), not with h_t": _bptt(dhs, cache, previous_state=False),
        "U is not transposed on the way back: z_{t+1} = ... + h_t U, so ∂L/∂h_t receives δ_{t+1} Uᵀ":
            _bptt(dhs, cache, transpose_u=False),
        "the tanh derivative is missing: δ_t = ∂L/∂h_t ⊙ (1 - h_t²), eq. (6)": _bptt(dhs, cache, tanh_grad=False),
        "dW, dU and db come from the last time step only: the weights are shared by every step, so "
        "their gradients are sums over t = 1..T, eq. (7)": _bptt(dhs, cache, all_steps=False),
    }
    return check_against("rnn_backward", rnn_backward, (dhs, cache), expected, mistakes)


# --------------------------------------------------------------------------------------
# notebook 06: clipping by global norm
# --------------------------------------------------------------------------------------

def _clip_inputs(scale: float):
    r = _rng(3052)
    return [scale * r.normal(size=(3, 4)), scale * r.normal(size=(4, 4)), scale * r.normal(size=4)]


def _as_tuple(student: Callable) -> Callable:
    def run(grads, max_norm):
        out = student([g.copy() for g in grads], max_norm)
        return tuple(out) if isinstance(out, (list, tuple)) else out
    return run


def check_clip_by_global_norm(clip: Callable) -> Feedback:
    """Notebook 06: ``clip(grads, max_norm) -> list of arrays``, eq. (12), as ``tf.clip_by_global_norm``."""
    name = "clip_by_global_norm"
    max_norm = 1.0
    big = _clip_inputs(2.0)                      # global norm about 9: must be scaled down
    norms = [float(np.linalg.norm(g)) for g in big]
    total = float(np.sqrt(sum(n * n for n in norms)))
    mistakes = {
        "each array is clipped by its own norm: the global norm sqrt(Σ_k ||g_k||²) scales all of them by "
        "one factor, which keeps the direction of the whole update":
            tuple(g * min(1.0, max_norm / n) for g, n in zip(big, norms)),
        "the entries are clipped one by one (np.clip): that changes the direction of the update; "
        "rescale the whole gradient instead": tuple(np.clip(g, -max_norm, max_norm) for g in big),
        "the square root is missing: the global norm is sqrt(Σ_k ||g_k||²), eq. (12)":
            tuple(g * max_norm / total ** 2 for g in big),
    }
    expected = tuple(g * max_norm / total for g in big)
    fb = check_against(name, _as_tuple(clip), (big, max_norm), expected, mistakes, show=False)
    if fb.ok:
        small = _clip_inputs(0.05)               # global norm about 0.2: must be left alone
        s_total = float(np.sqrt(sum(float(np.sum(g * g)) for g in small)))
        fb = check_against(name, _as_tuple(clip), (small, max_norm), tuple(small), {
            "a gradient whose norm is already below max_norm was rescaled: clipping only ever shrinks, "
            "g · max_norm / max(norm, max_norm)": tuple(g * max_norm / s_total for g in small),
        }, show=False)
    print(fb)
    return fb


# --------------------------------------------------------------------------------------
# notebook 08: cutting beats around R peaks
# --------------------------------------------------------------------------------------

def _znorm(w: np.ndarray) -> np.ndarray:
    return (w - w.mean(axis=1, keepdims=True)) / w.std(axis=1, keepdims=True)


def _beats_inputs():
    r = _rng(306)
    n = 200
    t = np.arange(n)
    signal = np.sin(2 * np.pi * t / 37.0) + 0.3 * np.cumsum(r.normal(scale=0.2, size=n)) + 0.1 * t / n
    # 5 and 195 do not fit; 10 and 180 fit exactly (first and last sample of the signal)
    peaks = np.array([5, 10, 50, 97, 140, 180, 195])
    return signal, peaks, 10, 20


def _cut(signal, peaks, before, after, *, strict=False, extra=0):
    n = len(signal)
    if strict:
        ok = [p for p in peaks if p - before > 0 and p + after < n]
    else:
        ok = [p for p in peaks if p - before >= 0 and p + after + extra <= n]
    return np.stack([signal[p - before:p + after + extra] for p in ok])


def check_cut_beats(cut_beats: Callable) -> Feedback:
    """Notebook 08: ``cut_beats(signal, peaks, before, after) -> beats (B, before + after)``.

    Each beat is signal[r - before : r + after] around an R peak r, z-normalised on its own;
    peaks whose window does not fit inside the signal are dropped.
    """
    signal, peaks, before, after = args = _beats_inputs()
    raw = _cut(signal, peaks, before, after)
    swapped = _cut(signal, peaks, after, before)
    mistakes = {
        "before and after are swapped: the window is signal[r - before : r + after], so the R peak "
        "sits `before` samples from the start": _znorm(swapped),
        "the beats are not z-normalised: subtract each beat's mean and divide by its standard "
        "deviation (ECG5000's preprocessing)": raw,
        "the beats are normalised with the mean and standard deviation of all beats together: "
        "z-normalise each beat on its own (axis=1)": (raw - raw.mean()) / raw.std(),
        "the window is one sample too long: signal[r - before : r + after] already holds before + after "
        "samples": _znorm(_cut(signal, peaks, before, after, extra=1)),
        "a beat whose window just fits was dropped: keep r when r - before >= 0 and r + after <= "
        "len(signal) (the slice end is exclusive)": _znorm(_cut(signal, peaks, before, after, strict=True)),
    }
    return check_against("cut_beats", cut_beats, args, _znorm(raw), mistakes)


# --------------------------------------------------------------------------------------
# notebook 08: class weights against imbalance
# --------------------------------------------------------------------------------------

def check_class_weights(balanced_class_weights: Callable) -> Feedback:
    """Notebook 08: ``balanced_class_weights(y, n_classes) -> (n_classes,)`` with w_c = N / (K N_c).

    The same numbers as scikit-learn's ``compute_class_weight("balanced", ...)``.
    """
    from sklearn.utils.class_weight import compute_class_weight

    counts = np.array([12, 5, 2, 1])
    y = np.repeat(np.arange(4), counts)[_rng(3061).permutation(counts.sum())]
    N, K = len(y), len(counts)
    expected = compute_class_weight("balanced", classes=np.arange(K), y=y)
    mistakes = {
        "the weights are inverted: N_c / N gives the frequent class the largest weight; a rare class "
        "must count more, w_c = N / (K · N_c)": counts / N,
        "the factor 1/K is missing: with w_c = N / (K · N_c) the weighted examples still add up to N, "
        "so the loss keeps its scale and the learning rate its meaning": N / counts,
        "the weights are 1 / N_c, not normalised: multiply by N / K so that they average to 1 over the "
        "training examples": 1.0 / counts,
    }
    return check_against("balanced_class_weights", balanced_class_weights, (y, K), expected, mistakes)


# --------------------------------------------------------------------------------------
# notebook 06: truncated BPTT, BPTT(k, k)
# --------------------------------------------------------------------------------------

def _tbptt(dhs, cache, first, *, keep_dh0=True):
    """Σ over t of each step's own chain: dhs_t backpropagated from t down to step first(t)
    (0-based); whatever would flow below step 0 goes to dh0. first(t) = t - (t mod k) is
    BPTT(k, k); the mistakes are other choices of first(t)."""
    x, h0, W, U, hs = cache[:5]
    N, T, H = hs.shape
    prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    deltas, dh0 = np.zeros_like(hs), np.zeros_like(h0)
    for t in range(T):
        g = dhs[:, t]
        lo = first(t)
        for s in range(t, lo - 1, -1):
            delta = g * (1.0 - hs[:, s] ** 2)
            deltas[:, s] += delta
            g = delta @ U.T
        if lo == 0 and keep_dh0:
            dh0 = dh0 + g
    dx = deltas @ W.T
    dW = np.einsum("ntd,nth->dh", x, deltas)
    dU = np.einsum("ntk,nth->kh", prev, deltas)
    return dx, dh0, dW, dU, deltas.sum(axis=(0, 1))


def _tbptt_inputs():
    """T = 8 and k = 3: three chunks, the last one shorter (k does not divide T)."""
    return (*_rnn_case(3062, T=8, scale=0.7), 3)


def check_truncated_bptt(truncated_bptt: Callable) -> Feedback:
    """Notebook 06: ``truncated_bptt(dhs, cache, k) -> (dx, dh0, dW, dU, db)``, BPTT(k, k).

    The sequence is cut into chunks of k steps (the last one may be shorter); the gradient of
    each step's loss flows back to the first step of its own chunk and no further (the state
    is detached at every chunk boundary); dh0 receives what the first chunk sends back.
    Reference: ``rnn.rnn_backward_truncated(dhs, cache, k, k)``; cache from ``rnn.rnn_forward``.
    """
    dhs, cache, k = _tbptt_inputs()
    expected = rnn.rnn_backward_truncated(dhs, cache, k, k)
    chunk_start = lambda t: t - t % k  # noqa: E731
    mistakes = {
        "nothing is truncated: this is full BPTT (rnn_backward); in BPTT(k, k) the gradient stops at the "
        "first step of each chunk of k steps, the state entering a chunk is treated as a constant":
            _tbptt(dhs, cache, lambda t: 0),
        "the truncation is per step, not per chunk: each step's gradient went back k steps from itself "
        "(a sliding window); in BPTT(k, k) the gradients of a whole chunk are sent back together and "
        "stop at the chunk's first step, so the last step of a chunk reaches k steps back and its first "
        "step only itself": _tbptt(dhs, cache, lambda t: max(t - k + 1, 0)),
        "off by one: the gradient crossed the chunk boundary by one step (it reached the last step of "
        "the previous chunk); the chunks are steps 1..k, k+1..2k, ... and the gradient stops at their "
        "first step": _tbptt(dhs, cache, lambda t: max(chunk_start(t) - 1, 0)),
        "off by one: the chunk boundaries are shifted by one step (the chunks are steps 1..k-1, k..2k-1, "
        "...); the first chunk holds steps 1..k, so the state is detached after steps k, 2k, ...":
            _tbptt(dhs, cache, lambda t: max((t + 1) - (t + 1) % k - 1, 0)),
        "dh0 is missing (zeros): the first chunk starts from h_0, so the gradient that reaches step 1 "
        "goes on to h_0 as δ_1 Uᵀ": _tbptt(dhs, cache, chunk_start, keep_dh0=False),
    }
    return check_against("truncated_bptt", truncated_bptt, (dhs, cache, k), expected, mistakes)


# --------------------------------------------------------------------------------------
# notebook 07: bidirectional RNN
# --------------------------------------------------------------------------------------

def _birnn_inputs():
    r = _rng(307)
    N, T, D, H = 2, 5, 3, 4
    x = r.normal(size=(N, T, D))
    weights = []
    for _ in range(2):
        weights += [r.normal(scale=0.6, size=(D, H)), r.normal(scale=0.6, size=(H, H)), r.normal(scale=0.3, size=H)]
    return (x, *weights)


def check_birnn_forward(birnn_forward: Callable) -> Feedback:
    """Notebook 07: ``birnn_forward(x, W_f, U_f, b_f, W_b, U_b, b_b) -> out (N, T, 2H)``.

    out_t = [h→_t | h←_t], zero initial states: the forward RNN over x_1..x_T, the backward RNN
    over x_T..x_1 with its states put back in time order, as Keras
    ``Bidirectional(SimpleRNN(H, return_sequences=True))``. Build it from ``rnn.rnn_forward``.
    """
    args = _birnn_inputs()
    x, W_f, U_f, b_f, W_b, U_b, b_b = args
    expected = rnn.birnn_forward(x, None, None, W_f, U_f, b_f, W_b, U_b, b_b)[0]
    hs_f = rnn.rnn_forward(x, None, W_f, U_f, b_f)[0]
    hs_b_rev = rnn.rnn_forward(x[:, ::-1], None, W_b, U_b, b_b)[0]   # in reversed time
    hs_b = hs_b_rev[:, ::-1]
    mistakes = {
        "the backward states are not put back in time order: the backward RNN ran over x_T..x_1, so "
        "its output k belongs to step T-k; reverse it again ([:, ::-1]) before concatenating":
            np.concatenate([hs_f, hs_b_rev], axis=2),
        "the directions are swapped: Keras concatenates [forward | backward], the forward states in "
        "the first H columns": np.concatenate([hs_b, hs_f], axis=2),
        "the directions are summed, not concatenated: merge_mode='concat' gives (N, T, 2H)": hs_f + hs_b,
        "the backward RNN reads the sequence forwards: reverse x in time (x[:, ::-1]) before running it":
            np.concatenate([hs_f, rnn.rnn_forward(x, None, W_b, U_b, b_b)[0]], axis=2),
        "both directions use the forward weights: the backward RNN has its own W_b, U_b, b_b":
            np.concatenate([hs_f, rnn.rnn_forward(x[:, ::-1], None, W_f, U_f, b_f)[0][:, ::-1]], axis=2),
    }
    return check_against("birnn_forward", birnn_forward, args, expected, mistakes)


# --------------------------------------------------------------------------------------
# notebook 07: one GRU step, Keras' reset_after=True
# --------------------------------------------------------------------------------------

def _gru_inputs():
    """x_t (2, 3), h_prev (2, 4), W (3, 12), U (4, 12), b (2, 12): both bias rows nonzero."""
    r = _rng(3071)
    D, H = 3, 4
    return (r.normal(size=(2, D)), r.normal(scale=0.8, size=(2, H)), r.normal(scale=0.6, size=(D, 3 * H)),
            r.normal(scale=0.6, size=(H, 3 * H)), r.normal(scale=0.5, size=(2, 3 * H)))


def _gru_variant(x_t, h_prev, W, U, b, *, reset_before=False, swap_z=False, rec_bias=True, rec_bias_in_r=True):
    H = h_prev.shape[1]
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    a = x_t @ W + b[0]
    u = h_prev @ U + (b[1] if rec_bias else 0.0)
    z = sig(a[:, :H] + u[:, :H])
    r = sig(a[:, H:2 * H] + u[:, H:2 * H])
    b_h = b[1, 2 * H:] if rec_bias else 0.0
    if reset_before:
        h_hat = np.tanh(a[:, 2 * H:] + (r * h_prev) @ U[:, 2 * H:] + b_h)
    elif rec_bias_in_r:
        h_hat = np.tanh(a[:, 2 * H:] + r * u[:, 2 * H:])
    else:
        h_hat = np.tanh(a[:, 2 * H:] + r * (h_prev @ U[:, 2 * H:]) + b_h)
    return (1.0 - z) * h_prev + z * h_hat if swap_z else z * h_prev + (1.0 - z) * h_hat


def check_gru_step(gru_step: Callable) -> Feedback:
    """Notebook 07: ``gru_step(x_t, h_prev, W, U, b) -> h``, one Keras GRU step (reset_after=True).

    W (D, 3H), U (H, 3H), b (2, 3H) in Keras' order z, r, h; b[0] the input bias, b[1] the
    recurrent bias. Reference: ``rnn.gru_step_forward``.
    """
    args = _gru_inputs()
    expected = rnn.gru_step_forward(*args)[0]
    mistakes = {
        "the reset gate is applied before the recurrent product, (r ⊙ h_{t-1}) U_h: that is the original "
        "GRU (Keras reset_after=False); Keras' default multiplies after it, r ⊙ (h_{t-1} U_h + b_h^rec)":
            _gru_variant(*args, reset_before=True),
        "z and 1 - z are swapped: in Keras h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ĥ, so z ≈ 1 keeps the old state":
            _gru_variant(*args, swap_z=True),
        "the recurrent bias b[1] is ignored: with reset_after=True the bias has two rows, b[0] added to "
        "x_t W and b[1] to h_{t-1} U": _gru_variant(*args, rec_bias=False),
        "the recurrent bias of the candidate sits outside the reset gate: ĥ = tanh(x_t W_h + b_h^in + "
        "r ⊙ (h_{t-1} U_h + b_h^rec)), r multiplies b_h^rec too (adding b[0] + b[1] once gives this slip)":
            _gru_variant(*args, rec_bias_in_r=False),
    }
    return check_against("gru_step", gru_step, args, expected, mistakes)
