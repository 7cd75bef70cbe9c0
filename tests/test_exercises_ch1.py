"""Chapter 1 exercise checks: right answers pass, typical wrong answers get named."""

from __future__ import annotations

import pytest

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
