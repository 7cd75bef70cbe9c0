"""The outlook (``10_challenges_outlook.ipynb``): attention, distillation and explanation maps.

The NumPy reference code of the course's last chapter, in the notation of the notebook (the
numbers in brackets are its equation numbers) and in Keras' array layouts, so that trained
Keras weights copy straight in:

Attention (Vaswani et al., NeurIPS 2017)::

    q (..., T, d)   k (..., S, d)   v (..., S, d_v)      T queries, S keys/values
    A   = softmax(q kᵀ / √d)          (..., T, S)   row t: how much query t reads each key  (7)
    out = A v                          (..., T, d_v)                                          (8)

    multi-head, h = 1..H, with the weights of ``keras.layers.MultiHeadAttention``:
    x_q (N, T, D_q), x_kv (N, S, D_kv)
    Wq (D_q, H, d), bq (H, d)      Q_h = x_q Wq[:, h] + bq[h]       (N, T, d)
    Wk (D_kv, H, d), bk (H, d)     K_h = x_kv Wk[:, h] + bk[h]      (N, S, d)
    Wv (D_kv, H, d_v), bv (H, d_v) V_h = x_kv Wv[:, h] + bv[h]      (N, S, d_v)
    head_h = softmax(Q_h K_hᵀ / √d) V_h                                                      (9)
    Wo (H, d_v, D_out), bo (D_out,)   out = Σ_h head_h Wo[h] + bo      (N, T, D_out)        (10)

    (10) is the usual "concatenate the heads, then one dense layer": Wo reshaped to
    (H·d_v, D_out) is that layer's matrix.

Knowledge distillation (Hinton, Vinyals, Dean, arXiv:1503.02531)::

    softmax_T(z)_c = exp(z_c / T) / Σ_c' exp(z_c' / T)                                       (11)
    L = α · CE(y, softmax(z_s)) + (1 − α) · T² · KL(softmax_T(z_t) ‖ softmax_T(z_s))         (12)

    z_s student logits, z_t teacher logits (N, K), y (N,) integer labels. T > 1 softens the
    teacher's output so that the small probabilities it gives the wrong classes ("dark
    knowledge") carry signal; T² keeps the soft term's gradient on the scale of the hard one.
    KL equals the cross-entropy with the soft targets minus the teacher's entropy, which does
    not depend on the student: both give the same gradients, and KL is 0 when they agree.

Explanation maps::

    gradient saliency     S[n, i, j]  = max_c |∂ f_k(x_n) / ∂x_n[i, j, c]|                    (3)
    occlusion sensitivity  M[i, j]    = mean over patches P ∋ (i, j) of f(x) − f(x with P := b) (4)

Every function works in float32 and float64 (float32 in, float32 out), validates its inputs
and raises ``ValueError`` naming the expected and the received shapes. TensorFlow is
imported only inside :func:`gradient_saliency`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers._validate import as_float_array, check_finite, result_dtype

__all__ = [
    "scaled_dot_product_attention", "multi_head_attention", "patchify",
    "softmax_with_temperature", "distillation_loss", "occlusion_map", "gradient_saliency",
]


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: subtracting the row maximum changes nothing (exp(a−m)/Σexp(b−m))."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(z) without overflow: z − m − log Σ exp(z − m)."""
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def _is_number(value) -> bool:
    """A real Python or NumPy number (not a bool, not a string)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_temperature(temperature, func: str) -> None:
    if not _is_number(temperature) or not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"{func}: temperature must be a positive number, got {temperature!r}")


# ----------------------------------------------------------------------------- attention

def scaled_dot_product_attention(q, k, v, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Scaled dot-product attention, (7) and (8): ``out = softmax(q kᵀ / √d) v``.

    q: (..., T, d) queries; k: (..., S, d) keys; v: (..., S, d_v) values. The leading
    dimensions (batch, heads ...) must be equal.
    mask: optional boolean array broadcastable to (..., T, S); True = query t may attend to
        key s. Masked scores are set to −inf before the softmax, so they get weight exactly 0.
        Every query must be allowed at least one key.
    Returns (out (..., T, d_v), weights (..., T, S)); each row of weights sums to 1.
    """
    func = "scaled_dot_product_attention"
    q = as_float_array(q, "q", func)
    k = as_float_array(k, "k", func)
    v = as_float_array(v, "v", func)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"{func}: q, k and v must all be (..., T, d) with the same number of dimensions (>= 2), "
                         f"got q {q.shape}, k {k.shape}, v {v.shape}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{func}: k must have the feature size d = {q.shape[-1]} of q, "
                         f"got q {q.shape}, k {k.shape}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{func}: v must have one row per key (S = {k.shape[-2]}), got k {k.shape}, v {v.shape}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(f"{func}: q, k and v must have the same leading dimensions, "
                         f"got q {q.shape}, k {k.shape}, v {v.shape}")
    for a, name in ((q, "q"), (k, "k"), (v, "v")):
        check_finite(a, name, func)
    dtype = result_dtype(q, k, v)
    q, k, v = q.astype(dtype, copy=False), k.astype(dtype, copy=False), v.astype(dtype, copy=False)

    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(dtype.type(q.shape[-1]))     # (..., T, S)   (7)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise ValueError(f"{func}: mask must be boolean (True = may attend), got dtype {mask.dtype}")
        try:
            mask = np.broadcast_to(mask, scores.shape)
        except ValueError:
            raise ValueError(f"{func}: mask must be broadcastable to the scores (..., T, S) {scores.shape}, "
                             f"got mask {mask.shape}") from None
        empty = ~mask.any(axis=-1)
        if empty.any():
            where = tuple(int(i) for i in np.argwhere(empty)[0])
            raise ValueError(f"{func}: every query needs at least one key it may attend to; "
                             f"the mask row at index {where} is all False (mask {mask.shape})")
        scores = np.where(mask, scores, -np.inf)
    weights = _softmax(scores, axis=-1)                                         # exp(-inf) = 0
    return weights @ v, weights                                                 # (8)


def multi_head_attention(x_q, x_kv, Wq, bq, Wk, bk, Wv, bv, Wo, bo, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head attention, (9) and (10), with the weights of ``keras.layers.MultiHeadAttention``.

    x_q: (N, T, D_q) the sequence that asks (queries); x_kv: (N, S, D_kv) the sequence that is
        read (keys and values). Self-attention: pass the same array twice.
    Wq (D_q, H, d), bq (H, d); Wk (D_kv, H, d), bk (H, d); Wv (D_kv, H, d_v), bv (H, d_v);
    Wo (H, d_v, D_out), bo (D_out,): exactly ``layer.get_weights()`` in that order.
    mask: optional boolean (N, T, S) or (T, S), True = may attend (Keras' ``attention_mask``).
    Returns (out (N, T, D_out), weights (N, H, T, S)), as Keras'
    ``layer(x_q, x_kv, return_attention_scores=True)``.
    """
    func = "multi_head_attention"
    x_q = as_float_array(x_q, "x_q", func, ndim=3)
    x_kv = as_float_array(x_kv, "x_kv", func, ndim=3)
    Wq, Wk, Wv = (as_float_array(w, n, func, ndim=3) for w, n in ((Wq, "Wq"), (Wk, "Wk"), (Wv, "Wv")))
    bq, bk, bv = (as_float_array(b, n, func, ndim=2) for b, n in ((bq, "bq"), (bk, "bk"), (bv, "bv")))
    Wo = as_float_array(Wo, "Wo", func, ndim=3)
    bo = as_float_array(bo, "bo", func, ndim=1)
    if x_kv.shape[0] != x_q.shape[0]:
        raise ValueError(f"{func}: x_q and x_kv must hold the same number of sequences, "
                         f"got x_q {x_q.shape}, x_kv {x_kv.shape}")
    heads, d = Wq.shape[1], Wq.shape[2]
    d_v = Wv.shape[2]
    expected = {
        "Wq": (x_q.shape[2], heads, d), "bq": (heads, d),
        "Wk": (x_kv.shape[2], heads, d), "bk": (heads, d),
        "Wv": (x_kv.shape[2], heads, d_v), "bv": (heads, d_v),
        "Wo": (heads, d_v, Wo.shape[2]), "bo": (Wo.shape[2],),
    }
    got = {"Wq": Wq, "bq": bq, "Wk": Wk, "bk": bk, "Wv": Wv, "bv": bv, "Wo": Wo, "bo": bo}
    for name, shape in expected.items():
        if got[name].shape != shape:
            raise ValueError(f"{func}: {name} must have shape {shape} for x_q {x_q.shape}, x_kv {x_kv.shape} "
                             f"and Wq {Wq.shape}, got {name} {got[name].shape}")
    dtype = result_dtype(x_q, x_kv, *got.values())
    x_q, x_kv = x_q.astype(dtype, copy=False), x_kv.astype(dtype, copy=False)

    # One einsum per projection computes all heads at once; move heads before time:
    # (N, T, D) x (D, H, d) -> (N, H, T, d).
    Q = np.einsum("ntD,Dhd->nhtd", x_q, Wq.astype(dtype)) + bq.astype(dtype)[None, :, None, :]
    K = np.einsum("nsD,Dhd->nhsd", x_kv, Wk.astype(dtype)) + bk.astype(dtype)[None, :, None, :]
    V = np.einsum("nsD,Dhd->nhsd", x_kv, Wv.astype(dtype)) + bv.astype(dtype)[None, :, None, :]
    if mask is not None:
        mask = np.asarray(mask)
        n, t, s = x_q.shape[0], x_q.shape[1], x_kv.shape[1]
        if mask.shape not in ((n, t, s), (t, s)):
            raise ValueError(f"{func}: mask must have shape (N, T, S) {(n, t, s)} or (T, S) {(t, s)}, "
                             f"got mask {mask.shape}")
        mask = mask[:, None] if mask.ndim == 3 else mask      # the same mask for every head
    heads_out, weights = scaled_dot_product_attention(Q, K, V, mask)          # (N, H, T, d_v)   (9)
    out = np.einsum("nhtv,hvD->ntD", heads_out, Wo.astype(dtype)) + bo.astype(dtype)          # (10)
    return out, weights


def patchify(images, patch: int) -> np.ndarray:
    """Cut images into non-overlapping square patches, read row by row: a sequence of tokens.

    images: (N, H, W, C) with H and W multiples of ``patch``.
    Returns (N, (H/patch)·(W/patch), patch·patch·C); token p = r·(W/patch) + c is the patch in
    row r, column c, its pixels flattened row-major (as a Vision Transformer reads an image).
    """
    func = "patchify"
    x = as_float_array(images, "images", func, ndim=4)
    n, h, w, c = x.shape
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or patch < 1:
        raise ValueError(f"{func}: patch must be a positive int, got {patch!r}")
    if h % patch or w % patch:
        raise ValueError(f"{func}: image height and width must be multiples of patch = {patch}, "
                         f"got images {x.shape}")
    rows, cols = h // patch, w // patch
    blocks = x.reshape(n, rows, patch, cols, patch, c).transpose(0, 1, 3, 2, 4, 5)   # (N, r, c, p, p, C)
    return blocks.reshape(n, rows * cols, patch * patch * c)


# ----------------------------------------------------------------------------- distillation

def softmax_with_temperature(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """softmax_T(z) = softmax(z / T) along ``axis``, (11).

    logits: any shape, e.g. (N, K). T = 1 is the ordinary softmax; T > 1 flattens the
    distribution towards uniform (T → ∞), T < 1 sharpens it towards one-hot (T → 0).
    The ranking of the classes never changes. Returns an array of the logits' shape.
    """
    func = "softmax_with_temperature"
    z = as_float_array(logits, "logits", func)
    if z.ndim == 0:
        raise ValueError(f"{func}: logits must have at least one dimension (classes), got shape {z.shape}")
    check_finite(z, "logits", func)
    _check_temperature(temperature, func)
    return _softmax(z / z.dtype.type(temperature), axis=axis)


def distillation_loss(student_logits, teacher_logits, y_true, temperature: float, alpha: float) -> float:
    """The distillation loss (12), averaged over the batch.

    student_logits, teacher_logits: (N, K); y_true: (N,) integer labels in 0..K−1.
    L = α · mean CE(y, softmax(z_s)) + (1 − α) · T² · mean KL(softmax_T(z_t) ‖ softmax_T(z_s)),
    with KL(p ‖ q) = Σ_c p_c (log p_c − log q_c). α = 1 is ordinary training on hard labels;
    α = 0 learns from the teacher alone.
    """
    func = "distillation_loss"
    zs = as_float_array(student_logits, "student_logits", func, ndim=2)
    zt = as_float_array(teacher_logits, "teacher_logits", func, ndim=2)
    if zt.shape != zs.shape:
        raise ValueError(f"{func}: teacher_logits must have the shape of student_logits {zs.shape}, "
                         f"got teacher_logits {zt.shape}")
    y = np.asarray(y_true)
    if y.shape != (zs.shape[0],):
        raise ValueError(f"{func}: y_true must have shape ({zs.shape[0]},) to match student_logits {zs.shape}, "
                         f"got y_true {y.shape}")
    if y.dtype.kind not in "iu" or y.min(initial=0) < 0 or y.max(initial=0) >= zs.shape[1]:
        raise ValueError(f"{func}: y_true must hold integer labels in 0..{zs.shape[1] - 1}, got {y.dtype} "
                         f"values {np.unique(y)[:5].tolist()}")
    _check_temperature(temperature, func)
    if not _is_number(alpha) or not 0 <= alpha <= 1:
        raise ValueError(f"{func}: alpha must be in [0, 1], got {alpha!r}")
    check_finite(zs, "student_logits", func)
    check_finite(zt, "teacher_logits", func)
    zs, zt = zs.astype(np.float64), zt.astype(np.float64)

    hard = -_log_softmax(zs)[np.arange(len(y)), y].mean()                       # CE with the labels
    log_p_teacher = _log_softmax(zt / temperature)
    log_q_student = _log_softmax(zs / temperature)
    kl = (np.exp(log_p_teacher) * (log_p_teacher - log_q_student)).sum(axis=1).mean()
    return float(alpha * hard + (1 - alpha) * temperature ** 2 * kl)


# ----------------------------------------------------------------------------- explanation maps

def occlusion_map(predict_fn: Callable[[np.ndarray], np.ndarray], image, patch: int, stride: int,
                  baseline=0.0) -> np.ndarray:
    """Occlusion sensitivity (4): how much the score drops when a patch is hidden.

    predict_fn: maps a batch (B, H, W, C) to scores (B,) (or (B, 1)), e.g. the predicted
        probability of pneumonia. It is called once, on the image and all its occluded copies.
    image: (H, W, C). patch: side of the square patch; stride: step between patches. The
        patch positions are 0, stride, 2·stride, ... and, if that misses the last rows or
        columns, also H − patch (W − patch): every pixel is covered at least once.
    baseline: what a hidden pixel becomes: a number (0.0 = black) or an array of the image's
        shape (H, W, C) (e.g. a blurred copy of the image).
    Returns M (H, W) float64: for each pixel the mean, over the patches that cover it, of
        f(image) − f(occluded image). Positive: hiding the pixel lowers the score.
    """
    func = "occlusion_map"
    x = as_float_array(image, "image", func, ndim=3)
    h, w, c = x.shape
    for name, val in (("patch", patch), ("stride", stride)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{func}: {name} must be a positive int, got {val!r}")
    if patch > min(h, w):
        raise ValueError(f"{func}: patch {patch} is larger than the image (H, W) = {(h, w)} (image {x.shape})")
    base = np.asarray(baseline, dtype=x.dtype)
    if base.ndim != 0 and base.shape != x.shape:
        raise ValueError(f"{func}: baseline must be a number or have the image's shape {x.shape}, "
                         f"got baseline {base.shape}")
    base = np.broadcast_to(base, x.shape)

    def starts(size: int) -> np.ndarray:
        s = np.arange(0, size - patch + 1, stride)
        return s if s[-1] == size - patch else np.append(s, size - patch)

    top, left = np.meshgrid(starts(h), starts(w), indexing="ij")
    top, left = top.ravel(), left.ravel()                                       # (P,) patch corners
    rows, cols = np.arange(h), np.arange(w)
    # covered[p, i, j]: does patch p cover pixel (i, j)? Built by broadcasting, no Python loop.
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + patch)       # (P, H)
    in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + patch)     # (P, W)
    covered = in_rows[:, :, None] & in_cols[:, None, :]                                      # (P, H, W)
    occluded = np.where(covered[..., None], base[None], x[None])                             # (P, H, W, C)

    scores = np.asarray(predict_fn(np.concatenate([x[None], occluded])), dtype=np.float64)
    if scores.shape not in ((len(top) + 1,), (len(top) + 1, 1)):
        raise ValueError(f"{func}: predict_fn must return one score per image, ({len(top) + 1},) or "
                         f"({len(top) + 1}, 1), got {scores.shape}")
    scores = scores.reshape(-1)
    drop = scores[0] - scores[1:]                                                            # (P,)
    total = np.tensordot(drop, covered, axes=(0, 0))                                         # (H, W)
    return total / covered.sum(axis=0)


def gradient_saliency(model, images, class_index: int = 0) -> np.ndarray:
    """Gradient saliency (3) (Simonyan, Vedaldi, Zisserman, 2013): max_c |∂f_k/∂x[i, j, c]|.

    model: a Keras model, or any function of a tf tensor built from TensorFlow operations
        (``lambda x: tf.sigmoid(model(x))``), with outputs (N, K); f_k is output
        ``class_index`` (a probability, or a logit if the model ends without activation).
    images: (N, H, W, C). Returns S (N, H, W), same float dtype as the images.
    Large S[n, i, j]: a small change of that pixel changes the output most. It is a local,
    first-order statement about the function, not an explanation of why it decides.
    """
    func = "gradient_saliency"
    x = as_float_array(images, "images", func, ndim=4)
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) or class_index < 0:
        raise ValueError(f"{func}: class_index must be a non-negative int, got {class_index!r}")
    from helpers import import_tensorflow

    tf = import_tensorflow()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = model(xt)            # a Keras model called directly runs in inference mode
        if len(out.shape) != 2 or class_index >= out.shape[1]:
            raise ValueError(f"{func}: the model must return (N, K) with K > class_index = {class_index}, "
                             f"got output {tuple(out.shape)}")
        target = tf.reduce_sum(out[:, class_index])       # sum over images: each gradient is its own
    grad = tape.gradient(target, xt).numpy()
    return np.abs(grad).max(axis=-1).astype(x.dtype, copy=False)
