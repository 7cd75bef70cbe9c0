"""Input checks shared by the chapter modules.

Every public function validates its arrays and raises ``ValueError`` with a message that
names the function, the argument, what was expected and what was received, e.g.
``dense_forward: x has 3 features but W expects 4 (x (8, 3), W (4, 2))``.
"""

from __future__ import annotations

import numpy as np

FLOATS = (np.float32, np.float64)


def as_float_array(a, name: str, func: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``a`` as a float32/float64 ndarray, checking its number of dimensions.

    Integer and bool inputs are converted to float64; float16 is refused (too coarse for the
    course's gradient checks). ``ndim`` may be an int or a tuple of allowed ints.
    """
    arr = np.asarray(a)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in FLOATS:
        raise ValueError(f"{func}: {name} must be float32 or float64, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{func}: {name} must be {want}, got shape {arr.shape} ({arr.ndim}-D)")
    return arr


def check_finite(arr: np.ndarray, name: str, func: str) -> None:
    """Raise ValueError if ``arr`` holds NaN or inf (a silent NaN poisons every gradient)."""
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{func}: {name} contains {bad} NaN or inf value(s) (shape {arr.shape})")


def result_dtype(*arrays: np.ndarray):
    """The float dtype a computation on ``arrays`` should return (float64 if any is)."""
    return np.result_type(*arrays, np.float32)


def check_cache(func: str, cache, cls, producer: str) -> None:
    """A backward function's cache must be the one its forward function returned."""
    if not isinstance(cache, cls):  # ValueError, as every input check of the course (DESIGN.md)
        raise ValueError(  # noqa: TRY004
            f"{func}: cache must be the cache returned by {producer}, got {type(cache).__name__}")


def upstream_gradient(func: str, name: str, d, shape: tuple, what: str) -> np.ndarray:
    """An upstream gradient ``d`` must have the shape of the forward output ``what``, finite."""
    d = as_float_array(d, name, func)
    if d.shape != shape:
        raise ValueError(f"{func}: {name} must have the shape of the forward output {what} {shape}, "
                         f"got {name} {d.shape}")
    check_finite(d, name, func)
    return d


def integer_labels(func: str, y: np.ndarray, K: int) -> np.ndarray:
    """Class labels as int64: whole-number floats are accepted, other floats and non-numbers refused.

    The range 0..K-1 is checked by the caller, which knows which entries count.
    """
    if y.dtype.kind == "f":
        check_finite(y, "y", func)
        if np.any(y != np.round(y)):
            raise ValueError(f"{func}: y must hold whole-number class labels 0..{K - 1}, got non-integer values")
    elif y.dtype.kind not in "iub":
        raise ValueError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    return y.astype(np.int64)
