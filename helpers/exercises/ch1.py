"""Exercise checks for chapter 1: dense networks (notebooks 01 and 02).

Each check runs the student's function on fixed inputs, compares it with the reference and
names the typical mistake when one matches: swapped rates, a missing transpose, relu' for
tanh', a^l for a^{l−1}, penalised biases, a forgotten dropout scaling, Bayes' rule without the
prevalence ... Inputs are chosen so that every named mistake gives a different answer from the
right one and from each other; square layers come first, so a missing transpose gives wrong
numbers (named) instead of a shape error. The student's function gets copies of the inputs,
and whatever it returns or raises is reported, never raised.
"""

from __future__ import annotations

import numpy as np

from helpers import nn
from helpers.exercises import NOT_IMPLEMENTED, Feedback, check_against

__all__ = ["check_clinical_rates", "check_dense_backward", "check_dropout_backward", "check_hidden_delta",
           "check_l2_penalty", "check_ppv_at_prevalence", "check_tanh_backward"]

# Counts chosen so that every rate differs from every other: a swap cannot go unnoticed.
_TP, _FP, _TN, _FN = 38, 3, 68, 5


def _rates(tp, fp, tn, fn):
    return tp / (tp + fn), tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)


# A validation split with no sick patient in it: sensitivity 0/0 is undefined (nan), the PPV
# 0/4 is 0 (every positive result is a false alarm), specificity and NPV are ordinary rates.
_NO_SICK = (0, 4, 110, 0)    # tp, fp, tn, fn


def check_clinical_rates(clinical_rates) -> Feedback:
    """Notebook 02, exercise 1: ``clinical_rates(tp, fp, tn, fn) -> (sens, spec, ppv, npv)``.

    Two cases: ordinary counts, then counts with no sick patient, where the sensitivity
    TP / (TP + FN) = 0/0 must be nan (undefined, as in ``metrics.binary_report``), not an error
    and not 0, while the other three rates are still given.
    """
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
    fb = check_against("clinical_rates", clinical_rates, (_TP, _FP, _TN, _FN), (sens, spec, ppv, npv), mistakes,
                       show=False)
    if fb:
        fb = _check_no_sick(clinical_rates)
    print(fb)
    return fb


def _check_no_sick(clinical_rates) -> Feedback:
    tp, fp, tn, fn = _NO_SICK
    expected = (np.nan, tn / (tn + fp), tp / (tp + fp), tn / (tn + fn))
    where = f"with no sick patient (tp={tp}, fp={fp}, tn={tn}, fn={fn})"
    try:
        got = clinical_rates(tp, fp, tn, fn)
    except ZeroDivisionError:
        return Feedback("clinical_rates", False, f"{where} your code divides by zero: a rate whose denominator "
                                                 "is 0 is undefined; return float('nan') for it, not an error")
    except Exception as err:  # the student's code raised: say what, do not crash the notebook
        return Feedback("clinical_rates", False, f"{where} your code raised {type(err).__name__}: {err}")
    if not isinstance(got, tuple) or len(got) != 4:
        return Feedback("clinical_rates", False, f"{where} expected a tuple of 4 results")
    try:
        values = np.array([float(g) for g in got])
    except (TypeError, ValueError):
        return Feedback("clinical_rates", False, f"{where} the four results must be numbers")
    if values[0] == 0 and np.allclose(values[1:], expected[1:]):
        return Feedback("clinical_rates", False, f"{where} the sensitivity 0/0 is undefined, not 0: no cancer was "
                                                 "missed because there was none to find; return nan")
    if np.isnan(values[0]) and np.allclose(values[1:], expected[1:]):
        return Feedback("clinical_rates", True, "correct")
    return Feedback("clinical_rates", False, f"{where} expected (nan, {expected[1]:.6g}, {expected[2]:.6g}, "
                                             f"{expected[3]:.6g}), got {tuple(float(v) for v in values)}")


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


# --------------------------------------------------------------------------------------
# helpers shared by the checks below: run the student's code once, validate what it returns
# --------------------------------------------------------------------------------------

def _copy(v):
    """A deep copy of arrays, and of dicts, lists and tuples of them (the student may write in place)."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_copy(x) for x in v)
    return v


def _call(exercise: str, fn, args: tuple):
    """Run ``fn`` on copies of ``args``: (result, None), or (None, Feedback) if it raised."""
    try:
        return fn(*_copy(args)), None
    except NotImplementedError:
        return None, Feedback(exercise, False, f"{NOT_IMPLEMENTED}: replace `raise NotImplementedError()` "
                                               f"with your code")
    except Exception as err:  # noqa: BLE001 -- the student's code raised: say what, do not crash the notebook
        return None, Feedback(exercise, False, f"your code raised {type(err).__name__}: {err}")


def _what(v) -> str:
    """A short description of a value for feedback: its type, and its shape or value."""
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} and dtype {v.dtype}"
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _numbers(v, shape: tuple) -> np.ndarray | None:
    """v as a float64 array if it holds numbers of the given shape, else None."""
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError):  # a ragged nesting of lists
        return None
    if arr.dtype.kind not in "biuf" or arr.shape != shape:
        return None
    return arr.astype(np.float64)


def _expect_numbers(exercise: str, v, shape: tuple, what: str) -> tuple[np.ndarray | None, Feedback | None]:
    """(array, None) if ``v`` holds numbers of ``shape``, else (None, Feedback naming what came instead)."""
    arr = _numbers(v, shape)
    if arr is not None:
        return arr, None
    try:
        a = np.asarray(v)
    except (TypeError, ValueError):
        a = None
    if a is not None and a.dtype.kind in "biuf":  # numbers, but the wrong shape
        return None, Feedback(exercise, False, f"{what} has shape {a.shape}, expected {shape}")
    need = "one number" if shape == () else f"an array of numbers of shape {shape}"
    return None, Feedback(exercise, False, f"{what} should be {need}, got {_what(v)}")


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-8))


def _differs(what: str, got: np.ndarray, expected: np.ndarray) -> str:
    """'<what> differs from the reference; largest difference at index ...: yours ..., expected ...'."""
    i = np.unravel_index(int(np.argmax(np.abs(got - expected))), expected.shape) if expected.size else ()
    where = f" at index {tuple(int(j) for j in i)}" if expected.ndim else ""
    return (f"{what} differs from the reference; largest difference{where}: yours {float(got[i]):.6g}, "
            f"expected {float(expected[i]):.6g}")


def _match_parts(exercise: str, got: dict, expected: dict, mistakes: list, groups: list) -> Feedback:
    """Compare named parts of an answer ({label: array}) with the reference and the named mistakes.

    mistakes: [(explanation, {label: what that mistake gives})]. The first mistake that matches
    every part is named; otherwise, group by group (e.g. ["penalty"], then the gradients), the
    first mistake that matches the parts of the group the student got wrong, else the first
    differing part with its largest difference.
    """
    if all(_close(got[k], expected[k]) for k in expected):
        return Feedback(exercise, True, "correct")
    for explanation, wrong in mistakes:
        if all(_close(got[k], wrong[k]) for k in expected):
            return Feedback(exercise, False, explanation)
    for group in groups:
        if all(_close(got[k], expected[k]) for k in group):
            continue
        for explanation, wrong in mistakes:
            if all(_close(got[k], wrong[k]) for k in group):
                return Feedback(exercise, False, explanation)
        k = next(k for k in group if not _close(got[k], expected[k]))
        return Feedback(exercise, False, _differs(k, got[k], expected[k]))
    return Feedback(exercise, False, "wrong answer")  # unreachable: some group differs


def _grads_parts(exercise: str, grads, shapes: dict[str, tuple]) -> tuple[dict | None, Feedback | None]:
    """Validate a dict of gradients by its keys and shapes: ({"grads['W1']": array, ...}, None) or a Feedback."""
    keys = ", ".join(shapes)
    if not isinstance(grads, dict):
        return None, Feedback(exercise, False, f"grads should be a dict with keys {keys}, got {_what(grads)}")
    missing = [k for k in shapes if k not in grads]
    if missing:
        return None, Feedback(exercise, False, f"grads has no {', '.join(repr(k) for k in missing)}: expected one "
                                               f"gradient per parameter, keys {keys}")
    extra = [k for k in grads if k not in shapes]
    if extra:
        return None, Feedback(exercise, False, f"grads has unexpected keys {', '.join(repr(k) for k in extra)}: "
                                               f"expected exactly {keys}")
    parts = {}
    for k, shape in shapes.items():
        arr, fb = _expect_numbers(exercise, grads[k], shape, f"grads[{k!r}]")
        if fb is not None:
            return None, Feedback(exercise, False, f"{fb.message} (the shape of {k})")
        parts[f"grads[{k!r}]"] = arr
    return parts, None


def _as_parts(grads: dict) -> dict:
    return {f"grads[{k!r}]": np.asarray(v, dtype=np.float64) for k, v in grads.items()}


def _show(fb: Feedback) -> Feedback:
    print(fb)
    return fb


# --------------------------------------------------------------------------------------
# notebook 01: L2 weight decay, as keras.regularizers.L2 on the kernels
# --------------------------------------------------------------------------------------

_L2 = 0.01                    # keras.regularizers.L2's default


def _mlp_params(seed: int = 301) -> dict:
    """W1 (4, 3), b1 (3,), W2 (3, 2), b2 (2,): generic values, biases non-zero."""
    r = np.random.default_rng(seed)
    return {"W1": r.normal(size=(4, 3)), "b1": r.normal(size=3), "W2": r.normal(size=(3, 2)), "b2": r.normal(size=2)}


def _l2_variants(params: dict, l2: float):
    """(right answer, [(explanation, wrong answer)]), each answer a dict of parts {label: array}."""
    Ws = {k: v for k, v in params.items() if k.startswith("W")}
    n_weights = sum(W.size for W in Ws.values())

    def answer(penalty, grad_W=None, grad_b=None):
        grads = {k: (grad_W(v) if k.startswith("W") else grad_b(v) if grad_b else np.zeros_like(v))
                 for k, v in params.items()}
        return {"penalty": np.float64(penalty), **_as_parts(grads)}

    sq = sum(float(np.sum(W * W)) for W in Ws.values())
    right = answer(l2 * sq, lambda W: 2 * l2 * W)
    mistakes = [
        ("the biases are penalised too: weight decay (keras.regularizers.L2 as kernel_regularizer) acts on the "
         "weights W only; the penalty is l2 Σ_l Σ W_l², and the biases' gradients are zeros",
         answer(l2 * (sq + sum(float(np.sum(v * v)) for k, v in params.items() if k.startswith("b"))),
                lambda W: 2 * l2 * W, lambda b: 2 * l2 * b)),
        ("the ½λ convention is mixed in: your penalty ½ l2 Σ W² and gradient l2·W belong together, but "
         "Keras's L2(l2) adds l2 Σ W² (no ½), whose gradient is 2 l2 W",
         answer(l2 * sq / 2, lambda W: l2 * W)),
        ("the factor 2 is missing in the gradient: d/dW (l2 Σ W²) = 2 l2 W", answer(l2 * sq, lambda W: l2 * W)),
        ("the penalty is not squared: l2 Σ |W| is the L1 penalty (keras.regularizers.L1); L2 is l2 Σ W², "
         "gradient 2 l2 W", answer(l2 * sum(float(np.sum(np.abs(W))) for W in Ws.values()),
                                   lambda W: l2 * np.sign(W))),
        ("the norm is used instead of the squared norm: l2 ‖W‖ is not differentiable at 0 and pulls every "
         "weight equally hard; the L2 penalty is l2 ‖W‖² = l2 Σ W², gradient 2 l2 W",
         answer(l2 * sum(float(np.linalg.norm(W)) for W in Ws.values()), lambda W: l2 * W / np.linalg.norm(W))),
        ("the norm of all weights together is used instead of the squared norm: the L2 penalty is "
         "l2 ‖W‖² = l2 Σ W², gradient 2 l2 W",
         answer(l2 * np.sqrt(sq), lambda W: l2 * W / np.sqrt(sq))),
        ("the penalty is divided by the number of weights in each layer (a mean): the L2 penalty is a sum, "
         "l2 Σ_l Σ W_l², and is not divided by the number of weights (nor by the batch size N)",
         answer(l2 * sum(float(np.mean(W * W)) for W in Ws.values()), lambda W: 2 * l2 * W / W.size)),
        ("the penalty is divided by the number of weights: the L2 penalty is a sum, l2 Σ_l Σ W_l², and is "
         "not divided by the number of weights (nor by the batch size N)",
         answer(l2 * sq / n_weights, lambda W: 2 * l2 * W / n_weights)),
        ("the gradient has the wrong sign: d/dW (l2 Σ W²) = +2 l2 W; gradient descent then subtracts it, "
         "W ← W − η (∂C/∂W + 2 l2 W), which shrinks the weights", answer(l2 * sq, lambda W: -2 * l2 * W)),
    ]
    return right, mistakes


def check_l2_penalty(l2_penalty) -> Feedback:
    """Notebook 01: ``l2_penalty(params, l2) -> (penalty, grads)``, weight decay as ``keras.regularizers.L2``.

    params = {"W1": (D0, D1), "b1": (D1,), "W2": (D1, D2), "b2": (D2,)}; the answer must be
    penalty = l2 Σ_l Σ_ij (W_l)_ij² (one number; biases not penalised) and grads = {"W1": 2 l2 W1,
    "b1": zeros (D1,), "W2": 2 l2 W2, "b2": zeros (D2,)}, a dict with the keys of params.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "l2_penalty"
    params = _mlp_params()
    right, mistakes = _l2_variants(params, _L2)
    got, fb = _call(name, l2_penalty, (params, _L2))
    if fb is not None:
        return _show(fb)
    if not isinstance(got, tuple) or len(got) != 2:
        return _show(Feedback(name, False, f"expected a tuple (penalty, grads), got {_what(got)}"))
    penalty, fb = _expect_numbers(name, got[0], (), "the penalty")
    if fb is not None:
        return _show(fb)
    parts, fb = _grads_parts(name, got[1], {k: v.shape for k, v in params.items()})
    if fb is not None:
        if fb.message.startswith("grads has no 'b"):
            fb = Feedback(name, False, f"{fb.message} (the biases are not penalised: their gradients are zeros)")
        return _show(fb)
    grad_labels = [k for k in right if k != "penalty"]
    return _show(_match_parts(name, {"penalty": penalty, **parts}, right, mistakes, [["penalty"], grad_labels]))


# --------------------------------------------------------------------------------------
# notebook 01: the backward pass of inverted dropout
# --------------------------------------------------------------------------------------

def _dropout_case(shape: tuple, rate: float, seed: int):
    """dout of ``shape`` and a boolean mask ``keep`` with kept and dropped entries (generic values)."""
    r = np.random.default_rng(seed)
    keep = r.random(shape) >= rate
    keep.flat[:2] = (True, False)             # both kinds, whatever the draw
    return r.normal(size=shape), keep, rate


def check_dropout_backward(dropout_backward) -> Feedback:
    """Notebook 01: ``dropout_backward(dout, keep, rate) -> dx`` for inverted dropout.

    Forward: out = x ⊙ keep / (1 − rate), keep the boolean mask of kept entries (as
    ``keras.layers.Dropout`` in training); so dx = dout ⊙ keep / (1 − rate), the shape of dout.
    Checked for rate 0.2 on a (4, 5) array, then rate 0.6 on a (2, 3, 4) one.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "dropout_backward"
    fb = None
    for i, (shape, rate) in enumerate((((4, 5), 0.2), ((2, 3, 4), 0.6))):
        dout, keep, rate = args = _dropout_case(shape, rate, seed=401 + i)
        mistakes = {
            "the scaling 1/(1 − rate) is missing: the forward pass multiplied the kept entries by 1/(1 − rate), "
            "so their gradient is multiplied by it too": dout * keep,
            "multiplied by (1 − rate) instead of divided: inverted dropout scales by 1/(1 − rate) in the "
            "forward pass, and so in the backward pass": dout * keep * (1 - rate),
            "the mask is ignored: a dropped entry did not reach the output, so its gradient is 0; "
            "dx = dout ⊙ keep / (1 − rate)": dout / (1 - rate),
            "the mask is inverted: keep is True for the entries that were kept, and only those get a gradient":
                dout * ~keep / (1 - rate),
            "scaled by 1/rate instead of 1/(1 − rate): rate is the share of entries dropped, 1 − rate the share "
            "kept": dout * keep / rate,
        }
        got, fb = _call(name, dropout_backward, args)
        if fb is None:
            dx, fb = _expect_numbers(name, got, shape, "dx")
        if fb is None:
            fb = check_against(name, lambda *_, dx=dx: dx, args, dout * keep / (1 - rate), mistakes, show=False)
        if not fb:
            if i == 1:
                fb = Feedback(name, False, f"right for rate 0.2 but not for rate {rate} (dout of shape {shape}): "
                                           f"{fb.message}")
            break
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 01: the backward pass of an L-layer tanh network, as a loop
# --------------------------------------------------------------------------------------

# Square layers first (every size 3): then a missing transpose, a^l for a^{l-1} ... run and give
# wrong numbers that can be named. Different sizes second, for answers that only hold when
# every layer has the same size.
_TANH_SQUARE = (5, (3, 3, 3, 3))           # N, (D0, D1, D2, D3)
_TANH_OBLONG = (6, (4, 3, 5, 2))


def _tanh_case(N: int, sizes: tuple, seed: int):
    """delta_L (N, D_L), a = [a^0, a^1, a^2], z = [z^1, z^2], W = [W^1, W^2, W^3] of a forward pass."""
    r = np.random.default_rng(seed)
    W = [r.normal(scale=0.8, size=(d_in, d_out)) for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    b = [r.normal(scale=0.3, size=d) for d in sizes[1:]]
    a, z = [r.normal(size=(N, sizes[0]))], []
    for W_l, b_l in zip(W[:-1], b[:-1]):
        z_l = a[-1] @ W_l + b_l
        z_l[np.abs(z_l) < 0.05] += 0.3           # away from the ReLU's kink: relu' is well defined
        z.append(z_l)
        a.append(np.tanh(z_l))
    return r.normal(size=(N, sizes[-1])), a, z, W


def _tanh_backward(delta_L, a, z, W, *, fprime=lambda z_l, a_l: 1 - np.tanh(z_l) ** 2, transpose=True,
                   shift=0, hidden_shift=0) -> dict:
    """The loop (BP2)-(BP4), or a variant of it: ``fprime`` for tanh', W^{l+1} ``transpose``d or not,
    a^{l-1+shift} in (BP3) (``hidden_shift`` for the hidden layers only). Python's negative
    indices wrap round, as in the student's code."""
    L = len(W)
    grads, delta = {}, delta_L
    for l in range(L, 0, -1):  # noqa: E741 -- l is the layer index of (BP2)-(BP4)
        j = l - 1 + shift + (hidden_shift if l < L else 0)
        grads[f"W{l}"] = a[j].T @ delta
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            delta = (delta @ (W[l - 1].T if transpose else W[l - 1])) * fprime(z[l - 2], a[l - 1])
    return grads


def _tanh_mistakes(delta_L, a, z, W) -> list:
    """[(explanation, grads)] for the named mistakes computable (hence silent) on these shapes."""
    sizes = [a[0].shape[1], *(W_l.shape[1] for W_l in W)]
    mistakes = [
        ("relu' is used instead of tanh': the hidden layers are tanh, so f'(z^l) = 1 − tanh²(z^l) "
         "(= 1 − (a^l)²), not 1 where z > 0", _tanh_backward(delta_L, a, z, W, fprime=lambda z_l, a_l: z_l > 0)),
        ("tanh'(z) is written 1 − tanh(z): the square is missing, tanh'(z) = 1 − tanh²(z) = 1 − (a^l)²",
         _tanh_backward(delta_L, a, z, W, fprime=lambda z_l, a_l: 1 - np.tanh(z_l))),
        ("tanh'(z) is written 1 − z²: the square is of tanh(z) = a^l, not of z: tanh'(z^l) = 1 − (a^l)²",
         _tanh_backward(delta_L, a, z, W, fprime=lambda z_l, a_l: 1 - z_l ** 2)),
        ("f'(z^l) is missing: δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ tanh'(z^l), eq. (BP2)",
         _tanh_backward(delta_L, a, z, W, fprime=lambda z_l, a_l: 1.0)),
    ]
    if len(set(sizes)) == 1:  # a^l has the shape of a^{l-1}, dW of its transpose: only then do these run
        mistakes += [
            ("(BP3) uses a^l instead of a^{l−1} in the hidden layers: ∂C/∂W^l = (a^{l−1})ᵀ δ^l, the input of "
             "layer l; a[l - 1] holds a^{l−1} (a[0] = x)", _tanh_backward(delta_L, a, z, W, hidden_shift=1)),
            ("(BP3) uses a^{l−2} instead of a^{l−1}, one layer too early (a[-1] wraps round to the last "
             "hidden layer): ∂C/∂W^l = (a^{l−1})ᵀ δ^l, and a[l - 1] holds a^{l−1}",
             _tanh_backward(delta_L, a, z, W, shift=-1)),
            ("∂C/∂W^l is transposed: (a^{l−1})ᵀ δ^l, eq. (BP3), has the shape of W^l (D_{l−1}, D_l); "
             "(δ^l)ᵀ a^{l−1} is its transpose",
             {k: v.T if k.startswith("W") else v for k, v in _tanh_backward(delta_L, a, z, W).items()}),
        ]
    if len(set(sizes[1:])) == 1:  # every W^{l+1} square: only then does a missing transpose run
        mistakes.append(("W^{l+1} is not transposed: z^{l+1} = a^l W^{l+1} + b, so δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ "
                         "tanh'(z^l), eq. (BP2)", _tanh_backward(delta_L, a, z, W, transpose=False)))
    return [(explanation, _as_parts(grads)) for explanation, grads in mistakes]


_INDEX_HINT = (" (a = [a^0, ..., a^{L−1}] has L entries with a[0] = x, z = [z^1, ..., z^{L−1}] has L − 1, "
               "W = [W^1, ..., W^L] has L: layer l uses a[l - 1] in (BP3), z[l - 1] for tanh'(z^l) and "
               "W[l - 1] for W^l)")


def check_tanh_backward(backward) -> Feedback:
    """Notebook 01: ``backward(delta_L, a, z, W) -> grads`` for an L-layer tanh network with a logit output.

    delta_L = δ^L = ∂C/∂z^L (N, D_L); a = [a^0, ..., a^{L−1}] (a^0 = x, a^l = tanh(z^l), (N, D_l));
    z = [z^1, ..., z^{L−1}] the hidden pre-activations; W = [W^1, ..., W^L], W^l (D_{l−1}, D_l).
    The answer must be grads = {"W1": ..., "b1": ..., ..., "WL": ..., "bL": ...} by the loop
    (BP2) δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ tanh'(z^l), tanh'(z^l) = 1 − tanh²(z^l) = 1 − (a^l)²,
    (BP3) ∂C/∂W^l = (a^{l−1})ᵀ δ^l, (BP4) ∂C/∂b^l = Σ_n δ^l_n. Checked with L = 3, first with
    every layer of size 3, then with sizes 4 -> 3 -> 5 -> 2.
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "tanh_backward"
    fb = None
    for i, (N, sizes) in enumerate((_TANH_SQUARE, _TANH_OBLONG)):
        args = _tanh_case(N, sizes, seed=501 + i)
        right = _as_parts(_tanh_backward(*args))
        got, fb = _call(name, backward, args)
        if fb is not None and fb.message.startswith("your code raised IndexError"):
            fb = Feedback(name, False, fb.message + _INDEX_HINT)
        if fb is None:
            shapes = {}
            for k, W_k in enumerate(args[3], start=1):
                shapes[f"W{k}"], shapes[f"b{k}"] = W_k.shape, W_k.shape[1:]
            parts, fb = _grads_parts(name, got, shapes)
        if fb is None:
            fb = _match_parts(name, parts, right, _tanh_mistakes(*args), [list(right)])
        if not fb:
            if i == 1:
                fb = Feedback(name, False, "right when every layer has size 3 but not for sizes "
                                           f"{' -> '.join(map(str, sizes))}: {fb.message}")
            break
    return _show(fb)


# --------------------------------------------------------------------------------------
# notebook 02: PPV at another prevalence, Bayes' rule
# --------------------------------------------------------------------------------------

# Screening (rare disease) first, then a clinic where the disease is common: on these two every
# named variant gives a different number from the right one and from each other.
_PREVALENCE_CASES = ((0.93, 0.97, 0.01), (0.8, 0.9, 0.3))


def check_ppv_at_prevalence(ppv_at_prevalence) -> Feedback:
    """Notebook 02: ``ppv_at_prevalence(sensitivity, specificity, prevalence) -> ppv``, Bayes' rule.

    PPV = se·π / (se·π + (1 − sp)(1 − π)): true positives over all positive results, per patient.
    Checked on (se, sp, π) = (0.93, 0.97, 0.01), then (0.8, 0.9, 0.3).
    Prints the verdict (never raises) and returns a :class:`Feedback`.
    """
    name = "ppv_at_prevalence"
    fb = None
    for se, sp, pi in _PREVALENCE_CASES:
        mistakes = {
            "sensitivity and specificity are swapped: the true positives are se·π (sick patients found), the "
            "false positives (1 − sp)(1 − π) (healthy patients flagged)": sp * pi / (sp * pi + (1 - se) * (1 - pi)),
            "that is the NPV, sp(1 − π) / (sp(1 − π) + (1 − se)π): the PPV is the share of positive results "
            "that are right, se·π / (se·π + (1 − sp)(1 − π))": sp * (1 - pi) / (sp * (1 - pi) + (1 - se) * pi),
            "the prevalence is ignored (se / (se + 1 − sp), or the false positives weighted by π instead of "
            "(1 − π), which cancels π the same way): the false positives come from the healthy, a share 1 − π "
            "of the patients; PPV = se·π / (se·π + (1 − sp)(1 − π))": se / (se + 1 - sp),
            "the false positives are not weighted by (1 − π), the share of healthy patients: "
            "PPV = se·π / (se·π + (1 − sp)(1 − π))": se * pi / (se * pi + 1 - sp),
            "the false positives use sp instead of (1 − sp): a healthy patient tests positive with probability "
            "1 − sp; PPV = se·π / (se·π + (1 − sp)(1 − π))": se * pi / (se * pi + sp * (1 - pi)),
            "only the numerator se·π: that is the share of all patients who are true positives; divide by "
            "the share who test positive, se·π + (1 − sp)(1 − π)": se * pi,
        }
        got, fb = _call(name, ppv_at_prevalence, (se, sp, pi))
        if fb is None:
            value, fb = _expect_numbers(name, got, (), "the PPV")
        if fb is None:
            fb = check_against(name, lambda *_, v=value: v, (se, sp, pi),
                               se * pi / (se * pi + (1 - sp) * (1 - pi)), mistakes, show=False)
        if not fb:
            if fb.message.startswith("the result differs"):       # no named mistake: say what it gave
                fb = Feedback(name, False, f"your PPV is {float(value):.6g}, expected "
                                           f"{se * pi / (se * pi + (1 - sp) * (1 - pi)):.6g}")
            if not fb.message.startswith(NOT_IMPLEMENTED):
                fb = Feedback(name, False, f"for sensitivity {se}, specificity {sp}, prevalence {pi}: {fb.message}")
            break
    return _show(fb)
