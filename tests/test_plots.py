"""helpers.plots draws what it says, rejects bad shapes, and needs no screen."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_show_images_one_row_per_class_in_dataset_order(rng):
    x = rng.random((10, 8, 8, 1)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1, 1, 1])
    fig = plots.show_images(x, y, ["normal", "pneumonia"], n_per_class=3)
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["normal", "pneumonia"]
    np.testing.assert_array_equal(axes[1, 0].images[0].get_array(), x[1, :, :, 0])  # first of class 1
    np.testing.assert_array_equal(axes[0, 2].images[0].get_array(), x[5, :, :, 0])  # third of class 0


def test_show_images_without_labels_and_short_rows(rng):
    fig = plots.show_images(rng.random((2, 5, 5)), n_per_class=4, title="t")
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "t"


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((4, 5)), None, r"\(N, H, W\) or \(N, H, W, 1\), got shape \(4, 5\)"),
    (np.zeros((4, 5, 5, 3)), None, r"got shape \(4, 5, 5, 3\)"),
    (np.zeros((4, 5, 5)), np.zeros(3, int), r"y must have shape \(4,\) to match x \(4, 5, 5\), got \(3,\)"),
])
def test_show_images_rejects_bad_shapes(x, y, match):
    with pytest.raises(ValueError, match=match):
        plots.show_images(x, y)


def test_plot_ecg_window_and_beat_marks():
    fs = 100.0
    signal = np.sin(np.arange(1000) / fs)
    fig = plots.plot_ecg(signal, fs, start_s=2.0, seconds=3.0, beats=np.array([50, 250, 400, 900]),
                         beat_labels=["N", "A", "V", "N"])
    ax = fig.axes[0]
    trace, marks = ax.lines
    np.testing.assert_allclose(trace.get_xdata(), np.arange(200, 500) / fs)
    np.testing.assert_allclose(marks.get_xdata(), [2.5, 4.0])  # only beats inside the window
    assert sorted(t.get_text() for t in ax.texts) == ["A", "V"]


@pytest.mark.parametrize("signal, fs, match", [(np.zeros((10, 2)), 1.0, r"1-D \(T,\), got shape \(10, 2\)"),
                                               (np.zeros(10), 0.0, "positive")])
def test_plot_ecg_rejects_bad_input(signal, fs, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_ecg(signal, fs)


def test_plot_class_balance_bars_sum_to_one():
    fig = plots.plot_class_balance({"a": {"x": 1, "y": 3}, "b": {"x": 5, "y": 5, "z": 10}})
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths, [0.25, 0.75, 0.25, 0.25, 0.5])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a (n=4)", "b (n=20)"]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_class_balance({})


def test_plot_class_balance_labels_are_legible():
    fig = plots.plot_class_balance({"train": {"normal": 1214, "pneumonia": 3494}})
    texts = {t.get_text(): t for t in fig.axes[0].texts}
    assert set(texts) == {"normal: 1214 (26%)", "pneumonia: 3494 (74%)"}
    assert all(t.get_fontsize() >= 9 for t in texts.values())
    for t, bar in zip(fig.axes[0].texts, fig.axes[0].patches):        # WCAG contrast of ink and bar >= 4.5 (AA)
        low, high = sorted([plots._relative_luminance(t.get_color()), plots._relative_luminance(bar.get_facecolor())])
        assert (high + 0.05) / (low + 0.05) >= 4.5


def test_show_kernels_one_signed_scale_and_a_colour_bar(rng):
    w = rng.standard_normal((3, 3, 1, 10))
    fig = plots.show_kernels(w, title="conv1", ncols=4)
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(panels) == 10
    limit = np.abs(w).max()
    for f, ax in enumerate(panels):
        np.testing.assert_array_equal(ax.images[0].get_array(), w[:, :, 0, f])
        assert ax.images[0].get_clim() == pytest.approx((-limit, limit))
        assert ax.images[0].get_cmap().name == "RdBu_r" and ax.get_title() == str(f)
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    assert fig._suptitle.get_text() == "conv1"
    assert len(plots.show_kernels(w[:, :, 0, :3]).axes) == 3 + 1     # (KH, KW, F) works too


@pytest.mark.parametrize("w, match", [(np.zeros((3, 3, 2, 4)), r"one input channel\), got shape \(3, 3, 2, 4\)"),
                                      (np.zeros((3, 3)), r"got shape \(3, 3\)"),
                                      (np.full((3, 3, 1, 2), np.nan), "NaN")])
def test_show_kernels_rejects_bad_shapes(w, match):
    with pytest.raises(ValueError, match=match):
        plots.show_kernels(w)


def test_show_feature_maps_shared_scale_from_zero(rng):
    maps = rng.random((6, 6, 5)) + 0.5
    maps[:, :, 1] += 10                                             # not shown: must not set the scale
    fig = plots.show_feature_maps(maps, channels=[4, 0, 2], ncols=2)
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == ["4", "0", "2"]
    np.testing.assert_array_equal(panels[0].images[0].get_array(), maps[:, :, 4])
    high = maps[:, :, [4, 0, 2]].max()
    assert all(ax.images[0].get_clim() == pytest.approx((0.0, high)) for ax in panels)
    assert panels[0].images[0].get_cmap().name == "magma"
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


def test_show_feature_maps_normalised_each_map_by_its_maximum(rng):
    maps = rng.random((5, 5, 3))
    maps[:, :, 1] = 0.0                                             # a dead filter stays 0
    maps[:, :, 2] *= 7
    fig = plots.show_feature_maps(maps, normalise=True)
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    for c, ax in enumerate(panels):
        peak = maps[:, :, c].max()
        np.testing.assert_allclose(ax.images[0].get_array(), maps[:, :, c] / (peak if peak > 0 else 1))
        assert ax.images[0].get_clim() == (0.0, 1.0) and ax.get_title() == f"{c} (max {peak:.2g})"
    with pytest.raises(ValueError, match=r"normalise=True needs non-negative maps .* smallest value of -1"):
        plots.show_feature_maps(maps - 1, normalise=True)


@pytest.mark.parametrize("maps, channels, match", [
    (np.zeros((1, 6, 6, 3)), None, r"\(H, W, C\) for one image, got shape \(1, 6, 6, 3\)"),
    (np.zeros((6, 6, 3)), [3], r"channels must be indices in 0 … 2 \(maps \(6, 6, 3\)\), got \[3\]"),
    (np.zeros((6, 6, 3)), [], r"channels must be indices"),
])
def test_show_feature_maps_rejects_bad_input(maps, channels, match):
    with pytest.raises(ValueError, match=match):
        plots.show_feature_maps(maps, channels=channels)


def test_class_balance_bars_use_the_published_class_colours_in_order():
    # a notebook that draws its own legend (08_rnn_ecg) takes its colours from plots.CLASS_COLOURS
    from matplotlib.colors import to_hex

    fig = plots.plot_class_balance({"train": {"a": 5, "b": 3, "c": 2}})
    bars = [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]
    assert bars == [to_hex(c) for c in plots.CLASS_COLOURS[:3]]
