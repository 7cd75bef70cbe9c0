"""A small CNN built from the chapter's own layers, trained end to end in NumPy.

Chapter 2 (``03_convolution_pooling.ipynb`` derives the layers; ``04_cnn_chest_xray.ipynb`` builds
this network, trains it against its Keras twin, then trains the article's network in Keras): this
module puts :mod:`helpers.conv` and :mod:`helpers.nn` together into the network of notebook 04,
with a forward and a backward pass through the whole network, so
that the NumPy network can be gradient-checked as a whole and trained with :class:`nn.SGD` or
:class:`nn.Adam`. ``tests/test_cnn.py`` checks it against Keras (predictions, the gradients of
``tf.GradientTape`` and training from the same weights); ``benchmarks/bench_cnn.py`` times it.

The network (defaults: notebook 04's, with one sigmoid output for "pneumonia")::

    x        (N, 28, 28, 1)                                        the images (NHWC)
    conv1    z1 = conv2d(x, W1, b1)          (N, 26, 26, 32)       W1 (3, 3, 1, 32), b1 (32,)
    relu1    a1 = max(z1, 0)
    pool1    p1 = max_pool2d(a1, 2)          (N, 13, 13, 32)
    conv2    z2 = conv2d(p1, W2, b2)         (N, 11, 11, 64)       W2 (3, 3, 32, 64), b2 (64,)
    relu2    a2 = max(z2, 0)
    pool2    p2 = max_pool2d(a2, 2)          (N, 5, 5, 64)
    flatten  f = p2.reshape(N, 1600)         (N, 1600)             (row-major: Keras' Flatten)
    [hidden  h = relu(f W3 + b3)             (N, H)                only with ``hidden=H``]
    output   s = f W3 + b3  (or h W4 + b4)   (N, 1)                the logit (log-odds)
             P = σ(s)                        (N, 1)                P(pneumonia)

The softmax over two classes of notebook 04 is the same model as one sigmoid unit (its eq. (3):
softmax(z)_1 = σ(z_1 − z_0)); one unit and binary cross-entropy is the form :mod:`helpers.nn`
derives. The backward pass runs the same list in reverse, each layer's backward function
turning the gradient of its output into the gradient of its input and of its weights::

    δ = ∂C/∂s = (P − y)/N                    nn.binary_cross_entropy_with_logits
    dense:   df, dW, db = dense_backward(δ)  (BP3), (BP4)
    unflatten, then for each block, last to first:
    pool:    da = max_pool2d_backward(dp)    the gradient goes to each window's maximum
    relu:    dz = da ⊙ (z > 0)               (BP2)
    conv:    dp_prev, dW, db = conv2d_backward(dz)   (the first block skips dx: need_dx=False)

Parameters live in ``params`` = {"W1", "b1", "W2", "b2", ...}: the kernels and biases of the
convolutions, then those of the dense layers, in the order and layout of Keras'
``model.get_weights()`` (conv kernels HWIO (KH, KW, C, F), dense kernels (D_in, D_out)), so
``set_weights(keras_model.get_weights())`` and :meth:`CNN.to_keras` move them across. The
names follow :class:`nn.MLP` ("W" kernels, "b" biases), which :func:`nn.l2_penalty` and the
optimisers rely on. Weights start as Keras starts them: Glorot uniform kernels, zero biases.

Which input pixels can influence the output at all is a question of the architecture, not of
the weights: :func:`receptive_field_coverage` walks the window of every last-layer unit back to the
input along one axis, and :meth:`CNN.input_coverage` gives the (H, W) count per pixel. With
notebook 04's "valid" padding, ``pool2`` drops row and column 10 of ``conv2``, and input rows and
columns 26-27 have coverage 0. :func:`blank_border` overwrites a frame of the images, for the
border-occlusion test of notebook 04.

Float32 by default (as Keras, and twice as fast); float64 for gradient checks. Inputs are
validated and a ``ValueError`` names the method and the expected and received shapes.
"""

# ruff: noqa: E741  (l is the layer index, as in helpers/nn.py and the notebooks' equations)
from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from helpers import conv, nn
from helpers._validate import as_float_array, check_cache, check_finite

__all__ = ["CNN", "CNNCache", "blank_border", "receptive_field_coverage"]

# predict_proba and loss run over this many images at a time: the whole training set at once
# would need ~2 GB for the feature maps of the first layer alone.
_EVAL_BATCH = 256


class CNNCache(NamedTuple):
    """What :meth:`CNN.backward` needs, layer by layer (index l − 1 holds block / dense layer l).

    conv: the :class:`conv.ConvCache` of each convolution; z: each convolution's output, the
    pre-activation of its ReLU (N, h, w, F) (its sign is the ReLU's derivative); pool: the
    :class:`conv.MaxPoolCache` of each pooling; pooled_shape: the
    shape (N, h, w, F) of the last pooled map, before flattening; dense: the
    :class:`nn.DenseCache` of each dense layer; hidden: the :class:`nn.ActivationCache` of the
    hidden dense layer's ReLU (empty without one); logits: s (N, 1), before the sigmoid.
    """

    conv: tuple
    z: tuple
    pool: tuple
    pooled_shape: tuple
    dense: tuple
    hidden: tuple
    logits: np.ndarray


def _relu_forward(z):
    """a = max(z, 0): ``nn.relu`` on a feature map, without checking z for NaN again.

    z comes straight from ``conv.conv2d_forward``, whose inputs were checked; the check (a pass
    over the largest arrays of the network) would cost more than the ReLU itself.
    """
    return np.maximum(z, 0)


def _relu_backward(da, z):
    """dz = da ⊙ relu'(z) = da ⊙ (z > 0) (``nn.relu_derivative``: 0 at z = 0, as TensorFlow).

    Overwrites and returns da: the caller hands over the fresh array of the pooling's backward pass.
    """
    da *= z > 0
    return da


def _glorot_uniform(shape, fan_in: int, fan_out: int, rng, dtype) -> np.ndarray:
    """Keras' default kernel initialiser: U(−r, r), r = √(6 / (fan_in + fan_out)).

    For a convolution kernel (KH, KW, C, F) Keras takes fan_in = KH·KW·C, fan_out = KH·KW·F.
    """
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, size=shape).astype(dtype)


def _positive_int(v, name: str, func: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{func}: {name} must be a positive int, got {v!r}")
    return int(v)


class CNN:
    """Notebook 04's CNN in NumPy: (conv → ReLU → max-pool) × blocks → flatten → [dense → ReLU] → dense → σ.

    input_shape: (H, W, C) of one image; (28, 28, 1) for MedMNIST.
    filters: the number of filters of each convolution block, (32, 64) as in notebook 04.
    kernel_size: the side of the square kernels (3); pool_size: the side and stride of the
        max-pooling windows (2, pooling always "valid", Keras' default).
    padding: "valid" (Keras' default, as in notebook 04) or "same", for the convolutions.
    hidden: None (notebook 04: flatten → output) or H, a hidden Dense(H, relu) before the output.
    seed: an int or a ``np.random.Generator``: the initial weights and :meth:`fit`'s shuffling.
    dtype: float32 (default, as Keras) or float64 (gradient checks); inputs are cast to it.

    Every layer is a function of :mod:`helpers.conv` or :mod:`helpers.nn`; see the module's
    docstring for the shapes of every step and ``params`` for the weights.
    """

    def __init__(self, input_shape=(28, 28, 1), filters=(32, 64), kernel_size=3, pool_size=2,
                 padding="valid", hidden=None, seed=0, dtype=np.float32):
        func = "CNN"
        if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
            raise ValueError(f"{func}: input_shape must be (H, W, C), got {input_shape!r}")
        input_shape = tuple(_positive_int(v, "input_shape", func) for v in input_shape)
        if isinstance(filters, (int, np.integer)):
            filters = (filters,)
        filters = tuple(_positive_int(f, "filters", func) for f in filters)
        if not filters:
            raise ValueError(f"{func}: filters must name at least one convolution block, got {filters!r}")
        kernel_size = _positive_int(kernel_size, "kernel_size", func)
        pool_size = _positive_int(pool_size, "pool_size", func)
        if padding not in ("valid", "same"):
            raise ValueError(f"{func}: padding must be 'valid' or 'same', got {padding!r}")
        hidden = None if hidden is None else _positive_int(hidden, "hidden", func)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"{func}: dtype must be float32 or float64, got {dtype}")

        self.input_shape, self.filters, self.hidden = input_shape, filters, hidden
        self.kernel_size, self.pool_size, self.padding, self.dtype = kernel_size, pool_size, padding, dtype
        self.shapes = self._layer_shapes()                   # [(name, shape of one image's output)]
        self.rng = np.random.default_rng(seed)
        K, C = kernel_size, input_shape[2]
        self.params: dict[str, np.ndarray] = {}
        for l, F in enumerate(filters, start=1):             # the convolutions
            self.params[f"W{l}"] = _glorot_uniform((K, K, C, F), K * K * C, K * K * F, self.rng, dtype)
            self.params[f"b{l}"] = np.zeros(F, dtype=dtype)
            C = F
        sizes = [dict(self.shapes)["flatten"][0]]          # the flattened length h·w·F
        sizes += ([hidden] if hidden else []) + [1]
        for k in range(len(sizes) - 1):                      # the dense layers
            name = len(filters) + k + 1
            self.params[f"W{name}"] = _glorot_uniform((sizes[k], sizes[k + 1]), sizes[k], sizes[k + 1],
                                                      self.rng, dtype)
            self.params[f"b{name}"] = np.zeros(sizes[k + 1], dtype=dtype)

    # -- structure ---------------------------------------------------------------------

    def _layer_shapes(self):
        """[(layer name, output shape of one image)], checking that every layer fits."""
        H, W, _ = self.input_shape
        K, S = self.kernel_size, self.pool_size
        shapes, trace = [], f"input {self.input_shape}"
        for l, F in enumerate(self.filters, start=1):
            for what, k, stride, pad in (("conv", K, 1, self.padding), ("pool", S, S, "valid")):
                if pad == "valid" and (k > H or k > W):
                    raise ValueError(f"CNN: the {k}x{k} window of {what}{l} does not fit in its {H}x{W} input "
                                     f"({trace}); use larger images or fewer blocks")
                H = conv.conv_output_size(H, k, stride, pad)
                W = conv.conv_output_size(W, k, stride, pad)
                shapes.append((f"{what}{l}", (H, W, F)))
                trace += f" -> {what}{l} {(H, W, F)}"
        shapes.append(("flatten", (H * W * self.filters[-1],)))
        if self.hidden:
            shapes.append(("hidden", (self.hidden,)))
        shapes.append(("output", (1,)))
        return shapes

    @property
    def n_params(self) -> int:
        """The number of trainable numbers (Keras' ``model.count_params()``)."""
        return sum(p.size for p in self.params.values())

    @property
    def layer_windows(self) -> list:
        """[(kernel, stride, padding)] of the convolutions and poolings, from the input on (one axis).

        The argument of :func:`receptive_field_coverage`: conv l is (K, 1, padding), pool l is
        (S, S, "valid"). The 04 network: [(3, 1, "valid"), (2, 2, "valid"), (3, 1, "valid"), (2, 2, "valid")].
        """
        K, S = self.kernel_size, self.pool_size
        return [w for _ in self.filters for w in ((K, 1, self.padding), (S, S, "valid"))]

    def input_coverage(self) -> np.ndarray:
        """(H, W) ints: for each input pixel (p, q), how many positions (i, j) of the last pooled map see it.

        The last pooled map (h, w, F) is what ``flatten`` reads: its h·w positions (each with F
        channels, which all see the same pixels) are the features the dense layers receive. A
        position sees pixel (p, q) when (p, q) lies in its receptive field. Rows and columns are
        independent (square windows slide along each axis separately), so the count is the outer
        product of :func:`receptive_field_coverage` along the rows and along the columns. A pixel
        with count 0 cannot influence the output, whatever the weights. Depends on the
        architecture only, not on the weights.
        """
        H, W, _ = self.input_shape
        rows = receptive_field_coverage(H, self.layer_windows)
        cols = receptive_field_coverage(W, self.layer_windows)
        return np.outer(rows, cols)

    def __repr__(self) -> str:
        layers = ", ".join(f"{name} {shape}" for name, shape in self.shapes)
        return (f"CNN(input {self.input_shape}, {self.kernel_size}x{self.kernel_size} convolutions "
                f"({self.padding}), {self.pool_size}x{self.pool_size} max-pooling: {layers}; "
                f"{self.n_params} parameters, {self.dtype.name})")

    def _inputs(self, func: str, x) -> np.ndarray:
        """x as an (N, H, W, C) array of this model's dtype, or a ValueError naming the shapes."""
        func = f"CNN.{func}"
        x = as_float_array(x, "x", func)
        want = "(N, " + ", ".join(str(v) for v in self.input_shape) + ")"
        if x.ndim == 3 and x.shape[1:] == self.input_shape[:2] and self.input_shape[2] == 1:
            raise ValueError(f"{func}: x must have shape {want}, got x {x.shape}: add the channel axis, "
                             f"x[..., None]")
        if x.ndim != 4:
            raise ValueError(f"{func}: x must be 4-D {want}, got x {x.shape} ({x.ndim}-D)")
        if x.shape[3] != self.input_shape[2]:
            raise ValueError(f"{func}: x has {x.shape[3]} channel(s) but the network expects "
                             f"{self.input_shape[2]} (x {x.shape}, W1 {self.params['W1'].shape})")
        if x.shape[1:3] != self.input_shape[:2]:
            raise ValueError(f"{func}: x has {x.shape[1]}x{x.shape[2]} images but the network expects "
                             f"{self.input_shape[0]}x{self.input_shape[1]} (x {x.shape}, expected {want})")
        if x.shape[0] == 0:
            raise ValueError(f"{func}: x holds no images (x {x.shape})")
        check_finite(x, "x", func)
        return x.astype(self.dtype, copy=False)

    # -- forward and backward ------------------------------------------------------------

    def forward(self, x):
        """The forward pass of the module's figure, layer by layer.

        x: (N, H, W, C) images. Returns P (N, 1), the predicted probabilities σ(s), and a
        :class:`CNNCache` for :meth:`backward` (``cache.logits`` is s (N, 1)).
        """
        return self._forward(self._inputs("forward", x))

    def _forward(self, x):
        B = len(self.filters)
        convs, zs, pools = [], [], []
        a = x
        for l in range(1, B + 1):                                    # the convolution blocks
            z, c = conv.conv2d_forward(a, self.params[f"W{l}"], self.params[f"b{l}"], padding=self.padding)
            convs.append(c)
            zs.append(z)
            a = _relu_forward(z)                                     # ReLU
            a, p = conv.max_pool2d_forward(a, self.pool_size)         # max-pooling
            pools.append(p)
        pooled_shape = a.shape
        a = a.reshape(a.shape[0], -1)                                # flatten (N, h·w·F)
        dense, hidden = [], []
        names = [k[1:] for k in self.params if k.startswith("W")][B:]
        for i, l in enumerate(names):                                # the dense layers
            a, d = nn.dense_forward(a, self.params[f"W{l}"], self.params[f"b{l}"])
            dense.append(d)
            if i < len(names) - 1:                                   # the hidden layer's ReLU
                a, h = nn.activation_forward(a, "relu")
                hidden.append(h)
        logits = a
        P = nn.sigmoid(logits)                                       # the output
        return P, CNNCache(tuple(convs), tuple(zs), tuple(pools), pooled_shape, tuple(dense),
                           tuple(hidden), logits)

    def backward(self, delta_L, cache, return_dx: bool = False):
        """Backpropagation through the whole network, from δ = ∂C/∂s (N, 1) to every parameter.

        Runs the forward pass's layers in reverse (module docstring); each backward function of
        :mod:`helpers.conv` / :mod:`helpers.nn` turns the gradient of a layer's output into
        those of its input and weights. delta_L: (N, 1), e.g. the dlogits of
        ``nn.binary_cross_entropy_with_logits``; cache: from :meth:`forward`.
        Returns grads {"W1": ∂C/∂W1, "b1": ..., } in the order of ``params``, and with
        ``return_dx=True`` also dx = ∂C/∂x (N, H, W, C) (the saliency of every pixel).
        """
        func = "CNN.backward"
        check_cache(func, cache, CNNCache, "CNN.forward")
        B = len(self.filters)
        grads = {}
        d = delta_L
        names = [k[1:] for k in self.params if k.startswith("W")][B:]
        for i in range(len(names) - 1, -1, -1):                      # the dense layers, last first
            if i < len(names) - 1:
                d = nn.activation_backward(d, cache.hidden[i])       # the hidden layer's ReLU
            d, grads[f"W{names[i]}"], grads[f"b{names[i]}"] = nn.dense_backward(d, cache.dense[i])
        d = d.reshape(cache.pooled_shape)                            # un-flatten
        for l in range(B, 0, -1):                                    # the blocks, last first
            d = conv.max_pool2d_backward(d, cache.pool[l - 1])       # to each window's maximum
            d = _relu_backward(d, cache.z[l - 1])                    # ⊙ (z > 0)
            need_dx = l > 1 or return_dx                             # the images need no gradient
            d, grads[f"W{l}"], grads[f"b{l}"] = conv.conv2d_backward(d, cache.conv[l - 1], need_dx=need_dx)
        grads = {name: grads[name] for name in self.params}
        return (grads, d) if return_dx else grads

    def _class_weight(self, class_weight, func: str):
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict) or set(class_weight) - {0, 1}:
            raise ValueError(f"{func}: class_weight must be a dict {{0: w0, 1: w1}}, got {class_weight!r}")
        weights = {int(k): float(v) for k, v in class_weight.items()}
        if not all(np.isfinite(v) and v >= 0 for v in weights.values()):
            raise ValueError(f"{func}: class weights must be finite and >= 0, got {class_weight!r}")
        return {c: weights.get(c, 1.0) for c in (0, 1)}

    def loss_and_grads(self, x, y, class_weight=None, return_dx: bool = False):
        """Forward, loss, backward: returns (C, grads) (and dx with ``return_dx=True``).

        x: (N, H, W, C); y: (N,) 0/1 labels. C is the binary cross-entropy of σ(s) against y,
        computed on the logits by ``nn.binary_cross_entropy_with_logits`` (δ = (P − y)/N).
        class_weight: None, or {0: w0, 1: w1} as Keras' ``fit(class_weight=...)``: example n
        counts w_{y_n} times, C = Σ_n w_{y_n} ℓ_n / N (Keras 3 divides by the batch size, not by
        the sum of the weights), so δ_n = w_{y_n} (P_n − y_n)/N.
        """
        func = "CNN.loss_and_grads"
        x = self._inputs("loss_and_grads", x)
        y = self._labels(func, y, x.shape[0])
        weights = self._class_weight(class_weight, func)
        _, cache = self._forward(x)
        loss, delta = self._loss(cache.logits, y, weights)
        grads = self.backward(delta, cache, return_dx=return_dx)
        return (loss, *grads) if return_dx else (loss, grads)

    @staticmethod
    def _loss(logits, y, weights):
        """(C, δ) of the (class-weighted) binary cross-entropy on the logits (N, 1)."""
        if weights is None:
            return nn.binary_cross_entropy_with_logits(logits, y)
        # Σ_n w_{y_n} ℓ_n / N = Σ_c w_c (N_c / N) · mean_{n in class c} ℓ_n, one class at a time
        N = len(y)
        loss, delta = logits.dtype.type(0), np.zeros_like(logits)
        for c, w_c in weights.items():
            rows = y == c
            if rows.any():
                share = logits.dtype.type(w_c * rows.sum() / N)
                loss_c, delta_c = nn.binary_cross_entropy_with_logits(logits[rows], y[rows])
                loss += share * loss_c
                delta[rows] = share * delta_c
        return loss, delta

    def _labels(self, func: str, y, N: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape not in ((N,), (N, 1)):
            raise ValueError(f"{func}: y must have shape (N,) = ({N},), one 0/1 label per image, got y {y.shape}")
        y = as_float_array(y.reshape(N), "y", func)
        if not np.all((y == 0) | (y == 1)):
            raise ValueError(f"{func}: y must hold 0/1 labels, got values from {y.min():g} to {y.max():g}")
        return y.astype(self.dtype)

    # -- prediction ----------------------------------------------------------------------

    def predict_proba(self, x, batch_size: int = _EVAL_BATCH):
        """P (N, 1), the predicted probability of class 1, the numbers of Keras' ``model.predict(x)``.

        Runs ``batch_size`` images at a time (memory stays bounded for any N).
        """
        x = self._inputs("predict_proba", x)
        return np.concatenate([self._forward(x[s:s + batch_size])[0] for s in range(0, len(x), batch_size)])

    def loss(self, x, y, batch_size: int = _EVAL_BATCH) -> float:
        """The (unweighted) binary cross-entropy on (x, y), without gradients: Keras' ``val_loss``."""
        func = "CNN.loss"
        x = self._inputs("loss", x)
        y = self._labels(func, y, x.shape[0])
        total = 0.0
        for s in range(0, len(x), batch_size):
            logits = self._forward(x[s:s + batch_size])[1].logits
            total += float(nn.binary_cross_entropy_with_logits(logits, y[s:s + batch_size])[0]) * len(logits)
        return total / len(x)

    # -- training ------------------------------------------------------------------------

    def fit(self, x, y, epochs: int = 10, batch_size: int = 128, optimizer="adam",
            learning_rate: float | None = None, validation_data=None, shuffle: bool = True,
            class_weight=None, verbose: int = 0, early_stopping: int | None = None,
            restore_best_weights: bool = True) -> dict:
        """Mini-batch training, as Keras' ``fit``, with the history format of :meth:`nn.MLP.fit`.

        Every epoch the images are shuffled (this model's seeded generator; ``shuffle=False``
        keeps their order, as Keras' ``shuffle=False``) and cut into batches of ``batch_size``
        (the last one smaller); for each batch C, grads = loss_and_grads(batch, class_weight);
        optimizer.step(params, grads).

        x: (N, H, W, C); y: (N,) 0/1 labels. optimizer: "adam" (learning rate 1e-3), "sgd"
        (1e-2) or an ``nn.Adam`` / ``nn.SGD`` object. validation_data: optional (x_val, y_val),
        evaluated by :meth:`loss` after every epoch. class_weight: {0: w0, 1: w1} or None, as in
        :meth:`loss_and_grads`. early_stopping: None or a patience p >= 1 on val_loss, as
        ``keras.callbacks.EarlyStopping(monitor="val_loss", patience=p, restore_best_weights=...)``.

        Returns {"loss": [...], "val_loss": [...] (with validation data), "time": [...],
        "best_epoch": ... (with validation data), "stopped_epoch": ...}: the training loss per
        epoch (class-weighted when class_weight is given, averaged over the epoch's batches
        weighted by size), the validation loss (unweighted), the seconds since the start of fit
        at the end of each epoch, the (1-based) epoch of the lowest val_loss and the last epoch run.
        """
        func = "CNN.fit"
        t0 = time.perf_counter()
        x = self._inputs("fit", x)
        N = x.shape[0]
        y = self._labels(func, y, N)
        weights = self._class_weight(class_weight, func)
        nn._check_fit_arguments(func, epochs, early_stopping, validation_data)
        batch_size = _positive_int(batch_size, "batch_size", func)
        opt = nn._optimizer(optimizer, learning_rate, func)

        def batch_loss_and_grads(batch):       # batch: indices, or a slice (a view of x) when in order
            _, cache = self._forward(x[batch])
            loss, delta = self._loss(cache.logits, y[batch], weights)
            return loss, self.backward(delta, cache)

        return nn._fit_loop(self, batch_loss_and_grads, N, epochs=epochs, batch_size=batch_size, optimizer=opt,
                            validation_data=validation_data, shuffle=shuffle, verbose=verbose,
                            early_stopping=early_stopping, restore_best_weights=restore_best_weights, t0=t0)

    # -- weights, to and from Keras --------------------------------------------------------

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] (copies), in the order and layout of Keras' ``model.get_weights()``."""
        return [p.copy() for p in self.params.values()]

    def set_weights(self, weights) -> None:
        """Copy [W1, b1, W2, b2, ...] (e.g. the :meth:`to_keras` model's ``get_weights()``) into ``params``.

        Shapes must match exactly (conv kernels (KH, KW, C, F), dense kernels (D_in, D_out));
        values are cast to this model's dtype and written in place (an optimiser's state stays
        attached). Nothing changes when any array is refused.
        """
        nn._copy_weights(self.params, weights, "CNN.set_weights")

    def to_keras(self):
        """The same network as a Keras ``Sequential``, with this model's weights and dtype.

        Conv2D(F, K, relu, padding) → MaxPooling2D(S) per block, Flatten, [Dense(H, relu)],
        Dense(1, sigmoid); its ``predict`` gives :meth:`predict_proba`'s numbers (to float
        precision). It is not compiled. Imports TensorFlow (a few seconds the first time).
        """
        from helpers import import_tensorflow

        import_tensorflow()
        import keras

        dt = self.dtype.name
        K, S = self.kernel_size, self.pool_size
        layers = [keras.Input(shape=self.input_shape, dtype=dt)]
        for l, F in enumerate(self.filters, start=1):
            layers += [keras.layers.Conv2D(F, (K, K), activation="relu", padding=self.padding, dtype=dt,
                                           name=f"conv{l}"),
                       keras.layers.MaxPooling2D(pool_size=(S, S), dtype=dt, name=f"pool{l}")]
        layers.append(keras.layers.Flatten(dtype=dt, name="flatten"))
        if self.hidden:
            layers.append(keras.layers.Dense(self.hidden, activation="relu", dtype=dt, name="hidden"))
        layers.append(keras.layers.Dense(1, activation="sigmoid", dtype=dt, name="output"))
        model = keras.Sequential(layers, name="numpy_cnn")
        model.set_weights(self.get_weights())
        return model


# --------------------------------------------------------------------------------------
# which input pixels the network can see, and a frame to blank
# --------------------------------------------------------------------------------------

def _check_windows(layers, func: str) -> list:
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise ValueError(f"{func}: layers must be a list of (kernel, stride, padding) triples, got {layers!r}")
    out = []
    for k, layer in enumerate(layers):
        ok = isinstance(layer, (tuple, list)) and len(layer) == 3 and layer[2] in ("valid", "same") and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 1 for v in layer[:2])
        if not ok:
            raise ValueError(f"{func}: layer {k} must be a (kernel, stride, padding) triple with positive int "
                             f"kernel and stride and padding 'valid' or 'same', got {layer!r}")
        out.append((int(layer[0]), int(layer[1]), layer[2]))
    return out


def receptive_field_coverage(size, layers) -> np.ndarray:
    """(size,) ints: for each input position p along one axis, how many units of the last layer see it.

    size: the input length H along the axis (pixels); layers: the (kernel, stride, padding) of
    each convolution or pooling from the input on (``CNN.layer_windows``), padding "valid" or
    "same" (TensorFlow's rule, ``conv.padding_amounts``).

    A unit at position i of a layer with kernel K, stride S and P_top zeros of padding before
    the input reads its input positions

        i·S − P_top + m,   m = 0, …, K − 1                                         (window)

    (notebook 03: output i, kernel offset m, input position p = i·S − P_top + m); positions
    outside 0 … H_in − 1 are padding, constants that depend on no pixel. Walking from one unit
    of the last layer back to the input, window by window, gives the set of input positions it
    depends on: its receptive field, clipped to the image. counts[p] is the number of last-layer
    units whose set contains p; counts[p] = 0 means that position p cannot influence the output.
    With "valid" windows that do not tile their input (an 11-long map pooled by 2 windows of
    stride 2 leaves position 10 out), the last positions of the input can be such blind spots.
    Raises ValueError for a size that is not a positive int, a malformed layer, or a window that
    does not fit in its input ("valid" with K larger than the input).
    """
    func = "receptive_field_coverage"
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{func}: size must be a positive int (pixels along one axis), got {size!r}")
    layers = _check_windows(layers, func)
    sizes, pads = [int(size)], []                        # the input length of every layer, and the last output
    for k, (K, S, padding) in enumerate(layers):
        if padding == "valid" and K > sizes[-1]:
            raise ValueError(f"{func}: the window of layer {k} (kernel {K}) does not fit in its input of length "
                             f"{sizes[-1]} (sizes so far {sizes})")
        pads.append(conv.padding_amounts(sizes[-1], K, S, padding)[0])
        sizes.append(conv.conv_output_size(sizes[-1], K, S, padding))
    counts = np.zeros(size, dtype=np.int64)
    for unit in range(sizes[-1]):                        # one unit of the last layer at a time
        seen = np.zeros(sizes[-1], dtype=bool)
        seen[unit] = True
        for (K, S, _), P_top, H_in in zip(reversed(layers), reversed(pads), reversed(sizes[:-1])):
            below = np.zeros(H_in, dtype=bool)
            for i in np.flatnonzero(seen):               # eq. (window), clipped to the input
                start = i * S - P_top
                below[max(start, 0):max(min(start + K, H_in), 0)] = True
            seen = below
        counts += seen
    return counts


def blank_border(x, width, fill="mean"):
    """A copy of images x with a frame of ``width`` pixels along all four edges set to ``fill``.

    x: (N, H, W, C) images (not changed); width: an int, 0 <= width and 2·width < min(H, W)
    (something of the image must remain; 0 returns an unchanged copy); fill: "mean" (each
    image's own mean over all its pixels, channel by channel, computed before blanking: the
    frame takes the image's average brightness) or a number (0.0: a black frame). The frame is
    rows 0 … width − 1 and H − width … H − 1, and the same columns. Returns (N, H, W, C), x's
    dtype. Raises ValueError for other shapes, widths or fills.
    """
    func = "blank_border"
    x = as_float_array(x, "x", func, ndim=4)
    if isinstance(width, (bool, np.bool_)) or not isinstance(width, (int, np.integer)) or width < 0:
        raise ValueError(f"{func}: width must be an int >= 0 (pixels), got {width!r}")
    H, W = x.shape[1:3]
    if 2 * width >= min(H, W):
        raise ValueError(f"{func}: a frame of width {width} covers the whole {H}x{W} image (x {x.shape}): "
                         f"width must be below {(min(H, W) + 1) // 2}")
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"{func}: fill must be 'mean' or a number, got {fill!r}")
        value = x.mean(axis=(1, 2), keepdims=True)      # (N, 1, 1, C): each image's own mean
    elif isinstance(fill, (int, float, np.integer, np.floating)) and not isinstance(fill, (bool, np.bool_)) \
            and np.isfinite(fill):
        value = np.full((x.shape[0], 1, 1, x.shape[3]), fill)
    else:
        raise ValueError(f"{func}: fill must be 'mean' or a finite number, got {fill!r}")
    frame = np.zeros((H, W), dtype=bool)
    if width:
        frame[:width] = frame[-width:] = True
        frame[:, :width] = frame[:, -width:] = True
    out = x.copy()
    out[:, frame, :] = np.broadcast_to(value[:, 0, :, :], (x.shape[0], 1, x.shape[3]))
    return out
