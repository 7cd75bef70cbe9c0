"""Checks for the notebooks' exercises: specific feedback, not just "wrong".

Each chapter has a module (``helpers.exercises.ch1`` ...) whose ``check_*`` functions take
the student's function, run it on fixed inputs, compare with the reference implementation,
and, when the answer is wrong, recognise typical mistakes (a transposed matrix, a missing
bias, an off-by-one time step ...) by comparing with those wrong variants. Each check prints
its verdict and returns a :class:`Feedback` (truthy when correct), so a notebook can
``assert check_x(my_fn)`` in the solution copy while a student copy only prints.

A solution cell that still holds ``raise NotImplementedError()`` (the stub of a student copy)
gets "not implemented yet" feedback instead of crashing the notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Feedback", "NOT_IMPLEMENTED", "check_against"]

NOT_IMPLEMENTED = "not implemented yet"


@dataclass(frozen=True)
class Feedback:
    """The verdict of one check: ``ok``, and a message naming what is wrong."""

    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"{'✔' if self.ok else '✘'} {self.exercise}: {self.message}"


def _same(a, b, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def check_against(exercise: str, student: Callable[..., Any], args: tuple, expected,
                  mistakes: Mapping[str, Any] | None = None, *, rtol: float = 1e-6, atol: float = 1e-8,
                  show: bool = True) -> Feedback:
    """Run ``student(*args)`` and compare its result with ``expected``.

    expected: an array, or a tuple of arrays (compared entry by entry, named in the feedback
        by position: "output 2 of 3").
    mistakes: {explanation: what that mistake returns}; the first that matches the
        student's result is named in the feedback.
    Returns a Feedback; prints it too unless ``show=False``.
    """
    fb = _evaluate(exercise, student, args, expected, mistakes or {}, rtol, atol)
    if show:
        print(fb)
    return fb


def _evaluate(exercise, student, args, expected, mistakes, rtol, atol) -> Feedback:
    try:
        got = student(*args)
    except NotImplementedError:
        return Feedback(exercise, False, f"{NOT_IMPLEMENTED}: replace `raise NotImplementedError()` with your code")
    except Exception as err:  # the student's code raised: say what, do not crash the notebook
        return Feedback(exercise, False, f"your code raised {type(err).__name__}: {err}")
    many = isinstance(expected, tuple)
    exp = expected if many else (expected,)
    out = got if many else (got,)
    if many and (not isinstance(got, tuple) or len(got) != len(exp)):
        n = len(got) if isinstance(got, tuple) else 1
        return Feedback(exercise, False, f"expected a tuple of {len(exp)} results, got {n}")
    if all(_same(o, e, rtol, atol) for o, e in zip(out, exp)):
        return Feedback(exercise, True, "correct")
    for explanation, wrong in mistakes.items():
        wrong = wrong if many else (wrong,)
        if all(_same(o, w, rtol, atol) for o, w in zip(out, wrong)):
            return Feedback(exercise, False, explanation)
    for k, (o, e) in enumerate(zip(out, exp)):
        o, e = np.asarray(o), np.asarray(e)
        where = f"output {k + 1} of {len(exp)}" if many else "the result"
        if o.shape != e.shape:
            return Feedback(exercise, False, f"{where} has shape {o.shape}, expected {e.shape}")
        if not _same(o, e, rtol, atol):
            i = np.unravel_index(int(np.argmax(np.abs(o - e))), e.shape) if e.size else ()
            return Feedback(exercise, False, f"{where} differs from the reference; largest difference at index "
                                             f"{tuple(int(j) for j in i)}: yours {float(o[i]):.6g}, "
                                             f"expected {float(e[i]):.6g}")
    return Feedback(exercise, False, "wrong answer")  # unreachable in practice
