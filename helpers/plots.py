"""Figures the notebooks share: image grids, ECG traces, class balance, CNN kernels and feature maps.

Each function draws on a new figure (or on ``ax`` when given) and returns the Figure, so a
notebook can ``plt.show()`` it and a test can inspect it without a screen.
matplotlib is imported inside the functions: ``import helpers`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The colours of the classes in plot_class_balance, in order (Paul Tol's "bright" scheme, readable
# with colour-vision deficiency); a notebook that adds its own legend uses the same list.
CLASS_COLOURS = ("#4477aa", "#ee6677", "#ccbb44", "#66ccee", "#228833", "#aa3377", "#bbbbbb")


def show_images(x: np.ndarray, y: np.ndarray | None = None, class_names: Sequence[str] | None = None,
                n_per_class: int = 6, title: str | None = None):
    """A grid of grey images, one row per class (or one row if ``y`` is None).

    x: (N, H, W) or (N, H, W, 1) images; y: (N,) integer labels; class_names[k] names label k.
    The first ``n_per_class`` images of each class are shown, in dataset order (deterministic).
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"show_images: x must be (N, H, W) or (N, H, W, 1), got shape {x.shape}")
    if y is None:
        rows = [np.arange(min(n_per_class, len(x)))]
        row_names = [""]
    else:
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise ValueError(f"show_images: y must have shape ({len(x)},) to match x {x.shape}, got {y.shape}")
        classes = np.unique(y)
        rows = [np.flatnonzero(y == k)[:n_per_class] for k in classes]
        row_names = [class_names[k] if class_names is not None else str(k) for k in classes]
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.4 * cols, 1.5 * len(rows) + 0.3), squeeze=False)
    for r, (idx, name) in enumerate(zip(rows, row_names)):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(idx):
                ax.imshow(x[idx[c]], cmap="gray", vmin=float(x.min()), vmax=float(x.max()))
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ecg(signal: np.ndarray, fs: float, start_s: float = 0.0, seconds: float = 10.0,
             beats: np.ndarray | None = None, beat_labels: Sequence[str] | None = None,
             title: str | None = None, ax=None):
    """An ECG trace in millivolts against time, on ECG-paper-like grid lines.

    signal: (T,) in mV; fs: samples per second; shows [start_s, start_s + seconds).
    beats: (B,) sample indices to mark (e.g. R peaks or annotations), beat_labels[b] the
    text written above beat b.
    """
    import matplotlib.pyplot as plt

    signal = np.asarray(signal)
    if signal.ndim != 1:
        raise ValueError(f"plot_ecg: signal must be 1-D (T,), got shape {signal.shape}")
    if fs <= 0 or seconds <= 0:
        raise ValueError(f"plot_ecg: fs and seconds must be positive, got fs={fs}, seconds={seconds}")
    a, b = int(round(start_s * fs)), int(round((start_s + seconds) * fs))
    t = np.arange(a, min(b, len(signal))) / fs
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 3))
    else:
        fig = ax.figure
    ax.plot(t, signal[a:b], color="black", linewidth=0.8)
    if beats is not None:
        beats = np.asarray(beats)
        inside = (beats >= a) & (beats < min(b, len(signal)))
        ax.plot(beats[inside] / fs, signal[beats[inside]], "o", color="tab:red", markersize=4)
        if beat_labels is not None:
            for s, lab in zip(beats[inside], np.asarray(beat_labels)[inside]):
                ax.annotate(str(lab), (s / fs, signal[s]), textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=8, color="tab:red")
    ax.set_xticks(np.arange(np.floor(t[0]), t[-1] + 1e-9, 0.2), minor=True)
    ax.grid(True, which="both", color="tab:pink", alpha=0.35, linewidth=0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mV")
    if title:
        ax.set_title(title)
    return fig


def _relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of a matplotlib colour: 0 for black, 1 for white."""
    from matplotlib.colors import to_rgb

    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def plot_class_balance(counts: dict[str, dict[str, int]], title: str | None = None):
    """Horizontal stacked bars: for each dataset, the share of each class.

    counts: {dataset name: {class name: count}}. Each bar segment is labelled with its class,
    count and percentage (in black or white, whichever has the higher WCAG contrast with the
    segment's colour; at least 4.5 : 1 for the first two colours), so
    the imbalance a plain accuracy would hide is visible at a glance.
    """
    import matplotlib.pyplot as plt

    if not counts:
        raise ValueError("plot_class_balance: counts is empty")
    fig, ax = plt.subplots(figsize=(10, 0.8 * len(counts) + 1.2))
    colours = CLASS_COLOURS
    for row, per_class in enumerate(counts.values()):
        total = sum(per_class.values())
        left = 0.0
        for k, (name, n) in enumerate(per_class.items()):
            share = n / total
            colour = colours[k % len(colours)]
            ax.barh(row, share, left=left, color=colour, edgecolor="white", height=0.75)
            if share > 0.06:
                # the ink of higher contrast: WCAG ratio (L1 + 0.05) / (L2 + 0.05); white has L = 1, black 0
                L = _relative_luminance(colour)
                ink = "black" if (L + 0.05) / 0.05 > 1.05 / (L + 0.05) else "white"
                ax.text(left + share / 2, row, f"{name}: {n} ({100 * share:.0f}%)", ha="center", va="center",
                        fontsize=10, color=ink)
            left += share
    ax.set_yticks(range(len(counts)), [f"{d} (n={sum(c.values())})" for d, c in counts.items()], fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of examples")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _grid(n: int, ncols: int):
    import matplotlib.pyplot as plt

    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.15 * ncols + 1.2, 1.15 * nrows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes


def show_kernels(w: np.ndarray, title: str | None = None, ncols: int = 8):
    """The kernels of a convolution with one input channel, one panel per filter, on one signed scale.

    w: (KH, KW, 1, F) (Keras' HWIO layout, e.g. ``conv1``'s (3, 3, 1, 32)) or (KH, KW, F).
    Every panel uses the diverging map RdBu_r centred at 0 on one shared scale ±max|w|: red
    weights add the brightness under them to the filter's output, blue ones subtract it, white
    ignores it. One colour bar for all panels. Panel f is titled with its index f.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 4 and w.shape[2] == 1:
        w = w[:, :, 0, :]
    if w.ndim != 3:
        raise ValueError(f"show_kernels: w must be (KH, KW, 1, F) or (KH, KW, F) (one input channel), "
                         f"got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"show_kernels: w contains NaN or inf (shape {w.shape})")
    if ncols < 1:
        raise ValueError(f"show_kernels: ncols must be a positive int, got {ncols!r}")
    F = w.shape[2]
    limit = float(np.abs(w).max()) or 1.0
    fig, axes = _grid(F, min(ncols, F))
    for f, ax in zip(range(F), axes.ravel()):
        im = ax.imshow(w[:, :, f], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(f), fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    if title:
        fig.suptitle(title)
    return fig


def show_feature_maps(maps: np.ndarray, title: str | None = None, ncols: int = 8, channels=None,
                      cmap: str = "magma", normalise: bool = False):
    """Feature maps of one image, one panel per channel, with a colour bar.

    maps: (H, W, C), e.g. the output of ``conv1`` (26, 26, 32) for one image (take ``a[n]`` of
    a batch). channels: the channels to show (default all), in order; panel titles name them.
    normalise=False: one shared scale from min(0, smallest value) to the largest value over the
    channels shown (ReLU outputs: from 0), so strong and weak filters can be compared.
    normalise=True: each map divided by its own largest value (a map that is 0 everywhere stays 0),
    so the pattern of a weak filter is visible too; the scale is then 0 … 1 ("share of the map's
    maximum") and each panel's title gives its largest value. A perceptually uniform map
    (``magma``: dark = 0, bright = strong response). Returns the Figure.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"show_feature_maps: maps must be (H, W, C) for one image, got shape {maps.shape}")
    C = maps.shape[2]
    channels = list(range(C)) if channels is None else [int(c) for c in channels]
    if not channels or min(channels) < 0 or max(channels) >= C:
        raise ValueError(f"show_feature_maps: channels must be indices in 0 … {C - 1} (maps {maps.shape}), "
                         f"got {channels}")
    if ncols < 1:
        raise ValueError(f"show_feature_maps: ncols must be a positive int, got {ncols!r}")
    shown = maps[:, :, channels]
    if normalise:
        if shown.min() < 0:
            raise ValueError(f"show_feature_maps: normalise=True needs non-negative maps (ReLU outputs), "
                             f"got a smallest value of {shown.min():.3g}")
        peak = shown.max(axis=(0, 1))
        shown = shown / np.where(peak > 0, peak, 1.0)
        low, high, label = 0.0, 1.0, "share of the map's maximum"
    else:
        low, high, label = min(0.0, float(shown.min())), float(shown.max()), "activation"
        high = high if high > low else low + 1.0
    fig, axes = _grid(len(channels), min(ncols, len(channels)))
    for k, (c, ax) in enumerate(zip(channels, axes.ravel())):
        im = ax.imshow(shown[:, :, k], cmap=cmap, vmin=low, vmax=high)
        ax.set_title(f"{c} (max {peak[k]:.2g})" if normalise else str(c), fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label=label)
    if title:
        fig.suptitle(title)
    return fig
