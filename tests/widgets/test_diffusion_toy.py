"""The notebook-15 trajectory explorer redraws when its slider moves (no browser needed)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.images import diffusion_toy as dt  # noqa: E402
from helpers.widgets.diffusion_toy import step_summary, trajectory_explorer  # noqa: E402


def _setup():
    data = dt.make_data("moons", 300, seed=0)
    s = dt.make_schedule(20)
    model = dt.make_model(s, seed=0)
    _, traj = dt.ddim_sample(model, s, n=100, steps=5, seed=0)
    return data, s, traj


def test_step_summary_goes_from_noise_to_clean():
    data, s, traj = _setup()
    t0, noised0, points0, _ = step_summary(data, traj, s, 0)
    t5, noised5, points5, _ = step_summary(data, traj, s, 5)
    assert t0 == s.T - 1 and t5 == 0
    assert np.array_equal(points0, traj[0]) and np.array_equal(points5, traj[5])
    assert np.abs(noised5 - data).mean() < np.abs(noised0 - data).mean()
    with pytest.raises(ValueError):
        step_summary(data, traj, s, 6)


def test_explorer_redraws():
    data, s, traj = _setup()
    app = trajectory_explorer(data, traj, s)
    slider, info, _plot = app.children
    first = info.value
    assert "step 0 of 5" in first
    slider.value = 3
    assert "step 3 of 5" in info.value and info.value != first


def test_trajectory_figure_shows_the_step_the_widget_shows():
    import matplotlib.pyplot as plt

    from helpers.widgets.diffusion_toy import trajectory_figure

    data, s, traj = _setup()
    fig = trajectory_figure(data, traj, s, 5)
    forward, reverse = fig.axes
    t, noised, points, dist = step_summary(data, traj, s, 5)
    assert np.allclose(forward.collections[0].get_offsets(), noised)
    assert np.allclose(reverse.collections[1].get_offsets(), points)
    assert f"step 5 of 5: noise level t = {t}" in fig._suptitle.get_text() and f"{dist:.3f}" in fig._suptitle.get_text()
    assert forward.get_xlabel() == "x (data units)"
    with pytest.raises(ValueError):
        trajectory_figure(data, traj, s, 9)
    plt.close("all")
