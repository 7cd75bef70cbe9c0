"""Training a CNN well (notebook ``05_cnn_training.ipynb``): residual blocks in NumPy, stratified
training subsets, a small Keras CNN, one compiled model restarted per seed, per-seed summaries.

Residual block (He, Zhang, Ren, Sun, CVPR 2016), built from ``helpers.conv`` layers with
"same" padding and stride 1, so that F(x) has the shape of x (the notation of notebook 05)::

    z1 = conv(x, w1, b1),   a1 = relu(z1),   F(x) = z2 = conv(a1, w2, b2)              (F)
    s  = x + F(x)     (residual)    or    s = F(x)     (plain, ``skip=False``)          (skip)
    y  = relu(s)                                                                        (block)

    ds = dy ⊙ 1[s > 0],   dx = ds + (the gradient of ds through F)   (= ds (I + ∂F/∂x))  (dx)

The identity term ``ds`` reaches x whatever the convolutions do: a stack of residual blocks
passes its gradient down even where ∂F/∂x is small. x (N, H, W, C); w1 (KH, KW, C, F1), b1 (F1,);
w2 (KH', KW', F1, C), b2 (C,): the second convolution returns to C channels so that x + F(x)
is defined.

Keras helpers (TensorFlow is imported inside the functions that need it, so ``import helpers``
stays light): :func:`small_cnn` builds the chapter's small CNN with optional augmentation,
batch normalisation and dropout; :func:`restart` gives an already compiled model the initial
state a fresh one would have under a seed, without re-tracing its training step;
:func:`train_steps` trains it for a fixed number of mini-batch steps on a seeded, shuffled
stream of the data. :func:`stratified_subset` draws nested, class-balanced training subsets;
:func:`summarise_seeds` and :func:`seed_table` turn a metric per seed into mean ± sd.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from helpers import conv
from helpers._validate import as_float_array, check_cache, check_finite, result_dtype, upstream_gradient

__all__ = ["ResidualCache", "SeedSummary", "residual_block_backward", "residual_block_forward", "restart",
           "seed_table", "small_cnn", "stratified_subset", "summarise_seeds", "train_steps"]


# --------------------------------------------------------------------------------------
# the residual block in NumPy
# --------------------------------------------------------------------------------------

class ResidualCache(NamedTuple):
    """What :func:`residual_block_backward` needs: the two convolutions' caches, z1 (the first
    convolution's output, before its ReLU), s (the block's pre-activation, x + F(x) or F(x)) and
    whether the skip connection is there."""

    conv1: conv.ConvCache
    z1: np.ndarray
    conv2: conv.ConvCache
    s: np.ndarray
    skip: bool


def residual_block_forward(x, w1, b1, w2, b2, skip=True):
    """A residual block y = relu(x + F(x)), F = conv-relu-conv ("same" padding, stride 1).

    x (N, H, W, C); w1 (KH, KW, C, F1), b1 (F1,); w2 (KH', KW', F1, C), b2 (C,).
    skip=False gives the plain block y = relu(F(x)) with the same layers (no identity path).
    Returns y (N, H, W, C) and a :class:`ResidualCache` for :func:`residual_block_backward`.
    Float32 in, float32 out (float64 if any input is).
    """
    func = "residual_block_forward"
    if not isinstance(skip, (bool, np.bool_)):
        raise ValueError(f"{func}: skip must be True (residual block) or False (plain block), got {skip!r}")
    x = as_float_array(x, "x", func, ndim=4)
    w1 = as_float_array(w1, "w1", func, ndim=4)
    w2 = as_float_array(w2, "w2", func, ndim=4)
    C = x.shape[3]
    if w1.shape[2] != C:
        raise ValueError(f"{func}: x has {C} channels but w1 expects {w1.shape[2]} (x {x.shape}, w1 {w1.shape})")
    if w2.shape[2] != w1.shape[3]:
        raise ValueError(f"{func}: w2 expects {w2.shape[2]} input channels but w1 has {w1.shape[3]} filters "
                         f"(w1 {w1.shape}, w2 {w2.shape})")
    if w2.shape[3] != C:
        raise ValueError(f"{func}: w2 has {w2.shape[3]} filters but x has {C} channels; F(x) must have the "
                         f"shape of x for x + F(x) (x {x.shape}, w2 {w2.shape}, expected w2 (..., {w1.shape[3]}, {C}))")
    for name, b, want in (("b1", b1, w1.shape[3]), ("b2", b2, C)):
        if np.shape(b) != (want,):
            raise ValueError(f"{func}: {name} has shape {np.shape(b)} but needs one entry per filter, ({want},) "
                             f"(w1 {w1.shape}, w2 {w2.shape})")
    z1, cache1 = conv.conv2d_forward(x, w1, b1, 1, "same")                        # (F)
    a1 = np.maximum(z1, 0)
    z2, cache2 = conv.conv2d_forward(a1, w2, b2, 1, "same")                       # F(x)
    dt = result_dtype(x, z2)
    s = x.astype(dt) + z2 if skip else z2.astype(dt)                              # (skip)
    return np.maximum(s, 0), ResidualCache(cache1, z1, cache2, s, bool(skip))    # (block)


def residual_block_backward(dy, cache):
    """Backward pass of :func:`residual_block_forward`: dy = ∂L/∂y (N, H, W, C) ->
    (dx, dw1, db1, dw2, db2), the gradients in the order of the inputs.

        ds  = dy ⊙ 1[s > 0]                    (the output ReLU; TensorFlow's relu gradient is 0 at 0)
        da1, dw2, db2 = conv2d_backward(ds)    (through F's second convolution)
        dz1 = da1 ⊙ 1[z1 > 0]
        dx_F, dw1, db1 = conv2d_backward(dz1)
        dx  = ds + dx_F    (residual)    or    dx = dx_F    (plain)                      (dx)
    """
    func = "residual_block_backward"
    check_cache(func, cache, ResidualCache, "residual_block_forward")
    dy = upstream_gradient(func, "dy", dy, cache.s.shape, "y")
    ds = dy * (cache.s > 0)
    da1, dw2, db2 = conv.conv2d_backward(ds, cache.conv2)
    dz1 = da1 * (cache.z1 > 0)
    dx_f, dw1, db1 = conv.conv2d_backward(dz1, cache.conv1)
    dx = ds + dx_f if cache.skip else dx_f                                        # (dx)
    return dx, dw1, db1, dw2, db2


# --------------------------------------------------------------------------------------
# stratified subsets and per-seed summaries
# --------------------------------------------------------------------------------------

def _whole_number(v, name: str, func: str, low: int, high: int | None = None) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < low \
            or (high is not None and v > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{func}: {name} must be a whole number {bound}, got {v!r}")
    return int(v)


def stratified_subset(y, n, seed):
    """The indices of n training examples drawn with the class proportions of y (nested over n).

    y: (N,) integer class labels; n: 1 <= n <= N; seed: an int >= 0. Within each class k (N_k
    examples) the examples are shuffled by ``np.random.default_rng(seed)`` and the r-th one gets
    the key (r + ½)/N_k; the n examples with the smallest keys are taken (ties: the smaller class
    label first). Hence, for one seed,

    * the subsets are nested: the subset of n is part of the subset of n + 1 (a learning curve
      adds examples, it never swaps them);
    * class k gets c_k examples with |c_k − n N_k / N| <= ½ for two classes (the rounded
      proportional count) and < 1 for more.

    Returns the indices (n,) int64, sorted ascending. n = N returns every index.
    """
    func = "stratified_subset"
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu":
        raise ValueError(f"{func}: y must be a non-empty 1-D array of integer class labels, got "
                         f"shape {y.shape}, dtype {y.dtype}")
    n = _whole_number(n, "n", func, 1, y.size)
    seed = _whole_number(seed, "seed", func, 0)
    rng = np.random.default_rng(seed)
    keys = np.empty(y.size)
    for k in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == k))
        keys[members] = (np.arange(members.size) + 0.5) / members.size
    order = np.lexsort((y, keys))          # by key, then by label
    return np.sort(order[:n]).astype(np.int64)


class SeedSummary(NamedTuple):
    """One configuration's metric over seeds: the values (in seed order), mean, sample sd
    (ddof = 1), lowest and highest value."""

    name: str
    values: tuple
    mean: float
    sd: float
    low: float
    high: float


def summarise_seeds(results: Mapping[str, Sequence[float]]) -> list[SeedSummary]:
    """{configuration: [metric for seed 1, seed 2, ...]} -> one :class:`SeedSummary` per
    configuration, in the mapping's order. Every configuration needs the same number (>= 2)
    of finite values (the same seeds), so that the sds are comparable."""
    func = "summarise_seeds"
    if not isinstance(results, Mapping) or not results:
        raise ValueError(f"{func}: results must be a non-empty dict {{name: [value per seed]}}, got {results!r}")
    summaries, count = [], None
    for name, values in results.items():
        v = as_float_array(values, f"results[{name!r}]", func, ndim=1)
        check_finite(v, f"results[{name!r}]", func)
        if v.size < 2:
            raise ValueError(f"{func}: results[{name!r}] has {v.size} value(s); a spread over seeds needs at least 2")
        if count is not None and v.size != count:
            raise ValueError(f"{func}: results[{name!r}] has {v.size} values but the first configuration has "
                             f"{count}: use the same seeds for every configuration")
        count = v.size
        summaries.append(SeedSummary(str(name), tuple(float(a) for a in v), float(v.mean()),
                                     float(v.std(ddof=1)), float(v.min()), float(v.max())))
    return summaries


def seed_table(results: Mapping[str, Sequence[float]], seeds: Sequence[int], digits: int = 3) -> str:
    """A text table: one row per configuration, one column per seed, then mean ± sd.

    results as for :func:`summarise_seeds`; seeds: the seed of each column (as many as values).
    """
    func = "seed_table"
    rows = summarise_seeds(results)
    seeds = list(seeds)
    if len(seeds) != len(rows[0].values):
        raise ValueError(f"{func}: {len(seeds)} seeds given but each configuration has {len(rows[0].values)} values")
    digits = _whole_number(digits, "digits", func, 0, 10)
    width = max(len(r.name) for r in rows) + 2
    col = max(digits + 4, 8)
    head = f"{'':<{width}}" + "".join(f"{'seed ' + str(s):>{col}}" for s in seeds) + f"{'mean ± sd':>{2 * digits + 9}}"
    lines = [head]
    for r in rows:
        cells = "".join(f"{v:>{col}.{digits}f}" for v in r.values)
        lines.append(f"{r.name:<{width}}{cells}{f'{r.mean:.{digits}f} ± {r.sd:.{digits}f}':>{2 * digits + 9}}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Keras: the small CNN, a restart per seed, training for a fixed number of steps
# --------------------------------------------------------------------------------------

def small_cnn(filters=(8, 16), *, augmentation: Callable[[], list] | None = None, dropout: float = 0.0,
              batch_norm: bool = False, bn_momentum: float = 0.9, input_shape=(28, 28, 1)):
    """The chapter's small CNN for binary classification, as a ``keras.Sequential``::

        [augmentation layers] -> for each f in filters: Conv2D(f, 3, "same") [-> BatchNormalization]
        -> ReLU -> MaxPooling2D(2)  ->  Flatten [-> Dropout(dropout)] -> Dense(1, sigmoid)

    filters (8, 16) on 28 x 28 x 1 images: 80 + 1168 + 785 = 2033 parameters. The layers are named
    ``conv1``, ``conv2``, ... (``bn1`` ..., ``head``) so that weights can be copied by name.
    augmentation: a function returning a fresh list of Keras preprocessing layers (active in
    training only), or None. dropout: the rate in [0, 1) of a Dropout layer before the head
    (0: none). batch_norm: a BatchNormalization(momentum=bn_momentum, epsilon=1e-3) after each
    convolution, whose bias is then dropped (β plays its role). Returns the (uncompiled) model.
    """
    func = "small_cnn"
    if not (isinstance(filters, (tuple, list)) and filters
            and all(isinstance(f, numbers.Integral) and not isinstance(f, bool) and f >= 1 for f in filters)):
        raise ValueError(f"{func}: filters must be a non-empty sequence of positive ints, got {filters!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
        raise ValueError(f"{func}: dropout must be a rate in [0, 1), got {dropout!r}")
    if isinstance(bn_momentum, bool) or not isinstance(bn_momentum, numbers.Real) or not 0 <= bn_momentum < 1:
        raise ValueError(f"{func}: bn_momentum must be in [0, 1), got {bn_momentum!r}")
    if augmentation is not None and not callable(augmentation):
        raise ValueError(f"{func}: augmentation must be a function returning a list of layers, or None, "
                         f"got {type(augmentation).__name__}")
    import keras

    layers = keras.layers
    stack = [keras.Input(shape=tuple(input_shape))]
    if augmentation is not None:
        stack += list(augmentation())
    for i, f in enumerate(filters, start=1):
        stack.append(layers.Conv2D(int(f), 3, padding="same", use_bias=not batch_norm, name=f"conv{i}"))
        if batch_norm:
            stack.append(layers.BatchNormalization(momentum=float(bn_momentum), epsilon=1e-3, name=f"bn{i}"))
        stack += [layers.ReLU(name=f"relu{i}"), layers.MaxPooling2D(2, name=f"pool{i}")]
    stack.append(layers.Flatten(name="flatten"))
    if dropout > 0:
        stack.append(layers.Dropout(float(dropout), name="dropout"))
    stack.append(layers.Dense(1, activation="sigmoid", name="head"))
    return keras.Sequential(stack)


def restart(model, build: Callable[[], object], seed: int) -> None:
    """Put a compiled Keras model back into the state that ``build()`` gives it under ``seed``.

    ``keras.utils.set_random_seed(seed)``, then every variable of a fresh ``build()`` (weights,
    batch-norm moving statistics, the seed states of dropout and augmentation layers) is copied
    into ``model``, and the optimiser's state (its step count and slots, e.g. Adam's moment
    estimates) is set back to zero, its learning rate kept. Training afterwards is what training
    a freshly built and compiled model would be, but the training step that Keras traced for
    ``model`` is reused (building and compiling a new model traces it again, about a second).
    model: compiled with SGD, Adam, AdamW or RMSprop (whose state starts at zero); build: a
    function of no arguments returning a model with the same variables. Changes model in place.
    """
    import keras

    func = "restart"
    seed = _whole_number(seed, "seed", func, 0)
    optimizer = getattr(model, "optimizer", None)
    starts_at_zero = (keras.optimizers.SGD, keras.optimizers.Adam, keras.optimizers.AdamW, keras.optimizers.RMSprop)
    if not isinstance(optimizer, starts_at_zero):
        raise ValueError(f"{func}: model must be compiled with SGD, Adam, AdamW or RMSprop, got "
                         f"{type(optimizer).__name__}")
    keras.utils.set_random_seed(seed)
    fresh = build()
    if len(fresh.variables) != len(model.variables) or any(
            tuple(a.shape) != tuple(b.shape) for a, b in zip(model.variables, fresh.variables)):
        raise ValueError(f"{func}: build() gives variables of shapes "
                         f"{[tuple(v.shape) for v in fresh.variables]} but the model has "
                         f"{[tuple(v.shape) for v in model.variables]}")
    for mine, new in zip(model.variables, fresh.variables):
        mine.assign(new)
    learning_rate = float(optimizer.learning_rate)
    for v in optimizer.variables:
        v.assign(np.zeros(tuple(v.shape), dtype=v.dtype))
    optimizer.learning_rate = learning_rate


def train_steps(model, x, y, steps: int, batch_size: int, seed: int, step_losses: list | None = None):
    """Train a compiled Keras model for exactly ``steps`` mini-batches of ``batch_size``.

    The batches come from (x, y) shuffled with ``seed`` (a new order every pass through the
    data, the same orders for the same seed), so that small and large training sets get the
    same number of gradient steps. x (N, ...), y (N,) labels. Returns the Keras History.

    step_losses: a list, or None. If a list is given, the training loss of every step (on that
    step's batch, in training mode, before the step's update) is appended to it: Keras reports
    the running mean m_k of the first k batches' losses, and the k-th loss is k m_k − (k−1) m_{k−1}.
    """
    func = "train_steps"
    if step_losses is not None and not isinstance(step_losses, list):
        raise ValueError(f"{func}: step_losses must be a list (to append to) or None, got {type(step_losses).__name__}")
    steps = _whole_number(steps, "steps", func, 1)
    batch_size = _whole_number(batch_size, "batch_size", func, 1)
    seed = _whole_number(seed, "seed", func, 0)
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
        raise ValueError(f"{func}: x must be (N, ...) and y (N,) with N >= 1, got x {x.shape}, y {y.shape}")
    from helpers import import_tensorflow

    tf = import_tensorflow()
    stream = (tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.float32)))
              .shuffle(len(y), seed=seed).repeat().batch(batch_size))
    callbacks = []
    if step_losses is not None:
        import keras

        running = [0.0]                                        # m_{k-1}, the running mean before step k

        def record(k, logs):                                   # k counts from 0
            mean = float(logs["loss"])
            step_losses.append((k + 1) * mean - k * running[0])
            running[0] = mean

        callbacks.append(keras.callbacks.LambdaCallback(on_train_batch_end=record))
    return model.fit(stream, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
