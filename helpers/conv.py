"""Convolution and pooling in NumPy: forward and backward, a fast path and a teaching loop.

Chapter 2 (``03_convolution_pooling.ipynb``) derives these; this module is the reference code
the notebook calls, checked against ``tf.nn.conv2d``, ``tf.nn.max_pool2d`` and
``tf.nn.avg_pool2d`` (values and ``tf.GradientTape`` gradients) in ``tests/test_conv.py``.

Layout (identical to TensorFlow/Keras, so ``Conv2D.get_weights()`` copies straight in)::

    x    (N, H, W, C)       N examples (images), H rows, W columns, C channels    (NHWC)
    w    (KH, KW, C, F)     a KH x KW kernel over C channels, F filters           (HWIO)
    b    (F,)               one bias per filter
    out  (N, Ho, Wo, F)     one feature map per filter

Notation, the same letters as notebook 03 (and notebook 04, which restates it)::

    e       the example (image) in the batch, 0 <= e < N
    p, q    row and column of an input pixel: x[e, p, q, c]
    c       input channel;  f  filter (= output channel)
    i, j    row and column of an output position: out[e, i, j, f]
    m, n    row and column offset inside the kernel window: w[m, n, c, f]
    S = (SH, SW) the stride; (top, bottom) and (left, right) the zeros added by the padding,
    P_total = top + bottom along the rows (left + right along the columns); x_pad is the
    zero-padded input, in which offset (m, n) of window (i, j) is

        x_pad[e, i·SH + m, j·SW + n, c] = x[e, p, q, c],   p = i·SH + m − top,  q = j·SW + n − left

    (0 where (p, q) falls in the padding). No other index letters are used (no k).

A "convolution" layer computes a cross-correlation (the kernel is not flipped)::

    out[e, i, j, f] = Σ_{m, n, c} x_pad[e, i·SH + m, j·SW + n, c] · w[m, n, c, f] + b[f]     (conv)

    Ho = (H + P_total − KH) // SH + 1          (and the same for Wo with W, KW, SW)   (size)

Padding follows TensorFlow exactly:

* ``"valid"``: no padding, P_total = 0, Ho = (H − KH) // SH + 1 (the kernel must fit).
* ``"same"``: Ho = ceil(H / SH) and P_total = max((Ho − 1)·SH + KH − H, 0), split as
  top = P_total // 2, bottom = P_total − top. When P_total is odd the extra row goes at the
  bottom (and the extra column at the right). That happens for an even kernel with stride 1
  (KH = 4: top 1, bottom 2), and with a stride above 1 it can happen for any kernel, odd or even
  (H = 28, KH = 3, SH = 2: top 0, bottom 1; while KH = 4, SH = 2 gives 1 and 1). See
  :func:`padding_amounts`.

Backward pass, for an upstream gradient dout = ∂L/∂out (N, Ho, Wo, F) (δ in the notebook)::

    db[f]          = Σ_{e, i, j} dout[e, i, j, f]                                            (db)
    dw[m, n, c, f] = Σ_{e, i, j} x_pad[e, i·SH + m, j·SW + n, c] · dout[e, i, j, f]          (dw)
    dx_pad[e, i·SH + m, j·SW + n, c] += Σ_f dout[e, i, j, f] · w[m, n, c, f]                 (dx)

and dx is dx_pad with the padding cut off. (dw) is a cross-correlation of the input with dout.
For stride 1 and "valid" padding, (dx) reads

    dx[e, p, q, c] = Σ_{f, m, n} w[m, n, c, f] · dout[e, p − m, q − n, f]     (dout = 0 outside its range)

a "full" convolution of dout with the kernel w as it is: a true convolution, in which the
kernel runs backwards as it slides. Equivalently, it is a cross-correlation of dout,
zero-padded by KH − 1 rows and KW − 1 columns on each side, with the flipped kernel
(w[::-1, ::-1], rotated by 180°, with its C and F axes exchanged). For a stride above 1 the same
holds for dout dilated by SH − 1 zeros between its rows and SW − 1 between its columns. For any
stride and padding, the map dout -> dx is what libraries call a *transposed convolution*:
``tf.nn.conv2d_transpose(dout, w, x.shape, stride, padding)`` (Keras' ``Conv2DTranspose``) with
the forward kernel w as it is gives the same dx (``tests/test_conv.py`` checks it).

The fast path (:func:`conv2d_forward`, :func:`conv2d_backward`) writes (conv) as one matrix
product: :func:`im2col` copies every KH x KW x C window into a row of ``cols``
(N·Ho·Wo, KH·KW·C), so that ``out = cols @ w.reshape(KH·KW·C, F) + b``; then
``dw = colsᵀ @ dout`` and ``dx = col2im(dout @ w.reshape(−1, F)ᵀ)``. The readable im2col loops
over the Ho·Wo windows (notebook 03 shows it); this one turns the loop inside out: it copies
a strided view of all windows at once (for 8 channels or more), or else one strided slice per
kernel offset (m, n), only KH·KW Python steps; col2im adds one strided slice per kernel offset
(m, n), so no Python loop runs over pixels. The public :func:`im2col` and :func:`col2im` handle
the whole batch at once; :func:`conv2d_forward` and :func:`conv2d_backward` run the same code on a
block of images at a time (about 2 MB of cols), which keeps the block in the CPU cache and the
memory bounded, and the forward pass adds b by the bias trick (a column of ones in cols, b as the last row of the weight
matrix). :func:`conv2d_naive` and :func:`conv2d_backward_naive` are the same formulas written as
plain loops, for teaching and as a second reference. ``benchmarks/bench_conv.py`` times all
three against TensorFlow.

Pooling (``size`` and ``stride`` int or pair, stride defaulting to size, padding as above)::

    max pool: out[e, i, j, c] = max_{m, n} x_pad[e, i·SH + m, j·SW + n, c]    (padding −inf)
    avg pool: out[e, i, j, c] = Σ_{m, n} x_pad[e, i·SH + m, j·SW + n, c] / count[i, j]

where count[i, j] is the number of real (not padded) entries in window (i, j), as in
``tf.nn.avg_pool2d`` (with "valid" padding count = KH·KW). The avg-pool gradient is spread
evenly, dout / count, over the window. The max-pool gradient goes to the maximum of each
window. Where several entries tie for the maximum (common after a ReLU: a window of zeros), max
is not differentiable; like ``tf.nn.max_pool2d``'s gradient on the CPU, the whole of dout then
goes to one entry, the first maximum in row-major order of the window (the smallest m, then
the smallest n), and the others get 0 (``tests/test_conv.py`` checks this against TensorFlow).

Every function works in float32 and float64 (float32 in, float32 out; float64 if any input
is float64). Inputs are validated and a ``ValueError`` names the function, the argument and
the expected and received shapes. An input or upstream gradient holding NaN or inf raises a
``ValueError`` that names it, except in :func:`im2col` and :func:`col2im`, which only move
and add numbers: there a NaN or inf is copied like any other value (as
``tf.image.extract_patches`` does).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from helpers._validate import as_float_array, check_finite, result_dtype

__all__ = [
    "conv2d_forward", "conv2d_backward", "conv2d_naive", "conv2d_backward_naive",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "im2col", "col2im", "conv_output_size", "padding_amounts", "receptive_field",
    "ConvCache", "MaxPoolCache", "AvgPoolCache",
]

_PADDINGS = ("valid", "same")


# --------------------------------------------------------------------------------------
# caches: named tuples, so that a student can look inside (cache.x_pad) and a backward
# function can tell a wrong cache from the right one
# --------------------------------------------------------------------------------------

class ConvCache(NamedTuple):
    """What :func:`conv2d_backward` needs.

    x (N, H, W, C) and w (KH, KW, C, F) as used (after dtype conversion); stride (SH, SW);
    padding "valid" or "same"; pads ((top, bottom), (left, right)); x_pad, the zero-padded
    input (N, H + top + bottom, W + left + right, C) (x itself for "valid").
    """

    x: np.ndarray
    w: np.ndarray
    stride: tuple[int, int]
    padding: str
    pads: tuple[tuple[int, int], tuple[int, int]]
    x_pad: np.ndarray


class MaxPoolCache(NamedTuple):
    """What :func:`max_pool2d_backward` needs.

    x_shape (N, H, W, C); size (KH, KW); stride (SH, SW); padding; pads ((top, bottom),
    (left, right)); argmax (N, Ho, Wo, C): the winning offset m·KW + n of each window.
    """

    x_shape: tuple[int, int, int, int]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: str
    pads: tuple[tuple[int, int], tuple[int, int]]
    argmax: np.ndarray


class AvgPoolCache(NamedTuple):
    """What :func:`avg_pool2d_backward` needs.

    x_shape (N, H, W, C); size (KH, KW); stride (SH, SW); padding; pads ((top, bottom),
    (left, right)); count (Ho, Wo, 1): the number of real entries in each window.
    """

    x_shape: tuple[int, int, int, int]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: str
    pads: tuple[tuple[int, int], tuple[int, int]]
    count: np.ndarray


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _pair(value, name: str, func: str) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1, as a pair (the ``stride`` / ``size`` argument)."""
    if _is_int(value):
        vals = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        vals = tuple(value)
    else:
        vals = None
    if vals is None or min(vals) < 1:
        raise ValueError(f"{func}: {name} must be a positive int or a pair of positive ints, got {value!r}")
    return int(vals[0]), int(vals[1])


def _padding(padding, func: str) -> str:
    """'valid' or 'same' (any letter case, as TensorFlow's 'VALID' / 'SAME')."""
    if not isinstance(padding, str) or padding.lower() not in _PADDINGS:
        raise ValueError(f"{func}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _pads_2d(func, x_shape, kernel, stride, padding, what, shapes):
    """((top, bottom), (left, right)) and (Ho, Wo); refuses a kernel that does not fit."""
    H, W = x_shape[1], x_shape[2]
    KH, KW = kernel
    if padding == "valid" and (KH > H or KW > W):
        raise ValueError(f"{func}: the {KH}x{KW} {what} does not fit in the {H}x{W} input with "
                         f"padding='valid' ({shapes}); use padding='same' or a smaller {what}")
    pads = (padding_amounts(H, KH, stride[0], padding), padding_amounts(W, KW, stride[1], padding))
    Ho = (H + sum(pads[0]) - KH) // stride[0] + 1
    Wo = (W + sum(pads[1]) - KW) // stride[1] + 1
    return pads, (Ho, Wo)


def _check_conv(func, x, w, b, stride, padding):
    """Validate conv2d arguments; return x, w, b (common float dtype), stride pair, padding."""
    x = as_float_array(x, "x", func, ndim=4)
    w = as_float_array(w, "w", func, ndim=4)
    b = as_float_array(b, "b", func, ndim=1)
    stride = _pair(stride, "stride", func)
    padding = _padding(padding, func)
    shapes = f"x {x.shape}, w {w.shape}"
    if 0 in w.shape:
        raise ValueError(f"{func}: w has an empty axis ({shapes}); expected (KH, KW, C, F), all >= 1")
    if 0 in x.shape[1:]:
        raise ValueError(f"{func}: x has an empty axis ({shapes}); expected (N, H, W, C) with H, W, C >= 1")
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"{func}: x has {x.shape[3]} channels but w expects {w.shape[2]} ({shapes})")
    if b.shape[0] != w.shape[3]:
        raise ValueError(f"{func}: b has {b.shape[0]} entries but w has {w.shape[3]} filters "
                         f"(b {b.shape}, w {w.shape})")
    for arr, name in ((x, "x"), (w, "w"), (b, "b")):
        check_finite(arr, name, func)
    dt = result_dtype(x, w, b)
    return x.astype(dt, copy=False), w.astype(dt, copy=False), b.astype(dt, copy=False), stride, padding


def _check_dout(func, dout, expected_shape):
    dout = as_float_array(dout, "dout", func)   # no ndim check: the shape check below names both shapes
    if dout.shape != tuple(expected_shape):
        raise ValueError(f"{func}: dout has shape {dout.shape} but the forward output had shape "
                         f"{tuple(expected_shape)}")
    check_finite(dout, "dout", func)
    return dout


def _check_cache(func, cache, cls, forward):
    if not isinstance(cache, cls):
        raise ValueError(f"{func}: cache must be the {cls.__name__} returned by {forward}, "
                         f"got {type(cache).__name__}")


# --------------------------------------------------------------------------------------
# sizes and padding (also used by the notebook)
# --------------------------------------------------------------------------------------

def conv_output_size(size: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Output length along one axis, eq. (size): (size + P_total − kernel) // stride + 1.

    "valid": (size − kernel) // stride + 1 (kernel <= size); "same": ceil(size / stride).
    Example: conv_output_size(28, 3) == 26, conv_output_size(26, 2, 2) == 13,
    conv_output_size(28, 3, padding="same") == 28.
    """
    before, after = padding_amounts(size, kernel, stride, padding, func="conv_output_size")
    return (size + before + after - kernel) // stride + 1


def padding_amounts(size: int, kernel: int, stride: int = 1, padding: str = "valid",
                    *, func: str = "padding_amounts") -> tuple[int, int]:
    """(before, after): the zeros TensorFlow adds to one axis of length ``size``.

    "valid": (0, 0). "same": out = ceil(size / stride),
    P_total = max((out − 1)·stride + kernel − size, 0), before = P_total // 2,
    after = P_total − before: when P_total is odd, the extra zero goes after (bottom / right).
    P_total is odd for an even kernel with stride 1 and can be odd for any kernel with a
    stride above 1. Examples: padding_amounts(28, 3, 1, "same") == (1, 1);
    padding_amounts(28, 4, 1, "same") == (1, 2) (even kernel); padding_amounts(28, 3, 2, "same")
    == (0, 1) (odd kernel, stride 2); padding_amounts(5, 2, 2, "same") == (0, 1).
    """
    for name, v in (("size", size), ("kernel", kernel), ("stride", stride)):
        if not _is_int(v) or v < 1:
            raise ValueError(f"{func}: {name} must be a positive int, got {v!r}")
    padding = _padding(padding, func)
    if padding == "valid":
        if kernel > size:
            raise ValueError(f"{func}: kernel {kernel} does not fit in size {size} with padding='valid'")
        return 0, 0
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return int(total // 2), int(total - total // 2)


def _pad(x, pads, value=0.0):
    (t, bo), (le, r) = pads
    if t == bo == le == r == 0:
        return x
    return np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)), mode="constant", constant_values=value)


def _window(a, m, n, stride, out_hw):
    """Offset (m, n) of every window: the strided slice a[:, i·SH + m, j·SW + n, :], i < Ho, j < Wo (a view)."""
    (SH, SW), (Ho, Wo) = stride, out_hw
    return a[:, m:m + SH * (Ho - 1) + 1:SH, n:n + SW * (Wo - 1) + 1:SW, :]


# --------------------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------------------

def _im2col_padded(x_pad, kernel, stride, out_hw, ones_column=False):
    """cols (N·Ho·Wo, KH·KW·C) of an already padded x, row (e, i, j), column (m, n, c).

    With ``ones_column`` cols gets one more column of ones (the bias trick: then
    ``cols @ [w_mat; b]`` = ``cols @ w_mat + b``, with no separate pass over the output).
    """
    N, C = x_pad.shape[0], x_pad.shape[3]
    (KH, KW), (SH, SW), (Ho, Wo) = kernel, stride, out_hw
    K = KH * KW * C
    cols = np.empty((N * Ho * Wo, K + ones_column), dtype=x_pad.dtype)
    cols6 = cols[:, :K].reshape(N, Ho, Wo, KH, KW, C)   # a view: cols6[e, i, j, m, n, c]
    if C >= 8:
        # A strided view of all windows, (N, Ho, Wo, KH, KW, C), without copying anything:
        # window (e, i, j) starts at x_pad[e, i·SH, j·SW] and moves by one row / column / channel.
        sN, sH, sW, sC = x_pad.strides
        windows = np.lib.stride_tricks.as_strided(
            x_pad, (N, Ho, Wo, KH, KW, C), (sN, SH * sH, SW * sW, sH, sW, sC), writeable=False)
        cols6[...] = windows                                # the copy: im2col proper
    else:
        # Few channels: NumPy copies short runs slowly, so copy one kernel offset (m, n) at a
        # time, a strided slice of the whole block of images.
        for m in range(KH):
            for n in range(KW):
                cols6[:, :, :, m, n, :] = _window(x_pad, m, n, stride, out_hw)
    if ones_column:
        cols[:, K] = 1
    return cols


def _col2im_add(dcols, dx_pad, kernel, stride, out_hw):
    """Add row (e, i, j), column (m, n, c) of dcols onto dx_pad[e, i·SH + m, j·SW + n, c]."""
    N, C = dx_pad.shape[0], dx_pad.shape[3]
    (KH, KW), (Ho, Wo) = kernel, out_hw
    d6 = dcols.reshape(N, Ho, Wo, KH, KW, C)
    for m in range(KH):
        for n in range(KW):
            _window(dx_pad, m, n, stride, out_hw)[...] += d6[:, :, :, m, n, :]
    return dx_pad


# The fast path builds im2col for a few images at a time: a block of cols of about this many
# bytes stays in the CPU cache while it is multiplied (about 10% faster than one big cols), and
# memory stays bounded however large the batch (cols of 64 images of 28x28x32 would be 58 MB).
_BLOCK_BYTES = 2 ** 21
# ... and at most about this many rows: for few channels (the first layer: 9 columns) 2 MB would
# be 58 000 rows, and OpenBLAS's threads share the product colsᵀ @ dout (9 x 58 000 @ 58 000 x 32)
# badly, up to 10x slower than in blocks of 8192 rows when the machine is busy.
_BLOCK_ROWS = 8192


def _image_blocks(N, rows_per_image, row_bytes):
    """(start, stop) ranges of images whose cols take about _BLOCK_BYTES (and _BLOCK_ROWS) together."""
    step = max(1, min(_BLOCK_BYTES // max(1, rows_per_image * row_bytes), _BLOCK_ROWS // max(1, rows_per_image)))
    return [(s, min(N, s + step)) for s in range(0, N, step)]


def _crop(a, pads):
    (t, bo), (le, r) = pads
    if t == bo == le == r == 0:
        return a
    return a[:, t:a.shape[1] - bo, le:a.shape[2] - r, :]


def im2col(x, kernel_size, stride=1, padding="valid"):
    """Every kernel window of x as one row of a matrix.

    x (N, H, W, C), kernel_size int or (KH, KW) -> cols (N·Ho·Wo, KH·KW·C), with
    cols[(e·Ho + i)·Wo + j, (m·KW + n)·C + c] = x_pad[e, i·SH + m, j·SW + n, c],
    so that eq. (conv) is the matrix product ``cols @ w.reshape(KH·KW·C, F) + b``. The same
    numbers as ``tf.image.extract_patches`` reshaped to (N·Ho·Wo, KH·KW·C). A pure copy: NaN
    and inf are not refused but copied into every window that contains them.
    """
    func = "im2col"
    x = as_float_array(x, "x", func, ndim=4)
    kernel = _pair(kernel_size, "kernel_size", func)
    stride = _pair(stride, "stride", func)
    padding = _padding(padding, func)
    pads, out_hw = _pads_2d(func, x.shape, kernel, stride, padding, "kernel",
                            f"x {x.shape}, kernel_size {kernel}")
    return _im2col_padded(_pad(x, pads), kernel, stride, out_hw)


def col2im(dcols, x_shape, kernel_size, stride=1, padding="valid"):
    """The adjoint of :func:`im2col`: add each row of dcols back onto its window.

    dcols (N·Ho·Wo, KH·KW·C), x_shape (N, H, W, C) -> dx (N, H, W, C), with
    dx_pad[e, i·SH + m, j·SW + n, c] += dcols[(e·Ho + i)·Wo + j, (m·KW + n)·C + c]
    (overlapping windows add up) and the padding cut off. NaN and inf are not refused: they
    reach every entry of dx whose windows they are added onto (and only those).
    """
    func = "col2im"
    dcols = as_float_array(dcols, "dcols", func, ndim=2)
    if not (isinstance(x_shape, (tuple, list)) and len(x_shape) == 4 and all(_is_int(v) and v >= 1 for v in x_shape)):
        raise ValueError(f"{func}: x_shape must be (N, H, W, C) of positive ints, got {x_shape!r}")
    x_shape = tuple(int(v) for v in x_shape)
    kernel = _pair(kernel_size, "kernel_size", func)
    stride = _pair(stride, "stride", func)
    padding = _padding(padding, func)
    pads, (Ho, Wo) = _pads_2d(func, x_shape, kernel, stride, padding, "kernel",
                              f"x_shape {x_shape}, kernel_size {kernel}")
    N, H, W, C = x_shape
    want = (N * Ho * Wo, kernel[0] * kernel[1] * C)
    if dcols.shape != want:
        raise ValueError(f"{func}: dcols has shape {dcols.shape} but x_shape {x_shape} and kernel "
                         f"{kernel} give {want}")
    dx_pad = np.zeros((N, H + sum(pads[0]), W + sum(pads[1]), C), dtype=dcols.dtype)
    return np.ascontiguousarray(_crop(_col2im_add(dcols, dx_pad, kernel, stride, (Ho, Wo)), pads))


# --------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------

def conv2d_forward(x, w, b, stride=1, padding="valid"):
    """Convolution layer (cross-correlation), exactly as ``tf.nn.conv2d(x, w, stride, padding) + b``.

    x (N, H, W, C), w (KH, KW, C, F), b (F,); stride int or (SH, SW); padding "valid"|"same".
    Returns out (N, Ho, Wo, F) and a :class:`ConvCache` for :func:`conv2d_backward`, with

        out[e, i, j, f] = Σ_{m, n, c} x_pad[e, i·SH + m, j·SW + n, c] · w[m, n, c, f] + b[f]   (conv)
        Ho = (H + P_total − KH) // SH + 1                                                      (size)

    computed as the matrix product ``im2col(x) @ w.reshape(KH·KW·C, F) + b``, a block of
    images at a time (rows of out are (e, i, j), so each block fills a slice of out), with the
    bias trick: a column of ones appended to cols and b appended to w as its last row.
    """
    func = "conv2d_forward"
    x, w, b, stride, padding = _check_conv(func, x, w, b, stride, padding)
    N = x.shape[0]
    KH, KW, C, F = w.shape
    pads, (Ho, Wo) = _pads_2d(func, x.shape, (KH, KW), stride, padding, "kernel", f"x {x.shape}, w {w.shape}")
    x_pad = _pad(x, pads)
    w_b = np.concatenate([w.reshape(KH * KW * C, F), b[None, :]])       # (KH·KW·C + 1, F)
    out = np.empty((N * Ho * Wo, F), dtype=x.dtype)
    for start, stop in _image_blocks(N, Ho * Wo, (KH * KW * C + 1) * x.itemsize):
        cols = _im2col_padded(x_pad[start:stop], (KH, KW), stride, (Ho, Wo), ones_column=True)
        np.matmul(cols, w_b, out=out[start * Ho * Wo:stop * Ho * Wo])             # eq. (conv)
    return out.reshape(N, Ho, Wo, F), ConvCache(x, w, stride, padding, pads, x_pad)


def conv2d_backward(dout, cache, *, need_dx: bool = True):
    """Backward pass of :func:`conv2d_forward`: gradients in the order of its inputs.

    dout (N, Ho, Wo, F) = ∂L/∂out, cache from conv2d_forward -> dx (N, H, W, C),
    dw (KH, KW, C, F), db (F,). ``need_dx=False`` skips eq. (dx) and returns dx = None: the
    first layer of a network needs no gradient for the images (a third of its backward work).

        db[f]          = Σ_{e, i, j} dout[e, i, j, f]                                   (db)
        dw[m, n, c, f] = Σ_{e, i, j} x_pad[e, i·SH + m, j·SW + n, c] · dout[e, i, j, f] (dw)
        dx_pad[e, i·SH + m, j·SW + n, c] += Σ_f dout[e, i, j, f] · w[m, n, c, f]        (dx)

    computed as dw = colsᵀ @ dout and dx = col2im(dout @ w.reshape(−1, F)ᵀ), the padding cut off,
    a block of images at a time (cols is rebuilt from cache.x_pad rather than kept in memory).
    """
    func = "conv2d_backward"
    _check_cache(func, cache, ConvCache, "conv2d_forward")
    x, w, stride, padding, pads, x_pad = cache
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    Ho = (x_pad.shape[1] - KH) // stride[0] + 1
    Wo = (x_pad.shape[2] - KW) // stride[1] + 1
    dout = _check_dout(func, dout, (N, Ho, Wo, F))
    dt = result_dtype(dout, x)
    d2 = dout.astype(dt, copy=False).reshape(N * Ho * Wo, F)           # rows (e, i, j)
    w_mat_t = w.reshape(KH * KW * C, F).T.astype(dt, copy=False)
    db = np.ones(d2.shape[0], dtype=dt) @ d2        # eq. (db); = d2.sum(axis=0), 5x faster
    dw = np.zeros((KH * KW * C, F), dtype=dt)
    dx_pad = np.zeros(x_pad.shape, dtype=dt) if need_dx else None
    for start, stop in _image_blocks(N, Ho * Wo, KH * KW * C * x.itemsize):
        cols = _im2col_padded(x_pad[start:stop], (KH, KW), stride, (Ho, Wo))
        d_block = d2[start * Ho * Wo:stop * Ho * Wo]
        dw += cols.T @ d_block                                              # eq. (dw)
        if need_dx:
            _col2im_add(d_block @ w_mat_t, dx_pad[start:stop], (KH, KW), stride, (Ho, Wo))   # eq. (dx)
    dx = np.ascontiguousarray(_crop(dx_pad, pads)) if need_dx else None
    return dx, dw.reshape(KH, KW, C, F), db


def conv2d_naive(x, w, b, stride=1, padding="valid"):
    """Eq. (conv) written as plain loops, for teaching and as a reference.

    Slow on purpose: one NumPy call per output number, so it is orders of magnitude slower than
    :func:`conv2d_forward`, by a factor that depends on the layer and the machine (notebook 03,
    section 9.2, and ``benchmarks/bench_conv.py`` measure it). Use a few images.

    x (N, H, W, C), w (KH, KW, C, F), b (F,); stride int or (SH, SW); padding "valid"|"same"
    -> out (N, Ho, Wo, F) (no cache), the same numbers as :func:`conv2d_forward`::

        out[e, i, j, f] = Σ_{m, n, c} x_pad[e, i·SH + m, j·SW + n, c] · w[m, n, c, f] + b[f]
    """
    func = "conv2d_naive"
    x, w, b, stride, padding = _check_conv(func, x, w, b, stride, padding)
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    SH, SW = stride
    pads, (Ho, Wo) = _pads_2d(func, x.shape, (KH, KW), stride, padding, "kernel", f"x {x.shape}, w {w.shape}")
    x_pad = _pad(x, pads)                                   # zeros around the image
    out = np.zeros((N, Ho, Wo, F), dtype=x.dtype)
    for e in range(N):                                      # every example (image)
        for i in range(Ho):                                 # every output row
            for j in range(Wo):                             # every output column
                window = x_pad[e, i * SH:i * SH + KH, j * SW:j * SW + KW, :]   # (KH, KW, C)
                for f in range(F):                          # every filter
                    out[e, i, j, f] = np.sum(window * w[:, :, :, f]) + b[f]
    return out


def conv2d_backward_naive(dout, x, w, stride=1, padding="valid"):
    """Eqs. (db), (dw), (dx) written as plain loops, for teaching and as a reference.

    dout (N, Ho, Wo, F), x (N, H, W, C), w (KH, KW, C, F) (the forward inputs), stride and
    padding as in the forward pass -> dx (N, H, W, C), dw (KH, KW, C, F), db (F,).
    Each output entry out[e, i, j, f] received dout[e, i, j, f]; it sends that gradient back to
    everything it was made of: the window (times w) and the kernel (times the window).
    """
    func = "conv2d_backward_naive"
    w_arr = as_float_array(w, "w", func, ndim=4)
    x, w, _, stride, padding = _check_conv(func, x, w, np.zeros(w_arr.shape[3:], w_arr.dtype), stride, padding)
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    SH, SW = stride
    pads, (Ho, Wo) = _pads_2d(func, x.shape, (KH, KW), stride, padding, "kernel", f"x {x.shape}, w {w.shape}")
    dout = _check_dout(func, dout, (N, Ho, Wo, F))
    dt = result_dtype(dout, x)
    x_pad = _pad(x, pads).astype(dt, copy=False)
    dx_pad = np.zeros(x_pad.shape, dtype=dt)
    dw = np.zeros(w.shape, dtype=dt)
    db = np.zeros(F, dtype=dt)
    for e in range(N):
        for i in range(Ho):
            for j in range(Wo):
                rows = slice(i * SH, i * SH + KH)
                cols = slice(j * SW, j * SW + KW)
                for f in range(F):
                    g = dout[e, i, j, f]
                    db[f] += g                                            # (db)
                    dw[:, :, :, f] += x_pad[e, rows, cols, :] * g         # (dw)
                    dx_pad[e, rows, cols, :] += w[:, :, :, f] * g         # (dx)
    return np.ascontiguousarray(_crop(dx_pad, pads)), dw, db


# --------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------

def _check_pool(func, x, size, stride, padding):
    x = as_float_array(x, "x", func, ndim=4)
    size = _pair(size, "size", func)
    stride = size if stride is None else _pair(stride, "stride", func)
    padding = _padding(padding, func)
    if 0 in x.shape[1:]:
        raise ValueError(f"{func}: x has an empty axis (x {x.shape}); expected (N, H, W, C) with H, W, C >= 1")
    check_finite(x, "x", func)
    pads, out_hw = _pads_2d(func, x.shape, size, stride, padding, "window", f"x {x.shape}, size {size}")
    return x, size, stride, padding, pads, out_hw


def max_pool2d_forward(x, size, stride=None, padding="valid"):
    """Max pooling, exactly as ``tf.nn.max_pool2d(x, size, stride, padding)``.

    x (N, H, W, C); size int or (KH, KW); stride int or (SH, SW), default = size;
    padding "valid"|"same" (the padding is −inf, so it never wins) -> out (N, Ho, Wo, C) and a
    :class:`MaxPoolCache`, with

        out[e, i, j, c] = max_{m < KH, n < KW} x_pad[e, i·SH + m, j·SW + n, c]

    and Ho = (H + P_total − KH) // SH + 1 as for a convolution. Each channel is pooled alone.
    The cache keeps the argmax of each window (the first maximum in row-major order on a tie).
    """
    func = "max_pool2d_forward"
    x, size, stride, padding, pads, out_hw = _check_pool(func, x, size, stride, padding)
    x_pad = _pad(x, pads, value=-np.inf)
    KH, KW = size
    out = np.array(_window(x_pad, 0, 0, stride, out_hw))     # offset (0, 0) of every window
    argmax = np.zeros(out.shape, dtype=np.min_scalar_type(KH * KW - 1))   # uint8 up to 16x16
    better = np.empty(out.shape, dtype=bool)
    for offset in range(1, KH * KW):        # the other offsets (m, n) = divmod(offset, KW), row-major
        s = _window(x_pad, *divmod(offset, KW), stride, out_hw)
        np.greater(s, out, out=better)   # strict: on a tie the first maximum keeps the gradient
        np.maximum(out, s, out=out)
        np.copyto(argmax, offset, where=better)              # argmax = offset where s won
    return out, MaxPoolCache(x.shape, size, stride, padding, pads, argmax)


def max_pool2d_backward(dout, cache):
    """Backward pass of :func:`max_pool2d_forward`: dout (N, Ho, Wo, C) -> dx (N, H, W, C).

    Only the maximum of each window affected the output, so it alone gets the gradient:
    dx_pad[e, i·SH + m*, j·SW + n*, c] += dout[e, i, j, c] with (m*, n*) the window's argmax
    (overlapping windows add up); every other entry gets 0. On a tie (a window of zeros after a
    ReLU) (m*, n*) is the first maximum in row-major order of the window, as in the gradient of
    ``tf.nn.max_pool2d`` on the CPU: one entry gets all of dout, not a share.
    """
    func = "max_pool2d_backward"
    _check_cache(func, cache, MaxPoolCache, "max_pool2d_forward")
    x_shape, (KH, KW), stride, padding, pads, argmax = cache
    dout = _check_dout(func, dout, argmax.shape)
    N, H, W, C = x_shape
    dt = result_dtype(dout)
    dout = dout.astype(dt, copy=False)
    dx_pad = np.zeros((N, H + sum(pads[0]), W + sum(pads[1]), C), dtype=dt)
    out_hw = argmax.shape[1:3]
    overlap = stride[0] < KH or stride[1] < KW
    won = np.empty(argmax.shape, dtype=bool)
    for m in range(KH):
        for n in range(KW):
            np.equal(argmax, m * KW + n, out=won)             # the windows whose max sits at (m, n)
            target = _window(dx_pad, m, n, stride, out_hw)
            if overlap:                                       # windows share entries: add up
                target += dout * won
            else:                                             # each entry in one window at most:
                np.copyto(target, dout, where=won)            # write, no temporary
    return np.ascontiguousarray(_crop(dx_pad, pads))


def avg_pool2d_forward(x, size, stride=None, padding="valid"):
    """Average pooling, exactly as ``tf.nn.avg_pool2d(x, size, stride, padding)``.

    x (N, H, W, C); size int or (KH, KW); stride int or (SH, SW), default = size;
    padding "valid"|"same" -> out (N, Ho, Wo, C) and an :class:`AvgPoolCache`, with

        out[e, i, j, c] = Σ_{m, n} x_pad[e, i·SH + m, j·SW + n, c] / count[i, j]

    where count[i, j] is the number of real (not padded) entries of window (i, j): TensorFlow
    averages over the image only, so a "same" border window is not pulled towards 0.
    """
    func = "avg_pool2d_forward"
    x, size, stride, padding, pads, out_hw = _check_pool(func, x, size, stride, padding)
    KH, KW = size
    x_pad = _pad(x, pads)
    ones = _pad(np.ones((1, x.shape[1], x.shape[2], 1), dtype=x.dtype), pads)
    total = np.zeros((x.shape[0], out_hw[0], out_hw[1], x.shape[3]), dtype=x.dtype)
    count = np.zeros((1, out_hw[0], out_hw[1], 1), dtype=x.dtype)
    for m in range(KH):
        for n in range(KW):
            total += _window(x_pad, m, n, stride, out_hw)
            count += _window(ones, m, n, stride, out_hw)
    count = count[0]
    return total / count, AvgPoolCache(x.shape, size, stride, padding, pads, count)


def avg_pool2d_backward(dout, cache):
    """Backward pass of :func:`avg_pool2d_forward`: dout (N, Ho, Wo, C) -> dx (N, H, W, C).

    Every real entry of window (i, j) contributed 1/count[i, j] of it, so
    dx_pad[e, i·SH + m, j·SW + n, c] += dout[e, i, j, c] / count[i, j] for all m, n
    (overlapping windows add up); the padding is cut off.
    """
    func = "avg_pool2d_backward"
    _check_cache(func, cache, AvgPoolCache, "avg_pool2d_forward")
    x_shape, (KH, KW), stride, padding, pads, count = cache
    N, H, W, C = x_shape
    out_hw = count.shape[:2]
    dout = _check_dout(func, dout, (N, out_hw[0], out_hw[1], C))
    dt = result_dtype(dout, count)
    share = dout / count
    dx_pad = np.zeros((N, H + sum(pads[0]), W + sum(pads[1]), C), dtype=dt)
    for m in range(KH):
        for n in range(KW):
            _window(dx_pad, m, n, stride, out_hw)[...] += share
    return np.ascontiguousarray(_crop(dx_pad, pads))


# --------------------------------------------------------------------------------------
# receptive field (notebook 03; notebook 04 uses it)
# --------------------------------------------------------------------------------------

def receptive_field(layers) -> int:
    """The receptive field r of one output unit of a stack of layers, along one axis.

    layers: the (kernel, stride) pair (K_l, S_l) of each layer l = 1, 2, ..., from the input
    on; convolution and pooling layers alike (a pooling window is a kernel). Returns the number
    of input pixels (along one axis) that can influence one unit of the last layer::

        r_0 = 1,    r_l = r_{l−1} + (K_l − 1) · Π_{l' < l} S_{l'}                               (rf)

    layer l widens the field by K_l − 1 steps of its own input, and one step of its input is
    Π_{l' < l} S_{l'} input pixels (the "jump"); its own stride S_l only matters to the layers
    above. Padding does not change r (it only shifts where the field starts). Example: the 04 network,
    Conv2D 3x3 -> MaxPooling2D 2 -> Conv2D 3x3 -> MaxPooling2D 2,
    ``receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)]) == 10``; an empty stack gives 1.
    """
    func = "receptive_field"
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise ValueError(f"{func}: layers must be a list of (kernel, stride) pairs, got {layers!r}")
    r, jump = 1, 1
    for index, layer in enumerate(layers):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2 and all(_is_int(v) and v >= 1 for v in layer)):
            raise ValueError(f"{func}: layer {index} must be a (kernel, stride) pair of positive ints, got {layer!r}")
        kernel, stride = int(layer[0]), int(layer[1])
        r += (kernel - 1) * jump                       # eq. (rf): this layer's K_l − 1 steps of its input
        jump *= stride                                 # the steps of the next layer's input
    return r

