"""Evaluation of a binary diagnostic model as a clinician reads it.

Thin, tested wrappers over scikit-learn (which computes every count and curve): the
confusion matrix at a threshold turned into sensitivity, specificity, PPV and NPV, and the
threshold that reaches a required sensitivity (screening) or specificity (confirmation).
Convention: label 1 = the disease (positive), 0 = healthy; p = predicted probability of 1.

    sensitivity = TP / (TP + FN)   share of sick patients the test finds (recall)
    specificity = TN / (TN + FP)   share of healthy patients it clears
    PPV         = TP / (TP + FP)   chance a positive result is right (precision)
    NPV         = TN / (TN + FN)   chance a negative result is right
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["BinaryReport", "binary_report", "threshold_for_sensitivity", "threshold_for_specificity"]


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
    _, tpr, thresholds = roc_curve(y, p)
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
    fpr, _, thresholds = roc_curve(y, p)
    ok = np.flatnonzero(1 - fpr >= target)  # specificity falls as the threshold falls
    return float(min(thresholds[ok[-1]], 1.0))
