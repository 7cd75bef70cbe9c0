"""helpers.metrics: counts and rates against a hand-counted example and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from helpers import metrics

Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.8, 0.4, 0.3, 0.7, 0.2, 0.1, 0.1, 0.05, 0.6])


def test_binary_report_by_hand():
    r = metrics.binary_report(Y, P, 0.5)
    assert (r.tp, r.fn, r.tn, r.fp) == (2, 2, 4, 2)
    assert (r.sensitivity, r.specificity, r.ppv, r.npv, r.accuracy) == (0.5, 4 / 6, 0.5, 4 / 6, 0.6)
    assert "sensitivity 0.500, specificity 0.667" in str(r)


def test_binary_report_agrees_with_sklearn(rng):
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
    for t in (0.2, 0.5, 0.8):
        r = metrics.binary_report(y, p, t)
        assert r.sensitivity == pytest.approx(recall_score(y, p >= t))
        assert r.specificity == pytest.approx(recall_score(1 - y, p < t))
        assert r.ppv == pytest.approx(precision_score(y, p >= t))


def test_undefined_rates_are_nan_not_an_error():
    r = metrics.binary_report(np.array([0, 0]), np.array([0.1, 0.2]))
    assert np.isnan(r.sensitivity) and np.isnan(r.ppv) and r.specificity == 1.0


def test_screening_threshold_reaches_the_sensitivity_and_is_the_highest_that_does():
    t = metrics.threshold_for_sensitivity(Y, P, 1.0)
    assert t == 0.3
    assert metrics.binary_report(Y, P, t).sensitivity == 1.0
    assert metrics.binary_report(Y, P, np.nextafter(t, 1)).sensitivity < 1.0
    assert metrics.threshold_for_sensitivity(Y, P, 0.5) == 0.8


def test_confirmatory_threshold_reaches_the_specificity_and_is_the_lowest_that_does():
    t = metrics.threshold_for_specificity(Y, P, 1.0)
    assert t == 0.8
    assert metrics.binary_report(Y, P, t).specificity == 1.0
    assert metrics.binary_report(Y, P, 0.7).specificity < 1.0  # the next lower observed score


@pytest.mark.parametrize("y, p, match", [
    (np.array([0, 1]), np.array([0.5]), r"got y_true \(2,\) and p \(1,\)"),
    (np.array([0, 2]), np.array([0.5, 0.5]), "only 0 and 1"),
    (np.array([0, 1]), np.array([0.5, 1.5]), r"probabilities in \[0, 1\]"),
    (np.array([0, 1]), np.array([0.5, np.nan]), "no NaN"),
])
def test_bad_input_is_named(y, p, match):
    with pytest.raises(ValueError, match=match):
        metrics.binary_report(y, p)


def test_bad_target():
    with pytest.raises(ValueError, match=r"target must be in \(0, 1\], got 1.5"):
        metrics.threshold_for_sensitivity(Y, P, 1.5)
