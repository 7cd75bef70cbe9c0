"""Chapter 1 exercise checks: right answers pass, typical wrong answers get named."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import metrics, nn
from helpers.exercises import NOT_IMPLEMENTED, ch1


def right(tp, fp, tn, fn):
    def rate(k, n):
        return k / n if n else float("nan")

    return rate(tp, tp + fn), rate(tn, tn + fp), rate(tp, tp + fp), rate(tn, tn + fn)


def no_guard(tp, fp, tn, fn):
    return tp / (tp + fn), tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda tp, fp, tn, fn: (tn / (tn + fp), tp / (tp + fn), tp / (tp + fp), tn / (tn + fn)),
     "sensitivity and specificity are swapped"),
    (lambda tp, fp, tn, fn: (tp / (tp + fp), tn / (tn + fp), tp / (tp + fn), tn / (tn + fn)),
     "sensitivity and PPV are swapped"),
    (lambda tp, fp, tn, fn: (tp / (tp + fn), tn / (tn + fn), tp / (tp + fp), tn / (tn + fp)),
     "specificity and NPV are swapped"),
    (lambda tp, fp, tn, fn: (tp / (tp + fp), tn / (tn + fn), tp / (tp + fn), tn / (tn + fp)),
     "the false counts are swapped"),
    (lambda tp, fp, tn, fn: (tp / (tp + fn), tn / (tn + fp), tp / (tp + fp)), "expected a tuple of 4 results, got 3"),
    (lambda tp, fp, tn, fn: (tp / (tp + fn), tn / (tn + fp), tp / (tp + fp), 0.5), "output 4 of 4"),
])
def test_clinical_rates_wrong_answers_are_named(wrong, phrase):
    fb = ch1.check_clinical_rates(wrong)
    assert not fb and phrase in fb.message


def test_clinical_rates_right_answer(capsys):
    assert ch1.check_clinical_rates(right)
    assert capsys.readouterr().out.strip() == "✔ clinical_rates: correct"


def test_clinical_rates_with_numpy_division_passes():
    def with_numpy(tp, fp, tn, fn):
        with np.errstate(invalid="ignore", divide="ignore"):
            return tuple(float(r) for r in np.divide([tp, tn, tp, tn], [tp + fn, tn + fp, tp + fp, tn + fn]))

    assert ch1.check_clinical_rates(with_numpy)


@pytest.mark.parametrize("wrong, phrase", [
    (no_guard, "your code divides by zero: a rate whose denominator is 0 is undefined"),
    (lambda tp, fp, tn, fn: (tp / (tp + fn) if tp + fn else 0.0, tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)),
     "the sensitivity 0/0 is undefined, not 0"),
    (lambda tp, fp, tn, fn: (tp / (tp + fn) if tp + fn else float("nan"), tn / (tn + fp),
                             tp / (tp + fp) if tp else float("nan"), tn / (tn + fn)),
     "with no sick patient (tp=0, fp=4, tn=110, fn=0) expected (nan, 0.964912, 0, 1)"),
    (lambda tp, fp, tn, fn: (tp / (tp + fn) if tp + fn else None, tn / (tn + fp), tp / (tp + fp), tn / (tn + fn)),
     "the four results must be numbers"),
])
def test_clinical_rates_zero_denominator_mistakes_are_named(wrong, phrase):
    fb = ch1.check_clinical_rates(wrong)
    assert not fb and phrase in fb.message


def test_clinical_rates_stub():
    def stub(tp, fp, tn, fn):
        raise NotImplementedError()

    assert ch1.check_clinical_rates(stub).message.startswith(NOT_IMPLEMENTED)


# --------------------------------------------------------------------------------------
# notebook 01: dense_backward and hidden_delta
# --------------------------------------------------------------------------------------

def dense_backward_right(dz, x, W):
    return dz @ W.T, x.T @ dz, dz.sum(axis=0)


def test_dense_backward_right_answer(capsys):
    assert ch1.check_dense_backward(dense_backward_right)
    assert capsys.readouterr().out.strip() == "✔ dense_backward: correct"


def test_dense_backward_reference_implementation_passes():
    def via_helpers(dz, x, W):
        _, cache = nn.dense_forward(x, W, np.zeros(W.shape[1]))
        return nn.dense_backward(dz, cache)

    assert ch1.check_dense_backward(via_helpers)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda dz, x, W: (dz @ W.T, dz.T @ x, dz.sum(axis=0)), "dW is transposed"),
    (lambda dz, x, W: (dz @ W, x.T @ dz, dz.sum(axis=0)), "dx uses W instead of Wᵀ"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz, dz.mean(axis=0)), "db is a mean over the batch"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz / len(x), dz.sum(axis=0)), "dW is divided by N"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz / len(x), dz.mean(axis=0)), "dW and db are both divided by N"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz, dz.sum(axis=1)), "db sums over the wrong axis"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz, dz.sum(axis=0, keepdims=True)), "db has shape (1, D_out)"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz), "expected a tuple of 3 results, got 2"),
    (lambda dz, x, W: (dz @ W.T, x.T @ dz, dz.sum(axis=0) + 1), "output 3 of 3 differs from the reference"),
])
def test_dense_backward_wrong_answers_are_named(wrong, phrase, capsys):
    fb = ch1.check_dense_backward(wrong)
    assert not fb and phrase in fb.message
    assert capsys.readouterr().out.startswith("✘ dense_backward: ")


def test_dense_backward_right_only_for_a_square_layer():
    def square_only(dz, x, W):
        if W.shape[0] == W.shape[1]:
            return dense_backward_right(dz, x, W)
        return dz @ W.T, dz.T @ x, dz.sum(axis=0)

    fb = ch1.check_dense_backward(square_only)
    assert not fb
    assert fb.message.startswith("right for a square W but not for W of shape (4, 2)")
    assert "dW is transposed" in fb.message


def test_dense_backward_crash_is_reported_not_raised():
    def crashes(dz, x, W):
        return dz @ x, x.T @ dz, dz.sum(axis=0)  # a shape error inside the student's code

    fb = ch1.check_dense_backward(crashes)
    assert not fb and fb.message.startswith("your code raised ValueError")


def test_dense_backward_stub(capsys):
    def stub(dz, x, W):
        raise NotImplementedError()

    fb = ch1.check_dense_backward(stub)
    assert not fb and fb.message.startswith(NOT_IMPLEMENTED)
    assert NOT_IMPLEMENTED in capsys.readouterr().out


def hidden_delta_right(delta_next, W_next, z):
    return (delta_next @ W_next.T) * (z > 0)


def test_hidden_delta_right_answer(capsys):
    assert ch1.check_hidden_delta(hidden_delta_right)
    assert capsys.readouterr().out.strip() == "✔ hidden_delta: correct"


def test_hidden_delta_with_helpers_pieces_passes():
    assert ch1.check_hidden_delta(lambda d, W, z: nn.activation_backward(d @ W.T, nn.activation_forward(z, "relu")[1]))


@pytest.mark.parametrize("wrong, phrase", [
    (lambda d, W, z: d @ W.T, "f'(z) is missing"),
    (lambda d, W, z: (d @ W) * (z > 0), "W^{l+1} is not transposed"),
    (lambda d, W, z: (d @ W.T) * np.maximum(z, 0), "multiplied by relu(z) = a^l instead of relu'(z)"),
    (lambda d, W, z: (d @ W.T) * nn.sigmoid_derivative(z), "multiplied by σ'(z)"),
    (lambda d, W, z: (d @ W.T) * (z < 0), "the result differs from the reference"),
])
def test_hidden_delta_wrong_answers_are_named(wrong, phrase):
    fb = ch1.check_hidden_delta(wrong)
    assert not fb and phrase in fb.message


def test_hidden_delta_right_only_for_a_square_layer():
    def square_only(d, W, z):
        return hidden_delta_right(d, W, z) if W.shape[0] == W.shape[1] else d @ W.T

    fb = ch1.check_hidden_delta(square_only)
    assert not fb
    assert fb.message.startswith("right for a square W_next but not for W_next of shape (4, 2)")
    assert "f'(z) is missing" in fb.message


def test_hidden_delta_stub():
    def stub(delta_next, W_next, z):
        raise NotImplementedError()

    assert ch1.check_hidden_delta(stub).message.startswith(NOT_IMPLEMENTED)


def test_every_named_mistake_differs_from_the_right_answer_and_from_the_others():
    """Each named mistake is recognisable: no two (and none with the answer) coincide."""
    for case in (ch1._SQUARE, ch1._OBLONG):
        dz, x, W = ch1._dense_case(*case, seed=101)
        right = dense_backward_right(dz, x, W)
        variants = [right, *ch1._dense_mistakes(dz, x, W).values()]
        for i, a in enumerate(variants):
            for b in variants[i + 1:]:
                same = all(np.shape(p) == np.shape(q) and np.allclose(p, q) for p, q in zip(a, b))
                assert not same


def distinct(variants) -> bool:
    """No two answers (each a dict of parts or an array) coincide."""
    def same(p, q):
        if isinstance(p, dict):
            return p.keys() == q.keys() and all(same(p[k], q[k]) for k in p)
        return np.shape(p) == np.shape(q) and np.allclose(p, q)
    return not any(same(a, b) for i, a in enumerate(variants) for b in variants[i + 1:])


# --------------------------------------------------------------------------------------
# notebook 02: l2_penalty
# --------------------------------------------------------------------------------------

def weights(params):
    return {k: v for k, v in params.items() if k.startswith("W")}


def l2_penalty_right(params, l2):
    penalty = l2 * sum(np.sum(W ** 2) for W in weights(params).values())
    return penalty, {k: 2 * l2 * v if k.startswith("W") else np.zeros_like(v) for k, v in params.items()}


def l2_with(penalty, grad_W, grad_b=np.zeros_like):
    """A student's l2_penalty from a penalty(params, l2) and a gradient rule for W (and b)."""
    def student(params, l2):
        return penalty(params, l2), {k: grad_W(v, l2) if k.startswith("W") else grad_b(v) for k, v in params.items()}
    return student


def sum_sq(params):
    return sum(np.sum(W * W) for W in weights(params).values())


def test_l2_penalty_right_answer(capsys):
    assert ch1.check_l2_penalty(l2_penalty_right)
    assert capsys.readouterr().out.strip() == "✔ l2_penalty: correct"


def test_l2_penalty_with_lists_and_a_float_passes():
    def as_lists(params, l2):
        penalty, grads = l2_penalty_right(params, l2)
        return float(penalty), {k: v.tolist() for k, v in grads.items()}

    assert ch1.check_l2_penalty(as_lists)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda params, l2: (l2 * sum(np.sum(v * v) for v in params.values()),
                         {k: 2 * l2 * v for k, v in params.items()}), "the biases are penalised too"),
    (l2_with(lambda P, l2: l2 * sum_sq(P), lambda W, l2: 2 * l2 * W, lambda b: 2 * ch1._L2 * b),
     "the biases are penalised too"),                                    # gradient only
    (lambda params, l2: (l2 * sum(np.sum(v * v) for v in params.values()), l2_penalty_right(params, l2)[1]),
     "the biases are penalised too"),                                    # penalty only
    (l2_with(lambda P, l2: l2 * sum_sq(P), lambda W, l2: l2 * W), "the factor 2 is missing in the gradient"),
    (l2_with(lambda P, l2: 0.5 * l2 * sum_sq(P), lambda W, l2: l2 * W), "the ½λ convention is mixed in"),
    (l2_with(lambda P, l2: l2 * sum(np.abs(W).sum() for W in weights(P).values()), lambda W, l2: l2 * np.sign(W)),
     "the penalty is not squared"),
    (l2_with(lambda P, l2: l2 * sum(np.abs(W).sum() for W in weights(P).values()), lambda W, l2: 2 * l2 * W),
     "the penalty is not squared"),                                      # penalty only
    (l2_with(lambda P, l2: l2 * sum(np.mean(W * W) for W in weights(P).values()), lambda W, l2: 2 * l2 * W / W.size),
     "divided by the number of weights in each layer"),
    (l2_with(lambda P, l2: l2 * sum_sq(P) / 18, lambda W, l2: 2 * l2 * W / 18),
     "the penalty is divided by the number of weights: "),
    (l2_with(lambda P, l2: l2 * sum_sq(P), lambda W, l2: -2 * l2 * W), "the gradient has the wrong sign"),
    (l2_with(lambda P, l2: l2 * sum(np.linalg.norm(W) for W in weights(P).values()),
             lambda W, l2: l2 * W / np.linalg.norm(W)), "the norm is used instead of the squared norm"),
    (l2_with(lambda P, l2: l2 * np.sqrt(sum_sq(P)), lambda W, l2: 2 * l2 * W),
     "the norm of all weights together is used instead of the squared norm"),
    (l2_with(lambda P, l2: l2 * sum_sq(P) + 1, lambda W, l2: 2 * l2 * W), "penalty differs from the reference; "
                                                                          "largest difference: yours"),
    (l2_with(lambda P, l2: l2 * sum_sq(P), lambda W, l2: 2 * l2 * W + (W.shape == (3, 2))),
     "grads['W2'] differs from the reference; largest difference at index (0, 0)"),
])
def test_l2_penalty_wrong_answers_are_named(wrong, phrase, capsys):
    fb = ch1.check_l2_penalty(wrong)
    assert not fb and phrase in fb.message
    assert capsys.readouterr().out.startswith("✘ l2_penalty: ")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda params, l2: {"W1": params["W1"]}, "expected a tuple (penalty, grads), got dict"),
    (lambda params, l2: l2_penalty_right(params, l2)[0], "expected a tuple (penalty, grads), got float"),
    (lambda params, l2: (None, l2_penalty_right(params, l2)[1]), "the penalty should be one number, got NoneType None"),
    (lambda params, l2: (np.array([1.0, 2.0]), l2_penalty_right(params, l2)[1]),
     "the penalty has shape (2,), expected ()"),
    (lambda params, l2: (0.1, list(l2_penalty_right(params, l2)[1].values())),
     "grads should be a dict with keys W1, b1, W2, b2, got list"),
    (lambda params, l2: (0.1, {k: v for k, v in l2_penalty_right(params, l2)[1].items() if k.startswith("W")}),
     "grads has no 'b1', 'b2': expected one gradient per parameter, keys W1, b1, W2, b2 (the biases are not "
     "penalised: their gradients are zeros)"),
    (lambda params, l2: (0.1, {**l2_penalty_right(params, l2)[1], "W3": 0}), "grads has unexpected keys 'W3'"),
    (lambda params, l2: (0.1, {**l2_penalty_right(params, l2)[1], "b1": 0.0}),
     "grads['b1'] has shape (), expected (3,) (the shape of b1)"),
    (lambda params, l2: (0.1, {**l2_penalty_right(params, l2)[1], "W2": 2 * l2 * params["W2"].T}),
     "grads['W2'] has shape (2, 3), expected (3, 2) (the shape of W2)"),
    (lambda params, l2: (0.1, {**l2_penalty_right(params, l2)[1], "b2": "zeros"}),
     "grads['b2'] should be an array of numbers of shape (2,), got str 'zeros' (the shape of b2)"),
])
def test_l2_penalty_wrong_structure_is_named(wrong, phrase):
    fb = ch1.check_l2_penalty(wrong)
    assert not fb and phrase in fb.message


def test_l2_penalty_stub_and_crash():
    def stub(params, l2):
        raise NotImplementedError()

    def crashes(params, l2):
        return l2 * sum(np.sum(W @ W) for W in params.values()), {}

    assert ch1.check_l2_penalty(stub).message.startswith(NOT_IMPLEMENTED)
    assert ch1.check_l2_penalty(crashes).message.startswith("your code raised ValueError: matmul")


def test_l2_variants_are_distinct():
    right, mistakes = ch1._l2_variants(ch1._mlp_params(), ch1._L2)
    assert distinct([right, *(m for _, m in mistakes)])
    assert len({explanation for explanation, _ in mistakes}) == len(mistakes)


# --------------------------------------------------------------------------------------
# notebook 02: dropout_backward
# --------------------------------------------------------------------------------------

def test_dropout_backward_right_answer(capsys):
    assert ch1.check_dropout_backward(lambda dout, keep, rate: dout * keep / (1 - rate))
    assert capsys.readouterr().out.strip() == "✔ dropout_backward: correct"
    assert ch1.check_dropout_backward(lambda dout, keep, rate: np.where(keep, dout / (1 - rate), 0.0))


@pytest.mark.parametrize("wrong, phrase", [
    (lambda dout, keep, rate: dout * keep, "the scaling 1/(1 − rate) is missing"),
    (lambda dout, keep, rate: dout * keep * (1 - rate), "multiplied by (1 − rate) instead of divided"),
    (lambda dout, keep, rate: dout / (1 - rate), "the mask is ignored"),
    (lambda dout, keep, rate: dout * ~keep / (1 - rate), "the mask is inverted"),
    (lambda dout, keep, rate: dout * keep / rate, "scaled by 1/rate instead of 1/(1 − rate)"),
    (lambda dout, keep, rate: dout * keep / 0.8, "right for rate 0.2 but not for rate 0.6 (dout of shape (2, 3, 4)): "
                                                 "the result differs from the reference"),
    (lambda dout, keep, rate: (dout * keep / (1 - rate)).ravel(), "dx has shape (20,), expected (4, 5)"),
    (lambda dout, keep, rate: None, "dx should be an array of numbers of shape (4, 5), got NoneType None"),
    (lambda dout, keep, rate: np.full(dout.shape, "x"), "dx should be an array of numbers of shape (4, 5), "
                                                        "got an array of shape (4, 5) and dtype <U1"),
])
def test_dropout_backward_wrong_answers_are_named(wrong, phrase, capsys):
    fb = ch1.check_dropout_backward(wrong)
    assert not fb and phrase in fb.message
    assert capsys.readouterr().out.startswith("✘ dropout_backward: ")


def test_dropout_backward_stub_and_crash():
    def stub(dout, keep, rate):
        raise NotImplementedError()

    assert ch1.check_dropout_backward(stub).message.startswith(NOT_IMPLEMENTED)
    fb = ch1.check_dropout_backward(lambda dout, keep, rate: dout @ keep / (1 - rate))
    assert not fb and fb.message.startswith("your code raised ValueError")


def test_dropout_variants_are_distinct():
    for i, (shape, rate) in enumerate((((4, 5), 0.2), ((2, 3, 4), 0.6))):
        dout, keep, rate = ch1._dropout_case(shape, rate, seed=401 + i)
        assert keep.any() and not keep.all()
        assert distinct([dout * keep / (1 - rate), dout * keep, dout * keep * (1 - rate), dout / (1 - rate),
                         dout * ~keep / (1 - rate), dout * keep / rate])


# --------------------------------------------------------------------------------------
# notebook 01: tanh_backward, the loop (BP2)-(BP4)
# --------------------------------------------------------------------------------------

def tanh_backward_with(fprime=lambda z_l, a_l: 1 - np.tanh(z_l) ** 2, transpose=True, a_index=lambda i: i - 1):
    """A student's loop over the layers, with one piece swappable for a mistake."""
    def backward(delta_L, a, z, W):
        L = len(W)
        grads, delta = {}, delta_L
        for l in range(L, 0, -1):  # noqa: E741 -- the layer index of (BP2)-(BP4)
            grads[f"W{l}"] = a[a_index(l)].T @ delta
            grads[f"b{l}"] = delta.sum(axis=0)
            if l > 1:
                delta = (delta @ (W[l - 1].T if transpose else W[l - 1])) * fprime(z[l - 2], a[l - 1])
        return grads
    return backward


def tanh_backward_output_first(delta_L, a, z, W, off_by_one=False):
    """The output layer before the loop, then the hidden layers (a common way to write it)."""
    L = len(W)
    grads = {f"W{L}": a[L - 1].T @ delta_L, f"b{L}": delta_L.sum(axis=0)}
    delta = delta_L
    for l in range(L - 1, 0, -1):  # noqa: E741 -- the layer index of (BP2)-(BP4)
        delta = (delta @ W[l].T) * (1 - a[l] ** 2)
        grads[f"W{l}"] = a[l if off_by_one else l - 1].T @ delta
        grads[f"b{l}"] = delta.sum(axis=0)
    return grads


def test_tanh_backward_right_answers(capsys):
    assert ch1.check_tanh_backward(tanh_backward_with())
    assert capsys.readouterr().out.strip() == "✔ tanh_backward: correct"
    assert ch1.check_tanh_backward(tanh_backward_with(fprime=lambda z_l, a_l: 1 - a_l ** 2))   # 1 − (a^l)²
    assert ch1.check_tanh_backward(tanh_backward_with(fprime=lambda z_l, a_l: nn.tanh_derivative(z_l)))
    assert ch1.check_tanh_backward(tanh_backward_output_first)


def test_tanh_backward_agrees_with_helpers_layers():
    def via_helpers(delta_L, a, z, W):
        grads, delta = {}, delta_L
        for l in range(len(W), 0, -1):  # noqa: E741 -- the layer index of (BP2)-(BP4)
            _, cache = nn.dense_forward(a[l - 1], W[l - 1], np.zeros(W[l - 1].shape[1]))
            da, grads[f"W{l}"], grads[f"b{l}"] = nn.dense_backward(delta, cache)
            if l > 1:
                delta = nn.activation_backward(da, nn.activation_forward(z[l - 2], "tanh")[1])
        return grads

    assert ch1.check_tanh_backward(via_helpers)


@pytest.mark.parametrize("wrong, phrase", [
    (tanh_backward_with(fprime=lambda z_l, a_l: z_l > 0), "relu' is used instead of tanh'"),
    (tanh_backward_with(fprime=lambda z_l, a_l: 1 - np.tanh(z_l)), "tanh'(z) is written 1 − tanh(z)"),
    (tanh_backward_with(fprime=lambda z_l, a_l: 1 - a_l), "tanh'(z) is written 1 − tanh(z)"),
    (tanh_backward_with(fprime=lambda z_l, a_l: 1 - z_l ** 2), "tanh'(z) is written 1 − z²"),
    (tanh_backward_with(fprime=lambda z_l, a_l: 1), "f'(z^l) is missing"),
    (tanh_backward_with(transpose=False), "W^{l+1} is not transposed"),
    (lambda *args: tanh_backward_output_first(*args, off_by_one=True), "(BP3) uses a^l instead of a^{l−1}"),
    (tanh_backward_with(a_index=lambda i: i - 2), "(BP3) uses a^{l−2} instead of a^{l−1}"),
    (tanh_backward_with(a_index=lambda i: i), "your code raised IndexError: list index out of range (a = [a^0, "),
    (tanh_backward_with(fprime=lambda z_l, a_l: 1 - a_l ** 2 + 0.1), "grads['W2'] differs from the reference"),
])
def test_tanh_backward_wrong_answers_are_named(wrong, phrase, capsys):
    fb = ch1.check_tanh_backward(wrong)
    assert not fb and phrase in fb.message
    assert capsys.readouterr().out.startswith("✘ tanh_backward: ")


def test_tanh_backward_right_only_when_all_layers_have_one_size():
    def square_only(delta_L, a, z, W):
        backward = tanh_backward_with(transpose=W[0].shape[0] == W[0].shape[1])
        return backward(delta_L, a, z, W)

    fb = ch1.check_tanh_backward(square_only)
    assert not fb
    assert fb.message.startswith("right when every layer has size 3 but not for sizes 4 -> 3 -> 5 -> 2: "
                                 "your code raised ValueError")

    def transposed_dw(delta_L, a, z, W):
        grads = tanh_backward_with()(delta_L, a, z, W)
        return {k: v.T if k.startswith("W") else v for k, v in grads.items()}

    assert "∂C/∂W^l is transposed" in ch1.check_tanh_backward(transposed_dw).message

    def transposed_dw_unless_square(delta_L, a, z, W):
        return tanh_backward_with()(delta_L, a, z, W) if len(W[0]) == 3 else transposed_dw(delta_L, a, z, W)

    fb = ch1.check_tanh_backward(transposed_dw_unless_square)
    assert fb.message == ("right when every layer has size 3 but not for sizes 4 -> 3 -> 5 -> 2: "
                          "grads['W1'] has shape (3, 4), expected (4, 3) (the shape of W1)")


@pytest.mark.parametrize("wrong, phrase", [
    (lambda delta_L, a, z, W: [delta_L] * 6, "grads should be a dict with keys W1, b1, W2, b2, W3, b3, got list"),
    (lambda delta_L, a, z, W: {k: v for k, v in tanh_backward_with()(delta_L, a, z, W).items() if k != "b3"},
     "grads has no 'b3'"),
    (lambda delta_L, a, z, W: {**tanh_backward_with()(delta_L, a, z, W), "b2": None},
     "grads['b2'] should be an array of numbers of shape (3,), got NoneType None"),
    (lambda delta_L, a, z, W: {**tanh_backward_with()(delta_L, a, z, W), "b1": delta_L.sum(axis=0, keepdims=True)},
     "grads['b1'] has shape (1, 3), expected (3,)"),
])
def test_tanh_backward_wrong_structure_is_named(wrong, phrase):
    fb = ch1.check_tanh_backward(wrong)
    assert not fb and phrase in fb.message


def test_tanh_backward_student_may_consume_its_inputs():
    def consumes(delta_L, a, z, W):
        grads = tanh_backward_with()(delta_L, a, z, W)
        a.clear(), z.clear(), W.clear()       # the lists the check passed in, not the check's own
        return grads

    assert ch1.check_tanh_backward(consumes)


def test_tanh_backward_stub():
    def stub(delta_L, a, z, W):
        raise NotImplementedError()

    assert ch1.check_tanh_backward(stub).message.startswith(NOT_IMPLEMENTED)


def test_tanh_case_is_a_forward_pass_and_its_mistakes_are_distinct():
    for i, (N, sizes) in enumerate((ch1._TANH_SQUARE, ch1._TANH_OBLONG)):
        delta_L, a, z, W = args = ch1._tanh_case(N, sizes, seed=501 + i)
        assert [x.shape[1] for x in a] == list(sizes[:-1]) and delta_L.shape == (N, sizes[-1])
        assert all(np.array_equal(a_l, np.tanh(z_l)) for a_l, z_l in zip(a[1:], z))
        assert all((z_l > 0).any() and (z_l < 0).any() for z_l in z)
        right = ch1._as_parts(ch1._tanh_backward(*args))
        mistakes = ch1._tanh_mistakes(*args)
        assert len(mistakes) == (8 if i == 0 else 4)
        assert distinct([right, *(m for _, m in mistakes)])


# --------------------------------------------------------------------------------------
# notebook 02: ppv_at_prevalence
# --------------------------------------------------------------------------------------

def ppv_right(se, sp, pi):
    return se * pi / (se * pi + (1 - sp) * (1 - pi))


def test_ppv_at_prevalence_right_answer(capsys):
    assert ch1.check_ppv_at_prevalence(ppv_right)
    assert capsys.readouterr().out.strip() == "✔ ppv_at_prevalence: correct"
    assert ch1.check_ppv_at_prevalence(lambda se, sp, pi: metrics.ppv_npv_at_prevalence(se, sp, pi)[0])


@pytest.mark.parametrize("wrong, phrase", [
    (lambda se, sp, pi: ppv_right(sp, se, pi), "sensitivity and specificity are swapped"),
    (lambda se, sp, pi: sp * (1 - pi) / (sp * (1 - pi) + (1 - se) * pi), "that is the NPV"),
    (lambda se, sp, pi: se / (se + 1 - sp), "the prevalence is ignored"),
    (lambda se, sp, pi: se * pi / (se * pi + (1 - sp) * pi), "the prevalence is ignored"),   # FP weighted by π
    (lambda se, sp, pi: se * pi / (se * pi + 1 - sp), "the false positives are not weighted by (1 − π)"),
    (lambda se, sp, pi: se * pi / (se * pi + sp * (1 - pi)), "the false positives use sp instead of (1 − sp)"),
    (lambda se, sp, pi: se * pi, "only the numerator se·π"),
    (lambda se, sp, pi: ppv_right(se, sp, pi) if pi < 0.1 else 0.5,
     "for sensitivity 0.8, specificity 0.9, prevalence 0.3: your PPV is 0.5, expected 0.774194"),
    (lambda se, sp, pi: [ppv_right(se, sp, pi)], "for sensitivity 0.93, specificity 0.97, prevalence 0.01: "
                                                 "the PPV has shape (1,), expected ()"),
    (lambda se, sp, pi: f"{ppv_right(se, sp, pi):.2f}", "the PPV should be one number, got str '0.24'"),
    (lambda se, sp, pi: None, "the PPV should be one number, got NoneType None"),
])
def test_ppv_at_prevalence_wrong_answers_are_named(wrong, phrase, capsys):
    fb = ch1.check_ppv_at_prevalence(wrong)
    assert not fb and phrase in fb.message
    assert capsys.readouterr().out.startswith("✘ ppv_at_prevalence: ")


def test_ppv_at_prevalence_stub_and_crash():
    def stub(se, sp, pi):
        raise NotImplementedError()

    assert ch1.check_ppv_at_prevalence(stub).message.startswith(NOT_IMPLEMENTED)
    fb = ch1.check_ppv_at_prevalence(lambda se, sp, pi: se * pi / 0)
    assert not fb and "your code raised ZeroDivisionError: float division by zero" in fb.message


def test_ppv_variants_are_distinct():
    for se, sp, pi in ch1._PREVALENCE_CASES:
        variants = [ppv_right(se, sp, pi), ppv_right(sp, se, pi), sp * (1 - pi) / (sp * (1 - pi) + (1 - se) * pi),
                    se / (se + 1 - sp), se * pi / (se * pi + 1 - sp), se * pi / (se * pi + sp * (1 - pi)), se * pi]
        assert distinct(variants)
