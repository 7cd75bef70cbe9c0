"""Dense networks in NumPy: activations, the dense layer, losses, a small MLP, SGD and Adam.

Chapter 1 (``01_dense_backprop.ipynb``) derives these; this module is the reference code the
notebook calls, checked against centred differences and ``tf.GradientTape`` in
``tests/test_nn.py``.

Layout (identical to Keras, so ``Dense.get_weights()`` copies straight in)::

    x  (N, D_in)        N examples, one per row, D_in features
    W  (D_in, D_out)    W[i, j] = w_ij, the weight from input i to unit j   (Dense kernel)
    b  (D_out,)         one bias per unit                                   (Dense bias)
    z  (N, D_out)       z_j = Σ_i w_ij x_i + b_j for every row, i.e.  z = x W + b     (dense)

Notation of the notebook for a network of L layers, with a^0 = x, row vectors (one row per
example), f_l the activation of layer l and ⊙ the elementwise product::

    z^l = a^{l-1} W^l + b^l,        a^l = f_l(z^l)                          (forward)
    δ^l = ∂C/∂z^l                                                           (δ)
    δ^L = ∂C/∂a^L ⊙ f_L'(z^L)                                               (BP1)
    δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ f_l'(z^l)                                    (BP2)
    ∂C/∂W^l = a^{l-1}ᵀ δ^l                                                  (BP3)
    ∂C/∂b^l = Σ_n δ^l_n          (a sum over the rows of the batch)         (BP4)

Because examples are rows (z = a W + b), the transposes sit on the right in (BP2) and on the
left in (BP3): the mirror image of the column-vector textbook form with W of shape
(D_out, D_in), where δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l) and ∂C/∂W^l = δ^l (a^{l-1})ᵀ.

With a sigmoid output and binary cross-entropy (or softmax and cross-entropy), (BP1)
simplifies to δ^L = (a^L − y) / N: the loss functions below take the *logits* z^L and
return that δ^L directly, which is both simpler and numerically stable (no log(0), no
division by a^L (1 − a^L) that underflows to 0).

Regularisation (notebook 01, over-fitting): inverted dropout (Srivastava et al., JMLR 2014) and
L2 weight decay, as ``keras.layers.Dropout(rate)`` and ``kernel_regularizer=keras.regularizers.L2(l2)``::

    keep ~ Bernoulli(1 − rate),   out = x ⊙ keep / (1 − rate),   dx = dout ⊙ keep / (1 − rate)   (dropout)
    C = C_data + l2 Σ_l Σ_ij (W^l_ij)²,   ∂C/∂W^l = ∂C_data/∂W^l + 2 l2 W^l,   biases not penalised  (L2)

:class:`MLP` takes both (``MLP(..., l2=..., dropout=...)``); its :meth:`MLP.fit` records the
wall-clock time of every epoch and stops early on the validation loss, as
``keras.callbacks.EarlyStopping(monitor="val_loss", patience=..., restore_best_weights=True)``.

Batch normalisation (Ioffe, Szegedy, ICML 2015), as ``keras.layers.BatchNormalization(epsilon=1e-3)``:
x (N, D) or (N, H, W, C) is normalised per channel (the last axis) over the m = N or N·H·W
values of the batch, with the biased variance, then scaled and shifted by γ, β (C,)::

    x̂ = (x − μ)/√(σ² + ε),   out = γ x̂ + β,   dx = (γ/(m √(σ² + ε))) (m dout − Σ dout − x̂ Σ dout x̂)   (BN)

``batchnorm_forward / batchnorm_backward`` are the training pass (batch statistics, returned in
the cache), ``update_moving_stats`` the running averages Keras keeps (momentum 0.99) and
``batchnorm_inference`` the test-time pass that uses them (``training=False``).

Functions come in forward/backward pairs as in the other chapters: ``out, cache =
*_forward(...)`` then ``grads = *_backward(dout, cache)``, gradients in the order of the
inputs. Everything is vectorised over the batch and works in float32 and float64 (float32
in, float32 out; float64 if any input is float64; targets take the dtype of the
predictions). Inputs are validated and a ``ValueError`` names the function, the argument and
the expected and received shapes. NaN or inf in any input, target, upstream gradient or
optimiser gradient raises a ``ValueError`` naming the argument (a silent NaN would poison
every later gradient).

Stability: no function overflows or warns for logits as large as |z| ~ 1e3. Where an
exponential can only *underflow* (e^{-1000} rounds to 0, which is the right answer) the
underflow flag is switched off locally with ``np.errstate(under="ignore")``, so that even
``np.errstate(all="raise")`` around a call stays silent.
"""

from __future__ import annotations

import functools
import numbers
import time
from typing import NamedTuple

import numpy as np

from helpers._validate import as_float_array, check_cache, check_finite, integer_labels, result_dtype, upstream_gradient

__all__ = [
    "ACTIVATIONS", "MLP", "SGD", "ActivationCache", "Adam", "BatchNormCache", "DenseCache", "DropoutCache",
    "MLPCache", "activation_backward", "activation_forward", "batchnorm_backward", "batchnorm_forward",
    "batchnorm_inference", "binary_cross_entropy_with_logits",
    "dense_backward", "dense_forward", "dropout_backward", "dropout_forward", "he_init", "l2_penalty",
    "linear", "linear_derivative", "mean_squared_error", "relu", "relu_derivative", "sigmoid",
    "sigmoid_derivative", "softmax", "softmax_cross_entropy_with_logits", "softmax_jacobian", "tanh",
    "tanh_derivative", "update_moving_stats", "xavier_init",
]



def _quiet_underflow(func):
    """Run ``func`` with NumPy's underflow flag off: e^{-1000} -> 0 is the correct rounding,
    not an error. Overflow, invalid (NaN) and division by zero still warn or raise."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(under="ignore"):
            return func(*args, **kwargs)
    return wrapper


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------

def _array(a, name: str, func: str, ndim=None) -> np.ndarray:
    """A finite float32/float64 array (see helpers._validate)."""
    arr = as_float_array(a, name, func, ndim=ndim)
    check_finite(arr, name, func)
    return arr


# --------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------

@_quiet_underflow
def sigmoid(z):
    """σ(z) = 1 / (1 + e^{-z}), elementwise; any shape -> same shape, in (0, 1).

    Written with e = e^{-|z|} ∈ (0, 1], which never overflows:
    σ(z) = 1 / (1 + e) for z ≥ 0 and σ(z) = e / (1 + e) for z < 0.
    """
    z = _array(z, "z", "sigmoid")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


@_quiet_underflow
def sigmoid_derivative(z):
    """σ'(z) = σ(z) (1 − σ(z)) = σ(z) σ(−z), elementwise; any shape -> same shape.

    Computed as e / (1 + e)² with e = e^{-|z|} (σ' is even), which is exact to the last digit
    even where 1 − σ(z) would round to 0.
    """
    z = _array(z, "z", "sigmoid_derivative")
    e = np.exp(-np.abs(z))
    return e / ((1 + e) * (1 + e))


def tanh(z):
    """tanh(z) = (e^z − e^{-z}) / (e^z + e^{-z}), elementwise; any shape -> same shape.

    ``np.tanh`` is already stable (it saturates at ±1 without overflow).
    """
    return np.tanh(_array(z, "z", "tanh"))


@_quiet_underflow
def tanh_derivative(z):
    """tanh'(z) = 1 − tanh²(z), elementwise; any shape -> same shape."""
    t = np.tanh(_array(z, "z", "tanh_derivative"))
    return 1 - t * t


def relu(z):
    """relu(z) = max(z, 0), elementwise; any shape -> same shape."""
    z = _array(z, "z", "relu")
    return np.maximum(z, 0)


def relu_derivative(z):
    """relu'(z) = 1 if z > 0 else 0, elementwise (0 at z = 0, as TensorFlow); any shape."""
    z = _array(z, "z", "relu_derivative")
    return (z > 0).astype(z.dtype)


def linear(z):
    """The identity, f(z) = z (Keras' ``activation="linear"``, for logits and regression)."""
    return _array(z, "z", "linear").copy()


def linear_derivative(z):
    """f'(z) = 1 for the identity; any shape -> same shape."""
    return np.ones_like(_array(z, "z", "linear_derivative"))


@_quiet_underflow
def softmax(z):
    """softmax(z)_k = e^{z_k} / Σ_j e^{z_j} over the last axis; z (..., K) -> (..., K).

    Shifting by the row maximum m changes nothing (the factor e^{-m} cancels) and makes every
    exponent ≤ 0, so nothing overflows: softmax(z) = softmax(z − m).
    """
    return _softmax(z, "softmax")


@_quiet_underflow
def _softmax(z, func: str) -> np.ndarray:
    """The softmax of :func:`softmax`, with errors that name ``func``, the public caller."""
    z = _array(z, "z", func)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"{func}: z must have at least 1 dimension and at least 1 class on the last axis, "
                         f"got shape {z.shape}")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@_quiet_underflow
def softmax_jacobian(z):
    """The Jacobian of the softmax of each row: J[..., i, j] = ∂s_i/∂z_j = s_i (δ_ij − s_j).

    z (..., K) -> J (..., K, K), J = diag(s) − s sᵀ (symmetric). Softmax is not elementwise,
    so (BP1) and (BP2) use δ = da J (see :func:`activation_backward`) instead of da ⊙ f'(z).
    """
    s = _softmax(z, "softmax_jacobian")
    return s[..., :, None] * np.eye(s.shape[-1], dtype=s.dtype) - s[..., :, None] * s[..., None, :]


#: name -> (f, f') for the elementwise activations; the names are Keras' ``activation=`` names.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "linear": (linear, linear_derivative),
}
_ALL_ACTIVATIONS = (*ACTIVATIONS, "softmax")


def _activation_name(name, func: str) -> str:
    if name is None:
        name = "linear"  # Keras' Dense(activation=None)
    if name not in _ALL_ACTIVATIONS:
        raise ValueError(f"{func}: unknown activation {name!r}, expected one of {', '.join(_ALL_ACTIVATIONS)}")
    return name


class ActivationCache(NamedTuple):
    """What :func:`activation_backward` needs: the activation's name, z and a = f(z)."""

    name: str
    z: np.ndarray
    a: np.ndarray


def activation_forward(z, activation: str):
    """a = f(z) for f in "sigmoid", "tanh", "relu", "linear" (elementwise) or "softmax".

    z: (N, D) pre-activations (any shape for the elementwise ones; classes on the last axis
    for the softmax). Returns a (same shape as z) and an :class:`ActivationCache`.
    """
    func = "activation_forward"
    name = _activation_name(activation, func)
    z = _array(z, "z", func)
    a = _softmax(z, func) if name == "softmax" else ACTIVATIONS[name][0](z)
    return a, ActivationCache(name, z, a)


def activation_backward(da, cache):
    """dz = ∂C/∂z from da = ∂C/∂a, through a = f(z).

        elementwise f:  dz = da ⊙ f'(z)                                   (BP1), (BP2)
        softmax:        dz = da J = s ⊙ (da − Σ_k da_k s_k)    (J of :func:`softmax_jacobian`)

    da: the shape of a; cache: from :func:`activation_forward`. Returns dz (shape of z).
    """
    func = "activation_backward"
    check_cache(func, cache, ActivationCache, "activation_forward")
    name, z, a = cache
    da = upstream_gradient(func, "da", da, a.shape, "a")
    da, z, a = (t.astype(result_dtype(da, a), copy=False) for t in (da, z, a))
    with np.errstate(under="ignore"):
        if name == "softmax":
            return a * (da - np.sum(da * a, axis=-1, keepdims=True))
        return da * ACTIVATIONS[name][1](z)


# --------------------------------------------------------------------------------------
# the dense layer
# --------------------------------------------------------------------------------------

class DenseCache(NamedTuple):
    """What :func:`dense_backward` needs: the input x (N, D_in) and W (D_in, D_out)."""

    x: np.ndarray
    W: np.ndarray


def _dense_inputs(func: str, x, W, b):
    W = _array(W, "W", func, ndim=2)
    x = _array(x, "x", func)
    b = _array(b, "b", func)
    if x.ndim != 2:
        hint = "; for one example use x[None, :]" if x.ndim == 1 else ""
        raise ValueError(f"{func}: x must be 2-D (N, D_in), got x {x.shape} (W {W.shape}){hint}")
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"{func}: x has {x.shape[1]} features but W expects {W.shape[0]} (x {x.shape}, W {W.shape})")
    if b.shape != (W.shape[1],):
        raise ValueError(f"{func}: b must have shape (D_out,) = ({W.shape[1]},) to match the {W.shape[1]} "
                         f"columns of W, got b {b.shape} (W {W.shape})")
    dt = result_dtype(x, W, b)
    return x.astype(dt, copy=False), W.astype(dt, copy=False), b.astype(dt, copy=False)


@_quiet_underflow
def dense_forward(x, W, b):
    """A fully connected layer, as Keras ``Dense(D_out, activation=None)``.

        z = x W + b,    z[n, j] = Σ_i x[n, i] W[i, j] + b[j]                           (dense)

    x: (N, D_in); W: (D_in, D_out); b: (D_out,).
    Returns z: (N, D_out) and a :class:`DenseCache` for :func:`dense_backward`.
    """
    x, W, b = _dense_inputs("dense_forward", x, W, b)
    return x @ W + b, DenseCache(x, W)


@_quiet_underflow
def dense_backward(dz, cache):
    """Backward pass of z = x W + b, for an upstream gradient dz = ∂C/∂z = δ.

        dx = δ Wᵀ  (N, D_in)       dW = xᵀ δ  (D_in, D_out)  (BP3)       db = Σ_n δ_n  (D_out,)  (BP4)

    dz: (N, D_out); cache: from :func:`dense_forward`. Returns dx, dW, db (the order of the
    inputs of dense_forward). In a network, dx = δ^l W^lᵀ is the first factor of (BP2).
    """
    func = "dense_backward"
    check_cache(func, cache, DenseCache, "dense_forward")
    x, W = cache
    dz = upstream_gradient(func, "dz", dz, (x.shape[0], W.shape[1]), "z")
    dt = result_dtype(dz, x, W)
    dz, x, W = dz.astype(dt, copy=False), x.astype(dt, copy=False), W.astype(dt, copy=False)
    return dz @ W.T, x.T @ dz, dz.sum(axis=0)


# --------------------------------------------------------------------------------------
# losses: each returns (C, ∂C/∂input), C averaged over the batch as Keras does
# --------------------------------------------------------------------------------------

def _targets(func: str, pred: np.ndarray, pred_name: str, y, y_name: str = "y") -> np.ndarray:
    """Targets of the prediction's shape and dtype; y (N,) is accepted for pred (N, 1).

    The (N,) -> (N, 1) reshape is explicit on purpose: broadcasting (N,) against (N, 1)
    would silently give an (N, N) matrix of every prediction against every label.
    """
    y = _array(y, y_name, func)
    if pred.size == 0:
        raise ValueError(f"{func}: {pred_name} is empty (shape {pred.shape}); a loss needs at least one example")
    if y.shape != pred.shape:
        if pred.ndim == 2 and pred.shape[1] == 1 and y.shape == (pred.shape[0],):
            y = y.reshape(pred.shape)
        else:
            raise ValueError(f"{func}: {y_name} must have the shape of {pred_name} {pred.shape} "
                             f"(or (N,) for {pred_name} (N, 1)), got {y_name} {y.shape}")
    return y.astype(pred.dtype, copy=False)


@_quiet_underflow
def binary_cross_entropy_with_logits(logits, y):
    """Mean binary cross-entropy of σ(logits) against labels y, from the logits directly.

        C = −mean[ y log σ(z) + (1 − y) log(1 − σ(z)) ]
          = mean[ max(z, 0) − z y + log(1 + e^{−|z|}) ]            (stable form, no overflow)
        ∂C/∂z = (σ(z) − y) / M                                     (δ^L of (BP1), simplified)

    logits z: (N, 1) or (N,) or (N, K) for K independent labels; y: 0/1 labels (or
    probabilities in [0, 1]) of the same shape, or (N,) for logits (N, 1). M = z.size, the
    mean over every entry (Keras' ``BinaryCrossentropy(from_logits=True)``).
    Returns (C, dlogits): a scalar of the logits' dtype and an array of the logits' shape.
    """
    func = "binary_cross_entropy_with_logits"
    z = _array(logits, "logits", func)
    y = _targets(func, z, "logits", y)
    if np.any((y < 0) | (y > 1)):
        raise ValueError(f"{func}: y must hold labels 0/1 (or probabilities in [0, 1]), "
                         f"got values from {y.min():g} to {y.max():g}")
    M = z.size
    loss = np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))) / M
    dlogits = (sigmoid(z) - y) / M
    return z.dtype.type(loss), dlogits


def _class_labels(func: str, y, N: int, K: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape == (N, K) and K > 1:
        raise ValueError(f"{func}: y must be integer class labels of shape (N,) = ({N},), got y {y.shape} "
                         f"for logits ({N}, {K}); one-hot labels? use y.argmax(axis=1)")
    if y.shape != (N,):
        raise ValueError(f"{func}: y must be integer class labels of shape (N,) = ({N},), "
                         f"got y {y.shape} for logits ({N}, {K})")
    labels = integer_labels(func, y, K)
    if N and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"{func}: y must hold class labels 0..{K - 1} for logits ({N}, {K}), "
                         f"got labels from {labels.min()} to {labels.max()}")
    return labels


@_quiet_underflow
def softmax_cross_entropy_with_logits(logits, y):
    """Mean cross-entropy of softmax(logits) against integer class labels y.

        C = −mean_n log softmax(z_n)[y_n] = mean_n [ logsumexp(z_n) − z_n[y_n] ]
        logsumexp(z) = m + log Σ_k e^{z_k − m},   m = max_k z_k       (stable form)
        ∂C/∂z = (softmax(z) − onehot(y)) / N                          (δ^L of (BP1), simplified)

    logits z: (N, K); y: (N,) integer labels in 0..K−1 (Keras'
    ``SparseCategoricalCrossentropy(from_logits=True)``).
    Returns (C, dlogits): a scalar of the logits' dtype and an array (N, K).
    """
    func = "softmax_cross_entropy_with_logits"
    z = _array(logits, "logits", func)
    if z.ndim != 2:
        raise ValueError(f"{func}: logits must be 2-D (N, K), got logits {z.shape} (y {np.shape(y)})")
    N, K = z.shape
    if N == 0 or K == 0:
        raise ValueError(f"{func}: logits is empty (shape {z.shape}); a loss needs at least one example "
                         f"and one class")
    labels = _class_labels(func, y, N, K)
    rows = np.arange(N)
    m = z.max(axis=1, keepdims=True)
    shifted = z - m
    log_sum = np.log(np.sum(np.exp(shifted), axis=1))          # logsumexp(z) − m
    loss = np.sum(log_sum - shifted[rows, labels]) / N
    dlogits = softmax(z)
    dlogits[rows, labels] -= 1
    return z.dtype.type(loss), dlogits / N


@_quiet_underflow
def mean_squared_error(y_pred, y):
    """Mean squared error, Keras' ``MeanSquaredError``.

        C = mean[(ŷ − y)²],     ∂C/∂ŷ = 2 (ŷ − y) / M,     M = ŷ.size

    y_pred ŷ: any shape, e.g. (N, D); y: the same shape, or (N,) for ŷ (N, 1).
    Returns (C, dy_pred): a scalar of ŷ's dtype and an array of ŷ's shape.
    """
    func = "mean_squared_error"
    p = _array(y_pred, "y_pred", func)
    y = _targets(func, p, "y_pred", y)
    diff = p - y
    M = p.size
    return p.dtype.type(np.sum(diff * diff) / M), 2 * diff / M


_LOSSES = {
    # loss name (as Keras' compile(loss=...)) -> (function, the output activation it needs)
    "binary_crossentropy": (binary_cross_entropy_with_logits, "sigmoid"),
    "sparse_categorical_crossentropy": (softmax_cross_entropy_with_logits, "softmax"),
    "mse": (mean_squared_error, None),
}
_DEFAULT_LOSS = {"sigmoid": "binary_crossentropy", "softmax": "sparse_categorical_crossentropy"}


# --------------------------------------------------------------------------------------
# regularisation: inverted dropout and L2 weight decay
# --------------------------------------------------------------------------------------

def _dropout_rate(rate, func: str, name: str = "rate") -> float:
    """A dropout rate: a real number in [0, 1) (not a bool, not NaN)."""
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"{func}: {name} must be a number in [0, 1) (the fraction of units dropped), "
                         f"got {rate!r}")
    return float(rate)


def _l2_factor(l2, func: str) -> float:
    """An L2 factor: a finite real number >= 0 (not a bool)."""
    if isinstance(l2, (bool, np.bool_)) or not isinstance(l2, numbers.Real) or not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"{func}: l2 must be a finite number >= 0, got {l2!r}")
    return float(l2)


def _generator(rng, func: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: rng must be a np.random.Generator (e.g. np.random.default_rng(0)), "
                         f"got {type(rng).__name__}")
    return rng


class DropoutCache(NamedTuple):
    """What :func:`dropout_backward` needs: the mask keep (bool, the shape of x; True = kept)
    and the rate."""

    keep: np.ndarray
    rate: float


def dropout_forward(x, rate, rng):
    """Inverted dropout in training, as ``keras.layers.Dropout(rate)(x, training=True)``.

        keep = (u ≥ rate),  u ~ U[0, 1) drawn for every entry    (kept with probability 1 − rate)
        out  = x ⊙ keep / (1 − rate)                                                 (dropout)

    so E[out] = x: the kept entries are scaled up by 1/(1 − rate) during training and nothing
    is done at test time (Srivastava et al., JMLR 2014, with the scaling moved to training).
    x: any shape, float32 or float64 (kept); rate: in [0, 1); rng: a ``np.random.Generator``
    (``rng.random(x.shape)`` is drawn once; nothing is drawn for rate = 0, where out = x).
    The scale 1/(1 − rate) is computed once and rounded to x's dtype, as TensorFlow does, so
    that out is bit for bit Keras' output for the same mask.
    Returns out (the shape and dtype of x) and a :class:`DropoutCache` (``cache.keep`` is
    the mask) for :func:`dropout_backward`.
    """
    func = "dropout_forward"
    rate = _dropout_rate(rate, func)
    rng = _generator(rng, func)
    x = _array(x, "x", func)
    if rate == 0:
        return x.copy(), DropoutCache(np.ones(x.shape, dtype=bool), rate)
    keep = np.asarray(rng.random(x.shape) >= rate)
    # x ⊙ keep · (1/(1 − rate)): the scale is rounded once, to x's dtype, as TensorFlow does
    return x * keep * x.dtype.type(1 / (1 - rate)), DropoutCache(keep, rate)


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: dx = dout ⊙ keep / (1 − rate).

    Each kept entry passes its gradient on, scaled as in the forward pass; a dropped entry
    gets none. dout: the shape of the forward output; cache: from :func:`dropout_forward`
    (or ``DropoutCache(keep, rate)`` built from a known boolean mask). Returns dx (shape of x).
    """
    func = "dropout_backward"
    check_cache(func, cache, DropoutCache, "dropout_forward")
    keep = np.asarray(cache.keep)
    if keep.dtype != bool:
        raise ValueError(f"{func}: cache.keep must be a boolean mask (True = kept), got dtype {keep.dtype}")
    rate = _dropout_rate(cache.rate, func, "cache.rate")
    dout = upstream_gradient(func, "dout", dout, keep.shape, "out")
    return dout * keep * dout.dtype.type(1 / (1 - rate))


def l2_penalty(params, l2):
    """L2 weight decay on every kernel, as ``kernel_regularizer=keras.regularizers.L2(l2)``.

        penalty = l2 Σ_l Σ_ij (W^l_ij)²,     ∂penalty/∂W^l = 2 l2 W^l,     ∂penalty/∂b^l = 0   (L2)

    params: an MLP-style dict {"W1": W^1, "b1": b^1, ...}: every "W…" entry is penalised,
    every "b…" entry is not (Keras' default: no ``bias_regularizer``). l2: a finite number
    >= 0. Returns (penalty, grads): a scalar of the kernels' dtype and {name: gradient} with
    the keys, order and shapes of params, to be added to the data loss and its gradients.
    """
    func = "l2_penalty"
    l2 = _l2_factor(l2, func)
    if not isinstance(params, dict):
        raise ValueError(f"{func}: params must be a dict {{'W1': ..., 'b1': ...}}, got {type(params).__name__}")
    arrays = {}
    for name, p in params.items():
        if not isinstance(name, str) or name[:1] not in ("W", "b"):
            raise ValueError(f"{func}: parameter names must start with 'W' (kernels, penalised) or 'b' "
                             f"(biases, not penalised), got {name!r}")
        arrays[name] = _array(p, name, func)
    kernels = [a for name, a in arrays.items() if name.startswith("W")]
    dt = result_dtype(*kernels) if kernels else np.dtype(np.float64)
    penalty = sum((float(np.sum(W.astype(np.float64) ** 2)) for W in kernels), 0.0)
    grads = {name: (2 * l2 * a if name.startswith("W") else np.zeros_like(a)) for name, a in arrays.items()}
    return dt.type(l2 * penalty), grads


# --------------------------------------------------------------------------------------
# batch normalisation (Ioffe, Szegedy, ICML 2015), as keras.layers.BatchNormalization
# --------------------------------------------------------------------------------------

def _bn_eps(eps, func: str) -> float:
    """ε: a finite real number > 0 (not a bool, not NaN)."""
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) or not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"{func}: eps must be a finite number > 0 (added to σ² before the square root), "
                         f"got {eps!r}")
    return float(eps)


def _bn_momentum(momentum, func: str) -> float:
    """A moving-average momentum: a real number in [0, 1) (not a bool, not NaN)."""
    if (isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, numbers.Real)
            or not 0 <= momentum < 1):
        raise ValueError(f"{func}: momentum must be a number in [0, 1) (the weight of the old moving "
                         f"statistic), got {momentum!r}")
    return float(momentum)


def _bn_x(x, func: str, others: str) -> np.ndarray:
    """x: a finite 2-D (N, D) or 4-D (N, H, W, C) array with at least one example."""
    x = _array(x, "x", func)
    if x.ndim not in (2, 4):
        raise ValueError(f"{func}: x must be 2-D (N, D) or 4-D (N, H, W, C), got x {x.shape} ({x.ndim}-D) "
                         f"({others})")
    if any(n == 0 for n in x.shape[:-1]):
        raise ValueError(f"{func}: x must hold at least one value per channel to average over, got x {x.shape}")
    return x


def _bn_channel_vector(a, name: str, func: str, x_shape: tuple) -> np.ndarray:
    """A finite per-channel vector of shape (C,), C = x_shape[-1]."""
    arr = _array(a, name, func)
    C = x_shape[-1]
    if arr.shape != (C,):
        raise ValueError(f"{func}: {name} has shape {arr.shape} but x has {C} channels (x {x_shape}); "
                         f"expected {name} ({C},)")
    return arr


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_backward` and :func:`update_moving_stats` need.

    x_hat:   the normalised input x̂ = (x − μ)/√(σ² + ε), the shape of x (N, D) or (N, H, W, C)
    inv_std: 1/√(σ² + ε) per channel, (C,)
    gamma:   the scale γ used in the forward pass, (C,)
    mean:    the batch mean μ per channel, (C,)  (for the running average)
    var:     the biased batch variance σ² per channel, (C,)  (divided by m, as Keras)
    axes:    the normalised axes, every axis of x but the last: (0,) or (0, 1, 2)
    """

    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    axes: tuple


@_quiet_underflow
def batchnorm_forward(x, gamma, beta, eps=1e-3):
    """Batch normalisation in training, as ``keras.layers.BatchNormalization(epsilon=eps)(x, training=True)``.

    For every channel c (the last axis), over the m = N (x (N, D)) or m = N·H·W (x (N, H, W, C))
    values x_i of that channel in the batch:

        μ   = (1/m) Σ_i x_i                                                          (BN1)
        σ²  = (1/m) Σ_i (x_i − μ)²          (biased: divided by m, not m − 1)         (BN2)
        x̂_i = (x_i − μ) / √(σ² + ε)                                                  (BN3)
        out_i = γ x̂_i + β                                                            (BN4)

    x: (N, D) or (N, H, W, C); gamma, beta: (C,) (C = D for 2-D x); eps: a number > 0
    (Keras' default 1e-3). A channel with σ² = 0 (e.g. a batch of one example, x (1, D)) gives
    x̂ = 0 and out = β, as in Keras. Float32 in, float32 out (float64 if any input is).
    Returns out (the shape of x) and a :class:`BatchNormCache` holding x̂, 1/√(σ² + ε), γ and
    the batch statistics ``cache.mean`` = μ and ``cache.var`` = σ² for :func:`update_moving_stats`.
    """
    func = "batchnorm_forward"
    eps = _bn_eps(eps, func)
    x = _bn_x(x, func, f"gamma {np.shape(gamma)}")
    gamma = _bn_channel_vector(gamma, "gamma", func, x.shape)
    beta = _bn_channel_vector(beta, "beta", func, x.shape)
    dt = result_dtype(x, gamma, beta)
    x, gamma, beta = x.astype(dt, copy=False), gamma.astype(dt, copy=False), beta.astype(dt, copy=False)
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)                                                     # (BN1)
    var = np.square(x - mean).mean(axis=axes)                                    # (BN2), two passes
    inv_std = 1 / np.sqrt(var + dt.type(eps))
    x_hat = (x - mean) * inv_std                                                 # (BN3)
    return gamma * x_hat + beta, BatchNormCache(x_hat, inv_std, gamma, mean, var, axes)   # (BN4)


@_quiet_underflow
def batchnorm_backward(dout, cache):
    """Backward pass of batch normalisation in training, for dout = ∂C/∂out.

        dx     = (γ / (m √(σ² + ε))) (m dout − Σ_j dout_j − x̂ Σ_j dout_j x̂_j)        (BN-dx)
        dgamma = Σ_j dout_j x̂_j,        dbeta = Σ_j dout_j                            (BN-dγ, BN-dβ)

    every Σ_j over the m normalised values of one channel (all axes but the last).

    Derivation, for one channel, with s = 1/√(σ² + ε) so that x_i − μ = x̂_i / s. Write
    dx̂_i = ∂C/∂x̂_i = γ dout_i (from BN4). x_i reaches C through x̂_i directly, through μ and
    through σ², so

        ∂C/∂x_i = s dx̂_i + ∂C/∂σ² · ∂σ²/∂x_i + ∂C/∂μ · ∂μ/∂x_i,   ∂μ/∂x_i = 1/m,
        ∂σ²/∂x_i = 2 (x_i − μ)/m        (the term −(2/m) Σ_j (x_j − μ) · ∂μ/∂x_i is 0)
        ∂C/∂σ²  = Σ_j dx̂_j (x_j − μ) · (−½)(σ² + ε)^{−3/2} = −(s²/2) Σ_j dx̂_j x̂_j
        ∂C/∂μ   = −s Σ_j dx̂_j + ∂C/∂σ² · (−2/m) Σ_j (x_j − μ) = −s Σ_j dx̂_j   (Σ_j (x_j − μ) = 0)

    Substituting x_i − μ = x̂_i / s:

        ∂C/∂x_i = s dx̂_i − (s/m) x̂_i Σ_j dx̂_j x̂_j − (s/m) Σ_j dx̂_j
                = (s/m) (m dx̂_i − Σ_j dx̂_j − x̂_i Σ_j dx̂_j x̂_j),

    which is (BN-dx) with dx̂ = γ dout. Because Σ_i x̂_i = 0, Σ_i ∂C/∂x_i = (s/m)(m Σ dx̂ − m Σ dx̂
    − 0) = 0: shifting a whole channel by a constant does not change the output. dgamma and
    dbeta follow from (BN4) directly.

    dout: the shape of the forward output; cache: from :func:`batchnorm_forward`.
    Returns dx (the shape of x), dgamma (C,), dbeta (C,) (the order of the inputs).
    """
    func = "batchnorm_backward"
    check_cache(func, cache, BatchNormCache, "batchnorm_forward")
    x_hat, inv_std, gamma = (np.asarray(a) for a in cache[:3])
    axes = tuple(cache.axes)
    dout = upstream_gradient(func, "dout", dout, x_hat.shape, "out")
    dt = result_dtype(dout, x_hat, inv_std, gamma)
    dout, x_hat = dout.astype(dt, copy=False), x_hat.astype(dt, copy=False)
    inv_std, gamma = inv_std.astype(dt, copy=False), gamma.astype(dt, copy=False)
    m = int(np.prod([x_hat.shape[a] for a in axes]))
    dbeta = dout.sum(axis=axes)                                                  # (BN-dβ)
    dgamma = (dout * x_hat).sum(axis=axes)                                       # (BN-dγ)
    dx = (gamma * inv_std / m) * (m * dout - dbeta - x_hat * dgamma)             # (BN-dx)
    return dx, dgamma, dbeta


@_quiet_underflow
def batchnorm_inference(x, gamma, beta, moving_mean, moving_var, eps=1e-3):
    """Batch normalisation at test time, as ``keras.layers.BatchNormalization(epsilon=eps)(x, training=False)``.

        out = (x − moving_mean) / √(moving_var + ε) · γ + β                          (BN-inf)

    The batch statistics of (BN1)-(BN2) are replaced by the running averages kept during
    training (:func:`update_moving_stats`), so one example's output no longer depends on the
    rest of its batch. x: (N, D) or (N, H, W, C); gamma, beta, moving_mean, moving_var: (C,),
    moving_var >= 0; eps: a number > 0. Returns out (the shape of x).
    """
    func = "batchnorm_inference"
    eps = _bn_eps(eps, func)
    x = _bn_x(x, func, f"gamma {np.shape(gamma)}")
    gamma = _bn_channel_vector(gamma, "gamma", func, x.shape)
    beta = _bn_channel_vector(beta, "beta", func, x.shape)
    moving_mean = _bn_channel_vector(moving_mean, "moving_mean", func, x.shape)
    moving_var = _bn_channel_vector(moving_var, "moving_var", func, x.shape)
    if np.any(moving_var < 0):
        raise ValueError(f"{func}: moving_var must be >= 0 (a variance), got minimum {moving_var.min()!r}")
    dt = result_dtype(x, gamma, beta, moving_mean, moving_var)
    x, gamma, beta = x.astype(dt, copy=False), gamma.astype(dt, copy=False), beta.astype(dt, copy=False)
    moving_mean, moving_var = moving_mean.astype(dt, copy=False), moving_var.astype(dt, copy=False)
    return (x - moving_mean) / np.sqrt(moving_var + dt.type(eps)) * gamma + beta      # (BN-inf)


def update_moving_stats(moving_mean, moving_var, cache, momentum=0.99):
    """One update of the running averages, as Keras' BatchNormalization does in every training call.

        new_mean = momentum · moving_mean + (1 − momentum) · μ                        (BN-run)
        new_var  = momentum · moving_var  + (1 − momentum) · σ²

    μ = ``cache.mean`` and σ² = ``cache.var`` are the batch statistics of the forward pass; σ²
    is the *biased* batch variance (divided by m), exactly what Keras 3 averages (its
    ``_moments`` is ``tf.nn.moments``; there is no m/(m − 1) correction). momentum: in [0, 1),
    Keras' default 0.99 (a large momentum = a long memory; 0 keeps only the last batch).
    moving_mean, moving_var: (C,); Keras starts them at 0 and 1. cache: from
    :func:`batchnorm_forward`. Returns (new_mean, new_var), new arrays; the inputs are not changed.
    """
    func = "update_moving_stats"
    momentum = _bn_momentum(momentum, func)
    check_cache(func, cache, BatchNormCache, "batchnorm_forward")
    mean, var = np.asarray(cache.mean), np.asarray(cache.var)
    moving_mean = _array(moving_mean, "moving_mean", func)
    moving_var = _array(moving_var, "moving_var", func)
    for name, a in (("moving_mean", moving_mean), ("moving_var", moving_var)):
        if a.shape != mean.shape:
            raise ValueError(f"{func}: {name} has shape {a.shape} but the batch statistics have "
                             f"{mean.shape[0]} channels (cache.mean {mean.shape}); expected {name} {mean.shape}")
    dt = result_dtype(moving_mean, moving_var, mean, var)
    moving_mean, moving_var = moving_mean.astype(dt), moving_var.astype(dt)
    mean, var = mean.astype(dt, copy=False), var.astype(dt, copy=False)
    # the order of Keras' own expression: moving * momentum + stat * (1 − momentum)
    new_mean = moving_mean * dt.type(momentum) + mean * dt.type(1.0 - momentum)        # (BN-run)
    new_var = moving_var * dt.type(momentum) + var * dt.type(1.0 - momentum)
    return new_mean, new_var


# --------------------------------------------------------------------------------------
# initialisation
# --------------------------------------------------------------------------------------

def he_init(fan_in: int, fan_out: int, rng, dtype=np.float64) -> np.ndarray:
    """He et al. (2015) normal initialisation for ReLU layers: W ~ N(0, 2 / D_in), (D_in, D_out).

    Var(W) = 2 / D_in keeps the variance of z roughly constant from layer to layer when half
    of the units are switched off by the ReLU.
    """
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)


def xavier_init(fan_in: int, fan_out: int, rng, dtype=np.float64) -> np.ndarray:
    """Glorot & Bengio (2010) uniform initialisation (Keras' default ``glorot_uniform``).

    W ~ U(−r, r) with r = √(6 / (D_in + D_out)), so Var(W) = 2 / (D_in + D_out); (D_in, D_out).
    """
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=(fan_in, fan_out)).astype(dtype)


_INITS = {"he": he_init, "xavier": xavier_init}


# --------------------------------------------------------------------------------------
# optimisers: update a dict of parameters in place from a dict of gradients
# --------------------------------------------------------------------------------------

def _check_step(cls: str, params: dict, grads: dict) -> None:
    """Every parameter has a finite gradient of its shape, checked before any parameter moves,
    so that a refused step leaves the model (and the optimiser's state) as it was."""
    for name, p in params.items():
        if name not in grads:
            raise ValueError(f"{cls}.step: no gradient for parameter {name!r}")
        if np.shape(grads[name]) != p.shape:
            raise ValueError(f"{cls}.step: gradient of {name!r} has shape {np.shape(grads[name])} "
                             f"but {name} has shape {p.shape}")
        g = np.asarray(grads[name])
        if g.dtype.kind in "fc":   # a NaN step would silently turn every parameter into NaN
            check_finite(g, f"grads[{name!r}]", f"{cls}.step")


class SGD:
    """Stochastic gradient descent, as ``keras.optimizers.SGD(learning_rate, momentum)``.

        θ ← θ − η g                                   (momentum μ = 0)
        v ← μ v − η g,    θ ← θ + v                   (with momentum μ)

    ``step(params, grads)`` updates every array of ``params`` (name -> array) in place with
    the gradient of the same name. A missing gradient, one of the wrong shape, or one holding
    NaN or inf raises ValueError before any parameter changes.
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0):
        if not learning_rate > 0:
            raise ValueError(f"SGD: learning_rate must be > 0, got {learning_rate!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, params: dict, grads: dict) -> None:
        _check_step("SGD", params, grads)
        for name, p in params.items():
            g = np.asarray(grads[name], dtype=p.dtype)
            if self.momentum:
                v = self.velocity.setdefault(name, np.zeros_like(p))
                v *= self.momentum
                v -= self.learning_rate * g
                p += v
            else:
                p -= self.learning_rate * g

    def __repr__(self) -> str:
        return f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum})"


class Adam:
    """Adam (Kingma & Ba, ICLR 2015), as ``keras.optimizers.Adam``; for each parameter θ:

        m ← β1 m + (1 − β1) g,        v ← β2 v + (1 − β2) g²        (moment estimates)
        α_t = η √(1 − β2^t) / (1 − β1^t)                             (bias correction)
        θ ← θ − α_t m / (√v + ε)

    which is the paper's Algorithm 1 written in the efficient form of its Section 2 (the same
    as m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t), θ ← θ − η m̂ / (√v̂ + ε̂)). t counts the steps.
    ``step(params, grads)`` updates every array of ``params`` in place; a missing, misshapen or
    non-finite (NaN, inf) gradient raises ValueError before any parameter or moment changes.
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        if not learning_rate > 0:
            raise ValueError(f"Adam: learning_rate must be > 0, got {learning_rate!r}")
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta!r}")
        self.learning_rate = float(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict, grads: dict) -> None:
        _check_step("Adam", params, grads)
        self.t += 1
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)
        for name, p in params.items():
            g = np.asarray(grads[name], dtype=p.dtype)
            m = self.m.setdefault(name, np.zeros_like(p))
            v = self.v.setdefault(name, np.zeros_like(p))
            m += (1 - self.beta_1) * (g - m)
            v += (1 - self.beta_2) * (g * g - v)
            p -= alpha * m / (np.sqrt(v) + self.epsilon)

    def __repr__(self) -> str:
        return (f"Adam(learning_rate={self.learning_rate}, beta_1={self.beta_1}, beta_2={self.beta_2}, "
                f"epsilon={self.epsilon})")


def _optimizer(optimizer, learning_rate, func: str = "MLP.fit"):
    """An :class:`Adam` / :class:`SGD` object from fit's ``optimizer`` and ``learning_rate``."""
    if isinstance(optimizer, (SGD, Adam)):
        if learning_rate is not None:
            raise ValueError(f"{func}: give learning_rate to the optimizer object, not to fit")
        return optimizer
    if learning_rate is not None and (isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real)):
        raise ValueError(f"{func}: learning_rate must be a number, got {learning_rate!r}")
    if optimizer == "adam":
        return Adam() if learning_rate is None else Adam(learning_rate)
    if optimizer == "sgd":
        return SGD() if learning_rate is None else SGD(learning_rate)
    raise ValueError(f"{func}: optimizer must be 'adam', 'sgd' or an SGD/Adam object, got {optimizer!r}")


def _check_fit_arguments(func: str, epochs, early_stopping, validation_data) -> None:
    """The arguments of a fit that do not depend on the model: epochs and early stopping."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"{func}: epochs must be a non-negative int, got {epochs!r}")
    if early_stopping is not None:
        if isinstance(early_stopping, bool) or not isinstance(early_stopping, (int, np.integer)) or early_stopping < 1:
            raise ValueError(f"{func}: early_stopping must be None or a patience (an int >= 1), got {early_stopping!r}")
        if validation_data is None:
            raise ValueError(f"{func}: early_stopping={early_stopping} monitors val_loss and needs "
                             f"validation_data=(x_val, y_val), got validation_data=None")


def _copy_weights(params: dict, weights, func: str) -> None:
    """Copy the arrays ``weights`` (in the order of ``params``) into ``params`` in place, each
    cast to its parameter's dtype; shapes must match exactly, values must be finite. Nothing is
    written unless every array is accepted. Shared by :meth:`MLP.set_weights` and
    ``helpers.cnn.CNN.set_weights``."""
    weights = list(weights)
    names = list(params)
    if len(weights) != len(names):
        raise ValueError(f"{func}: expected {len(names)} arrays ({', '.join(names)}), got {len(weights)}")
    arrays = []
    for name, w in zip(names, weights):
        w = _array(w, name, func)
        if w.shape != params[name].shape:
            raise ValueError(f"{func}: {name} must have shape {params[name].shape}, got {w.shape}")
        arrays.append(w)
    for name, w in zip(names, arrays):
        params[name][...] = w


def _fit_loop(model, batch_loss_and_grads, N: int, *, epochs: int, batch_size: int, optimizer,
             validation_data=None, shuffle: bool = True, verbose: int = 0, early_stopping: int | None = None,
             restore_best_weights: bool = True, t0: float | None = None) -> dict:
    """The training loop shared by :meth:`MLP.fit` and ``helpers.cnn.CNN.fit`` (arguments checked there).

    Every epoch the N examples are shuffled with ``model.rng`` (``shuffle=False`` keeps their
    order) and cut into batches of ``batch_size``; for each batch (an index array, or a slice
    when in order, so that ``x[batch]`` is a view), ``loss, grads = batch_loss_and_grads(batch)``
    and ``optimizer.step(model.params, grads)``. After the epoch, ``model.loss(*validation_data)``
    is the validation loss; early stopping and the history are as :meth:`MLP.fit` documents.
    """
    t0 = time.perf_counter() if t0 is None else t0
    history = {"loss": []}
    if validation_data is not None:
        history["val_loss"] = []
    history["time"] = []
    best, best_epoch, best_params, wait, epoch = np.inf, 0, None, 0, 0
    for epoch in range(1, epochs + 1):
        order = model.rng.permutation(N) if shuffle else None
        total = 0.0
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size] if shuffle else slice(start, min(start + batch_size, N))
            loss, grads = batch_loss_and_grads(batch)
            optimizer.step(model.params, grads)
            total += float(loss) * (len(batch) if shuffle else batch.stop - batch.start)
        history["loss"].append(total / N)
        stop = False
        if validation_data is not None:
            val = float(model.loss(*validation_data))
            history["val_loss"].append(val)
            improved = val < best                     # strictly lower than the best so far
            if improved or best_epoch == 0:           # (the first epoch is the best so far, as in Keras)
                best_epoch = epoch
                if early_stopping is not None and restore_best_weights:
                    best_params = {k: v.copy() for k, v in model.params.items()}
            best, wait = (val, 0) if improved else (best, wait + 1)
            stop = early_stopping is not None and wait >= early_stopping
        history["time"].append(time.perf_counter() - t0)
        if verbose and (epoch % verbose == 0 or epoch == epochs or stop):
            extra = f", val_loss {history['val_loss'][-1]:.4f}" if validation_data is not None else ""
            print(f"epoch {epoch}/{epochs}: loss {history['loss'][-1]:.4f}{extra}")
        if stop:
            if verbose:
                print(f"early stopping at epoch {epoch}: val_loss has not improved for {early_stopping} "
                      f"epochs (best {best:.4f} at epoch {best_epoch})")
            break
    if best_params is not None:
        for name, p in best_params.items():
            model.params[name][...] = p
        if verbose:
            print(f"restored the weights of epoch {best_epoch} (val_loss {best:.4f})")
    if validation_data is not None:
        history["best_epoch"] = best_epoch
    history["stopped_epoch"] = epoch
    return history


# --------------------------------------------------------------------------------------
# the multi-layer perceptron
# --------------------------------------------------------------------------------------

class MLPCache(NamedTuple):
    """What :meth:`MLP.backward` needs, layer by layer (index l − 1 holds layer l).

    a: (a^0 = x, a^1, ..., a^L); z: (z^1, ..., z^L); dense, act: the caches of
    :func:`dense_forward` and :func:`activation_forward` of each layer; dropout: () when no
    dropout was applied (the default), else the :class:`DropoutCache` of every hidden layer
    (index l − 1 for a^l, l = 1..L−1; ``cache.dropout[l - 1].keep`` is the mask), and then
    a^l in ``a`` is the activation after dropout, the input of layer l + 1.
    """

    a: tuple
    z: tuple
    dense: tuple
    act: tuple
    dropout: tuple = ()

    @property
    def logits(self) -> np.ndarray:
        """z^L, the output layer's pre-activations (N, D_out)."""
        return self.z[-1]


class MLP:
    """A multi-layer perceptron built from :func:`dense_forward` and :func:`activation_forward`.

        a^0 = x,   z^l = a^{l-1} W^l + b^l,   a^l = f_l(z^l),   l = 1..L      (forward)

    sizes: [D_in, H_1, ..., H_{L−1}, D_out], so L = len(sizes) − 1 dense layers.
    hidden: activation of the hidden layers ("relu", "tanh", "sigmoid", "linear"), or a list
        with one name per hidden layer.
    output: activation of the output layer: "sigmoid" (binary, D_out = 1), "softmax"
        (K = D_out classes) or "linear" (regression).
    loss: "binary_crossentropy", "sparse_categorical_crossentropy" or "mse" (Keras' names);
        None picks the one that matches the output (sigmoid -> binary, softmax -> sparse
        categorical, linear -> mse). The cross-entropies are computed on the logits z^L.
    init: "he" (for ReLU) or "xavier" (Glorot uniform); None: "he" when the hidden
        activation is ReLU, else "xavier". Biases start at 0.
    seed: an int or a ``np.random.Generator``: the initial weights and the shuffling of
        :meth:`fit` come from it, so the same seed gives the same model and the same training.
    dtype: float64 (default; gradient checks) or float32 (Keras' default). Inputs are cast
        to it, as a Keras layer does.
    l2: L2 weight decay on every kernel W^l (not the biases), as
        ``Dense(..., kernel_regularizer=keras.regularizers.L2(l2))`` on every layer:
        :meth:`loss_and_grads` (and so :meth:`fit`) minimise C = C_data + l2 Σ_l Σ_ij (W^l_ij)²
        (:func:`l2_penalty`). 0 (default): none.
    dropout: a rate in [0, 1): ``keras.layers.Dropout(rate)`` after the activation of every
        hidden layer (not the output), applied in training only, i.e. by
        ``loss_and_grads(..., training=True)`` and :meth:`fit`; never by :meth:`forward`,
        :meth:`predict_proba`, :meth:`predict`, :meth:`accuracy` or :meth:`loss`. 0 (default): none.

    Parameters live in ``params`` = {"W1": W^1, "b1": b^1, "W2": ...} (W^l (H_{l−1}, H_l),
    b^l (H_l,)), in the order of Keras' ``model.get_weights()``: :meth:`get_weights`,
    :meth:`set_weights`, :meth:`to_keras` and :meth:`from_keras` move them across.
    """

    def __init__(self, sizes, hidden="relu", output="sigmoid", loss=None, init=None, seed=0,
                 dtype=np.float64, l2=0.0, dropout=0.0):
        func = "MLP"
        l2 = _l2_factor(l2, func)
        dropout = _dropout_rate(dropout, func, "dropout")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"{func}: sizes must be [D_in, ..., D_out] with at least 2 positive entries, got {sizes}")
        L = len(sizes) - 1
        hidden_list = [hidden] * (L - 1) if isinstance(hidden, str) or hidden is None else list(hidden)
        if len(hidden_list) != L - 1:
            raise ValueError(f"{func}: {L - 1} hidden layer(s) in sizes {sizes} but {len(hidden_list)} "
                             f"hidden activation(s) given ({hidden_list})")
        acts = [_activation_name(h, func) for h in hidden_list] + [_activation_name(output, func)]
        if "softmax" in acts[:-1]:
            raise ValueError(f"{func}: softmax is for the output layer only, got hidden {hidden_list}")
        if loss is None:
            loss = _DEFAULT_LOSS.get(acts[-1], "mse")
        if loss not in _LOSSES:
            raise ValueError(f"{func}: unknown loss {loss!r}, expected one of {', '.join(_LOSSES)}")
        needs = _LOSSES[loss][1]
        if needs is not None and acts[-1] != needs:
            raise ValueError(f"{func}: loss {loss!r} is computed on the logits of a {needs} output, "
                             f"got output {acts[-1]!r}")
        if init is None:
            init = "he" if all(a == "relu" for a in acts[:-1]) and L > 1 else "xavier"
        if init not in _INITS:
            raise ValueError(f"{func}: init must be 'he' or 'xavier', got {init!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"{func}: dtype must be float32 or float64, got {dtype}")

        self.sizes, self.activations, self.loss_name = sizes, acts, loss
        self.init, self.dtype = init, dtype
        self.l2, self.dropout = l2, dropout
        self.rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for l in range(1, L + 1):
            self.params[f"W{l}"] = _INITS[init](sizes[l - 1], sizes[l], self.rng, dtype)
            self.params[f"b{l}"] = np.zeros(sizes[l], dtype=dtype)

    # -- structure -------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """L, the number of dense layers."""
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        """The number of trainable numbers (Keras' ``model.count_params()``)."""
        return sum(p.size for p in self.params.values())

    def __repr__(self) -> str:
        dense = [f"Dense({n}, {a})" for n, a in zip(self.sizes[1:], self.activations)]
        if self.dropout:
            dense[:-1] = [f"{d}, Dropout({self.dropout:g})" for d in dense[:-1]]
        l2 = f" + L2({self.l2:g}) on the kernels" if self.l2 else ""
        return f"MLP(input {self.sizes[0]}: {', '.join(dense)}; loss {self.loss_name}{l2}, {self.n_params} parameters)"

    def _inputs(self, func: str, x) -> np.ndarray:
        x = _array(x, "x", f"MLP.{func}")
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"MLP.{func}: x must have shape (N, {self.sizes[0]}), got x {x.shape} "
                             f"(W1 {self.params['W1'].shape})")
        return x.astype(self.dtype, copy=False)

    # -- forward and backward ----------------------------------------------------------

    def forward(self, x):
        """The forward pass: z^l = a^{l−1} W^l + b^l, a^l = f_l(z^l) for l = 1..L.

        x: (N, D_in). Returns a^L (N, D_out) (probabilities for a sigmoid/softmax output)
        and an :class:`MLPCache` holding every a^l, z^l (``cache.logits`` is z^L).
        Never applies dropout (it is the inference pass, as Keras' ``model(x)``).
        """
        return self._forward(self._inputs("forward", x))

    def _forward(self, a, rng=None):
        """The forward pass of x = a; with an rng (and self.dropout > 0), every hidden a^l is
        replaced by dropout_forward(a^l, self.dropout, rng) (the training pass)."""
        drop = rng is not None and self.dropout > 0
        a_s, z_s, dense, act, dropped = [a], [], [], [], []
        for l in range(1, self.n_layers + 1):
            z, dc = dense_forward(a, self.params[f"W{l}"], self.params[f"b{l}"])
            a, ac = activation_forward(z, self.activations[l - 1])
            if drop and l < self.n_layers:
                a, drc = dropout_forward(a, self.dropout, rng)
                dropped.append(drc)
            a_s.append(a)
            z_s.append(z)
            dense.append(dc)
            act.append(ac)
        return a, MLPCache(tuple(a_s), tuple(z_s), tuple(dense), tuple(act), tuple(dropped))

    def output_delta(self, dC_da, cache):
        """δ^L = ∂C/∂a^L ⊙ f_L'(z^L) (BP1) for a loss computed on the output a^L (N, D_out).

        (For a softmax output the product with f_L' is the Jacobian product of
        :func:`activation_backward`.) Not needed for the cross-entropies on logits, whose
        loss functions return δ^L directly.
        """
        check_cache("MLP.output_delta", cache, MLPCache, "MLP.forward")
        return activation_backward(dC_da, cache.act[-1])

    def backward(self, delta_L, cache, return_deltas: bool = False):
        """Backpropagation: the gradients of C w.r.t. every W^l and b^l from δ^L = ∂C/∂z^L.

            ∂C/∂W^l = a^{l−1}ᵀ δ^l  (BP3),      ∂C/∂b^l = Σ_n δ^l_n  (BP4)
            δ^{l−1} = (δ^l W^lᵀ) ⊙ f_{l−1}'(z^{l−1})                      (BP2)

        for l = L, L−1, ..., 1. When the cache holds dropout masks (a training pass), the
        gradient δ^l W^lᵀ w.r.t. the dropped-out a^{l−1} goes through :func:`dropout_backward`
        first: δ^{l−1} = (δ^l W^lᵀ ⊙ keep^{l−1} / (1 − rate)) ⊙ f_{l−1}'(z^{l−1}).
        delta_L: (N, D_out), e.g. the dlogits returned by the loss (:meth:`output_delta` makes it
        from ∂C/∂a^L otherwise); cache: from :meth:`forward` (or a training pass).
        Returns grads = {"W1": ∂C/∂W^1, "b1": ∂C/∂b^1, ...} in the order of ``params``
        (Keras' order), and with ``return_deltas=True`` also [δ^1, ..., δ^L].
        """
        func = "MLP.backward"
        check_cache(func, cache, MLPCache, "MLP.forward")
        L = self.n_layers
        if len(cache.dropout) not in (0, L - 1):
            raise ValueError(f"{func}: cache.dropout must hold 0 or {L - 1} dropout caches (one per hidden "
                             f"layer), got {len(cache.dropout)}")
        delta = upstream_gradient(func, "delta_L", delta_L, cache.z[-1].shape, "z^L")
        grads, deltas = {}, [None] * L
        for l in range(L, 0, -1):
            deltas[l - 1] = delta
            da_prev, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(delta, cache.dense[l - 1])  # (BP3), (BP4)
            if l > 1:
                if cache.dropout:
                    da_prev = dropout_backward(da_prev, cache.dropout[l - 2])                   # (dropout)
                delta = activation_backward(da_prev, cache.act[l - 2])                          # (BP2)
        grads = {name: grads[name] for name in self.params}
        return (grads, deltas) if return_deltas else grads

    def loss(self, x, y):
        """The data loss C_data of the network on (x, y), without gradients. x: (N, D_in).

        This is what is evaluated on validation data: no L2 penalty and no dropout (Keras'
        ``evaluate`` would add the penalty; :meth:`loss_and_grads` gives the training objective).
        """
        a_L, cache = self.forward(x)
        loss_fn = _LOSSES[self.loss_name][0]
        return loss_fn(a_L if self.loss_name == "mse" else cache.logits, y)[0]

    def loss_and_grads(self, x, y, *, training=False, rng=None):
        """Forward, loss, backward: returns (C, grads) with grads as in :meth:`backward`.

        x: (N, D_in); y: labels (N,) or (N, 1) 0/1 for binary cross-entropy, integer labels
        (N,) for sparse categorical cross-entropy, targets (N, D_out) for mse.
        C is the training objective: the data loss plus, when ``self.l2 > 0``, the penalty of
        :func:`l2_penalty`, C = C_data + l2 Σ_l Σ_ij (W^l_ij)², with ∂C/∂W^l = (BP3) + 2 l2 W^l
        (Keras' ``loss + sum(model.losses)``).
        training: True applies dropout (when ``self.dropout > 0``) after every hidden
            activation, with masks drawn from ``rng`` (default: this model's ``self.rng``);
            the backward pass goes through the same masks. False (default): no dropout.
        rng: a ``np.random.Generator``; a fresh ``np.random.default_rng(k)`` on every call
            draws the same masks every time (how a dropout network is gradient-checked).
        """
        func = "MLP.loss_and_grads"
        if rng is not None:
            _generator(rng, func)
        x = self._inputs("loss_and_grads", x)
        a_L, cache = self._forward(x, (self.rng if rng is None else rng) if training else None)
        if self.loss_name == "mse":
            loss, dC_da = mean_squared_error(a_L, y)
            delta_L = self.output_delta(dC_da, cache)                  # (BP1)
        else:
            loss, delta_L = _LOSSES[self.loss_name][0](cache.logits, y)  # δ^L = (a^L − y)/N
        grads = self.backward(delta_L, cache)
        if self.l2:
            penalty, dpenalty = l2_penalty(self.params, self.l2)     # (L2)
            loss = loss + loss.dtype.type(penalty)
            grads = {name: g + dpenalty[name] for name, g in grads.items()}
        return loss, grads

    # -- prediction -------------------------------------------------------------------

    def predict_proba(self, x):
        """a^L (N, D_out): the predicted probabilities for a sigmoid or softmax output (the
        output for a linear one), the same numbers as Keras' ``model.predict(x)``."""
        return self.forward(x)[0]

    def predict(self, x, threshold: float = 0.5):
        """Class predictions: (p ≥ threshold) as 0/1 ints (N,) for one sigmoid output
        ((N, D_out) for several), argmax (N,) for softmax; a^L itself for a linear output."""
        p = self.predict_proba(x)
        out = self.activations[-1]
        if out == "softmax":
            return p.argmax(axis=1)
        if out == "sigmoid":
            labels = (p >= threshold).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return p

    def accuracy(self, x, y, threshold: float = 0.5) -> float:
        """The fraction of examples whose :meth:`predict` equals the label y (N,)."""
        pred = self.predict(x, threshold)
        y = np.asarray(y)
        y = y.reshape(pred.shape) if y.size == pred.size else y
        if y.shape != pred.shape:
            raise ValueError(f"MLP.accuracy: y must have shape {pred.shape}, got y {np.shape(y)}")
        return float(np.mean(pred == y))

    # -- training ---------------------------------------------------------------------

    def fit(self, x, y, epochs: int = 100, batch_size: int | None = None, optimizer="adam",
            learning_rate: float | None = None, validation_data=None, shuffle: bool = True,
            verbose: int = 0, early_stopping: int | None = None, restore_best_weights: bool = True) -> dict:
        """Train with mini-batch gradient descent; returns the history, as Keras' ``fit``.

        For each epoch the examples are shuffled (with this model's seeded generator) and cut
        into batches of ``batch_size`` (None: the whole set, i.e. full-batch gradient
        descent); for each batch: C, grads = loss_and_grads(batch, training=True);
        optimizer.step(params, grads). So the L2 penalty (``l2``) is part of C and dropout
        (``dropout``) is applied, with masks drawn from this model's generator.

        x: (N, D_in); y: labels/targets as in :meth:`loss_and_grads`.
        optimizer: "adam" (default learning rate 1e-3), "sgd" (1e-2), or an :class:`Adam` /
            :class:`SGD` object.
        validation_data: optional (x_val, y_val), evaluated with :meth:`loss` after every epoch.
        verbose: print every ``verbose``-th epoch (0: silent).
        early_stopping: None (default) or a patience p >= 1, as
            ``keras.callbacks.EarlyStopping(monitor="val_loss", patience=p,
            restore_best_weights=...)`` (needs validation_data): training stops once val_loss
            has not improved (been strictly lower than the best so far) for p consecutive
            epochs. With ``restore_best_weights`` (default True) the parameters of the best
            epoch are then copied back into ``params`` (in place), also when all ``epochs``
            ran without stopping, as Keras 3 does; the optimiser's state is not rewound.

        Returns a dict with one value per epoch run in each list:
            "loss": the training objective (data loss + L2 penalty, with dropout) averaged over
                the epoch's batches, weighted by batch size (as Keras reports it);
            "val_loss" (with validation_data): the data loss on the validation set after the
                epoch, without penalty or dropout (Keras' val_loss would include the penalty);
            "time": wall-clock seconds (``time.perf_counter``) from the start of fit to the end
                of each epoch, for curves of loss against time;
            "best_epoch" (with validation_data): the epoch (1-based) of the lowest val_loss
                (0 if no epoch ran); "stopped_epoch": the last epoch run (< epochs after an
                early stop).
        """
        t0 = time.perf_counter()
        x = self._inputs("fit", x)
        N = x.shape[0]
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != N:
            raise ValueError(f"MLP.fit: y must have one row per example of x, got y {y.shape} and x {x.shape}")
        _check_fit_arguments("MLP.fit", epochs, early_stopping, validation_data)
        batch_size = N if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"MLP.fit: batch_size must be >= 1 or None, got {batch_size}")
        opt = _optimizer(optimizer, learning_rate)
        return _fit_loop(self, lambda batch: self.loss_and_grads(x[batch], y[batch], training=True), N,
                         epochs=epochs, batch_size=batch_size, optimizer=opt, validation_data=validation_data,
                         shuffle=shuffle, verbose=verbose, early_stopping=early_stopping,
                         restore_best_weights=restore_best_weights, t0=t0)

    # -- weights, to and from Keras -------------------------------------------------------

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] (copies), Keras' ``model.get_weights()`` order and layout."""
        return [p.copy() for p in self.params.values()]

    def set_weights(self, weights) -> None:
        """Copy [W1, b1, W2, b2, ...] (e.g. Keras' ``model.get_weights()``) into ``params``.

        Shapes must match exactly: W^l (H_{l−1}, H_l), b^l (H_l,). Values are cast to this
        model's dtype and written in place (so an optimiser's state stays attached).
        """
        _copy_weights(self.params, weights, "MLP.set_weights")

    def to_keras(self):
        """A Keras ``Sequential`` of ``Dense`` layers with the same activations and weights.

        Its ``predict`` gives the same numbers as :meth:`predict_proba` (the layers use this
        model's dtype). Imports TensorFlow (a few seconds the first time).
        """
        from helpers import import_tensorflow

        import_tensorflow()
        import keras

        dt = self.dtype.name
        layers = [keras.Input(shape=(self.sizes[0],), dtype=dt)]
        layers += [keras.layers.Dense(n, activation=a, dtype=dt) for n, a in zip(self.sizes[1:], self.activations)]
        model = keras.Sequential(layers)
        model.set_weights(self.get_weights())
        return model

    @classmethod
    def from_keras(cls, model, loss=None, dtype=None, seed=0) -> MLP:
        """An MLP with the layers, activations and weights of a Keras ``Sequential`` of Dense
        layers (with biases). dtype: None keeps the Keras weights' dtype."""
        import keras

        layers = list(model.layers)
        if not layers or not all(isinstance(layer, keras.layers.Dense) for layer in layers):
            kinds = [type(layer).__name__ for layer in layers]
            raise ValueError(f"MLP.from_keras: the model must be a Sequential of Dense layers only, got {kinds}")
        weights = model.get_weights()
        if len(weights) != 2 * len(layers):
            raise ValueError("MLP.from_keras: every Dense layer needs a bias (use_bias=True)")
        acts = [layer.get_config()["activation"] for layer in layers]
        for a in acts:
            if not isinstance(a, str) or a not in _ALL_ACTIVATIONS:
                raise ValueError(f"MLP.from_keras: unsupported activation {a!r}, expected one of "
                                 f"{', '.join(_ALL_ACTIVATIONS)}")
        sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights[0::2]]
        mlp = cls(sizes, hidden=acts[:-1], output=acts[-1], loss=loss, seed=seed,
                  dtype=weights[0].dtype if dtype is None else dtype)
        mlp.set_weights(weights)
        return mlp
