"""The shared exercise-check machinery: right, wrong-with-a-name, wrong shape, stub, crash."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.exercises import NOT_IMPLEMENTED, Feedback, check_against

X = np.arange(6.0).reshape(2, 3)
W = np.arange(12.0).reshape(3, 4) / 10
B = np.ones(4)


def reference(x, w, b):
    return x @ w + b


MISTAKES = {"you forgot the bias b": X @ W}


def test_right_answer_is_accepted(capsys):
    fb = check_against("dense", reference, (X, W, B), reference(X, W, B), MISTAKES)
    assert fb and fb.ok and fb.message == "correct"
    assert capsys.readouterr().out.strip() == "✔ dense: correct"


def test_a_known_mistake_is_named():
    fb = check_against("dense", lambda x, w, b: x @ w, (X, W, B), reference(X, W, B), MISTAKES, show=False)
    assert not fb and fb.message == "you forgot the bias b"


def test_an_unknown_mistake_points_at_the_worst_entry():
    fb = check_against("dense", lambda x, w, b: x @ w + 2 * b, (X, W, B), reference(X, W, B), MISTAKES, show=False)
    assert not fb and "largest difference at index" in fb.message and "expected" in fb.message


def test_wrong_shape_is_reported_with_both_shapes():
    fb = check_against("dense", lambda x, w, b: (x @ w + b).T, (X, W, B), reference(X, W, B), show=False)
    assert not fb and fb.message == "the result has shape (4, 2), expected (2, 4)"


def test_stub_gives_not_implemented_feedback_not_a_crash():
    def stub(x, w, b):
        raise NotImplementedError()

    fb = check_against("dense", stub, (X, W, B), reference(X, W, B), show=False)
    assert not fb and fb.message.startswith(NOT_IMPLEMENTED)


def test_crashing_code_is_reported():
    fb = check_against("dense", lambda x, w, b: x @ b, (X, W, B), reference(X, W, B), show=False)
    assert not fb and fb.message.startswith("your code raised ValueError")


def test_tuples_are_compared_entry_by_entry():
    exp = (np.zeros(2), np.ones(3))
    assert check_against("pair", lambda: (np.zeros(2), np.ones(3)), (), exp, show=False)
    fb = check_against("pair", lambda: (np.zeros(2), np.zeros(3)), (), exp, show=False)
    assert "output 2 of 2" in fb.message
    fb = check_against("pair", lambda: np.zeros(2), (), exp, show=False)
    assert fb.message == "expected a tuple of 2 results, got 1"


@pytest.mark.parametrize("ok", [True, False])
def test_feedback_is_truthy_only_when_ok(ok):
    assert bool(Feedback("e", ok, "m")) is ok
