"""Figures the notebooks share: image grids, ECG traces, class balance.

Each function draws on a new figure (or on ``ax`` when given) and returns the Figure, so a
notebook can ``plt.show()`` it and a test can inspect it without a screen.
matplotlib is imported inside the functions: ``import helpers`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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


def plot_class_balance(counts: dict[str, dict[str, int]], title: str | None = None):
    """Horizontal stacked bars: for each dataset, the share of each class.

    counts: {dataset name: {class name: count}}. Percentages are written on the bars, so
    the imbalance a plain accuracy would hide is visible at a glance.
    """
    import matplotlib.pyplot as plt

    if not counts:
        raise ValueError("plot_class_balance: counts is empty")
    fig, ax = plt.subplots(figsize=(10, 0.7 * len(counts) + 1.2))
    cmap = plt.get_cmap("tab10")
    for row, per_class in enumerate(counts.values()):
        total = sum(per_class.values())
        left = 0.0
        for k, (name, n) in enumerate(per_class.items()):
            share = n / total
            ax.barh(row, share, left=left, color=cmap(k), edgecolor="white")
            if share > 0.06:
                ax.text(left + share / 2, row, f"{name}\n{100 * share:.0f}%", ha="center", va="center",
                        fontsize=7, color="white")
            left += share
    ax.set_yticks(range(len(counts)), [f"{d} (n={sum(c.values())})" for d, c in counts.items()])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of examples")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
