import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers.course.plotting import label_points  # noqa: E402


def _boxes(annotations):
    renderer = annotations[0].figure.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in annotations]


def test_labels_of_close_points_do_not_overlap():
    fig, ax = plt.subplots(figsize=(6, 3))
    xs, ys = [4.5, 4.5, 5.5, 5.5, 6.0], [0.077, 0.070, 0.038, 0.034, 0.035]  # pairs one label-height apart
    ax.plot(xs, ys, "o")
    ax.set_yscale("log")
    boxes = _boxes(label_points(ax, xs, ys, ["Q4_0", "Q4_K", "Q5_0", "Q5_K", "Q5_1"]))
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)


def test_a_lone_point_is_labelled_to_its_right():
    fig, ax = plt.subplots()
    ax.plot([1], [1], "o")
    (annotation,) = label_points(ax, [1], [1], ["only"])
    assert annotation.get_text() == "only" and annotation.xyann == (5, 2)
    plt.close(fig)


def test_lengths_must_match():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="same length, got 2, 2, 1"):
        label_points(ax, [1, 2], [1, 2], ["a"])
    plt.close(fig)
