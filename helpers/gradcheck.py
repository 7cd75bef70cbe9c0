"""Numerical gradients by centred differences refined by one Richardson extrapolation step,
and the relative error used to compare them.

For a scalar function f(x) the centred difference

    ∂f/∂x_i ≈ (f(x + h e_i) - f(x - h e_i)) / (2h)                                   (1)

has error O(h²). In float64 its absolute error is ~1e-10 at best, which is not enough for
``rel_error < 1e-7`` on the occasional gradient entry of size ~1e-4. One Richardson step,

    D_R(h) = (4 D(h/2) - D(h)) / 3,      D(h) = the centred difference (1),             (1R)

cancels the h² term of the error, leaving O(h⁴), and allows a larger h (1e-3) that keeps
round-off small: a correct gradient then agrees to ~1e-9. That is the default here
(``richardson=False`` gives plain (1), the formula the notebooks derive). For an array function
y = g(x) and an upstream gradient dy = ∂L/∂y, the gradient of L = Σ dy ⊙ g(x) is

    ∂L/∂x_i ≈ Σ_k dy_k (g(x + h e_i)_k - g(x - h e_i)_k) / (2h),                      (2)

which is exactly what a layer's ``backward(dy, cache)`` must return.

Always check in float64: float32 has ~7 significant digits, too few for (1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def rel_error(a, b) -> float:
    """max |a - b| / max(1e-8, |a| + |b|), over all entries (a and b of one shape).

    The denominator is taken entry by entry, so one tiny entry cannot hide a large one.
    0 for identical arrays; ~1e-10 for a correct float64 gradient; ~1 for a wrong one.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, a {a.shape} and b {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _check_float64(x: np.ndarray, func: str) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{func}: x must be a float64 ndarray (perturbed in place), got {got}")


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-3,
                       richardson: bool = True) -> np.ndarray:
    """∂f/∂x by centred differences: eq. (1R) by default, eq. (1) with ``richardson=False``.

    x: float64 array of any shape -> gradient of the same shape. ``x`` is perturbed in
    place, one entry at a time, and restored; f must read x afresh on every call (close
    over it), e.g. ``numerical_gradient(lambda _: loss(x, W), W)``.
    """
    _check_float64(x, "numerical_gradient")
    if richardson:
        return (4 * _centred_difference(f, x, h / 2) - _centred_difference(f, x, h)) / 3
    return _centred_difference(f, x, h)


def _centred_difference(f, x: np.ndarray, h: float) -> np.ndarray:
    """Eq. (1) for every entry of x."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(g: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dy: np.ndarray,
                             h: float = 1e-3) -> np.ndarray:
    """∂L/∂x for L = Σ dy ⊙ g(x), eq. (2), each entry by eq. (1R) (centred differences with steps h
    and h/2, combined by one Richardson step). x: any shape; dy: the shape of g(x) -> shape of x.
    """
    _check_float64(x, "numerical_gradient_array")
    dy = np.asarray(dy, dtype=np.float64)
    y = np.asarray(g(x))
    if y.shape != dy.shape:
        raise ValueError(f"numerical_gradient_array: dy has shape {dy.shape} but g(x) has shape {y.shape}")
    return numerical_gradient(lambda _: np.sum(dy * g(x)), x, h)


@dataclass(frozen=True)
class GradCheckResult:
    """Outcome of :func:`gradient_check` for one parameter."""

    name: str
    rel_error: float
    worst_index: tuple
    analytic: float
    numeric: float

    @property
    def ok(self) -> bool:
        return self.rel_error < 1e-7

    def __str__(self) -> str:
        flag = "ok" if self.ok else "MISMATCH"
        return (f"{self.name}: rel_error {self.rel_error:.1e} ({flag}); worst entry {self.worst_index}: "
                f"analytic {self.analytic:+.6e}, numerical {self.numeric:+.6e}")


def gradient_check(f: Callable[[], float], params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                   h: float = 1e-3) -> dict[str, GradCheckResult]:
    """Compare analytic gradients with numerical ones, eq. (1R), and report the worst entry of each.

    f: a function of no arguments that returns the scalar loss using the arrays in ``params``
       (which are perturbed in place, so f must read them when called).
    params: name -> float64 array; grads: name -> its analytic gradient (same shape).
    Returns name -> GradCheckResult (``.ok`` is rel_error < 1e-7; ``str()`` reads well).
    """
    results = {}
    for name, p in params.items():
        if name not in grads:
            raise ValueError(f"gradient_check: no analytic gradient given for {name!r}")
        g = np.asarray(grads[name], dtype=np.float64)
        if g.shape != p.shape:
            raise ValueError(f"gradient_check: gradient of {name!r} has shape {g.shape} but {name} has shape {p.shape}")
        num = numerical_gradient(lambda _: f(), p, h)
        err = np.abs(g - num) / np.maximum(1e-8, np.abs(g) + np.abs(num))
        worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
        results[name] = GradCheckResult(name, float(err.max()) if err.size else 0.0,
                                        tuple(int(i) for i in worst),
                                        float(g[worst]) if err.size else 0.0,
                                        float(num[worst]) if err.size else 0.0)
    return results
