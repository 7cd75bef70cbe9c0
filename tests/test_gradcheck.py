"""Tests for helpers.gradcheck: the checker must pass correct gradients and catch wrong ones.

A gradient checker that always says "ok" is worse than none, so every test here has a
known answer: closed-form gradients it must reproduce, the O(h²) error of the centred
difference it must show, and deliberately wrong gradients it must report with their worst
entry.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.gradcheck import (
    GradCheckResult,
    gradient_check,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)

# --------------------------------------------------------------------------------------
# rel_error
# --------------------------------------------------------------------------------------


def test_rel_error_known_values():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(3.0, 1.0) == pytest.approx(0.5)                 # |3 − 1| / (3 + 1)
    assert rel_error(np.array([1.0, -1.0]), np.array([-1.0, 1.0])) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0                # 0 / max(1e-8, 0)
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(0.1)   # floor 1e-8
    assert rel_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_rel_error_is_per_entry_so_a_large_entry_cannot_hide_a_wrong_small_one():
    a = np.array([1000.0, 1e-3])
    b = np.array([1000.0, 2e-3])                                     # the small entry is off by 2x
    assert rel_error(a, b) == pytest.approx(1 / 3)
    assert rel_error(a, b) == rel_error(b, a)


def test_rel_error_refuses_different_shapes():
    with pytest.raises(ValueError, match=r"rel_error: shapes differ, a \(3,\) and b \(3, 1\)"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


# --------------------------------------------------------------------------------------
# numerical_gradient
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4), (2, 3, 2)])
def test_numerical_gradient_of_closed_form_functions(rng, shape):
    x = rng.normal(size=shape)
    A = rng.normal(size=(x.size, x.size))
    cases = [
        (lambda t: np.sum(t ** 3), 3 * x ** 2),
        (lambda t: np.sum(np.sin(t)) + np.prod(np.shape(t)), np.cos(x)),
        (lambda t: t.ravel() @ A @ t.ravel(), ((A + A.T) @ x.ravel()).reshape(shape)),
        (lambda t: np.log(np.sum(np.exp(t))), np.exp(x) / np.sum(np.exp(x))),
    ]
    for f, exact in cases:
        num = numerical_gradient(f, x)
        assert num.shape == x.shape and num.dtype == np.float64
        assert rel_error(num, exact) < 1e-7


def test_plain_centred_difference_has_error_h_squared():
    # f(x) = x³: the centred difference (1) is exactly 3x² + h² (a forward difference would
    # be 3x² + 3xh + h², error O(h))
    x = np.array([1.0, -2.0])
    for h in (1e-2, 1e-3):
        num = numerical_gradient(lambda t: np.sum(t ** 3), x, h=h, richardson=False)
        np.testing.assert_allclose(num - 3 * x ** 2, h * h, rtol=1e-4)


def test_richardson_step_cancels_the_h_squared_term():
    # f(x) = x⁵: D(h) = 5x⁴ + 10x²h² + h⁴, so (4 D(h/2) − D(h)) / 3 = 5x⁴ − h⁴/4 exactly
    x = np.array([1.0, -2.0, 0.5])
    h = 1e-2
    num = numerical_gradient(lambda t: np.sum(t ** 5), x, h=h)
    np.testing.assert_allclose(num - 5 * x ** 4, -h ** 4 / 4, rtol=1e-3)
    plain = numerical_gradient(lambda t: np.sum(t ** 5), x, h=h, richardson=False)
    np.testing.assert_allclose(plain - 5 * x ** 4, 10 * x ** 2 * h ** 2 + h ** 4, rtol=1e-6)


@pytest.mark.parametrize("richardson,calls_per_entry", [(True, 4), (False, 2)])
def test_numerical_gradient_restores_x_and_reads_it_afresh(rng, richardson, calls_per_entry):
    x = rng.normal(size=(3, 2))
    before = x.copy()
    calls = []

    def f(_):
        calls.append(x.copy())
        return np.sum(x ** 2)                  # reads the closed-over array, not the argument

    num = numerical_gradient(f, x, richardson=richardson)
    np.testing.assert_array_equal(x, before)   # restored bit for bit
    assert len(calls) == calls_per_entry * x.size
    # every call saw exactly one entry moved
    assert all(np.count_nonzero(c != before) == 1 for c in calls)
    assert rel_error(num, 2 * before) < 1e-7


@pytest.mark.parametrize("bad", [np.zeros(3, dtype=np.float32), np.zeros(3, dtype=np.int64), [0.0, 1.0]])
def test_numerical_gradient_requires_a_float64_array(bad):
    with pytest.raises(ValueError, match=r"numerical_gradient: x must be a float64 ndarray"):
        numerical_gradient(lambda t: 0.0, bad)


# --------------------------------------------------------------------------------------
# numerical_gradient_array
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("N,D,M", [(1, 1, 1), (4, 3, 2), (2, 5, 1)])
def test_numerical_gradient_array_of_a_matrix_product(rng, N, D, M):
    x, A, dy = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=(N, M))
    num = numerical_gradient_array(lambda t: t @ A, x, dy)
    assert rel_error(num, dy @ A.T) < 1e-7                   # ∂(Σ dy ⊙ xA)/∂x = dy Aᵀ
    num_A = numerical_gradient_array(lambda t: x @ t, A, dy)
    assert rel_error(num_A, x.T @ dy) < 1e-7


def test_numerical_gradient_array_of_an_elementwise_function(rng):
    x, dy = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert rel_error(numerical_gradient_array(np.tanh, x, dy), dy * (1 - np.tanh(x) ** 2)) < 1e-7


def test_numerical_gradient_array_names_both_shapes():
    with pytest.raises(ValueError, match=r"dy has shape \(2, 3\) but g\(x\) has shape \(3, 2\)"):
        numerical_gradient_array(lambda t: t, np.zeros((3, 2)), np.zeros((2, 3)))


# --------------------------------------------------------------------------------------
# gradient_check
# --------------------------------------------------------------------------------------


def _quadratic(rng):
    """C(W, b) = Σ (xW + b − t)² with its exact gradients."""
    x, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}

    def loss():
        return float(np.sum((x @ params["W"] + params["b"] - t) ** 2))

    r = 2 * (x @ params["W"] + params["b"] - t)
    return loss, params, {"W": x.T @ r, "b": r.sum(axis=0)}


def test_gradient_check_passes_correct_gradients_and_leaves_params_alone(rng):
    loss, params, grads = _quadratic(rng)
    before = {k: v.copy() for k, v in params.items()}
    results = gradient_check(loss, params, grads)
    assert set(results) == {"W", "b"}
    for name, r in results.items():
        assert isinstance(r, GradCheckResult) and r.ok and r.rel_error < 1e-7, str(r)
        assert "ok" in str(r) and "MISMATCH" not in str(r)
        np.testing.assert_array_equal(params[name], before[name])


@pytest.mark.parametrize("index", [(0, 0), (2, 1), (1, 0)])
def test_gradient_check_reports_a_wrong_entry_with_its_index(rng, index):
    loss, params, grads = _quadratic(rng)
    wrong = dict(grads, W=grads["W"].copy())
    wrong["W"][index] += 0.5                                  # one deliberately wrong entry
    results = gradient_check(loss, params, wrong)
    r = results["W"]
    assert not r.ok and r.rel_error > 1e-3
    assert r.worst_index == index
    assert r.analytic == pytest.approx(wrong["W"][index])
    assert r.numeric == pytest.approx(grads["W"][index], rel=1e-6)
    text = str(r)
    assert "MISMATCH" in text and str(index) in text and "W" in text
    assert results["b"].ok                                     # the right one is still right


def test_gradient_check_catches_systematic_mistakes(rng):
    loss, params, grads = _quadratic(rng)
    for mistake in ({"W": grads["W"] / 5, "b": grads["b"]},          # divided by N by mistake
                    {"W": grads["W"], "b": -grads["b"]},              # sign error
                    {"W": grads["W"], "b": grads["b"] / 2}):          # factor 2 of the square lost
        results = gradient_check(loss, params, mistake)
        assert not all(r.ok for r in results.values())


def test_gradient_check_ok_threshold_is_1e_7():
    assert GradCheckResult("w", 9.9e-8, (0,), 1.0, 1.0).ok
    assert not GradCheckResult("w", 1.1e-7, (0,), 1.0, 1.0).ok


def test_gradient_check_input_errors(rng):
    loss, params, grads = _quadratic(rng)
    with pytest.raises(ValueError, match=r"no analytic gradient given for 'b'"):
        gradient_check(loss, params, {"W": grads["W"]})
    with pytest.raises(ValueError, match=r"gradient of 'W' has shape \(2, 3\) but W has shape \(3, 2\)"):
        gradient_check(loss, params, {"W": grads["W"].T, "b": grads["b"]})
