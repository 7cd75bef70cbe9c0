"""Chapter 3 exercise checks: right answers pass, typical wrong answers get named, stubs do not crash."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import rnn
from helpers.exercises import NOT_IMPLEMENTED, ch3


def _stub(*args):
    raise NotImplementedError()


def _wrong(check, student, phrase):
    fb = check(student)
    assert not fb, f"{check.__name__} accepted a wrong answer"
    assert phrase in fb.message, fb.message


def _right(check, student, capsys, exercise):
    fb = check(student)
    assert fb, fb.message
    assert capsys.readouterr().out.strip() == f"✔ {exercise}: correct"


# --------------------------------------------------------------------------------------
# notebook 05: rnn_step
# --------------------------------------------------------------------------------------

def test_rnn_step_right(capsys):
    _right(ch3.check_rnn_step, lambda x_t, h_prev, W, U, b: np.tanh(x_t @ W + h_prev @ U + b), capsys, "rnn_step")


def test_rnn_step_reference_helper_is_right(capsys):
    _right(ch3.check_rnn_step, lambda *a: rnn.rnn_step_forward(*a)[0], capsys, "rnn_step")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda x_t, h_prev, W, U, b: np.tanh(x_t @ W + h_prev @ U.T + b), "U is transposed"),
    (lambda x_t, h_prev, W, U, b: np.tanh(x_t @ W + h_prev @ U), "the bias b is missing"),
    (lambda x_t, h_prev, W, U, b: np.tanh(x_t @ W + b), "the recurrent term h_{t-1} U is missing"),
    (lambda x_t, h_prev, W, U, b: x_t @ W + h_prev @ U + b, "the activation is missing"),
    (lambda x_t, h_prev, W, U, b: 1 / (1 + np.exp(-(x_t @ W + h_prev @ U + b))), "sigmoid is used instead of tanh"),
    (lambda x_t, h_prev, W, U, b: np.tanh(x_t @ W + h_prev @ U + b)[:, :3],
     "the result has shape (2, 3), expected (2, 4)"),
    (lambda x_t, h_prev, W, U, b: np.tanh(x_t @ U + h_prev @ W + b), "your code raised ValueError"),
])
def test_rnn_step_wrong_answers_are_named(wrong, phrase):
    _wrong(ch3.check_rnn_step, wrong, phrase)


def test_rnn_step_stub():
    assert ch3.check_rnn_step(_stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 05: rnn_backward (BPTT)
# --------------------------------------------------------------------------------------

def _my_bptt(dhs, cache, *, recurrent=True, transpose_u=True, previous_state=True, tanh_grad=True, last_only=False):
    """A student's loop-style BPTT, written independently of ch3._bptt, with the same switches."""
    x, h0, W, U, hs = cache
    N, T, H = hs.shape
    dx = np.zeros_like(x)
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dh = dhs[:, t] + (dh_next if recurrent else 0)
        delta = dh * (1 - hs[:, t] ** 2) if tanh_grad else dh
        prev = (h0 if t == 0 else hs[:, t - 1]) if previous_state else hs[:, t]
        dx[:, t] = delta @ W.T
        if not last_only or t == T - 1:
            dW += x[:, t].T @ delta
            dU += prev.T @ delta
            db += delta.sum(axis=0)
        dh_next = delta @ (U.T if transpose_u else U)
    return dx, dh_next, dW, dU, db


def test_rnn_backward_right(capsys):
    _right(ch3.check_rnn_backward, _my_bptt, capsys, "rnn_backward")


def test_rnn_backward_reference_helper_is_right(capsys):
    _right(ch3.check_rnn_backward, rnn.rnn_backward, capsys, "rnn_backward")


@pytest.mark.parametrize("switch, phrase", [
    ({"recurrent": False}, "the recurrent term is missing"),
    ({"previous_state": False}, "off by one time step in dU"),
    ({"transpose_u": False}, "U is not transposed on the way back"),
    ({"tanh_grad": False}, "the tanh derivative is missing"),
    ({"last_only": True}, "come from the last time step only"),
])
def test_rnn_backward_wrong_answers_are_named(switch, phrase):
    _wrong(ch3.check_rnn_backward, lambda dhs, cache: _my_bptt(dhs, cache, **switch), phrase)


def test_rnn_backward_wrong_count_and_unknown_mistake():
    _wrong(ch3.check_rnn_backward, lambda dhs, cache: _my_bptt(dhs, cache)[2:], "expected a tuple of 5 results, got 3")

    def scaled_db(dhs, cache):
        dx, dh0, dW, dU, db = _my_bptt(dhs, cache)
        return dx, dh0, dW, dU, 2 * db
    _wrong(ch3.check_rnn_backward, scaled_db, "output 5 of 5 differs from the reference")


def test_rnn_backward_mistakes_are_distinct():
    """Every named mistake must give an answer different from the right one and from the others."""
    dhs, cache = ch3._bptt_inputs()
    variants = [ch3._bptt(dhs, cache)] + [ch3._bptt(dhs, cache, **{k: False}) for k in
                                          ("recurrent", "transpose_u", "previous_state", "tanh_grad", "all_steps")]
    for i in range(len(variants)):
        for j in range(i):
            assert not all(np.allclose(a, b) for a, b in zip(variants[i], variants[j])), (i, j)


def test_rnn_backward_stub():
    assert ch3.check_rnn_backward(_stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 05: clip_by_global_norm
# --------------------------------------------------------------------------------------

def _clip_right(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * max_norm / max(norm, max_norm) for g in grads]


def test_clip_right(capsys):
    _right(ch3.check_clip_by_global_norm, _clip_right, capsys, "clip_by_global_norm")


def test_clip_reference_helper_is_right(capsys):
    _right(ch3.check_clip_by_global_norm, lambda g, c: rnn.clip_by_global_norm(g, c)[0], capsys,
           "clip_by_global_norm")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda grads, c: [g * min(1.0, c / np.linalg.norm(g)) for g in grads], "each array is clipped by its own norm"),
    (lambda grads, c: [np.clip(g, -c, c) for g in grads], "the entries are clipped one by one"),
    (lambda grads, c: [g * c / sum(np.sum(h ** 2) for h in grads) for g in grads], "the square root is missing"),
    (lambda grads, c: [g * c / np.sqrt(sum(np.sum(h ** 2) for h in grads)) for g in grads],
     "a gradient whose norm is already below max_norm was rescaled"),
    (lambda grads, c: grads[:2], "expected a tuple of 3 results, got 2"),
])
def test_clip_wrong_answers_are_named(wrong, phrase, capsys):
    _wrong(ch3.check_clip_by_global_norm, wrong, phrase)
    assert capsys.readouterr().out.count("\n") == 1  # one verdict printed, not one per case


def test_clip_student_may_modify_its_input_in_place(capsys):
    def in_place(grads, c):
        norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
        for g in grads:
            g *= c / max(norm, c)
        return grads
    _right(ch3.check_clip_by_global_norm, in_place, capsys, "clip_by_global_norm")


def test_clip_stub(capsys):
    assert ch3.check_clip_by_global_norm(_stub).message.startswith(NOT_IMPLEMENTED)
    assert NOT_IMPLEMENTED in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# notebook 06: cut_beats
# --------------------------------------------------------------------------------------

def _cut_right(signal, peaks, before, after):
    keep = [r for r in peaks if r - before >= 0 and r + after <= len(signal)]
    beats = np.stack([signal[r - before:r + after] for r in keep])
    return (beats - beats.mean(axis=1, keepdims=True)) / beats.std(axis=1, keepdims=True)


def test_cut_beats_right(capsys):
    _right(ch3.check_cut_beats, _cut_right, capsys, "cut_beats")


def _cut_variant(signal, peaks, before, after, *, norm="beat", strict=False, extra=0, swap=False):
    if swap:
        before, after = after, before
    n = len(signal)
    if strict:
        keep = [r for r in peaks if r - before > 0 and r + after < n]
    else:
        keep = [r for r in peaks if r - before >= 0 and r + after + extra <= n]
    beats = np.array([signal[r - before:r + after + extra] for r in keep])
    if norm == "beat":
        return (beats - beats.mean(axis=1, keepdims=True)) / beats.std(axis=1, keepdims=True)
    if norm == "all":
        return (beats - beats.mean()) / beats.std()
    return beats


@pytest.mark.parametrize("kw, phrase", [
    ({"swap": True}, "before and after are swapped"),
    ({"norm": None}, "the beats are not z-normalised"),
    ({"norm": "all"}, "normalised with the mean and standard deviation of all beats together"),
    ({"extra": 1}, "the window is one sample too long"),
    ({"strict": True}, "a beat whose window just fits was dropped"),
])
def test_cut_beats_wrong_answers_are_named(kw, phrase):
    _wrong(ch3.check_cut_beats, lambda s, p, b, a: _cut_variant(s, p, b, a, **kw), phrase)


def test_cut_beats_edge_peaks_not_dropped_is_reported():
    def no_drop(signal, peaks, before, after):
        return np.stack([signal[max(r - before, 0):r + after] for r in peaks])
    _wrong(ch3.check_cut_beats, no_drop, "your code raised ValueError")


def test_cut_beats_stub():
    assert ch3.check_cut_beats(_stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 06: balanced class weights
# --------------------------------------------------------------------------------------

def test_class_weights_right(capsys):
    _right(ch3.check_class_weights, lambda y, k: len(y) / (k * np.bincount(y, minlength=k)), capsys,
           "balanced_class_weights")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda y, k: np.bincount(y, minlength=k) / len(y), "the weights are inverted"),
    (lambda y, k: len(y) / np.bincount(y, minlength=k), "the factor 1/K is missing"),
    (lambda y, k: 1 / np.bincount(y, minlength=k), "the weights are 1 / N_c, not normalised"),
    (lambda y, k: len(y) / (k * np.bincount(y)[:-1]), "the result has shape (3,), expected (4,)"),
])
def test_class_weights_wrong_answers_are_named(wrong, phrase):
    _wrong(ch3.check_class_weights, wrong, phrase)


def test_class_weights_stub():
    assert ch3.check_class_weights(_stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 06: truncated BPTT, BPTT(k, k)
# --------------------------------------------------------------------------------------

def _my_tbptt(dhs, cache, k, *, starts=None, per_step=False, reach_back=0, with_dh0=True):
    """A student's chunk-by-chunk BPTT(k, k), written independently of ch3._tbptt."""
    x, h0, W, U, hs = cache
    N, T, H = hs.shape
    deltas, dh0 = np.zeros_like(hs), np.zeros_like(h0)
    if per_step:  # each step's gradient alone, k steps back from itself
        windows = [(max(t - k + 1, 0), t, t + 1) for t in range(T)]
    else:
        starts = list(range(0, T, k)) if starts is None else starts
        ends = starts[1:] + [T]
        windows = [(max(s - reach_back, 0), s, e) for s, e in zip(starts, ends)]
    for lo, start, end in windows:
        dh = np.zeros((N, H))
        for t in range(end - 1, lo - 1, -1):
            if t >= start:
                dh = dh + dhs[:, t]
            delta = dh * (1 - hs[:, t] ** 2)
            deltas[:, t] += delta
            dh = delta @ U.T
        if lo == 0 and with_dh0:
            dh0 += dh
    prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    return (deltas @ W.T, dh0, np.einsum("ntd,nth->dh", x, deltas), np.einsum("ntk,nth->kh", prev, deltas),
            deltas.sum(axis=(0, 1)))


def test_truncated_bptt_right(capsys):
    _right(ch3.check_truncated_bptt, _my_tbptt, capsys, "truncated_bptt")


def test_truncated_bptt_reference_helper_is_right(capsys):
    _right(ch3.check_truncated_bptt, lambda dhs, cache, k: rnn.rnn_backward_truncated(dhs, cache, k, k), capsys,
           "truncated_bptt")


@pytest.mark.parametrize("student, phrase", [
    (lambda dhs, cache, k: rnn.rnn_backward(dhs, cache), "nothing is truncated"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k, starts=[0]), "nothing is truncated"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k, per_step=True), "the truncation is per step, not per chunk"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k, reach_back=1), "crossed the chunk boundary by one step"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k, starts=list(range(0, 1))
                                     + list(range(k - 1, cache.hs.shape[1], k))),
     "the chunk boundaries are shifted by one step"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k, with_dh0=False), "dh0 is missing"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k + 1), "output 1 of 5 differs from the reference"),
    (lambda dhs, cache, k: _my_tbptt(dhs, cache, k)[:4], "expected a tuple of 5 results, got 4"),
])
def test_truncated_bptt_wrong_answers_are_named(student, phrase):
    _wrong(ch3.check_truncated_bptt, student, phrase)


def test_truncated_bptt_mistakes_are_distinct():
    dhs, cache, k = ch3._tbptt_inputs()
    assert cache.hs.shape[1] % k, "k must not divide T, so that the last chunk is shorter"
    firsts = [lambda t: t - t % k, lambda t: 0, lambda t: max(t - k + 1, 0), lambda t: max(t - t % k - 1, 0),
              lambda t: max((t + 1) - (t + 1) % k - 1, 0)]
    variants = [ch3._tbptt(dhs, cache, f) for f in firsts] + [ch3._tbptt(dhs, cache, firsts[0], keep_dh0=False)]
    for i in range(len(variants)):
        for j in range(i):
            assert not all(np.allclose(a, b) for a, b in zip(variants[i], variants[j])), (i, j)


def test_truncated_bptt_stub():
    assert ch3.check_truncated_bptt(_stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 07: bidirectional RNN
# --------------------------------------------------------------------------------------

def _my_birnn(x, W_f, U_f, b_f, W_b, U_b, b_b):
    hs_f, _ = rnn.rnn_forward(x, None, W_f, U_f, b_f)
    hs_b, _ = rnn.rnn_forward(np.flip(x, axis=1), None, W_b, U_b, b_b)
    return np.concatenate([hs_f, np.flip(hs_b, axis=1)], axis=-1)


def _birnn_halves(x, W_f, U_f, b_f, W_b, U_b, b_b):
    return rnn.rnn_forward(x, None, W_f, U_f, b_f)[0], rnn.rnn_forward(x[:, ::-1], None, W_b, U_b, b_b)[0]


def test_birnn_forward_right(capsys):
    _right(ch3.check_birnn_forward, _my_birnn, capsys, "birnn_forward")


def test_birnn_forward_reference_helper_is_right(capsys):
    _right(ch3.check_birnn_forward, lambda x, *w: rnn.birnn_forward(x, None, None, *w)[0], capsys, "birnn_forward")


@pytest.mark.parametrize("student, phrase", [
    (lambda *a: np.concatenate(_birnn_halves(*a), axis=2), "the backward states are not put back in time order"),
    (lambda *a: np.concatenate(_birnn_halves(*a)[::-1], axis=2)[:, ::-1], "the result differs from the reference"),
    (lambda *a: _my_birnn(*a)[..., np.r_[4:8, 0:4]], "the directions are swapped"),
    (lambda *a: _birnn_halves(*a)[0] + _birnn_halves(*a)[1][:, ::-1], "the directions are summed"),
    (lambda x, W_f, U_f, b_f, W_b, U_b, b_b: np.concatenate(
        [rnn.rnn_forward(x, None, W_f, U_f, b_f)[0], rnn.rnn_forward(x, None, W_b, U_b, b_b)[0]], axis=2),
     "the backward RNN reads the sequence forwards"),
    (lambda x, W_f, U_f, b_f, W_b, U_b, b_b: _my_birnn(x, W_f, U_f, b_f, W_f, U_f, b_f),
     "both directions use the forward weights"),
    (lambda *a: _my_birnn(*a)[:, :, :4], "the result has shape (2, 5, 4), expected (2, 5, 8)"),
])
def test_birnn_forward_wrong_answers_are_named(student, phrase):
    _wrong(ch3.check_birnn_forward, student, phrase)


def test_birnn_forward_mistakes_are_distinct(capsys):
    """Each named slip, run through the check, gets its own explanation (none shadows another)."""
    named = set()
    for student in (lambda *a: np.concatenate(_birnn_halves(*a), axis=2),
                    lambda *a: _my_birnn(*a)[..., np.r_[4:8, 0:4]],
                    lambda *a: _birnn_halves(*a)[0] + _birnn_halves(*a)[1][:, ::-1],
                    lambda x, W_f, U_f, b_f, W_b, U_b, b_b: np.concatenate(
                        [rnn.rnn_forward(x, None, W_f, U_f, b_f)[0], rnn.rnn_forward(x, None, W_b, U_b, b_b)[0]], 2),
                    lambda x, W_f, U_f, b_f, W_b, U_b, b_b: _my_birnn(x, W_f, U_f, b_f, W_f, U_f, b_f)):
        named.add(ch3.check_birnn_forward(student).message)
    assert len(named) == 5


def test_birnn_forward_stub():
    assert ch3.check_birnn_forward(_stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 07: one GRU step (Keras reset_after=True)
# --------------------------------------------------------------------------------------

def _my_gru(x_t, h_prev, W, U, b, *, before=False, swap=False, no_rec_bias=False, bias_outside=False):
    """A student's GRU step, written independently of ch3._gru_variant."""
    H = h_prev.shape[1]
    Wz, Wr, Wh = np.split(W, 3, axis=1)
    Uz, Ur, Uh = np.split(U, 3, axis=1)
    bi = np.split(b[0], 3)
    br = [np.zeros(H)] * 3 if no_rec_bias else np.split(b[1], 3)
    z = 1 / (1 + np.exp(-(x_t @ Wz + bi[0] + h_prev @ Uz + br[0])))
    r = 1 / (1 + np.exp(-(x_t @ Wr + bi[1] + h_prev @ Ur + br[1])))
    if before:
        cand = np.tanh(x_t @ Wh + bi[2] + (r * h_prev) @ Uh + br[2])
    elif bias_outside:
        cand = np.tanh(x_t @ Wh + bi[2] + br[2] + r * (h_prev @ Uh))
    else:
        cand = np.tanh(x_t @ Wh + bi[2] + r * (h_prev @ Uh + br[2]))
    return (1 - z) * h_prev + z * cand if swap else z * h_prev + (1 - z) * cand


def test_gru_step_right(capsys):
    _right(ch3.check_gru_step, _my_gru, capsys, "gru_step")


def test_gru_step_reference_helper_is_right(capsys):
    _right(ch3.check_gru_step, lambda *a: rnn.gru_step_forward(*a)[0], capsys, "gru_step")


@pytest.mark.parametrize("switch, phrase", [
    ({"before": True}, "the reset gate is applied before the recurrent product"),
    ({"swap": True}, "z and 1 - z are swapped"),
    ({"no_rec_bias": True}, "the recurrent bias b[1] is ignored"),
    ({"bias_outside": True}, "the recurrent bias of the candidate sits outside the reset gate"),
])
def test_gru_step_wrong_answers_are_named(switch, phrase):
    _wrong(ch3.check_gru_step, lambda *a: _my_gru(*a, **switch), phrase)


def test_gru_step_summed_bias_rows_is_named_and_unknown_slip_is_located():
    _wrong(ch3.check_gru_step, lambda x_t, h, W, U, b: _my_gru(x_t, h, W, U, np.stack([b[0] + b[1], 0 * b[1]])),
           "sits outside the reset gate")
    _wrong(ch3.check_gru_step, lambda *a: np.tanh(_my_gru(*a)), "the result differs from the reference")


def test_gru_step_mistakes_are_distinct():
    args = ch3._gru_inputs()
    variants = [ch3._gru_variant(*args)] + [ch3._gru_variant(*args, **{k: v}) for k, v in [
        ("reset_before", True), ("swap_z", True), ("rec_bias", False), ("rec_bias_in_r", False)]]
    for i in range(len(variants)):
        for j in range(i):
            assert not np.allclose(variants[i], variants[j]), (i, j)


def test_gru_step_stub():
    assert ch3.check_gru_step(_stub).message.startswith(NOT_IMPLEMENTED)
