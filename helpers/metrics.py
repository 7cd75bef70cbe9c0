"""Evaluation of a binary diagnostic model as a clinician reads it.

Thin, tested wrappers over scikit-learn (which computes every count and curve): the
confusion matrix at a threshold turned into sensitivity, specificity, PPV and NPV, and the
threshold that reaches a required sensitivity (screening) or specificity (confirmation).
Convention: label 1 = the disease (positive), 0 = healthy; p = predicted probability of 1.

    sensitivity = TP / (TP + FN)   share of sick patients the test finds (recall)
    specificity = TN / (TN + FP)   share of healthy patients it clears
    PPV         = TP / (TP + FP)   chance a positive result is right (precision)
    NPV         = TN / (TN + FN)   chance a negative result is right

Every rate is a proportion k/n of patients, so it comes with its counts and a confidence
interval (:func:`proportion_ci`, computed by scipy: Wilson score or exact Clopper-Pearson);
:meth:`BinaryReport.intervals` and :meth:`BinaryReport.with_ci` give all five at once.
PPV and NPV depend on the prevalence π of the disease where the test is used, not only on
the test: :func:`ppv_npv_at_prevalence` moves them to another π by Bayes' rule,

    PPV(π) = se·π / (se·π + (1 − sp)(1 − π))      NPV(π) = sp(1 − π) / (sp(1 − π) + (1 − se)π)

and :func:`auc_ci` gives the ROC AUC (scikit-learn) with a bootstrap interval over patients
(scipy.stats.bootstrap); :func:`auc_difference_ci` compares two models' AUCs on the same
patients by a paired bootstrap (both models scored on each resample).

Whether a predicted probability p can be read as a frequency (of the patients given p ≈ 0.8,
about 80% are sick) is a separate question from how well p ranks them (the AUC):
:func:`calibration_table` bins the patients by p and sets the mean p of each bin beside the
observed share of sick patients, with its interval (a reliability summary). Class weights,
resampling and a prevalence that differs from the training data's all break that reading.

"Patient" here means one row of ``y_true``/``p``: one case scored once. Every interval assumes
the rows are independent. Where one patient contributes several rows (several X-rays of one
child, several beats of one recording, duplicated images) they are not, and the intervals are
too narrow: count and resample whole patients instead, when the data say which rows belong
together.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["BinaryReport", "CalibrationBin", "Rate", "auc_ci", "auc_difference_ci", "binary_report",
           "calibration_table", "ppv_npv_at_prevalence", "proportion_ci", "threshold_for_sensitivity",
           "threshold_for_specificity"]


_CI_METHODS = {"wilson": "Wilson score", "exact": "exact Clopper-Pearson"}


class Rate(NamedTuple):
    """A rate as a proportion of patients: value = k / n, with the interval [low, high].

    value, low and high are nan when the rate is undefined (n = 0).
    """

    value: float
    k: int
    n: int
    low: float
    high: float


class BinaryReport(NamedTuple):
    """Counts and rates of a binary test at one threshold (rates are nan when undefined)."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    accuracy: float

    def __str__(self) -> str:
        return (f"threshold {self.threshold:.2f}: TP {self.tp}, FN {self.fn}, TN {self.tn}, FP {self.fp} | "
                f"sensitivity {self.sensitivity:.3f}, specificity {self.specificity:.3f}, "
                f"PPV {self.ppv:.3f}, NPV {self.npv:.3f}, accuracy {self.accuracy:.3f}")

    def _counts(self) -> dict[str, tuple[int, int]]:
        """{rate: (k, n)}: each rate is k / n."""
        return {"sensitivity": (self.tp, self.tp + self.fn), "specificity": (self.tn, self.tn + self.fp),
                "ppv": (self.tp, self.tp + self.fp), "npv": (self.tn, self.tn + self.fn),
                "accuracy": (self.tp + self.tn, self.tp + self.fp + self.tn + self.fn)}

    def intervals(self, level: float = 0.95, method: str = "wilson") -> dict[str, Rate]:
        """Each rate with its counts and confidence interval, {name: Rate(value, k, n, low, high)}.

        Names and counts: "sensitivity" TP / (TP + FN), "specificity" TN / (TN + FP),
        "ppv" TP / (TP + FP), "npv" TN / (TN + FN), "accuracy" (TP + TN) / N; the interval is
        ``proportion_ci(k, n, level, method)``. A rate with n = 0 (no sick patients, no positive
        results ...) is undefined: its value, low and high are nan. PPV and NPV hold at this
        sample's prevalence (TP + FN) / N only; see :func:`ppv_npv_at_prevalence`.
        """
        func = "BinaryReport.intervals"
        _check_level(level, func)
        _check_method(method, func)
        out = {}
        for name, (k, n) in self._counts().items():
            low, high = proportion_ci(k, n, level, method) if n else (math.nan, math.nan)
            out[name] = Rate(_ratio(k, n), k, n, low, high)
        return out

    def with_ci(self, level: float = 0.95, method: str = "wilson") -> str:
        """The threshold, the four counts, then one line per rate with its counts and interval::

            threshold 0.50: TP 39, FN 3, TN 68, FP 4 (95% Wilson score intervals)
            sensitivity 0.929 (39/42; 95% CI 0.810-0.975)
            ...
            prevalence  0.368 (42/114; PPV and NPV hold at this prevalence only)

        The last line is the sample's prevalence (TP + FN) / N, at which PPV and NPV were counted.
        """
        rates = self.intervals(level, method)    # validates level and method
        pct = f"{100 * float(level):g}%"
        lines = [f"threshold {self.threshold:.2f}: TP {self.tp}, FN {self.fn}, TN {self.tn}, FP {self.fp} "
                 f"({pct} {_CI_METHODS[method]} intervals)"]
        for name, r in rates.items():
            label = name.upper() if name in ("ppv", "npv") else name
            if r.n:
                lines.append(f"{label:<11} {r.value:.3f} ({r.k}/{r.n}; {pct} CI {r.low:.3f}-{r.high:.3f})")
            else:
                lines.append(f"{label:<11} undefined ({r.k}/{r.n})")
        sick, n = self.tp + self.fn, self.tp + self.fp + self.tn + self.fn
        if n:   # PPV and NPV depend on it: say which prevalence they hold at
            lines.append(f"prevalence  {sick / n:.3f} ({sick}/{n}; PPV and NPV hold at this prevalence only)")
        return "\n".join(lines)


def _check(y_true, p, func: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(p, dtype=np.float64)
    if y.ndim != 1 or p.shape != y.shape:
        raise ValueError(f"{func}: y_true and p must be 1-D of one length, got y_true {y.shape} and p {p.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{func}: y_true must hold only 0 and 1, got values {np.unique(y)[:5].tolist()}")
    if not np.all(np.isfinite(p)) or p.min(initial=0) < 0 or p.max(initial=0) > 1:
        raise ValueError(f"{func}: p must be probabilities in [0, 1] (no NaN)")
    return y.astype(np.int64), p


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def binary_report(y_true, p, threshold: float = 0.5) -> BinaryReport:
    """Confusion counts and clinical rates when "positive" means p >= threshold.

    y_true: (N,) 0/1; p: (N,) probabilities of class 1.
    """
    from sklearn.metrics import confusion_matrix

    y, p = _check(y_true, p, "binary_report")
    pred = (p >= threshold).astype(np.int64)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    return BinaryReport(float(threshold), tp, fp, tn, fn, _ratio(tp, tp + fn), _ratio(tn, tn + fp),
                        _ratio(tp, tp + fp), _ratio(tn, tn + fn), _ratio(tp + tn, len(y)))


def threshold_for_sensitivity(y_true, p, target: float) -> float:
    """The highest observed score whose sensitivity, as threshold, is at least ``target``.

    For a screening test.

    The highest such threshold keeps specificity as high as the target allows. Choose it on
    a validation split, then report the test split at that threshold.
    """
    from sklearn.metrics import roc_curve

    y, p = _check(y_true, p, "threshold_for_sensitivity")
    if not 0 < target <= 1:
        raise ValueError(f"threshold_for_sensitivity: target must be in (0, 1], got {target}")
    # every observed score is a candidate: the default drop_intermediate=True would skip scores
    # that lie on a straight run of the ROC curve, and with them the threshold asked for
    _, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    ok = np.flatnonzero(tpr >= target)  # tpr rises as the threshold falls
    return float(min(thresholds[ok[0]], 1.0))


def threshold_for_specificity(y_true, p, target: float) -> float:
    """The lowest observed score whose specificity, as threshold, is at least ``target``.

    For a confirmatory test.

    The lowest such threshold keeps sensitivity as high as the target allows.
    """
    from sklearn.metrics import roc_curve

    y, p = _check(y_true, p, "threshold_for_specificity")
    if not 0 < target <= 1:
        raise ValueError(f"threshold_for_specificity: target must be in (0, 1], got {target}")
    fpr, _, thresholds = roc_curve(y, p, drop_intermediate=False)   # every observed score, as above
    ok = np.flatnonzero(1 - fpr >= target)  # specificity falls as the threshold falls
    return float(min(thresholds[ok[-1]], 1.0))


# --------------------------------------------------------------------------------------
# intervals, prevalence and the AUC
# --------------------------------------------------------------------------------------

def _check_level(level, func: str) -> None:
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, float, np.integer, np.floating)) \
            or not 0 < level < 1:
        raise ValueError(f"{func}: level must be a confidence level in (0, 1), e.g. 0.95, got {level!r}")


def _check_method(method, func: str) -> None:
    if not isinstance(method, str) or method not in _CI_METHODS:
        raise ValueError(f"{func}: method must be 'wilson' or 'exact', got {method!r}")


def _whole(v, name: str, func: str) -> int:
    """v as an int if it is a whole number (3 or 3.0; not 2.5, not True, not "3"), else ValueError."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not float(v).is_integer():
        raise ValueError(f"{func}: {name} must be a whole number of patients, got {v!r}")
    return int(v)


def proportion_ci(k, n, level: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    """Confidence interval (low, high) for a proportion k / n of patients, by scipy.

    k: the number of "successes" (e.g. TP), n: the number of patients (e.g. TP + FN), 0 <= k <= n,
    n >= 1; level: the confidence level in (0, 1); method: "wilson" (Wilson score interval:
    close to the nominal level, never outside [0, 1]) or "exact" (Clopper-Pearson: at least the
    nominal level, wider). Computed as
    ``scipy.stats.binomtest(k, n).proportion_ci(confidence_level=level, method=method)``.
    Returns two floats with low <= k / n <= high (low = 0 when k = 0, high = 1 when k = n).
    """
    from scipy.stats import binomtest

    func = "proportion_ci"
    k, n = _whole(k, "k", func), _whole(n, "n", func)
    if n < 1:
        raise ValueError(f"{func}: n must be at least 1 patient, got n {n} (k {k})")
    if not 0 <= k <= n:
        raise ValueError(f"{func}: k must be between 0 and n, got k {k} and n {n}")
    _check_level(level, func)
    _check_method(method, func)
    ci = binomtest(k, n).proportion_ci(confidence_level=float(level), method=method)
    return float(ci.low), float(ci.high)


def _unit_interval(v, name: str, func: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: {name} must be a number or an array of numbers in [0, 1], got {v!r}") from None
    bad = ~((a >= 0) & (a <= 1))     # NaN fails both comparisons
    if bad.any():
        raise ValueError(f"{func}: {name} must be in [0, 1] (no NaN), got {a[bad][:5].tolist()}")
    return a


def ppv_npv_at_prevalence(sensitivity, specificity, prevalence):
    """PPV and NPV of a test with the given sensitivity and specificity at a prevalence π, Bayes' rule.

        PPV = se·π / (se·π + (1 − sp)(1 − π))      NPV = sp(1 − π) / (sp(1 − π) + (1 − se)π)

    (per patient: se·π are true positives, (1 − sp)(1 − π) false positives, sp(1 − π) true
    negatives, (1 − se)π false negatives). Arguments in [0, 1], numbers or arrays that
    broadcast together (e.g. an array of prevalences for a figure). Returns (ppv, npv): floats
    for numbers, arrays of the broadcast shape otherwise; 0/0 (e.g. PPV with π = 0 and sp = 1)
    is nan, without a warning. With π = the sample's own (TP + FN) / N this reproduces
    TP / (TP + FP) and TN / (TN + FN).
    """
    func = "ppv_npv_at_prevalence"
    se = _unit_interval(sensitivity, "sensitivity", func)
    sp = _unit_interval(specificity, "specificity", func)
    pi = _unit_interval(prevalence, "prevalence", func)
    try:
        np.broadcast_shapes(se.shape, sp.shape, pi.shape)
    except ValueError:
        raise ValueError(f"{func}: sensitivity, specificity and prevalence must broadcast together, got shapes "
                         f"{se.shape}, {sp.shape} and {pi.shape}") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        tp, fp = se * pi, (1 - sp) * (1 - pi)
        tn, fn = sp * (1 - pi), (1 - se) * pi
        ppv, npv = tp / (tp + fp), tn / (tn + fn)
    if ppv.ndim == 0:
        return float(ppv), float(npv)
    return ppv, npv


def _auc_of_rows(y, p, axis=-1):
    """ROC AUC of each row (along ``axis``) by the Mann-Whitney rank formula; nan for a one-class row.

    AUC = (Σ ranks of the positives − n1(n1 + 1)/2) / (n1·n0) with average ranks for ties, so a
    tied (sick, healthy) pair counts 1/2: the same number as sklearn's roc_auc_score.
    """
    from scipy.stats import rankdata

    y, p = np.moveaxis(y, axis, -1), np.moveaxis(p, axis, -1)
    pos = y == 1
    n1 = pos.sum(axis=-1)
    n0 = y.shape[-1] - n1
    ranks = rankdata(p, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.where(pos, ranks, 0).sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _check_resamples(n_resamples, func: str) -> None:
    if isinstance(n_resamples, (bool, np.bool_)) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 1:
        raise ValueError(f"{func}: n_resamples must be a positive integer, got {n_resamples!r}")


def _check_both_classes(y: np.ndarray, func: str) -> None:
    if len(y) == 0 or y.min() == y.max():
        raise ValueError(f"{func}: y_true must hold both classes (0 and 1) for an AUC, got "
                         f"{np.unique(y).tolist()} in {len(y)} patients")


def _bootstrap_over_patients(arrays, statistic, level: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """Percentile interval (low, high) of ``statistic(*arrays)`` over resamples of the patients.

    arrays: 1-D arrays of one length N (y first), resampled together: resample b draws N
    patient indices with replacement and every array is indexed with them (scipy.stats.bootstrap,
    ``paired=True``, generator ``np.random.default_rng(seed)``). statistic: vectorised along the
    last axis. Resamples whose statistic is nan (one class only: no AUC) are dropped; low and
    high are the (1 − level)/2 and (1 + level)/2 quantiles of the rest (nan if none is left).
    """
    from scipy.stats import DegenerateDataWarning, bootstrap

    gen = np.random.default_rng(seed)
    # scipy >= 1.15 calls the generator `rng`; earlier versions `random_state` (same stream)
    key = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)  # nan one-class resamples: dropped below
        # batch: at most 250 resamples per vectorised call, so memory stays O(250 N) for any
        # n_resamples; the generator's stream, hence the interval, is the same as in one call
        res = bootstrap(tuple(arrays), statistic, n_resamples=int(n_resamples), vectorized=True, paired=True,
                        confidence_level=float(level), method="percentile", batch=250, **{key: gen})
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    dist = dist[np.isfinite(dist)]
    if dist.size == 0:
        return math.nan, math.nan
    alpha = (1 - float(level)) / 2
    low, high = np.quantile(dist, [alpha, 1 - alpha])
    return float(low), float(high)


def auc_ci(y_true, p, level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """ROC AUC with a bootstrap percentile interval over patients: (auc, low, high).

    y_true: (N,) 0/1 with both classes; p: (N,) scores. auc is sklearn's ``roc_auc_score``.
    The interval: ``scipy.stats.bootstrap`` draws ``n_resamples`` resamples of the N patients
    with replacement, keeping each (y, p) pair together (``paired=True``, generator
    ``np.random.default_rng(seed)``: the same seed gives the same interval), and the AUC of
    each resample is computed at once by the rank formula (vectorised; the same number as
    roc_auc_score). A resample that holds one class only has no AUC: its statistic is nan and it
    is dropped; low and high are the (1 − level)/2 and (1 + level)/2 quantiles of the
    remaining resampled AUCs, which is scipy's percentile interval when none is dropped.
    """
    from sklearn.metrics import roc_auc_score

    func = "auc_ci"
    y, p = _check(y_true, p, func)
    _check_level(level, func)
    _check_resamples(n_resamples, func)
    _check_both_classes(y, func)
    auc = float(roc_auc_score(y, p))
    low, high = _bootstrap_over_patients((y, p), _auc_of_rows, level, n_resamples, seed)
    return auc, low, high


def _auc_difference_of_rows(y, p_a, p_b, axis=-1):
    return _auc_of_rows(y, p_a, axis) - _auc_of_rows(y, p_b, axis)


def auc_difference_ci(y_true, p_a, p_b, level: float = 0.95, n_resamples: int = 2000,
                      seed: int = 0) -> tuple[float, float, float]:
    """AUC of model a minus AUC of model b on the same patients, with a paired bootstrap interval.

    y_true: (N,) 0/1 with both classes; p_a, p_b: (N,) the two models' scores for the same N
    patients. Returns (diff, low, high): diff = roc_auc_score(y, p_a) − roc_auc_score(y, p_b),
    and the percentile interval of the same difference over ``n_resamples`` resamples of the
    patients. The resampling is **paired**: each resample draws N patients with replacement and
    scores both models on those same patients, so what the two AUCs share (which patients
    happened to be easy) cancels in the difference, as it must when two models are compared on
    one test set. Same generator, dropping of one-class resamples and quantiles as
    :func:`auc_ci`; swapping a and b negates the interval exactly. An interval that contains 0
    means these patients cannot tell the two models apart at this level.
    """
    from sklearn.metrics import roc_auc_score

    func = "auc_difference_ci"
    y_arr, a_arr, b_arr = np.asarray(y_true), np.asarray(p_a), np.asarray(p_b)
    if y_arr.ndim != 1 or a_arr.shape != y_arr.shape or b_arr.shape != y_arr.shape:
        raise ValueError(f"{func}: y_true, p_a and p_b must be 1-D of one length, got y_true {y_arr.shape}, "
                         f"p_a {a_arr.shape} and p_b {b_arr.shape}")
    y, p_a = _check(y_arr, a_arr, func)
    _, p_b = _check(y_arr, b_arr, func)
    _check_level(level, func)
    _check_resamples(n_resamples, func)
    _check_both_classes(y, func)
    diff = float(roc_auc_score(y, p_a) - roc_auc_score(y, p_b))
    low, high = _bootstrap_over_patients((y, p_a, p_b), _auc_difference_of_rows, level, n_resamples, seed)
    return diff, low, high


# --------------------------------------------------------------------------------------
# calibration: does p mean what it says?
# --------------------------------------------------------------------------------------

class CalibrationBin(NamedTuple):
    """One bin of :func:`calibration_table`: the patients with low <= p < high (<= high in the last bin).

    n: how many; mean_p: their mean predicted probability; k: how many of them are sick (y = 1);
    observed: k / n; ci_low, ci_high: the interval of k / n (``proportion_ci``). For an empty bin
    (n = 0) mean_p, observed, ci_low and ci_high are nan.
    """

    low: float
    high: float
    n: int
    mean_p: float
    k: int
    observed: float
    ci_low: float
    ci_high: float


def calibration_table(y_true, p, edges=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0), level: float = 0.95,
                      method: str = "wilson") -> list[CalibrationBin]:
    """A reliability summary: per bin of predicted probability, mean p against the observed share of y = 1.

    y_true: (N,) 0/1; p: (N,) predicted probabilities of class 1. edges: B + 1 increasing numbers
    from 0 to 1; bin b holds the patients with edges[b] <= p < edges[b + 1], the last bin also
    p = 1, so every patient falls in exactly one bin. Returns a list of B :class:`CalibrationBin`;
    the share observed in each bin comes with its ``proportion_ci(k, n, level, method)``.

    For calibrated probabilities mean_p lies inside [ci_low, ci_high] in most bins. A model
    trained with class weights, or used where the prevalence differs from its training data,
    is not calibrated: there p ranks the patients but is not the chance of disease.
    Raises ValueError for bad labels or probabilities (as :func:`binary_report`), bad edges,
    level or method.
    """
    func = "calibration_table"
    y, p = _check(y_true, p, func)
    try:
        e = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: edges must be a sequence of numbers from 0 to 1, got {edges!r}") from None
    if e.ndim != 1 or e.size < 2 or e[0] != 0 or e[-1] != 1 or not np.all(np.diff(e) > 0):
        raise ValueError(f"{func}: edges must increase strictly from 0 to 1 (at least two numbers), got "
                         f"{edges!r}")
    _check_level(level, func)
    _check_method(method, func)
    # bin index of each patient: edges[b] <= p < edges[b + 1]; p = 1 goes to the last bin
    which = np.minimum(np.searchsorted(e, p, side="right") - 1, e.size - 2)
    table = []
    for b in range(e.size - 1):
        rows = which == b
        n, k = int(rows.sum()), int(y[rows].sum())
        if n:
            low, high = proportion_ci(k, n, level, method)
            table.append(CalibrationBin(float(e[b]), float(e[b + 1]), n, float(p[rows].mean()), k, k / n, low, high))
        else:
            table.append(CalibrationBin(float(e[b]), float(e[b + 1]), 0, math.nan, 0, math.nan, math.nan, math.nan))
    return table
