"""Exercise checks for chapter 1: dense networks (notebooks 01 and 02)."""

from __future__ import annotations

import numpy as np

from helpers import nn
from helpers.exercises import Feedback, check_against

# Counts chosen so that every rate differs from every other: a swap cannot go unnoticed.
_TP, _FP, _TN, _FN = 38, 3, 68, 5


def _rates(tp, fp, tn, fn):
    return tp / (tp + fn), tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)


def check_clinical_rates(clinical_rates) -> Feedback:
    """Notebook 02, exercise 1: ``clinical_rates(tp, fp, tn, fn) -> (sens, spec, ppv, npv)``."""
    sens, spec, ppv, npv = _rates(_TP, _FP, _TN, _FN)
    mistakes = {
        "sensitivity and specificity are swapped: sensitivity is TP / (TP + FN), about the sick patients":
            (spec, sens, ppv, npv),
        "sensitivity and PPV are swapped: sensitivity divides by all who are sick (TP + FN), "
        "PPV by all who test positive (TP + FP)": (ppv, spec, sens, npv),
        "specificity and NPV are swapped: specificity divides by all who are healthy (TN + FP), "
        "NPV by all who test negative (TN + FN)": (sens, npv, ppv, spec),
        "the false counts are swapped: sensitivity uses FN (missed cases) and specificity FP (false alarms)":
            (_TP / (_TP + _FP), _TN / (_TN + _FN), _TP / (_TP + _FN), _TN / (_TN + _FP)),
    }
    return check_against("clinical_rates", clinical_rates, (_TP, _FP, _TN, _FN), (sens, spec, ppv, npv), mistakes)


# --------------------------------------------------------------------------------------
# notebook 01: backpropagation through a dense layer and a hidden ReLU layer
# --------------------------------------------------------------------------------------

# A square layer (D_in = D_out) first: there a missing transpose changes the *values*, not just
# the shapes, so it can be named instead of surfacing as a matmul error. A non-square layer
# second, for answers that only hold when D_in = D_out.
_SQUARE = (5, 3, 3)      # N, D_in, D_out
_OBLONG = (6, 4, 2)


def _dense_case(N: int, d_in: int, d_out: int, seed: int):
    """dz (N, D_out), x (N, D_in), W (D_in, D_out): generic values, no symmetry."""
    r = np.random.default_rng(seed)
    return r.normal(size=(N, d_out)), r.normal(size=(N, d_in)), r.normal(size=(d_in, d_out))


def _dense_mistakes(dz, x, W) -> dict:
    """{explanation: what that mistake returns} for the layer (dz, x, W)."""
    N = x.shape[0]
    dx, dW, db = dz @ W.T, x.T @ dz, dz.sum(axis=0)
    mistakes = {
        "dW is transposed: ∂C/∂W = xᵀ δ, eq. (BP3), has the shape of W (D_in, D_out); "
        "δᵀ x is (D_out, D_in)": (dx, dz.T @ x, db),
        "db is a mean over the batch: ∂C/∂b = Σ_n δ_n, eq. (BP4), is a sum; the 1/N of the mean "
        "loss is already inside δ, eq. (8)": (dx, dW, dz.mean(axis=0)),
        "dW is divided by N: ∂C/∂W = xᵀ δ, eq. (BP3), with no 1/N; the 1/N of the mean loss is "
        "already inside δ, eq. (8)": (dx, dW / N, db),
        "dW and db are both divided by N: eqs. (BP3) and (BP4) have no 1/N; the 1/N of the mean "
        "loss is already inside δ, eq. (8)": (dx, dW / N, db / N),
        "db sums over the wrong axis: sum over the examples (axis 0), one entry per unit, shape (D_out,)":
            (dx, dW, dz.sum(axis=1)),
        "db has shape (1, D_out): b is (D_out,), so sum over axis 0 without keepdims":
            (dx, dW, dz.sum(axis=0, keepdims=True)),
    }
    if W.shape[0] == W.shape[1]:  # only computable (and only silent) for a square W
        mistakes["dx uses W instead of Wᵀ: z = x W, so ∂C/∂x = δ Wᵀ, shape (N, D_in), the first factor "
                 "of eq. (BP2)"] = (dz @ W, dW, db)
    return mistakes


def check_dense_backward(dense_backward) -> Feedback:
    """Notebook 01, exercise 1: ``dense_backward(dz, x, W) -> (dx, dW, db)`` for z = x W + b.

    dz = δ = ∂C/∂z (N, D_out), x (N, D_in), W (D_in, D_out); the answer must be
    dx = δ Wᵀ (N, D_in), dW = xᵀ δ (D_in, D_out), eq. (BP3), db = Σ_n δ_n (D_out,), eq. (BP4).
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    cases = []
    for i, shape in enumerate((_SQUARE, _OBLONG)):
        dz, x, W = _dense_case(*shape, seed=101 + i)
        cases.append(((dz, x, W), (dz @ W.T, x.T @ dz, dz.sum(axis=0)), _dense_mistakes(dz, x, W),
                      f"W but not for W of shape {W.shape} (x {x.shape}, dz {dz.shape})"))
    return _square_then_oblong("dense_backward", dense_backward, cases)


def _square_then_oblong(name: str, student, cases) -> Feedback:
    """Check on a square layer first (a missing transpose gives wrong values, not a crash),
    then on a non-square one. cases: [(args, expected, mistakes, what the 2nd case is)].
    Prints the verdict (never raises) and returns it."""
    for i, (args, expected, mistakes, oblong) in enumerate(cases):
        fb = check_against(name, student, args, expected, mistakes, show=False)
        if not fb:
            if i == 1:  # right on the square layer: say that only the shapes tell it apart
                fb = Feedback(name, False, f"right for a square {oblong}: {fb.message}")
            break
    print(fb)
    return fb


def _delta_case(N: int, H: int, H_next: int, seed: int):
    """delta_next (N, H_next), W_next (H, H_next), z (N, H) with both signs and no zeros."""
    r = np.random.default_rng(seed)
    delta_next = r.normal(size=(N, H_next))
    W_next = r.normal(size=(H, H_next))
    z = r.normal(size=(N, H))
    z[np.abs(z) < 0.05] = 0.5  # away from the ReLU's kink
    return delta_next, W_next, z


def check_hidden_delta(hidden_delta) -> Feedback:
    """Notebook 01, exercise 2: ``hidden_delta(delta_next, W_next, z) -> delta`` for a ReLU layer.

    delta_next = δ^{l+1} (N, H_{l+1}), W_next = W^{l+1} (H_l, H_{l+1}), z = z^l (N, H_l); the
    answer must be δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ relu'(z^l), eq. (BP2), shape (N, H_l).
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    cases = []
    for i, shape in enumerate(((4, 3, 3), (5, 4, 2))):
        delta_next, W_next, z = args = _delta_case(*shape, seed=201 + i)
        back = delta_next @ W_next.T
        mistakes = {
            "f'(z) is missing: δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ f'(z^l), eq. (BP2); without it the gradient "
            "flows through units that the ReLU switched off": back,
            "multiplied by relu(z) = a^l instead of relu'(z): eq. (BP2) needs the derivative f'(z^l), "
            "which is 1 where z > 0 and 0 elsewhere": back * nn.relu(z),
            "multiplied by σ'(z): this hidden layer is a ReLU, so f' = relu' (1 where z > 0, else 0); "
            "σ' belongs to a sigmoid unit": back * nn.sigmoid_derivative(z),
        }
        if W_next.shape[0] == W_next.shape[1]:  # only computable (and only silent) for a square W_next
            mistakes["W^{l+1} is not transposed: z^{l+1} = a^l W^{l+1} + b, so the gradient goes back "
                     "through W^{l+1}ᵀ, eq. (BP2)"] = (delta_next @ W_next) * nn.relu_derivative(z)
        cases.append((args, back * nn.relu_derivative(z), mistakes,
                      f"W_next but not for W_next of shape {W_next.shape} "
                      f"(delta_next {delta_next.shape}, z {z.shape})"))
    return _square_then_oblong("hidden_delta", hidden_delta, cases)
