"""Exercise checks for chapter 1: dense networks (notebooks 01 and 02)."""

from __future__ import annotations

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
