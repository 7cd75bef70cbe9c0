"""helpers.outlook: attention against Keras' MultiHeadAttention with copied weights,
distillation against TensorFlow, occlusion and saliency against answers known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

from helpers import outlook

TOL = {np.float32: 1e-5, np.float64: 1e-10}


# ----------------------------------------------------------------------------- attention

def _keras_mha(tf, heads, key_dim, value_dim, dtype, x_q, x_kv, seed):
    """A built Keras MultiHeadAttention layer with random (non-zero) biases too."""
    import keras

    layer = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim, value_dim=value_dim,
                                            dtype=np.dtype(dtype).name)
    layer(x_q, x_kv)  # build
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [
    # (N, T, S, D_q, D_kv, heads, key_dim, value_dim, self_attention). key_dim is 1, 4 or 16:
    # Keras casts its scale 1/sqrt(key_dim) through float32 even in a float64 layer, which is
    # exact only for these; other key_dims are tested below.
    (2, 5, 5, 8, 8, 2, 4, 4, True),
    (3, 4, 7, 6, 5, 3, 1, 5, False),
    (1, 1, 3, 4, 4, 1, 4, 3, False),
    (2, 9, 9, 12, 12, 4, 16, 3, True),
])
@pytest.mark.parametrize("mask_kind", [None, "causal", "random"])
def test_multi_head_attention_matches_keras(tf, rng, dtype, shapes, mask_kind):
    n, t, s, d_q, d_kv, heads, key_dim, value_dim, self_attention = shapes
    if mask_kind == "causal" and t != s:
        mask_kind = "last keys hidden"  # a causal mask needs T == S: hide the last key instead
    x_q = rng.normal(size=(n, t, d_q)).astype(dtype)
    x_kv = x_q if self_attention else rng.normal(size=(n, s, d_kv)).astype(dtype)
    layer = _keras_mha(tf, heads, key_dim, value_dim, dtype, x_q, x_kv, seed=7)
    mask = None
    if mask_kind == "causal":
        mask = np.broadcast_to(np.tril(np.ones((t, s), dtype=bool)), (n, t, s)).copy()
    elif mask_kind == "last keys hidden":
        mask = np.ones((n, t, s), dtype=bool)
        mask[..., -1] = False
    elif mask_kind == "random":
        mask = rng.random((n, t, s)) > 0.4
        mask[..., 0] = True  # every query may attend somewhere
    out_k, w_k = layer(x_q, x_kv, attention_mask=mask, return_attention_scores=True)
    out, w = outlook.multi_head_attention(x_q, x_kv, *layer.get_weights(), mask=mask)
    assert out.dtype == dtype and out.shape == (n, t, layer.get_weights()[-1].shape[0])
    assert w.shape == (n, heads, t, s)
    assert np.max(np.abs(out - out_k.numpy())) < TOL[dtype]
    assert np.max(np.abs(w - w_k.numpy())) < TOL[dtype]
    if mask is not None:
        assert np.all(w[~np.broadcast_to(mask[:, None], w.shape)] == 0)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-6)])
def test_multi_head_attention_matches_keras_for_any_key_dim(tf, rng, dtype, tol):
    # In float64 the tolerance is float32's: Keras computes query * ops.cast(1/sqrt(3), float64),
    # and the Python float is first made a float32 tensor (relative error ~1e-8).
    x_q, x_kv = rng.normal(size=(2, 4, 6)).astype(dtype), rng.normal(size=(2, 5, 7)).astype(dtype)
    layer = _keras_mha(tf, 2, 3, 2, dtype, x_q, x_kv, seed=3)
    out_k, w_k = layer(x_q, x_kv, return_attention_scores=True)
    out, w = outlook.multi_head_attention(x_q, x_kv, *layer.get_weights())
    assert np.max(np.abs(out - out_k.numpy())) < tol and np.max(np.abs(w - w_k.numpy())) < tol


def test_multi_head_attention_accepts_one_mask_for_the_whole_batch(rng):
    x = rng.normal(size=(3, 5, 6))
    weights = [rng.normal(size=sh) for sh in [(6, 2, 3), (2, 3), (6, 2, 3), (2, 3), (6, 2, 4), (2, 4), (2, 4, 6), (6,)]]
    causal = np.tril(np.ones((5, 5), dtype=bool))
    out_2d, w_2d = outlook.multi_head_attention(x, x, *weights, mask=causal)
    out_3d, w_3d = outlook.multi_head_attention(x, x, *weights, mask=np.broadcast_to(causal, (3, 5, 5)))
    np.testing.assert_array_equal(out_2d, out_3d)
    np.testing.assert_array_equal(w_2d, w_3d)
    # causal: the first query can only read the first key, so its weights are (1, 0, 0, 0, 0)
    np.testing.assert_array_equal(w_2d[:, :, 0], np.broadcast_to(np.eye(5)[0], (3, 2, 5)))


def test_scaled_dot_product_attention_against_tensorflow(tf, rng):
    q, k, v = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(2, 3, 6, 7))
    out, w = outlook.scaled_dot_product_attention(q, k, v)
    w_tf = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / np.sqrt(5.0), axis=-1)
    np.testing.assert_allclose(w, w_tf.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out, tf.matmul(w_tf, v).numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-12)


def test_identical_keys_give_uniform_weights_and_the_mean_value(rng):
    q = rng.normal(size=(4, 3))
    k = np.tile(rng.normal(size=(1, 3)), (5, 1))   # five identical keys: nothing to prefer
    v = rng.normal(size=(5, 2))
    out, w = outlook.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(w, 0.2, atol=1e-12)
    np.testing.assert_allclose(out, np.broadcast_to(v.mean(axis=0), (4, 2)), atol=1e-12)


def test_attention_is_stable_for_huge_scores():
    q = np.array([[1000.0, 0.0]])
    k = np.array([[1000.0, 0.0], [-1000.0, 0.0]])
    out, w = outlook.scaled_dot_product_attention(q, k, np.array([[1.0], [2.0]]))
    assert np.all(np.isfinite(w)) and w[0, 0] == pytest.approx(1.0) and out[0, 0] == pytest.approx(1.0)


def test_float32_in_float32_out(rng):
    q = rng.normal(size=(3, 4)).astype(np.float32)
    out, w = outlook.scaled_dot_product_attention(q, q, q)
    assert out.dtype == np.float32 and w.dtype == np.float32


def test_a_query_with_no_allowed_key_is_refused(rng):
    q = rng.normal(size=(3, 4))
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"all False"):
        outlook.scaled_dot_product_attention(q, q, q, mask)


@pytest.mark.parametrize("q_shape, k_shape, v_shape, fragment", [
    ((2, 3, 4), (2, 5, 3), (2, 5, 6), r"feature size d = 4 of q, got q \(2, 3, 4\), k \(2, 5, 3\)"),
    ((2, 3, 4), (2, 5, 4), (2, 6, 6), r"one row per key \(S = 5\), got k \(2, 5, 4\), v \(2, 6, 6\)"),
    ((2, 3, 4), (3, 5, 4), (3, 5, 6), r"same leading dimensions, got q \(2, 3, 4\), k \(3, 5, 4\)"),
    ((4,), (4,), (4,), r"got q \(4,\), k \(4,\), v \(4,\)"),
])
def test_attention_bad_shapes_name_both_shapes(q_shape, k_shape, v_shape, fragment):
    with pytest.raises(ValueError, match=fragment):
        outlook.scaled_dot_product_attention(np.ones(q_shape), np.ones(k_shape), np.ones(v_shape))


def test_attention_mask_of_the_wrong_shape_or_type(rng):
    q = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"broadcastable to the scores \(\.\.\., T, S\) \(3, 3\), got mask \(2, 3\)"):
        outlook.scaled_dot_product_attention(q, q, q, np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="must be boolean"):
        outlook.scaled_dot_product_attention(q, q, q, np.ones((3, 3)))


def test_multi_head_attention_bad_weight_and_mask_shapes(rng):
    x = rng.normal(size=(2, 5, 6))
    good = [rng.normal(size=sh) for sh in [(6, 2, 3), (2, 3), (6, 2, 3), (2, 3), (6, 2, 4), (2, 4), (2, 4, 6), (6,)]]
    bad_wk = list(good)
    bad_wk[2] = rng.normal(size=(6, 2, 4))
    with pytest.raises(ValueError, match=r"Wk must have shape \(6, 2, 3\) .* got Wk \(6, 2, 4\)"):
        outlook.multi_head_attention(x, x, *bad_wk)
    bad_bo = list(good)
    bad_bo[7] = rng.normal(size=(5,))
    with pytest.raises(ValueError, match=r"bo must have shape \(6,\) .* got bo \(5,\)"):
        outlook.multi_head_attention(x, x, *bad_bo)
    with pytest.raises(ValueError, match=r"same number of sequences, got x_q \(2, 5, 6\), x_kv \(3, 5, 6\)"):
        outlook.multi_head_attention(x, rng.normal(size=(3, 5, 6)), *good)
    wrong_mask = r"mask must have shape \(N, T, S\) \(2, 5, 5\) or \(T, S\) \(5, 5\), got mask \(5, 4\)"
    with pytest.raises(ValueError, match=wrong_mask):
        outlook.multi_head_attention(x, x, *good, mask=np.ones((5, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"x_q must be 3-D, got shape \(5, 6\)"):
        outlook.multi_head_attention(x[0], x, *good)


def test_patchify_reads_patches_row_by_row(rng):
    images = rng.normal(size=(2, 6, 9, 2))
    tokens = outlook.patchify(images, 3)
    assert tokens.shape == (2, 6, 18)
    for n in range(2):
        for r in range(2):
            for c in range(3):
                np.testing.assert_array_equal(tokens[n, r * 3 + c], images[n, 3 * r:3 * r + 3, 3 * c:3 * c + 3].ravel())
    with pytest.raises(ValueError, match=r"multiples of patch = 4, got images \(2, 6, 9, 2\)"):
        outlook.patchify(images, 4)


# ----------------------------------------------------------------------------- distillation

def test_softmax_with_temperature_properties(rng):
    z = rng.normal(0, 3, size=(5, 4))
    np.testing.assert_allclose(outlook.softmax_with_temperature(z, 1.0), scipy_softmax(z, axis=-1), atol=1e-12)
    for t in (0.3, 1.0, 2.0, 10.0):
        p = outlook.softmax_with_temperature(z, t)
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-12)
        np.testing.assert_array_equal(np.argsort(p, axis=-1), np.argsort(z, axis=-1))   # ranking kept
        np.testing.assert_allclose(p, outlook.softmax_with_temperature(z + 7.0, t), atol=1e-12)  # shift-invariant
    # hotter is flatter: the largest probability falls as T rises
    top = [outlook.softmax_with_temperature(z, t).max(axis=-1) for t in (0.5, 1.0, 2.0, 4.0)]
    assert all(np.all(a > b) for a, b in zip(top, top[1:]))
    np.testing.assert_allclose(outlook.softmax_with_temperature(z, 1e6), 0.25, atol=1e-5)
    np.testing.assert_allclose(outlook.softmax_with_temperature(z, 1e-3), np.eye(4)[z.argmax(axis=-1)], atol=1e-12)
    p = outlook.softmax_with_temperature(z.T, 2.0, axis=0)
    np.testing.assert_allclose(p.T, outlook.softmax_with_temperature(z, 2.0), atol=1e-12)


def test_softmax_with_temperature_rejects_bad_temperature():
    for bad in (0.0, -1.0, np.inf, "2"):
        with pytest.raises(ValueError, match="temperature must be a positive number"):
            outlook.softmax_with_temperature(np.zeros((2, 3)), bad)


@pytest.mark.parametrize("temperature, alpha", [(1.0, 1.0), (1.0, 0.0), (2.0, 0.5), (4.0, 0.1), (0.5, 0.7)])
def test_distillation_loss_against_tensorflow(tf, rng, temperature, alpha):
    zs, zt = rng.normal(0, 2, size=(16, 3)), rng.normal(0, 2, size=(16, 3))
    y = rng.integers(0, 3, 16)
    hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=zs))
    log_p_t, log_q_s = tf.nn.log_softmax(zt / temperature), tf.nn.log_softmax(zs / temperature)
    kl = tf.reduce_mean(tf.reduce_sum(tf.exp(log_p_t) * (log_p_t - log_q_s), axis=1))
    expected = alpha * hard + (1 - alpha) * temperature ** 2 * kl
    assert outlook.distillation_loss(zs, zt, y, temperature, alpha) == pytest.approx(float(expected), rel=1e-6)


def test_distillation_loss_special_cases(rng):
    zs, zt = rng.normal(size=(8, 2)), rng.normal(size=(8, 2))
    y = rng.integers(0, 2, 8)
    # the soft term is zero when the student copies the teacher, and positive otherwise
    assert outlook.distillation_loss(zt, zt, y, 3.0, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert outlook.distillation_loss(zs, zt, y, 3.0, 0.0) > 0
    # alpha = 1: ordinary cross-entropy with the labels, whatever the teacher says
    ce = -np.mean(np.log(scipy_softmax(zs, axis=1)[np.arange(8), y]))
    assert outlook.distillation_loss(zs, zt, y, 3.0, 1.0) == pytest.approx(ce, rel=1e-12)
    assert outlook.distillation_loss(zs, -zt, y, 3.0, 1.0) == pytest.approx(ce, rel=1e-12)


def test_distillation_loss_bad_inputs_name_the_shapes(rng):
    zs = rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match=r"shape of student_logits \(4, 3\), got teacher_logits \(4, 2\)"):
        outlook.distillation_loss(zs, rng.normal(size=(4, 2)), np.zeros(4, int), 2.0, 0.5)
    wrong_y = r"y_true must have shape \(4,\) to match student_logits \(4, 3\), got y_true \(5,\)"
    with pytest.raises(ValueError, match=wrong_y):
        outlook.distillation_loss(zs, zs, np.zeros(5, int), 2.0, 0.5)
    with pytest.raises(ValueError, match=r"integer labels in 0\.\.2"):
        outlook.distillation_loss(zs, zs, np.array([0, 1, 3, 0]), 2.0, 0.5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        outlook.distillation_loss(zs, zs, np.zeros(4, int), 2.0, 1.5)


# ----------------------------------------------------------------------------- explanation maps

def _linear_scores(weights):
    """f(x) = Σ weights · x per image: hiding a patch with baseline 0 lowers f by the patch's share."""
    return lambda batch: np.tensordot(batch, weights, axes=([1, 2, 3], [0, 1, 2]))


def _occlusion_loop(predict_fn, image, patch, stride, baseline):
    """The definition (7.8) written as plain loops, as a second reference."""
    h, w, _ = image.shape
    tops = sorted(set(range(0, h - patch + 1, stride)) | {h - patch})
    lefts = sorted(set(range(0, w - patch + 1, stride)) | {w - patch})
    total, count = np.zeros((h, w)), np.zeros((h, w))
    f0 = predict_fn(image[None])[0]
    for i in tops:
        for j in lefts:
            occluded = image.copy()
            window = (slice(i, i + patch), slice(j, j + patch))
            occluded[window] = baseline if np.ndim(baseline) == 0 else baseline[window]
            total[i:i + patch, j:j + patch] += f0 - predict_fn(occluded[None])[0]
            count[i:i + patch, j:j + patch] += 1
    return total / count


def test_occlusion_of_a_linear_model_with_separate_patches_is_the_block_sum(rng):
    weights = rng.normal(size=(8, 8, 2))
    image = rng.normal(size=(8, 8, 2))
    m = outlook.occlusion_map(_linear_scores(weights), image, patch=4, stride=4, baseline=0.0)
    block = (weights * image).sum(axis=-1).reshape(2, 4, 2, 4).sum(axis=(1, 3))   # (2, 2) block sums
    np.testing.assert_allclose(m, np.kron(block, np.ones((4, 4))), atol=1e-12)


@pytest.mark.parametrize("patch, stride", [(3, 1), (4, 2), (5, 3), (7, 7), (6, 4)])
def test_occlusion_matches_the_loop_definition(rng, patch, stride):
    weights = rng.normal(size=(14, 12, 1))
    image = rng.random((14, 12, 1))
    baseline = rng.random((14, 12, 1))
    f = _linear_scores(weights)
    for b in (0.0, 0.5, baseline):
        m = outlook.occlusion_map(f, image, patch, stride, b)
        assert m.shape == (14, 12) and np.all(np.isfinite(m))    # every pixel covered
        np.testing.assert_allclose(m, _occlusion_loop(f, image, patch, stride, b), atol=1e-12)


def test_occlusion_with_the_image_as_baseline_is_zero_and_only_the_used_region_matters(rng):
    image = rng.random((10, 10, 1))
    weights = np.zeros((10, 10, 1))
    weights[2:4, 6:8] = 1.0                                  # the model looks at one 2x2 spot only
    f = _linear_scores(weights)
    np.testing.assert_array_equal(outlook.occlusion_map(f, image, 2, 1, image), 0.0)
    m = outlook.occlusion_map(f, image, 2, 2, 0.0)
    assert np.all(m[2:4, 6:8] > 0) and np.count_nonzero(m) == 4


def test_occlusion_bad_inputs_name_the_shapes(rng):
    f = _linear_scores(np.ones((6, 6, 1)))
    with pytest.raises(ValueError, match=r"image must be 3-D, got shape \(6, 6\)"):
        outlook.occlusion_map(f, np.ones((6, 6)), 2, 1)
    with pytest.raises(ValueError, match=r"image's shape \(6, 6, 1\), got baseline \(6, 6\)"):
        outlook.occlusion_map(f, np.ones((6, 6, 1)), 2, 1, np.zeros((6, 6)))
    with pytest.raises(ValueError, match=r"patch 7 is larger than the image"):
        outlook.occlusion_map(f, np.ones((6, 6, 1)), 7, 1)
    with pytest.raises(ValueError, match=r"one score per image, \(17,\) or \(17, 1\), got \(17, 2\)"):
        outlook.occlusion_map(lambda b: np.zeros((len(b), 2)), np.ones((6, 6, 1)), 3, 1)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        outlook.occlusion_map(f, np.ones((6, 6, 1)), 2, 0)


def test_gradient_saliency_of_a_linear_model_is_its_weights(tf, rng):
    import keras

    model = keras.Sequential([keras.Input((5, 4, 2)), keras.layers.Flatten(), keras.layers.Dense(3)])
    w = rng.normal(size=(40, 3)).astype(np.float32)
    model.set_weights([w, np.zeros(3, np.float32)])
    images = rng.random((6, 5, 4, 2)).astype(np.float32)
    s = outlook.gradient_saliency(model, images, class_index=2)
    expected = np.abs(w[:, 2].reshape(5, 4, 2)).max(axis=-1)         # the same for every image
    assert s.shape == (6, 5, 4) and s.dtype == np.float32
    np.testing.assert_allclose(s, np.broadcast_to(expected, s.shape), rtol=1e-6)


def test_gradient_saliency_saturates_through_a_sigmoid(tf, rng):
    import keras

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    images = rng.random((3, 4, 4, 1)).astype(np.float32)
    s_logit = outlook.gradient_saliency(model, images)
    s_prob = outlook.gradient_saliency(lambda x: tf.sigmoid(model(x)), images)
    p = tf.sigmoid(model(images)).numpy()[:, 0]
    np.testing.assert_allclose(s_prob, (p * (1 - p))[:, None, None] * s_logit, rtol=1e-5)   # chain rule


def test_gradient_saliency_bad_inputs(tf, rng):
    import keras

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"images must be 4-D, got shape \(4, 4, 1\)"):
        outlook.gradient_saliency(model, np.ones((4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"K > class_index = 2, got output \(1, 2\)"):
        outlook.gradient_saliency(model, np.ones((1, 4, 4, 1), np.float32), class_index=2)


def test_import_outlook_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, helpers.outlook; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
