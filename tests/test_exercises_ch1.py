"""Chapter 1 exercise checks: right answers pass, typical wrong answers get named."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import nn
from helpers.exercises import NOT_IMPLEMENTED, ch1


def right(tp, fp, tn, fn):
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
