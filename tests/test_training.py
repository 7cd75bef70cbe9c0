"""Tests for helpers.training (notebook 05): the residual block against TensorFlow and centred
differences, stratified subsets, per-seed summaries, the small Keras CNN, restart and train_steps.

TensorFlow comes from the ``tf`` fixture (tests/conftest.py), so collecting this file imports none.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_nn import _assert_close  # shape, non-zero reference and rel_error

from helpers import training
from helpers.gradcheck import gradient_check

TF_TOL = 1e-9     # analytic vs tf.GradientTape (float64)
NUM_TOL = 1e-7    # analytic vs centred differences (float64)
NAMES = ("dx", "dw1", "db1", "dw2", "db2")
# (x shape, kernel of conv 1, kernel of conv 2, F1): square and rectangular images, C != F1,
# odd, 1x1 and even kernels (TensorFlow's asymmetric "same" padding), one image
CASES = [((2, 5, 4, 2), (3, 3), (3, 3), 3), ((1, 6, 6, 3), (5, 5), (1, 1), 2), ((3, 4, 5, 1), (2, 2), (3, 2), 4)]


def _block_inputs(rng, x_shape, k1, k2, F1, *, margin=0.0, tries=1000):
    """x, w1, b1, w2, b2 and dy in float64. With margin > 0, inputs are redrawn until every
    pre-activation (z1 and s, both skip settings) is at least ``margin`` away from ReLU's kink,
    so that centred differences do not straddle it."""
    C = x_shape[3]
    for _ in range(tries):
        x = rng.normal(size=x_shape)
        w1 = rng.normal(size=(*k1, C, F1)) * 0.5
        b1 = rng.normal(size=F1) * 0.1
        w2 = rng.normal(size=(*k2, F1, C)) * 0.5
        b2 = rng.normal(size=C) * 0.1
        if margin == 0:
            break
        caches = [training.residual_block_forward(x, w1, b1, w2, b2, skip=s)[1] for s in (True, False)]
        if all(np.abs(c.z1).min() > margin and np.abs(c.s).min() > margin for c in caches):
            break
    else:
        raise AssertionError("no inputs away from the ReLU kinks found")
    return x, w1, b1, w2, b2, rng.normal(size=x_shape)


def _tf_block(tf, x, w1, b1, w2, b2, dy, skip):
    """y and the gradients of Σ y ⊙ dy by tf.GradientTape through tf.nn.conv2d "SAME"."""
    xs = [tf.constant(a, dtype=tf.float64) for a in (x, w1, b1, w2, b2)]
    with tf.GradientTape() as tape:
        for v in xs:
            tape.watch(v)
        xt, w1t, b1t, w2t, b2t = xs
        a1 = tf.nn.relu(tf.nn.conv2d(xt, w1t, 1, "SAME") + b1t)
        f = tf.nn.conv2d(a1, w2t, 1, "SAME") + b2t
        y = tf.nn.relu(xt + f if skip else f)
        total = tf.reduce_sum(y * dy)
    return y.numpy(), [g.numpy() for g in tape.gradient(total, xs)]


# --------------------------------------------------------------------------------------
# the residual block
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("x_shape, k1, k2, F1", CASES)
def test_residual_block_matches_tensorflow(tf, rng, x_shape, k1, k2, F1, skip):
    x, w1, b1, w2, b2, dy = _block_inputs(rng, x_shape, k1, k2, F1)
    y, cache = training.residual_block_forward(x, w1, b1, w2, b2, skip=skip)
    y_tf, grads_tf = _tf_block(tf, x, w1, b1, w2, b2, dy, skip)
    _assert_close(y, y_tf, f"y {x_shape} skip={skip}", TF_TOL)
    for name, ours, ref in zip(NAMES, training.residual_block_backward(dy, cache), grads_tf):
        _assert_close(ours, ref, f"{name} {x_shape} skip={skip}", TF_TOL)


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("x_shape, k1, k2, F1", CASES)
def test_residual_block_gradients_match_centred_differences(rng, x_shape, k1, k2, F1, skip):
    x, w1, b1, w2, b2, dy = _block_inputs(rng, x_shape, k1, k2, F1, margin=3e-3)
    params = {"dx": x, "dw1": w1, "db1": b1, "dw2": w2, "db2": b2}
    _, cache = training.residual_block_forward(x, w1, b1, w2, b2, skip=skip)
    grads = dict(zip(NAMES, training.residual_block_backward(dy, cache)))

    def loss():
        return float(np.sum(training.residual_block_forward(x, w1, b1, w2, b2, skip=skip)[0] * dy))

    for result in gradient_check(loss, params, grads, h=1e-4).values():   # steps h < margin
        assert result.rel_error < NUM_TOL, f"{x_shape} skip={skip}: {result}"


def test_the_identity_path_is_the_only_difference(rng):
    """dx(residual) − dx(plain) = the identity path ds = dy ⊙ 1[s > 0] when both blocks share the
    mask (here: F(x) > 0 and x > 0 wherever F(x) > 0, so s > 0 in both)."""
    x, w1, b1, w2, b2, dy = _block_inputs(rng, (2, 5, 5, 2), (3, 3), (3, 3), 3)
    x = np.abs(x)
    b2 = np.full_like(b2, 50.0)        # F(x) > 0 everywhere: both output ReLUs pass everything
    y_r, c_r = training.residual_block_forward(x, w1, b1, w2, b2, skip=True)
    y_p, c_p = training.residual_block_forward(x, w1, b1, w2, b2, skip=False)
    assert np.allclose(y_r - y_p, x)
    dx_r, *rest_r = training.residual_block_backward(dy, c_r)
    dx_p, *rest_p = training.residual_block_backward(dy, c_p)
    assert np.allclose(dx_r - dx_p, dy)
    assert all(np.allclose(a, b) for a, b in zip(rest_r, rest_p))


def test_residual_block_float32_stays_float32(rng):
    x, w1, b1, w2, b2, dy = (a.astype(np.float32) for a in _block_inputs(rng, (2, 4, 4, 2), (3, 3), (3, 3), 2))
    y, cache = training.residual_block_forward(x, w1, b1, w2, b2)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in training.residual_block_backward(dy, cache))


@pytest.mark.parametrize("args, phrase", [
    (lambda x, w1, b1, w2, b2: (x[..., :1], w1, b1, w2, b2), "x has 1 channels but w1 expects 2"),
    (lambda x, w1, b1, w2, b2: (x, w1, b1, w2[:, :, :2], b2), "w2 expects 2 input channels but w1 has 3 filters"),
    (lambda x, w1, b1, w2, b2: (x, w1, b1, np.concatenate([w2, w2], axis=3), b2),
     "w2 has 4 filters but x has 2 channels; F(x) must have the shape of x"),
    (lambda x, w1, b1, w2, b2: (x[0], w1, b1, w2, b2), "x must be 4-D, got shape (5, 4, 2)"),
    (lambda x, w1, b1, w2, b2: (x, w1, b1[:2], w2, b2), "b1 has shape (2,) but needs one entry per filter, (3,)"),
    (lambda x, w1, b1, w2, b2: (x, w1, b1, w2, b2[None]), "b2 has shape (1, 2) but needs one entry per filter, (2,)"),
])
def test_residual_block_forward_rejects_bad_shapes(rng, args, phrase):
    inputs = _block_inputs(rng, (2, 5, 4, 2), (3, 3), (3, 3), 3)[:5]
    with pytest.raises(ValueError) as err:
        training.residual_block_forward(*args(*inputs))
    assert phrase in str(err.value)


def test_residual_block_rejects_a_bad_skip_dy_and_cache(rng):
    x, w1, b1, w2, b2, dy = _block_inputs(rng, (2, 5, 4, 2), (3, 3), (3, 3), 3)
    with pytest.raises(ValueError, match="skip must be True"):
        training.residual_block_forward(x, w1, b1, w2, b2, skip=1)
    _, cache = training.residual_block_forward(x, w1, b1, w2, b2)
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output y \(2, 5, 4, 2\)"):
        training.residual_block_backward(dy[:1], cache)
    with pytest.raises(ValueError, match="cache must be the cache returned by residual_block_forward"):
        training.residual_block_backward(dy, (1, 2, 3))
    with pytest.raises(ValueError, match="NaN or inf"):
        training.residual_block_backward(np.full_like(dy, np.nan), cache)


# --------------------------------------------------------------------------------------
# stratified subsets
# --------------------------------------------------------------------------------------

def _labels(counts, seed=0):
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    return np.random.default_rng(seed).permutation(y)


@pytest.mark.parametrize("counts", [(147, 399), (1214, 3494), (5, 5), (1, 20)])
def test_stratified_subset_two_classes_rounds_the_proportional_counts_and_nests(counts):
    y = _labels(counts)
    N = len(y)
    previous = np.array([], dtype=np.int64)
    for n in range(1, N + 1):
        idx = training.stratified_subset(y, n, seed=3)
        assert idx.dtype == np.int64 and len(idx) == n and len(np.unique(idx)) == n
        assert np.all(np.diff(idx) > 0)                               # sorted, no repeats
        assert set(previous) <= set(idx)                              # nested
        c = np.bincount(y[idx], minlength=2)
        assert np.all(np.abs(c - n * np.asarray(counts) / N) <= 0.5 + 1e-12), (n, c)
        previous = idx
    assert np.array_equal(idx, np.arange(N))


@pytest.mark.parametrize("counts", [(10, 30, 7), (3, 50, 12, 40)])
def test_stratified_subset_many_classes_is_within_one_of_proportional(counts):
    y = _labels(counts, seed=1)
    N = len(y)
    previous = set()
    for n in range(1, N + 1):
        idx = training.stratified_subset(y, n, seed=0)
        c = np.bincount(y[idx], minlength=len(counts))
        assert np.all(np.abs(c - n * np.asarray(counts) / N) < 1), (n, c)
        assert previous <= set(idx)
        previous = set(idx)


def test_stratified_subset_depends_on_the_seed_only():
    y = _labels((147, 399))
    a, b = training.stratified_subset(y, 50, 1), training.stratified_subset(y, 50, 1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, training.stratified_subset(y, 50, 2))


@pytest.mark.parametrize("y, n, seed, phrase", [
    (np.array([0, 1, 1]), 0, 0, "n must be a whole number between 1 and 3"),
    (np.array([0, 1, 1]), 4, 0, "n must be a whole number between 1 and 3"),
    (np.array([0, 1, 1]), 2.0, 0, "n must be a whole number"),
    (np.array([0, 1, 1]), True, 0, "n must be a whole number"),
    (np.array([0, 1, 1]), 2, -1, "seed must be a whole number >= 0"),
    (np.array([0.0, 1.0]), 1, 0, "y must be a non-empty 1-D array of integer class labels"),
    (np.zeros((2, 2), dtype=int), 1, 0, "got shape (2, 2)"),
    (np.array([], dtype=int), 1, 0, "non-empty"),
])
def test_stratified_subset_rejects_bad_input(y, n, seed, phrase):
    with pytest.raises(ValueError) as err:
        training.stratified_subset(y, n, seed)
    assert phrase in str(err.value)


# --------------------------------------------------------------------------------------
# per-seed summaries
# --------------------------------------------------------------------------------------

def test_summarise_seeds_gives_mean_sample_sd_and_range():
    rows = training.summarise_seeds({"baseline": [0.9, 0.8, 0.7], "dropout": [0.5, 0.5, 0.8]})
    assert [r.name for r in rows] == ["baseline", "dropout"]
    b = rows[0]
    assert b.values == (0.9, 0.8, 0.7) and np.isclose(b.mean, 0.8) and np.isclose(b.sd, 0.1)
    assert (b.low, b.high) == (0.7, 0.9)
    assert np.isclose(rows[1].sd, np.std([0.5, 0.5, 0.8], ddof=1))


def test_seed_table_shows_every_seed_and_the_mean_and_sd():
    table = training.seed_table({"baseline": [0.9, 0.8, 0.7], "batch norm": [0.91, 0.93, 0.95]}, seeds=[1, 2, 3])
    lines = table.split("\n")
    assert len(lines) == 3
    assert all(f"seed {s}" in lines[0] for s in (1, 2, 3)) and "mean ± sd" in lines[0]
    assert lines[1].startswith("baseline") and "0.900" in lines[1] and lines[1].endswith("0.800 ± 0.100")
    assert lines[2].startswith("batch norm") and lines[2].endswith("0.930 ± 0.020")
    assert len({len(line) for line in lines}) == 1                          # aligned columns


@pytest.mark.parametrize("results, phrase", [
    ({}, "non-empty dict"),
    ([0.5, 0.6], "non-empty dict"),
    ({"a": [0.5]}, "needs at least 2"),
    ({"a": [0.5, 0.6], "b": [0.5, 0.6, 0.7]}, "use the same seeds"),
    ({"a": [0.5, float("nan")]}, "NaN or inf"),
    ({"a": [[0.5, 0.6]]}, "must be 1-D"),
])
def test_summarise_seeds_rejects_bad_input(results, phrase):
    with pytest.raises(ValueError) as err:
        training.summarise_seeds(results)
    assert phrase in str(err.value)


def test_seed_table_rejects_a_wrong_number_of_seeds():
    with pytest.raises(ValueError, match="2 seeds given but each configuration has 3 values"):
        training.seed_table({"a": [0.1, 0.2, 0.3]}, seeds=[1, 2])


# --------------------------------------------------------------------------------------
# the small CNN, restart, train_steps (Keras)
# --------------------------------------------------------------------------------------

def _augmentation():
    import keras

    return [keras.layers.RandomTranslation(0.05, 0.05, fill_mode="constant"), keras.layers.RandomContrast(0.2)]


def test_small_cnn_layers_and_parameter_counts(tf):
    plain = training.small_cnn()
    assert [layer.name for layer in plain.layers] == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
                                                      "flatten", "head"]
    assert plain.count_params() == (9 * 1 + 1) * 8 + (9 * 8 + 1) * 16 + (7 * 7 * 16 + 1) == 2033
    assert plain.output_shape == (None, 1)
    full = training.small_cnn(augmentation=_augmentation, dropout=0.3, batch_norm=True, bn_momentum=0.95)
    names = [layer.name for layer in full.layers]
    assert names[2:] == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten",
                         "dropout", "head"]
    assert full.get_layer("conv1").bias is None and full.get_layer("bn1").momentum == 0.95
    assert full.get_layer("bn1").epsilon == 1e-3 and full.get_layer("dropout").rate == 0.3
    assert full.count_params() == 2033 - 24 + 4 * 24                    # no conv biases; γ, β, moving μ, σ²
    assert training.small_cnn(filters=(4,)).count_params() == 40 + 14 * 14 * 4 + 1


def test_small_cnn_augmentation_and_dropout_act_in_training_only(tf, rng):
    import keras

    keras.utils.set_random_seed(0)
    plain = training.small_cnn()
    noisy = training.small_cnn(augmentation=_augmentation, dropout=0.5)
    noisy.set_weights(plain.get_weights())
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    assert np.allclose(noisy(x, training=False), plain(x, training=False), atol=1e-6)
    assert not np.allclose(noisy(x, training=True), plain(x, training=False), atol=1e-6)


@pytest.mark.parametrize("kwargs, phrase", [
    ({"filters": ()}, "filters must be a non-empty sequence of positive ints"),
    ({"filters": (8, 0)}, "filters must be"),
    ({"dropout": 1.0}, "dropout must be a rate in [0, 1)"),
    ({"dropout": True}, "dropout must be"),
    ({"bn_momentum": 1.0}, "bn_momentum must be in [0, 1)"),
    ({"augmentation": [1]}, "augmentation must be a function returning a list of layers"),
])
def test_small_cnn_rejects_bad_arguments(kwargs, phrase):
    with pytest.raises(ValueError) as err:
        training.small_cnn(**kwargs)
    assert phrase in str(err.value)


def _tiny_data(rng, n=40):
    return rng.random((n, 28, 28, 1)).astype(np.float32), (rng.random(n) > 0.5).astype(np.int64)


def _compiled(build, optimizer=None):
    import keras

    model = build()
    model.compile(optimizer or keras.optimizers.Adam(3e-3), "binary_crossentropy")
    return model


def test_restart_then_training_equals_a_fresh_model(tf, rng):
    """Augmentation, dropout and batch norm (every kind of non-trainable state) included."""
    import keras

    x, y = _tiny_data(rng)

    def build():
        return training.small_cnn(augmentation=_augmentation, dropout=0.3, batch_norm=True)

    keras.utils.set_random_seed(3)
    fresh = _compiled(build)
    training.train_steps(fresh, x, y, steps=5, batch_size=8, seed=3)
    reused = _compiled(build)
    training.train_steps(reused, x, y, steps=4, batch_size=8, seed=1)      # some other history first
    training.restart(reused, build, 3)
    assert int(reused.optimizer.iterations.numpy()) == 0
    assert np.isclose(float(reused.optimizer.learning_rate), 3e-3)
    training.train_steps(reused, x, y, steps=5, batch_size=8, seed=3)
    for a, b in zip(fresh.get_weights(), reused.get_weights()):
        assert np.array_equal(a, b)


def test_restart_rejects_other_optimisers_and_other_architectures(tf):
    import keras

    model = _compiled(training.small_cnn, keras.optimizers.Adagrad(0.01))
    with pytest.raises(ValueError, match="compiled with SGD, Adam, AdamW or RMSprop, got Adagrad"):
        training.restart(model, training.small_cnn, 0)
    with pytest.raises(ValueError, match="compiled with SGD, Adam, AdamW or RMSprop, got NoneType"):
        training.restart(training.small_cnn(), training.small_cnn, 0)
    model = _compiled(training.small_cnn)
    with pytest.raises(ValueError, match="build\\(\\) gives variables of shapes"):
        training.restart(model, lambda: training.small_cnn(filters=(4, 16)), 0)
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        training.restart(model, training.small_cnn, -1)


def test_train_steps_takes_exactly_that_many_steps_and_repeats_with_the_seed(tf, rng):
    import keras

    x, y = _tiny_data(rng, n=10)
    keras.utils.set_random_seed(0)
    model = _compiled(training.small_cnn)
    start = model.get_weights()
    history = training.train_steps(model, x, y, steps=7, batch_size=4, seed=5)   # 10 images: 2.5 passes
    assert int(model.optimizer.iterations.numpy()) == 7 and len(history.history["loss"]) == 1
    first = model.get_weights()
    model.set_weights(start)
    for v in model.optimizer.variables:
        v.assign(np.zeros(tuple(v.shape), dtype=v.dtype))
    model.optimizer.learning_rate = 3e-3
    training.train_steps(model, x, y, steps=7, batch_size=4, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first, model.get_weights()))


def test_train_steps_records_the_loss_of_every_step(tf, rng):
    import keras

    x, y = _tiny_data(rng, n=10)
    keras.utils.set_random_seed(0)
    model = _compiled(training.small_cnn)
    first_x, first_y = next(iter(tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.float32)))
                                 .shuffle(len(y), seed=5).repeat().batch(4)))
    p = model(first_x, training=True).numpy()[:, 0]
    first_loss = float(keras.losses.binary_crossentropy(first_y.numpy(), p))     # before any update
    losses = []
    history = training.train_steps(model, x, y, steps=6, batch_size=4, seed=5, step_losses=losses)
    assert len(losses) == 6
    assert np.isclose(losses[0], first_loss, rtol=1e-4)
    assert np.isclose(np.mean(losses), history.history["loss"][0], rtol=1e-4)   # Keras' mean over the steps
    assert len(set(np.round(losses, 6))) > 1


@pytest.mark.parametrize("kwargs, phrase", [
    ({"steps": 0}, "steps must be a whole number >= 1"),
    ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
    ({"seed": -2}, "seed must be a whole number >= 0"),
    ({"y": np.zeros(3)}, "x must be (N, ...) and y (N,)"),
    ({"step_losses": ()}, "step_losses must be a list"),
])
def test_train_steps_rejects_bad_arguments(rng, kwargs, phrase):
    x, y = _tiny_data(rng, n=4)
    args = {"model": None, "x": x, "y": y, "steps": 1, "batch_size": 2, "seed": 0} | kwargs
    with pytest.raises(ValueError) as err:
        training.train_steps(**args)
    assert phrase in str(err.value)
