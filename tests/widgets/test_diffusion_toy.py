"""The notebook-14 trajectory explorer redraws when its slider moves (no browser needed)."""
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
