"""helpers.cnn: the whole NumPy CNN, checked numerically, against TensorFlow and against Keras training.

The whole-network gradient (every parameter and the input) is compared in float64 with centred
differences (at a point chosen away from the ReLU kinks and the max-pool ties, where the loss is
smooth) and with ``tf.GradientTape`` on the identical Keras model with copied weights. Then the
float32 network must predict as Keras does, move its weights to and from Keras, refuse bad
inputs with the shapes named, and train on PneumoniaMNIST as Keras trains: same initial
weights, same batches, same optimiser -> the same validation AUC (issue 12 asks for 0.03).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from helpers import cnn, data, nn
from helpers.gradcheck import numerical_gradient, rel_error

TOL_TF = 1e-9     # float64, NumPy vs TensorFlow autodiff
TOL_NUM = 1e-7    # float64, analytic vs centred differences (Richardson, gradcheck's h = 1e-3)
SMALLEST = 1e-5   # gradient entries checked must be 0 or larger than this (see _smooth_point)

# small networks: (input_shape, filters, padding, hidden); the maps shrink to 1x1 or 2x2
SMALL = {
    "10x10x1-valid-no-hidden": ((10, 10, 1), (2, 3), "valid", None),
    "12x12x2-valid-hidden5": ((12, 12, 2), (3, 4), "valid", 5),
    "8x8x1-same-hidden4": ((8, 8, 1), (2, 3), "same", 4),
}
WEIGHTS = {0: 2.5, 1: 0.6}


# --------------------------------------------------------------------------------------
# a point where the loss is smooth
# --------------------------------------------------------------------------------------

class _KinkCrossedError(Exception):
    """A perturbation switched a ReLU or moved a max-pool argmax: the loss has a kink there."""


def _state(cache):
    """The pattern the loss is smooth within: every ReLU's on/off and every pooling window's argmax."""
    return ([z > 0 for z in cache.z] + [p.argmax for p in cache.pool]
            + [h.z > 0 for h in cache.hidden])                        # the hidden dense layer's ReLU


def _numerical_grads(model, x, y, class_weight=None):
    """Centred differences of the loss w.r.t. every parameter and x, refusing to cross a kink.

    Every evaluation runs the forward pass once and compares its ReLU and argmax pattern with the
    unperturbed one: if any perturbation (±h, ±h/2 on any one entry) changes it, the difference
    quotient would straddle a kink, and _KinkCrossedError is raised. So the check runs where the loss
    is smooth, which is where the analytic gradient is the derivative.
    """
    _, cache = model.forward(x)
    state = _state(cache)
    weights = model._class_weight(class_weight, "test")
    y = y.astype(np.float64)

    def f(_):
        _, c = model.forward(x)
        if not all(np.array_equal(a, b) for a, b in zip(_state(c), state)):
            raise _KinkCrossedError
        return model._loss(c.logits, y, weights)[0]
    grads = {name: numerical_gradient(f, p) for name, p in model.params.items()}
    grads["x"] = numerical_gradient(f, x)
    return grads


@functools.cache
def _smooth_point(config: str):
    """A float64 model, 3 images x, labels y and the numerical gradient at a smooth point.

    Tries seeds until no perturbation of the numerical gradient crosses a kink and every entry of
    that (numerical) gradient is 0 or larger than SMALLEST: centred differences carry a round-off
    of ~1e-13 (float64's 1e-16 times the loss, over h), so an entry of 1e-7 could not be checked
    to 1e-7. Biases are drawn non-zero, so that every term of the gradient counts.
    """
    input_shape, filters, padding, hidden = SMALL[config]
    for seed in range(100):
        model = cnn.CNN(input_shape, filters, padding=padding, hidden=hidden, seed=seed, dtype=np.float64)
        rng = np.random.default_rng(seed)
        for name, p in model.params.items():
            if name.startswith("b"):
                p[...] = rng.uniform(-0.3, 0.3, p.shape)
        x = rng.standard_normal((3, *input_shape))
        y = np.array([0, 1, 1])
        try:
            num = _numerical_grads(model, x, y)
        except _KinkCrossedError:
            continue
        if all(np.all((g == 0) | (np.abs(g) > SMALLEST)) for g in num.values()):
            return model, x, y, num
    raise AssertionError(f"no smooth point found for {config}")  # pragma: no cover


def _keras_loss_grads(tf, model, x, y, class_weight=None):
    """Loss, gradients (Keras' get_weights order) and dx from tf.GradientTape on model.to_keras()."""
    kmodel = model.to_keras()
    xt = tf.constant(x)
    yt = tf.constant(y.reshape(-1, 1).astype(np.float64))
    w = np.ones(len(y)) if class_weight is None else np.array([class_weight[int(v)] for v in y])
    wt = tf.constant(w.reshape(-1, 1))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        p = kmodel(xt)
        # binary cross-entropy of the sigmoid output, written out (Keras' own adds an epsilon);
        # class weights as Keras applies them: Σ_n w_n ℓ_n / N
        loss = -tf.reduce_mean(wt * (yt * tf.math.log(p) + (1 - yt) * tf.math.log(1 - p)))
    grads = tape.gradient(loss, [xt] + kmodel.trainable_weights)
    return float(loss), [g.numpy() for g in grads[1:]], grads[0].numpy()


# --------------------------------------------------------------------------------------
# the whole-network gradient
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, class_weight", [
    pytest.param(c, None, id=c) for c in SMALL] + [
    pytest.param("12x12x2-valid-hidden5", WEIGHTS, id="12x12x2-valid-hidden5-class-weighted")])
def test_whole_network_gradient_numerically(config, class_weight):
    model, x, y, num = _smooth_point(config)
    if class_weight is not None:
        num = _numerical_grads(model, x, y, class_weight)
    loss, grads, dx = model.loss_and_grads(x, y, class_weight=class_weight, return_dx=True)
    assert list(grads) == list(model.params)
    for name, g in {**grads, "x": dx}.items():
        assert g.shape == num[name].shape
        assert np.any(g != 0), name                       # every parameter matters at this point
        assert rel_error(g, num[name]) < TOL_NUM, name


@pytest.mark.parametrize("class_weight", [None, WEIGHTS], ids=["unweighted", "class-weighted"])
@pytest.mark.parametrize("config", list(SMALL))
def test_whole_network_gradient_matches_tensorflow(tf, config, class_weight):
    model, x, y, _ = _smooth_point(config)
    loss, grads, dx = model.loss_and_grads(x, y, class_weight=class_weight, return_dx=True)
    ref_loss, ref_grads, ref_dx = _keras_loss_grads(tf, model, x, y, class_weight)
    assert abs(loss - ref_loss) < TOL_TF * abs(ref_loss)
    assert len(ref_grads) == len(grads)
    for (name, g), ref in zip(grads.items(), ref_grads):
        assert g.shape == ref.shape, name
        assert rel_error(g, ref) < TOL_TF, name
    assert rel_error(dx, ref_dx) < TOL_TF


def test_backward_is_the_chain_of_the_layer_functions(rng):
    """grads come in params order; without return_dx the first convolution skips dx."""
    model = cnn.CNN((10, 10, 1), (2, 3), dtype=np.float64)
    x = rng.standard_normal((4, 10, 10, 1))
    P, cache = model.forward(x)
    assert P.shape == (4, 1) and np.all((P > 0) & (P < 1))
    np.testing.assert_allclose(P, nn.sigmoid(cache.logits), rtol=1e-15)
    loss, delta = nn.binary_cross_entropy_with_logits(cache.logits, np.array([0, 1, 1, 0]))
    grads = model.backward(delta, cache)
    assert list(grads) == list(model.params)
    grads2, dx = model.backward(delta, cache, return_dx=True)
    assert dx.shape == x.shape
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads2[name])
    with pytest.raises(ValueError, match="cache must be the cache returned by CNN.forward"):
        model.backward(delta, tuple(cache))


# --------------------------------------------------------------------------------------
# Keras: predictions and weights
# --------------------------------------------------------------------------------------

def _notebook04_keras(keras):
    """Notebook 04's article CNN with one sigmoid output, built in Keras directly."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def test_forward_equals_keras_predict_with_copied_weights(tf, rng):
    import keras

    keras.utils.set_random_seed(3)
    kmodel = _notebook04_keras(keras)
    model = cnn.CNN(seed=5)                    # other weights, then Keras' copied in
    assert model.n_params == kmodel.count_params()
    model.set_weights(kmodel.get_weights())
    x = rng.random((300, 28, 28, 1), dtype=np.float32)   # more than one evaluation batch
    p = model.predict_proba(x)
    assert p.dtype == np.float32 and p.shape == (300, 1)
    np.testing.assert_allclose(p, kmodel.predict(x, verbose=0), atol=2e-6, rtol=0)
    np.testing.assert_allclose(p[:7], model.forward(x[:7])[0], atol=1e-6, rtol=0)   # batches of 256 and 7


@pytest.mark.parametrize("hidden, padding", [(None, "valid"), (16, "same")])
def test_to_keras_and_set_weights_round_trip(tf, rng, hidden, padding):
    model = cnn.CNN(hidden=hidden, padding=padding, seed=2)
    kmodel = model.to_keras()
    assert [w.shape for w in kmodel.get_weights()] == [p.shape for p in model.params.values()]
    for mine, theirs in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    x = rng.random((20, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(model.predict_proba(x), kmodel.predict(x, verbose=0), atol=2e-6, rtol=0)
    other = cnn.CNN(hidden=hidden, padding=padding, seed=9)
    before = {k: v for k, v in other.params.items()}
    other.set_weights(kmodel.get_weights())
    for name, p in other.params.items():
        assert p is before[name]               # written in place: an optimiser's state stays attached
        np.testing.assert_array_equal(p, model.params[name])
    np.testing.assert_array_equal(other.predict_proba(x), model.predict_proba(x))


def test_float64_model_and_keras_agree_to_rounding(tf, rng):
    model = cnn.CNN((12, 12, 2), (3, 4), hidden=5, dtype=np.float64)
    x = rng.random((6, 12, 12, 2))
    p = model.predict_proba(x)
    assert p.dtype == np.float64
    assert rel_error(p, model.to_keras()(tf.constant(x)).numpy()) < 1e-12   # (predict would cast to float32)


# --------------------------------------------------------------------------------------
# bad inputs name the shapes
# --------------------------------------------------------------------------------------

def test_bad_images_raise_value_error_naming_shapes(rng):
    model = cnn.CNN()
    cases = [
        (rng.random((2, 32, 32, 1)), r"x has 32x32 images but the network expects 28x28 \(x \(2, 32, 32, 1\)"),
        (rng.random((2, 28, 28, 3)), r"x has 3 channel\(s\) but the network expects 1 \(x \(2, 28, 28, 3\), "
                                     r"W1 \(3, 3, 1, 32\)\)"),
        (rng.random((2, 28, 28)), r"x must have shape \(N, 28, 28, 1\), got x \(2, 28, 28\): add the channel axis"),
        (rng.random((28, 28, 1, 1, 1)), r"x must be 4-D \(N, 28, 28, 1\), got x \(28, 28, 1, 1, 1\)"),
        (np.zeros((0, 28, 28, 1)), r"x holds no images"),
        (np.full((1, 28, 28, 1), np.nan), r"x contains 784 NaN"),
    ]
    for x, message in cases:
        for call in (model.forward, model.predict_proba, lambda x: model.loss_and_grads(x, np.zeros(len(x)))):
            with pytest.raises(ValueError, match=message):
                call(x)


def test_bad_labels_weights_and_settings_raise_value_error():
    model = cnn.CNN((10, 10, 1), (2, 3))
    x = np.zeros((4, 10, 10, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=r"CNN.loss_and_grads: y must have shape \(N,\) = \(4,\).*got y \(3,\)"):
        model.loss_and_grads(x, np.zeros(3))
    with pytest.raises(ValueError, match="y must hold 0/1 labels, got values from 0 to 2"):
        model.fit(x, np.array([0, 1, 2, 0]), epochs=1)
    with pytest.raises(ValueError, match=r"class_weight must be a dict \{0: w0, 1: w1\}"):
        model.loss_and_grads(x, np.zeros(4), class_weight={2: 1.0})
    good = model.get_weights()
    bad = list(good)
    bad[0] = bad[0].transpose(1, 0, 3, 2)            # (3, 3, 2, 1) instead of (3, 3, 1, 2)
    with pytest.raises(ValueError, match=r"CNN.set_weights: W1 must have shape \(3, 3, 1, 2\), got \(3, 3, 2, 1\)"):
        model.set_weights(bad)
    bad = list(good)
    bad[4] = bad[4].T                                # the dense kernel transposed: (1, 3)
    with pytest.raises(ValueError, match=r"W3 must have shape \(3, 1\), got \(1, 3\)"):
        model.set_weights(bad)
    with pytest.raises(ValueError, match=r"expected 6 arrays \(W1, b1, W2, b2, W3, b3\), got 5"):
        model.set_weights(good[:5])
    for name, p in model.params.items():             # a refused set_weights changed nothing
        np.testing.assert_array_equal(p, good[list(model.params).index(name)])
    with pytest.raises(ValueError, match=r"the 2x2 window of pool2 does not fit in its 1x1 input "
                                         r"\(input \(8, 8, 1\) -> conv1 \(6, 6, 2\) -> pool1 \(3, 3, 2\) "
                                         r"-> conv2 \(1, 1, 3\)\)"):
        cnn.CNN((8, 8, 1), (2, 3, 4))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        cnn.CNN(dtype=np.float16)
    with pytest.raises(ValueError, match="optimizer must be 'adam', 'sgd'"):
        model.fit(x, np.zeros(4), epochs=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="early_stopping=2 monitors val_loss and needs validation_data"):
        model.fit(x, np.zeros(4), epochs=1, early_stopping=2)


# --------------------------------------------------------------------------------------
# training, against Keras
# --------------------------------------------------------------------------------------

@pytest.fixture
def pneumonia(shared_data_dir, monkeypatch):
    """The first 512 training and all 524 validation images of PneumoniaMNIST (official copy)."""
    monkeypatch.setenv(data.ENV_DATA_DIR, str(shared_data_dir))
    monkeypatch.setenv(data.ENV_OFFLINE, "1")
    (x, y), (x_val, y_val) = data.load_pneumoniamnist("train"), data.load_pneumoniamnist("val")
    return x[:512], y[:512], x_val, y_val


def test_training_matches_keras_from_the_same_weights(tf, pneumonia):
    """Same initial weights, same batches in the same order, Adam(1e-3), class weights as in
    notebook 04: NumPy and Keras end with the same network (so the same validation AUC)."""
    import keras
    from sklearn.metrics import roc_auc_score

    x, y, x_val, y_val = pneumonia
    class_weight = {0: len(y) / (2 * np.sum(y == 0)), 1: len(y) / (2 * np.sum(y == 1))}   # "balanced"
    epochs, batch_size = 3, 64
    model = cnn.CNN(seed=0)
    keras.utils.set_random_seed(0)
    kmodel = model.to_keras()
    kmodel.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, optimizer="adam", learning_rate=1e-3,
                        validation_data=(x_val, y_val), shuffle=False, class_weight=class_weight)
    k_history = kmodel.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, class_weight=class_weight,
                           validation_data=(x_val, y_val), verbose=0).history

    assert set(history) == {"loss", "val_loss", "time", "best_epoch", "stopped_epoch"}
    assert len(history["loss"]) == epochs and history["stopped_epoch"] == epochs
    assert history["loss"][-1] < history["loss"][0] - 0.03                 # it learnt
    assert history["val_loss"][-1] < history["val_loss"][0]
    # the same objective (class-weighted as Keras weights it), epoch by epoch
    np.testing.assert_allclose(history["loss"], k_history["loss"], rtol=1e-3)
    np.testing.assert_allclose(history["val_loss"], k_history["val_loss"], rtol=3e-3)
    p, p_keras = model.predict_proba(x_val)[:, 0], kmodel.predict(x_val, verbose=0)[:, 0]
    assert np.max(np.abs(p - p_keras)) < 1e-2       # float32 rounding apart, the same network
    auc, auc_keras = roc_auc_score(y_val, p), roc_auc_score(y_val, p_keras)
    assert auc > 0.9                                # far above chance (0.5) after 24 steps
    assert abs(auc - auc_keras) < 0.03              # issue 12's claim


def test_fit_shuffles_reproducibly_stops_early_and_takes_sgd(rng):
    x = rng.random((40, 10, 10, 1), dtype=np.float32)
    y = (x[:, 3:7, 3:7, 0].mean(axis=(1, 2)) > 0.5).astype(int)
    h1 = cnn.CNN((10, 10, 1), (2, 3), seed=4).fit(x, y, epochs=3, batch_size=16)
    h2 = cnn.CNN((10, 10, 1), (2, 3), seed=4).fit(x, y, epochs=3, batch_size=16)
    assert h1["loss"] == h2["loss"] and set(h1) == {"loss", "time", "stopped_epoch"}
    model = cnn.CNN((10, 10, 1), (2, 3), seed=4)
    h = model.fit(x, y, epochs=50, batch_size=8, optimizer=nn.SGD(0.5), validation_data=(x[:10], y[:10]),
                  early_stopping=1)
    assert h["stopped_epoch"] < 50 and len(h["val_loss"]) == h["stopped_epoch"]
    assert model.loss(x[:10], y[:10]) == pytest.approx(min(h["val_loss"]), rel=1e-5)   # best weights restored


# --------------------------------------------------------------------------------------
# which pixels the network can see (receptive-field coverage) and the blanked frame
# --------------------------------------------------------------------------------------

def _coverage_by_brute_force(H, W, stack):
    """(H, W) counts by pushing a one-hot image through every layer, one pixel at a time.

    stack: [("conv" | "pool", K, S, padding)]. A convolution with an all-ones kernel is positive
    exactly where its window holds the pixel; a max-pooling window is positive exactly where it
    holds a positive input. The count of pixel (p, q) is the number of positive positions of the
    last map: the units that depend on that pixel.
    """
    from helpers import conv

    counts = np.zeros((H, W), dtype=np.int64)
    for p in range(H):
        for q in range(W):
            a = np.zeros((1, H, W, 1))
            a[0, p, q, 0] = 1.0
            for kind, K, S, padding in stack:
                if kind == "conv":
                    a = conv.conv2d_forward(a, np.ones((K, K, 1, 1)), np.zeros(1), stride=S, padding=padding)[0]
                else:
                    a = conv.max_pool2d_forward(a, K, S, padding=padding)[0]
            counts[p, q] = int((a > 0).sum())
    return counts


@pytest.mark.parametrize("H, W, stack", [
    (28, 28, [("conv", 3, 1, "valid"), ("pool", 2, 2, "valid"), ("conv", 3, 1, "valid"), ("pool", 2, 2, "valid")]),
    (28, 28, [("conv", 3, 1, "same"), ("pool", 2, 2, "valid"), ("conv", 3, 1, "same"), ("pool", 2, 2, "valid")]),
    (13, 10, [("conv", 4, 1, "same"), ("pool", 3, 3, "valid"), ("conv", 2, 1, "valid")]),    # even kernel, H != W
    (17, 17, [("conv", 3, 2, "same"), ("pool", 2, 2, "same"), ("conv", 3, 1, "valid")]),      # strides with "same"
    (15, 12, [("pool", 2, 3, "valid"), ("conv", 2, 1, "valid")]),                              # stride > window: gaps
    (9, 9, []),                                                          # no layer: each pixel sees itself
], ids=["04-valid", "04-same", "even-kernel", "strided-same", "gaps", "empty"])
def test_receptive_field_coverage_equals_brute_force(H, W, stack):
    layers = [(K, S, padding) for _, K, S, padding in stack]
    rows, cols = cnn.receptive_field_coverage(H, layers), cnn.receptive_field_coverage(W, layers)
    assert rows.dtype == np.int64 and rows.shape == (H,) and cols.shape == (W,)
    np.testing.assert_array_equal(np.outer(rows, cols), _coverage_by_brute_force(H, W, stack))


def test_the_04_network_cannot_see_its_last_two_rows_and_columns():
    model = cnn.CNN()
    assert model.layer_windows == [(3, 1, "valid"), (2, 2, "valid"), (3, 1, "valid"), (2, 2, "valid")]
    rows = cnn.receptive_field_coverage(28, model.layer_windows)
    # pool2 unit i sees input rows 4i ... 4i + 9, i = 0 ... 4: rows 0 ... 25
    np.testing.assert_array_equal(rows, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1,
                                         0, 0])
    coverage = model.input_coverage()
    assert coverage.shape == (28, 28) and coverage.max() == 9
    assert (coverage[26:, :] == 0).all() and (coverage[:, 26:] == 0).all() and (coverage[:26, :26] > 0).all()
    # with "same" padding every pixel is seen (28 -> 28 -> 14 -> 14 -> 7: the poolings tile their inputs)
    assert (cnn.CNN(padding="same").input_coverage() > 0).all()


def test_uncovered_pixels_have_no_influence_and_covered_ones_do(rng):
    """Finite perturbation of each pixel of a random float64 network: a pixel of coverage 0
    leaves the output bit-identical (and its gradient is exactly 0); a pixel of coverage > 0
    moves the output of some image."""
    model = cnn.CNN((12, 11, 1), (4, 6), seed=3, dtype=np.float64)   # rows 12 -> 10 -> 5 -> 3 -> 1, columns
    coverage = model.input_coverage()                                 # 11 -> 9 -> 4 -> 2 -> 1: sees 0 ... 9 of each
    assert coverage.shape == (12, 11) and (coverage == 0).sum() == 12 * 11 - 10 * 10
    x = rng.random((6, 12, 11, 1))

    _, cache = model.forward(x)
    base = cache.logits.copy()
    influenced = np.zeros((12, 11), dtype=bool)
    for p in range(12):
        for q in range(11):
            for step in (10.0, -10.0):
                x_moved = x.copy()
                x_moved[:, p, q, 0] += step
                influenced[p, q] |= not np.array_equal(model.forward(x_moved)[1].logits, base)
    np.testing.assert_array_equal(influenced, coverage > 0)
    _, _, dx = model.loss_and_grads(x, np.array([0, 1, 0, 1, 1, 0]), return_dx=True)
    assert np.all(dx[:, coverage == 0, :] == 0)


def test_blank_border_equals_a_loop_and_leaves_x_alone(rng):
    x = rng.random((3, 7, 9, 2)).astype(np.float32)
    before = x.copy()
    for width in (0, 1, 2, 3):
        for fill in ("mean", 0.0, 1):
            out = cnn.blank_border(x, width, fill)
            expected = x.copy()
            for n in range(3):
                for c in range(2):
                    value = x[n, :, :, c].mean() if fill == "mean" else fill
                    for p in range(7):
                        for q in range(9):
                            if p < width or p >= 7 - width or q < width or q >= 9 - width:
                                expected[n, p, q, c] = value
            assert out.dtype == np.float32 and out.shape == x.shape
            np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((2, 6, 6)), 1), r"x must be 4-D, got shape \(2, 6, 6\)"),
    ((np.zeros((2, 6, 8, 1)), 3),
     r"a frame of width 3 covers the whole 6x8 image \(x \(2, 6, 8, 1\)\): width must be below 3"),
    ((np.zeros((2, 6, 6, 1)), -1), r"width must be an int >= 0"),
    ((np.zeros((2, 6, 6, 1)), 1.0), r"width must be an int >= 0"),
    ((np.zeros((2, 6, 6, 1)), 1, "median"), r"fill must be 'mean' or a number, got 'median'"),
    ((np.zeros((2, 6, 6, 1)), 1, np.nan), r"fill must be 'mean' or a finite number"),
    ((np.zeros((2, 6, 6, 1)), 1, None), r"fill must be 'mean' or a finite number"),
])
def test_blank_border_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        cnn.blank_border(*args)


@pytest.mark.parametrize("size, layers, match", [
    (0, [(3, 1, "valid")], r"size must be a positive int \(pixels along one axis\), got 0"),
    (28.0, [(3, 1, "valid")], r"size must be a positive int"),
    (28, (3, 1, "valid"), r"layer 0 must be a \(kernel, stride, padding\) triple"),
    (28, [(3, 1)], r"layer 0 must be a \(kernel, stride, padding\) triple .* got \(3, 1\)"),
    (28, [(3, 1, "valid"), (2, 0, "valid")], r"layer 1 must be"),
    (28, [(3, 1, "full")], r"padding 'valid' or 'same', got \(3, 1, 'full'\)"),
    (28, "conv", r"layers must be a list of \(kernel, stride, padding\) triples"),
    (4, [(3, 1, "valid"), (3, 1, "valid")],
     r"the window of layer 1 \(kernel 3\) does not fit in its input of length 2"),
])
def test_receptive_field_coverage_rejects_bad_arguments(size, layers, match):
    with pytest.raises(ValueError, match=match):
        cnn.receptive_field_coverage(size, layers)
