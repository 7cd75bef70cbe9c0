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
