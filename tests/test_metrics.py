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


def _brute_force_thresholds(y, p, target):
    """(highest score with sensitivity >= target, lowest score with specificity >= target), by
    trying every observed score as the threshold, and 1.0 (above every score here: no positive)."""
    scores = np.r_[np.unique(p), 1.0]
    positive = p[:, None] >= scores[None, :]           # (N, candidates)
    sens = positive[y == 1].mean(axis=0)
    spec = (~positive[y == 0]).mean(axis=0)
    return scores[sens >= target].max(), scores[spec >= target].min()


def test_thresholds_on_a_straight_run_of_the_roc_curve():
    # the benign scores 0.8 ... 0.65 lie on one straight run of the ROC curve, whose inner points
    # roc_curve's drop_intermediate=True skips, and with them the threshold asked for
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0, 0, 0])
    p = np.array([0.95, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.4, 0.1])
    assert metrics.threshold_for_specificity(y, p, 0.6) == _brute_force_thresholds(y, p, 0.6)[1]
    assert metrics.threshold_for_sensitivity(y, p, 0.6) == _brute_force_thresholds(y, p, 0.6)[0]


@pytest.mark.parametrize("seed", range(20))
def test_thresholds_agree_with_trying_every_score(seed):
    r = np.random.default_rng(seed)
    n = int(r.integers(5, 60))
    y = np.r_[0, 1, r.integers(0, 2, n - 2)]
    p = r.integers(0, 20, n) / 20                           # in [0, 0.95], with many ties
    for target in (0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 1.0):
        highest_sens, lowest_spec = _brute_force_thresholds(y, p, target)
        assert metrics.threshold_for_sensitivity(y, p, target) == highest_sens, target
        assert metrics.threshold_for_specificity(y, p, target) == lowest_spec, target


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


# --------------------------------------------------------------------------------------
# proportion_ci: scipy's intervals against their closed forms
# --------------------------------------------------------------------------------------

def wilson_by_hand(k, n, level=0.95):
    """The Wilson score interval from its closed form (independent of scipy's binomtest)."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * np.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


def clopper_pearson_by_hand(k, n, level=0.95):
    """The exact interval from beta quantiles: P(X >= k) = α/2 at low, P(X <= k) = α/2 at high."""
    from scipy.stats import beta

    a = (1 - level) / 2
    low = beta.ppf(a, k, n - k + 1) if k > 0 else 0.0
    high = beta.ppf(1 - a, k + 1, n - k) if k < n else 1.0
    return low, high


def test_wilson_interval_of_39_of_42():
    low, high = metrics.proportion_ci(39, 42)
    assert (low, high) == pytest.approx(wilson_by_hand(39, 42), abs=1e-12)
    assert (round(low, 3), round(high, 3)) == (0.810, 0.975)
    assert type(low) is float and type(high) is float


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("k, n", [(39, 42), (3, 10), (1, 7), (50, 100)])
def test_intervals_match_the_closed_forms(k, n, level):
    assert metrics.proportion_ci(k, n, level) == pytest.approx(wilson_by_hand(k, n, level), abs=1e-12)
    assert metrics.proportion_ci(k, n, level, "exact") == pytest.approx(clopper_pearson_by_hand(k, n, level),
                                                                        abs=1e-10)


@pytest.mark.parametrize("method", ["wilson", "exact"])
def test_interval_holds_the_estimate_and_widens_with_the_level(method):
    for n in (1, 2, 5, 13, 42, 500):
        for k in range(0, n + 1, max(1, n // 7)):
            low, high = metrics.proportion_ci(k, n, method=method)
            assert 0 <= low <= k / n <= high <= 1
            low90, high90 = metrics.proportion_ci(k, n, 0.9, method)
            assert low <= low90 and high90 <= high and high90 - low90 < high - low


def test_exact_is_wider_than_wilson_at_small_n():
    for k, n in [(0, 5), (1, 5), (2, 10), (9, 10), (3, 12)]:
        w, e = metrics.proportion_ci(k, n), metrics.proportion_ci(k, n, method="exact")
        assert e[1] - e[0] > w[1] - w[0]


def test_no_and_all_successes():
    n, a = 20, 0.025
    assert metrics.proportion_ci(0, n, method="exact") == pytest.approx((0.0, 1 - a ** (1 / n)))
    assert metrics.proportion_ci(n, n, method="exact") == pytest.approx((a ** (1 / n), 1.0))
    low, high = metrics.proportion_ci(0, n)
    assert low == pytest.approx(0, abs=1e-15) and 0 < high < 0.2
    low, high = metrics.proportion_ci(n, n)
    assert 0.8 < low < 1 and high == pytest.approx(1, abs=1e-15)
    assert metrics.proportion_ci(1, 1) == pytest.approx(wilson_by_hand(1, 1))


def test_whole_numbers_of_any_type_are_counts():
    expected = metrics.proportion_ci(39, 42)
    assert metrics.proportion_ci(39.0, 42.0) == expected
    assert metrics.proportion_ci(np.int64(39), np.int32(42)) == expected
    assert metrics.proportion_ci(39, 42, np.float64(0.95)) == expected


@pytest.mark.parametrize("args, match", [
    ((43, 42), "k must be between 0 and n, got k 43 and n 42"),
    ((-1, 42), "k must be between 0 and n, got k -1 and n 42"),
    ((0, 0), "n must be at least 1 patient, got n 0"),
    ((0, -3), "n must be at least 1 patient, got n -3"),
    ((2.5, 10), "k must be a whole number of patients, got 2.5"),
    ((2, 10.5), "n must be a whole number of patients, got 10.5"),
    ((True, 10), "k must be a whole number of patients, got True"),
    (("3", 10), "k must be a whole number of patients, got '3'"),
    ((3, float("nan")), "n must be a whole number of patients, got nan"),
    ((3, 10, 95), r"level must be a confidence level in \(0, 1\), e.g. 0.95, got 95"),
    ((3, 10, 1.0), r"level must be a confidence level in \(0, 1\), e.g. 0.95, got 1.0"),
    ((3, 10, 0), r"level must be a confidence level in \(0, 1\), e.g. 0.95, got 0"),
    ((3, 10, 0.95, "wald"), "method must be 'wilson' or 'exact', got 'wald'"),
])
def test_proportion_ci_bad_input_is_named(args, match):
    with pytest.raises(ValueError, match=f"^proportion_ci: {match}"):
        metrics.proportion_ci(*args)


# --------------------------------------------------------------------------------------
# BinaryReport.intervals and with_ci on a known confusion matrix
# --------------------------------------------------------------------------------------

def known_report(tp=39, fn=3, tn=68, fp=4):
    """binary_report on patients built to give these counts at threshold 0.5."""
    y = np.r_[np.ones(tp + fn), np.zeros(tn + fp)].astype(int)
    p = np.r_[np.full(tp, 0.9), np.full(fn, 0.2), np.full(tn, 0.1), np.full(fp, 0.7)]
    return metrics.binary_report(y, p, 0.5)


def test_intervals_carry_the_counts_of_each_rate():
    r = known_report()
    assert (r.tp, r.fn, r.tn, r.fp) == (39, 3, 68, 4)
    rates = r.intervals()
    assert list(rates) == ["sensitivity", "specificity", "ppv", "npv", "accuracy"]
    counts = {name: (rate.k, rate.n) for name, rate in rates.items()}
    assert counts == {"sensitivity": (39, 42), "specificity": (68, 72), "ppv": (39, 43), "npv": (68, 71),
                      "accuracy": (107, 114)}
    for name, rate in rates.items():
        assert isinstance(rate, metrics.Rate)
        assert rate.value == getattr(r, name) == rate.k / rate.n
        assert (rate.low, rate.high) == pytest.approx(wilson_by_hand(rate.k, rate.n), abs=1e-12)
    exact = r.intervals(0.9, "exact")["specificity"]
    assert (exact.low, exact.high) == pytest.approx(clopper_pearson_by_hand(68, 72, 0.9))


def test_undefined_rate_has_nan_interval_not_an_error():
    r = metrics.binary_report(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.7]))
    rates = r.intervals()
    sens = rates["sensitivity"]
    assert (sens.k, sens.n) == (0, 0) and np.isnan([sens.value, sens.low, sens.high]).all()
    assert (rates["ppv"].k, rates["ppv"].n) == (0, 1) and rates["ppv"].high < 1
    assert (rates["specificity"].k, rates["specificity"].n) == (2, 3)
    assert "sensitivity undefined (0/0)" in r.with_ci()
    assert r.with_ci().splitlines()[-1] == "prevalence  0.000 (0/3; PPV and NPV hold at this prevalence only)"


def test_with_ci_text():
    text = known_report().with_ci()
    assert text.splitlines() == [
        "threshold 0.50: TP 39, FN 3, TN 68, FP 4 (95% Wilson score intervals)",
        "sensitivity 0.929 (39/42; 95% CI 0.810-0.975)",
        "specificity 0.944 (68/72; 95% CI 0.866-0.978)",
        "PPV         0.907 (39/43; 95% CI 0.784-0.963)",
        "NPV         0.958 (68/71; 95% CI 0.883-0.986)",
        "accuracy    0.939 (107/114; 95% CI 0.879-0.970)",
        "prevalence  0.368 (42/114; PPV and NPV hold at this prevalence only)",
    ]
    exact = known_report().with_ci(0.9, "exact").splitlines()
    assert exact[0].endswith("(90% exact Clopper-Pearson intervals)")
    low, high = clopper_pearson_by_hand(39, 42, 0.9)
    assert exact[1] == f"sensitivity 0.929 (39/42; 90% CI {low:.3f}-{high:.3f})"


def test_str_is_unchanged():
    """Stored notebook outputs print a BinaryReport: its text must not change."""
    assert str(known_report()) == ("threshold 0.50: TP 39, FN 3, TN 68, FP 4 | sensitivity 0.929, specificity 0.944, "
                                   "PPV 0.907, NPV 0.958, accuracy 0.939")


@pytest.mark.parametrize("kwargs, match", [
    ({"level": 1.5}, r"^BinaryReport.intervals: level must be a confidence level in \(0, 1\), e.g. 0.95, got 1.5"),
    ({"method": "wald"}, "^BinaryReport.intervals: method must be 'wilson' or 'exact', got 'wald'"),
])
def test_intervals_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        known_report().intervals(**kwargs)
    with pytest.raises(ValueError, match=match):
        known_report().with_ci(**kwargs)


# --------------------------------------------------------------------------------------
# ppv_npv_at_prevalence: Bayes' rule
# --------------------------------------------------------------------------------------

def test_bayes_reproduces_the_counts_at_the_sample_prevalence():
    for counts in [(39, 3, 68, 4), (10, 7, 90, 25), (5, 0, 3, 1)]:
        r = known_report(*counts)
        prevalence = (r.tp + r.fn) / (r.tp + r.fn + r.tn + r.fp)
        ppv, npv = metrics.ppv_npv_at_prevalence(r.sensitivity, r.specificity, prevalence)
        assert ppv == pytest.approx(r.ppv, abs=1e-12) and npv == pytest.approx(r.npv, abs=1e-12)
        assert type(ppv) is float and type(npv) is float


def test_bayes_by_natural_frequencies():
    # 10 000 patients, prevalence 1 %: 100 sick -> 93 found, 7 missed; 9 900 healthy -> 297 false alarms
    ppv, npv = metrics.ppv_npv_at_prevalence(0.93, 0.97, 0.01)
    assert ppv == pytest.approx(93 / (93 + 297)) and npv == pytest.approx(9603 / (9603 + 7))


def test_bayes_limits_and_arrays():
    prevalence = np.array([0.0, 1e-9, 0.5, 1 - 1e-9, 1.0])
    ppv, npv = metrics.ppv_npv_at_prevalence(0.9, 0.8, prevalence)
    assert ppv.shape == npv.shape == (5,)
    assert ppv[0] == 0 and ppv[1] < 1e-8 and ppv[-2] > 1 - 1e-8 and ppv[-1] == 1
    assert npv[0] == 1 and npv[1] > 1 - 1e-8 and npv[-2] < 1e-8 and npv[-1] == 0
    assert np.all(np.diff(ppv) > 0) and np.all(np.diff(npv) < 0)
    assert ppv[2] == pytest.approx(0.9 / (0.9 + 0.2)) and npv[2] == pytest.approx(0.8 / (0.8 + 0.1))
    se, sp = np.array([[0.9], [0.6]]), np.array([0.8, 0.95, 0.99])
    assert metrics.ppv_npv_at_prevalence(se, sp, 0.1)[0].shape == (2, 3)


def test_bayes_zero_over_zero_is_nan_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ppv, npv = metrics.ppv_npv_at_prevalence(0.9, 1.0, 0.0)      # no positives at all
        assert np.isnan(ppv) and npv == 1.0
        ppv, npv = metrics.ppv_npv_at_prevalence(np.array([0.9, 1.0]), 0.0, 1.0)
        assert np.array_equal(ppv, [1.0, 1.0]) and np.isnan(npv[1])


@pytest.mark.parametrize("args, match", [
    ((1.2, 0.9, 0.1), r"sensitivity must be in \[0, 1\] \(no NaN\), got \[1.2\]"),
    ((0.9, np.nan, 0.1), r"specificity must be in \[0, 1\] \(no NaN\), got \[nan\]"),
    ((0.9, 0.9, np.array([0.1, -0.1, 2.0])), r"prevalence must be in \[0, 1\] \(no NaN\), got \[-0.1, 2.0\]"),
    ((0.9, 0.9, "low"), "prevalence must be a number or an array of numbers in \\[0, 1\\], got 'low'"),
    ((np.full(2, 0.9), np.full(3, 0.9), 0.1), r"sensitivity, specificity and prevalence must broadcast together, "
                                                r"got shapes \(2,\), \(3,\) and \(\)"),
])
def test_bayes_bad_input_is_named(args, match):
    with pytest.raises(ValueError, match="^ppv_npv_at_prevalence: " + match):
        metrics.ppv_npv_at_prevalence(*args)


# --------------------------------------------------------------------------------------
# auc_ci: bootstrap over patients
# --------------------------------------------------------------------------------------

def scores(rng, n, separation=0.3):
    y = (rng.random(n) < 0.37).astype(int)
    return y, np.clip(separation * y + (1 - separation) * rng.random(n), 0, 1)


def test_auc_ci_holds_the_auc_and_is_deterministic(rng):
    from sklearn.metrics import roc_auc_score

    y, p = scores(rng, 114)
    auc, low, high = metrics.auc_ci(y, p)
    assert auc == roc_auc_score(y, p) and low < auc < high and 0 < high - low < 0.3
    assert all(type(v) is float for v in (auc, low, high))
    assert metrics.auc_ci(y, p) == (auc, low, high)
    assert metrics.auc_ci(y, p, seed=1) != (auc, low, high)
    _, low90, high90 = metrics.auc_ci(y, p, level=0.9)
    assert low < low90 < high90 < high


def test_auc_ci_is_scipys_percentile_interval(rng):
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    y, p = scores(rng, 80)
    res = bootstrap((y, p), lambda a, b: roc_auc_score(a, b), n_resamples=300, vectorized=False, paired=True,
                    method="percentile", random_state=np.random.default_rng(7))
    assert np.isfinite(res.bootstrap_distribution).all()
    _, low, high = metrics.auc_ci(y, p, n_resamples=300, seed=7)
    assert (low, high) == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_vectorised_auc_is_sklearns(rng):
    from sklearn.metrics import roc_auc_score

    y = rng.integers(0, 2, (50, 30))
    p = np.round(rng.random((50, 30)), 1)       # many ties between sick and healthy
    expected = [roc_auc_score(a, b) for a, b in zip(y, p)]
    assert metrics._auc_of_rows(y, p) == pytest.approx(expected, abs=1e-12)
    assert metrics._auc_of_rows(y.T, p.T, axis=0) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(metrics._auc_of_rows(np.array([1, 1, 1]), np.array([0.1, 0.5, 0.7])))


def test_auc_ci_narrows_with_more_patients():
    widths = []
    for n in (60, 240, 960):
        y, p = scores(np.random.default_rng(n), n)
        auc, low, high = metrics.auc_ci(y, p)
        assert low < auc < high
        widths.append(high - low)
    assert widths[0] > 1.5 * widths[1] > 1.5 * 1.5 * widths[2]


def test_auc_ci_drops_one_class_resamples():
    import warnings

    y, p = np.array([0, 1, 0, 1, 1]), np.array([0.2, 0.6, 0.7, 0.9, 0.4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auc, low, high = metrics.auc_ci(y, p, n_resamples=500)
    assert auc == pytest.approx(4 / 6) and 0 <= low < auc < high <= 1


def test_auc_ci_is_quick(rng):
    import time

    y, p = scores(rng, 114)
    metrics.auc_ci(y, p, n_resamples=10)          # imports
    start = time.perf_counter()
    metrics.auc_ci(y, p)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("y, p, kwargs, match", [
    (np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]), {}, r"y_true must hold both classes \(0 and 1\) for an AUC, "
                                                         r"got \[0\] in 3 patients"),
    (np.array([0, 1]), np.array([0.5]), {}, r"y_true and p must be 1-D of one length, "
                                                r"got y_true \(2,\) and p \(1,\)"),
    (np.array([0, 1]), np.array([0.5, np.nan]), {}, r"p must be probabilities in \[0, 1\] \(no NaN\)"),
    (np.array([0, 1]), np.array([0.2, 0.5]), {"level": 95}, r"level must be a confidence level in \(0, 1\)"),
    (np.array([0, 1]), np.array([0.2, 0.5]), {"n_resamples": 0}, "n_resamples must be a positive integer, got 0"),
    (np.array([0, 1]), np.array([0.2, 0.5]), {"n_resamples": 20.5}, "n_resamples must be a positive integer, "
                                                                     "got 20.5"),
])
def test_auc_ci_bad_input_is_named(y, p, kwargs, match):
    with pytest.raises(ValueError, match="^auc_ci: " + match):
        metrics.auc_ci(y, p, **kwargs)


# --------------------------------------------------------------------------------------
# auc_difference_ci: paired bootstrap of the difference of two AUCs on the same patients
# --------------------------------------------------------------------------------------

def two_models(rng, n, separation=0.3):
    """Labels and two correlated models' scores for the same patients."""
    y, p_a = scores(rng, n, separation)
    p_b = np.clip(p_a + 0.15 * rng.normal(size=n), 0, 1)     # b: a noisier copy of a
    return y, p_a, p_b


def test_auc_difference_holds_the_point_difference(rng):
    from sklearn.metrics import roc_auc_score

    y, p_a, p_b = two_models(rng, 114)
    diff, low, high = metrics.auc_difference_ci(y, p_a, p_b)
    assert diff == pytest.approx(roc_auc_score(y, p_a) - roc_auc_score(y, p_b), abs=1e-15)
    assert low < diff < high
    assert metrics.auc_difference_ci(y, p_a, p_b) == (diff, low, high)     # the seed fixes the resamples


def test_auc_difference_of_a_model_with_itself_is_zero_with_zero_width(rng):
    y, p_a, _ = two_models(rng, 60)
    assert metrics.auc_difference_ci(y, p_a, p_a.copy(), n_resamples=300) == (0.0, 0.0, 0.0)


def test_auc_difference_is_antisymmetric(rng):
    y, p_a, p_b = two_models(rng, 90)
    diff, low, high = metrics.auc_difference_ci(y, p_a, p_b, n_resamples=500, seed=3)
    assert metrics.auc_difference_ci(y, p_b, p_a, n_resamples=500, seed=3) == pytest.approx(
        (-diff, -high, -low), abs=1e-12)


def test_auc_difference_is_the_paired_per_resample_difference_of_sklearn_aucs(rng):
    """Slow reference: the same resample indices as scipy.stats.bootstrap(paired=True), sklearn AUCs."""
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    y, p_a, p_b = two_models(rng, 70)

    def diff_of_resample(yy, aa, bb):
        return roc_auc_score(yy, aa) - roc_auc_score(yy, bb)

    res = bootstrap((y, p_a, p_b), diff_of_resample, n_resamples=300, vectorized=False, paired=True,
                    method="percentile", random_state=np.random.default_rng(11))
    assert np.isfinite(res.bootstrap_distribution).all()
    _, low, high = metrics.auc_difference_ci(y, p_a, p_b, n_resamples=300, seed=11)
    assert (low, high) == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_paired_interval_is_narrower_than_the_unpaired_one(rng):
    """Two strongly correlated models: pairing cancels the shared patient-to-patient noise."""
    y, p_a, p_b = two_models(rng, 114)
    _, low, high = metrics.auc_difference_ci(y, p_a, p_b)
    r = np.random.default_rng(0)
    unpaired = []
    for _ in range(2000):
        i, j = r.integers(0, len(y), len(y)), r.integers(0, len(y), len(y))
        unpaired.append(metrics._auc_of_rows(y[i], p_a[i]) - metrics._auc_of_rows(y[j], p_b[j]))
    u_low, u_high = np.nanquantile(unpaired, [0.025, 0.975])
    assert high - low < 0.6 * (u_high - u_low)


def test_auc_difference_drops_one_class_resamples():
    import warnings

    y = np.array([0, 1, 0, 1, 1])
    p_a, p_b = np.array([0.2, 0.6, 0.7, 0.9, 0.4]), np.array([0.1, 0.8, 0.3, 0.9, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diff, low, high = metrics.auc_difference_ci(y, p_a, p_b, n_resamples=500)
    assert diff == pytest.approx(4 / 6 - 5 / 6) and np.isfinite([low, high]).all() and low <= diff <= high


@pytest.mark.parametrize("y, p_a, p_b, kwargs, match", [
    (np.array([0, 1, 1]), np.array([0.1, 0.2]), np.array([0.1, 0.2, 0.3]), {},
     r"y_true, p_a and p_b must be 1-D of one length, got y_true \(3,\), p_a \(2,\) and p_b \(3,\)"),
    (np.array([0, 1, 1]), np.array([0.1, 0.2, 0.3]), np.array([[0.1, 0.2, 0.3]]), {},
     r"y_true, p_a and p_b must be 1-D of one length, got y_true \(3,\), p_a \(3,\) and p_b \(1, 3\)"),
    (np.array([1, 1, 1]), np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]), {},
     r"y_true must hold both classes \(0 and 1\) for an AUC, got \[1\] in 3 patients"),
    (np.array([0, 1]), np.array([0.2, 0.5]), np.array([0.2, np.nan]), {}, r"p must be probabilities in \[0, 1\]"),
    (np.array([0, 2]), np.array([0.2, 0.5]), np.array([0.2, 0.5]), {}, r"y_true must hold only 0 and 1"),
    (np.array([0, 1]), np.array([0.2, 0.5]), np.array([0.2, 0.5]), {"level": 1.0}, r"level must be a confidence"),
    (np.array([0, 1]), np.array([0.2, 0.5]), np.array([0.2, 0.5]), {"n_resamples": -1}, "n_resamples must be a "
                                                                                          "positive integer, got -1"),
])
def test_auc_difference_bad_input_is_named(y, p_a, p_b, kwargs, match):
    with pytest.raises(ValueError, match="^auc_difference_ci: " + match):
        metrics.auc_difference_ci(y, p_a, p_b, **kwargs)


# --------------------------------------------------------------------------------------
# calibration_table
# --------------------------------------------------------------------------------------

def test_calibration_table_equals_a_loop(rng):
    p = np.r_[rng.random(300), 0.0, 0.1, 0.3, 1.0, 1.0]          # edges and p = 1 included
    y = (rng.random(p.size) < p).astype(int)
    edges = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
    table = metrics.calibration_table(y, p, edges)
    assert len(table) == 6 and sum(b.n for b in table) == p.size
    for b, (lo, hi) in zip(table, zip(edges[:-1], edges[1:])):
        rows = [i for i in range(p.size) if lo <= p[i] < hi or (hi == 1.0 and p[i] == 1.0)]
        k = sum(int(y[i]) for i in rows)
        assert (b.low, b.high, b.n, b.k) == (lo, hi, len(rows), k)
        assert b.mean_p == pytest.approx(sum(p[i] for i in rows) / len(rows))
        assert b.observed == k / len(rows)
        assert (b.ci_low, b.ci_high) == metrics.proportion_ci(k, len(rows))
    assert table[-1].n == sum(0.9 <= v <= 1.0 for v in p)        # p = 1 lands in the last bin


def test_calibration_table_empty_bins_level_and_method():
    table = metrics.calibration_table([0, 1, 1], [0.05, 0.95, 0.97], edges=[0, 0.5, 1])
    assert (table[0].n, table[0].k, table[1].n, table[1].k) == (1, 0, 2, 2)
    empty = metrics.calibration_table([0, 1], [0.05, 0.95], edges=[0, 0.2, 0.8, 1])[1]
    assert empty.n == 0 and empty.k == 0 and np.isnan([empty.mean_p, empty.observed, empty.ci_low]).all()
    exact = metrics.calibration_table([0, 1, 1], [0.05, 0.95, 0.97], edges=[0, 0.5, 1], level=0.9, method="exact")
    assert (exact[1].ci_low, exact[1].ci_high) == metrics.proportion_ci(2, 2, 0.9, "exact")


@pytest.mark.parametrize("kwargs, match", [
    ({"edges": [0.1, 0.5, 1]}, r"edges must increase strictly from 0 to 1 .* got \[0.1, 0.5, 1\]"),
    ({"edges": [0, 0.5, 0.9]}, r"edges must increase strictly from 0 to 1"),
    ({"edges": [0, 0.5, 0.5, 1]}, r"edges must increase strictly"),
    ({"edges": [0]}, r"at least two numbers"),
    ({"edges": "0 1"}, r"edges must be a sequence of numbers from 0 to 1"),
    ({"level": 95}, r"level must be a confidence level in \(0, 1\)"),
    ({"method": "wald"}, r"method must be 'wilson' or 'exact', got 'wald'"),
])
def test_calibration_table_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.calibration_table([0, 1], [0.2, 0.8], **kwargs)


def test_calibration_table_rejects_bad_labels_and_probabilities():
    with pytest.raises(ValueError, match=r"calibration_table: y_true and p must be 1-D of one length"):
        metrics.calibration_table([0, 1, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match=r"calibration_table: p must be probabilities in \[0, 1\]"):
        metrics.calibration_table([0, 1], [0.2, 1.5])


def test_auc_ci_in_batches_equals_one_vectorised_bootstrap():
    """auc_ci resamples in batches (bounded memory); the interval is that of one unbatched call."""
    import inspect

    from scipy.stats import bootstrap

    from helpers.metrics import _auc_of_rows

    rng = np.random.default_rng(7)
    y = (rng.random(600) < 0.1).astype(int)
    p = (rng.random(600) + 0.8 * y) / 1.8
    key = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"
    whole = bootstrap((y, p), _auc_of_rows, n_resamples=1100, vectorized=True, paired=True, method="percentile",
                      **{key: np.random.default_rng(3)})
    dist = np.asarray(whole.bootstrap_distribution)
    expected = np.quantile(dist[np.isfinite(dist)], [0.025, 0.975])
    _, low, high = metrics.auc_ci(y, p, n_resamples=1100, seed=3)
    np.testing.assert_allclose([low, high], expected, rtol=0, atol=0)


def test_auc_ci_memory_does_not_grow_with_the_resamples():
    """2000 resamples of 5,000 patients at once need about 650 MiB; in batches of 250, about an eighth."""
    import tracemalloc

    rng = np.random.default_rng(8)
    y = (rng.random(5_000) < 0.05).astype(int)
    p = (rng.random(5_000) + y) / 2
    tracemalloc.start()
    metrics.auc_ci(y, p, n_resamples=2000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20, f"auc_ci peaked at {peak / 2**20:.0f} MiB"
