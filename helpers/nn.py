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
from typing import NamedTuple

import numpy as np

from helpers._validate import as_float_array, check_cache, check_finite, result_dtype, upstream_gradient

__all__ = [
    "ACTIVATIONS", "MLP", "SGD", "ActivationCache", "Adam", "DenseCache", "MLPCache",
    "activation_backward", "activation_forward", "binary_cross_entropy_with_logits",
    "dense_backward", "dense_forward", "he_init", "linear", "linear_derivative",
    "mean_squared_error", "relu", "relu_derivative", "sigmoid", "sigmoid_derivative", "softmax",
    "softmax_cross_entropy_with_logits", "softmax_jacobian", "tanh", "tanh_derivative", "xavier_init",
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
    if y.dtype.kind == "f":
        check_finite(y, "y", func)
        if np.any(y != np.round(y)):
            raise ValueError(f"{func}: y must hold whole-number class labels 0..{K - 1}, got non-integer values")
    elif y.dtype.kind not in "iub":
        raise ValueError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    labels = y.astype(np.int64)
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


def _optimizer(optimizer, learning_rate):
    if isinstance(optimizer, (SGD, Adam)):
        if learning_rate is not None:
            raise ValueError("MLP.fit: give learning_rate to the optimizer object, not to fit")
        return optimizer
    if optimizer == "adam":
        return Adam() if learning_rate is None else Adam(learning_rate)
    if optimizer == "sgd":
        return SGD() if learning_rate is None else SGD(learning_rate)
    raise ValueError(f"MLP.fit: optimizer must be 'adam', 'sgd' or an SGD/Adam object, got {optimizer!r}")


# --------------------------------------------------------------------------------------
# the multi-layer perceptron
# --------------------------------------------------------------------------------------

class MLPCache(NamedTuple):
    """What :meth:`MLP.backward` needs, layer by layer (index l − 1 holds layer l).

    a: (a^0 = x, a^1, ..., a^L); z: (z^1, ..., z^L); dense, act: the caches of
    :func:`dense_forward` and :func:`activation_forward` of each layer.
    """

    a: tuple
    z: tuple
    dense: tuple
    act: tuple

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

    Parameters live in ``params`` = {"W1": W^1, "b1": b^1, "W2": ...} (W^l (H_{l−1}, H_l),
    b^l (H_l,)), in the order of Keras' ``model.get_weights()``: :meth:`get_weights`,
    :meth:`set_weights`, :meth:`to_keras` and :meth:`from_keras` move them across.
    """

    def __init__(self, sizes, hidden="relu", output="sigmoid", loss=None, init=None, seed=0,
                 dtype=np.float64):
        func = "MLP"
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
        layers = ", ".join(f"Dense({n}, {a})" for n, a in zip(self.sizes[1:], self.activations))
        return f"MLP(input {self.sizes[0]}: {layers}; loss {self.loss_name}, {self.n_params} parameters)"

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
        """
        a = self._inputs("forward", x)
        a_s, z_s, dense, act = [a], [], [], []
        for l in range(1, self.n_layers + 1):
            z, dc = dense_forward(a, self.params[f"W{l}"], self.params[f"b{l}"])
            a, ac = activation_forward(z, self.activations[l - 1])
            a_s.append(a)
            z_s.append(z)
            dense.append(dc)
            act.append(ac)
        return a, MLPCache(tuple(a_s), tuple(z_s), tuple(dense), tuple(act))

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

        for l = L, L−1, ..., 1. delta_L: (N, D_out), e.g. the dlogits returned by the loss
        (:meth:`output_delta` makes it from ∂C/∂a^L otherwise); cache: from :meth:`forward`.
        Returns grads = {"W1": ∂C/∂W^1, "b1": ∂C/∂b^1, ...} in the order of ``params``
        (Keras' order), and with ``return_deltas=True`` also [δ^1, ..., δ^L].
        """
        func = "MLP.backward"
        check_cache(func, cache, MLPCache, "MLP.forward")
        L = self.n_layers
        delta = upstream_gradient(func, "delta_L", delta_L, cache.z[-1].shape, "z^L")
        grads, deltas = {}, [None] * L
        for l in range(L, 0, -1):
            deltas[l - 1] = delta
            da_prev, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(delta, cache.dense[l - 1])  # (BP3), (BP4)
            if l > 1:
                delta = activation_backward(da_prev, cache.act[l - 2])                          # (BP2)
        grads = {name: grads[name] for name in self.params}
        return (grads, deltas) if return_deltas else grads

    def loss(self, x, y):
        """The loss C of the network on (x, y), without gradients. x: (N, D_in)."""
        a_L, cache = self.forward(x)
        loss_fn = _LOSSES[self.loss_name][0]
        return loss_fn(a_L if self.loss_name == "mse" else cache.logits, y)[0]

    def loss_and_grads(self, x, y):
        """Forward, loss, backward: returns (C, grads) with grads as in :meth:`backward`.

        x: (N, D_in); y: labels (N,) or (N, 1) 0/1 for binary cross-entropy, integer labels
        (N,) for sparse categorical cross-entropy, targets (N, D_out) for mse.
        """
        a_L, cache = self.forward(x)
        if self.loss_name == "mse":
            loss, dC_da = mean_squared_error(a_L, y)
            delta_L = self.output_delta(dC_da, cache)                  # (BP1)
        else:
            loss, delta_L = _LOSSES[self.loss_name][0](cache.logits, y)  # δ^L = (a^L − y)/N
        return loss, self.backward(delta_L, cache)

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
            verbose: int = 0) -> dict:
        """Train with mini-batch gradient descent; returns the history, as Keras' ``fit``.

        For each epoch the examples are shuffled (with this model's seeded generator) and cut
        into batches of ``batch_size`` (None: the whole set, i.e. full-batch gradient
        descent); for each batch: C, grads = loss_and_grads(batch); optimizer.step(params,
        grads).

        x: (N, D_in); y: labels/targets as in :meth:`loss_and_grads`.
        optimizer: "adam" (default learning rate 1e-3), "sgd" (1e-2), or an :class:`Adam` /
            :class:`SGD` object.
        validation_data: optional (x_val, y_val), evaluated after every epoch.
        verbose: print every ``verbose``-th epoch (0: silent).
        Returns {"loss": [...], "val_loss": [...]} with one value per epoch; "loss" is the
        mean of the batch losses during the epoch, weighted by batch size (as Keras reports).
        """
        x = self._inputs("fit", x)
        N = x.shape[0]
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != N:
            raise ValueError(f"MLP.fit: y must have one row per example of x, got y {y.shape} and x {x.shape}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"MLP.fit: epochs must be a non-negative int, got {epochs!r}")
        batch_size = N if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"MLP.fit: batch_size must be >= 1 or None, got {batch_size}")
        opt = _optimizer(optimizer, learning_rate)
        history = {"loss": []}
        if validation_data is not None:
            history["val_loss"] = []
        for epoch in range(1, epochs + 1):
            order = self.rng.permutation(N) if shuffle else np.arange(N)
            total = 0.0
            for start in range(0, N, batch_size):
                idx = order[start:start + batch_size]
                loss, grads = self.loss_and_grads(x[idx], y[idx])
                opt.step(self.params, grads)
                total += float(loss) * len(idx)
            history["loss"].append(total / N)
            if validation_data is not None:
                history["val_loss"].append(float(self.loss(*validation_data)))
            if verbose and (epoch % verbose == 0 or epoch == epochs):
                extra = f", val_loss {history['val_loss'][-1]:.4f}" if validation_data is not None else ""
                print(f"epoch {epoch}/{epochs}: loss {history['loss'][-1]:.4f}{extra}")
        return history

    # -- weights, to and from Keras -------------------------------------------------------

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] (copies), Keras' ``model.get_weights()`` order and layout."""
        return [p.copy() for p in self.params.values()]

    def set_weights(self, weights) -> None:
        """Copy [W1, b1, W2, b2, ...] (e.g. Keras' ``model.get_weights()``) into ``params``.

        Shapes must match exactly: W^l (H_{l−1}, H_l), b^l (H_l,). Values are cast to this
        model's dtype and written in place (so an optimiser's state stays attached).
        """
        weights = list(weights)
        names = list(self.params)
        if len(weights) != len(names):
            raise ValueError(f"MLP.set_weights: expected {len(names)} arrays ({', '.join(names)}), got {len(weights)}")
        arrays = []
        for name, w in zip(names, weights):
            w = _array(w, name, "MLP.set_weights")
            if w.shape != self.params[name].shape:
                raise ValueError(f"MLP.set_weights: {name} must have shape {self.params[name].shape}, got {w.shape}")
            arrays.append(w)
        for name, w in zip(names, arrays):
            self.params[name][...] = w

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
