"""Widget for notebook 15: slide through the steps of diffusion on 2D points, forward and back.
``trajectory_figure`` draws what the widget draws at one step (the static view a notebook keeps
without a kernel)."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from helpers.images.diffusion_toy import add_noise, chamfer_distance


def step_summary(data, trajectory, schedule, index: int, seed: int = 0):
    """What the widget shows at reverse-step ``index`` (0 = starting noise, len-1 = final samples):
    ``(noise level t, forward-noised data at t, the sampler's points, distance to the data)``."""
    steps = len(trajectory) - 1
    if not 0 <= index <= steps:
        raise ValueError(f"index must be in [0, {steps}], got {index!r}")
    t = int(round((schedule.T - 1) * (1 - index / steps))) if steps else 0
    import torch
    noised = add_noise(data, t, schedule, generator=torch.Generator().manual_seed(seed)).numpy()
    points = trajectory[index]
    return t, noised, points, chamfer_distance(points, data)


def trajectory_figure(data, trajectory, schedule, index: int = 0, title: str = "DDPM", seed: int = 0):
    """The widget's picture at reverse-step ``index``: left, the data noised forward to the same level;
    right, the sampler's points; the title gives the level, the signal kept and the distance to the
    data (chamfer, data units). Returns the matplotlib Figure."""
    steps = len(trajectory) - 1
    t, noised, points, dist = step_summary(data, trajectory, schedule, index, seed)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharex=True, sharey=True)
    axes[0].scatter(noised[:, 0], noised[:, 1], s=2, color="#9ecae1")
    axes[0].set_title(f"forward: data noised to t = {t}")
    axes[1].scatter(data[:, 0], data[:, 1], s=2, color="#dddddd", label="data")
    axes[1].scatter(points[:, 0], points[:, 1], s=2, color="#e6550d", label=title)
    axes[1].set_title(f"reverse: {title} after {index} steps")
    for ax in axes:
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), xlabel="x (data units)", ylabel="y (data units)")
    axes[1].legend(loc="upper right", markerscale=4)
    fig.suptitle(f"step {index} of {steps}: noise level t = {t}, signal kept "
                 f"sqrt(alpha_bar) = {np.sqrt(float(schedule.alpha_bars[t])):.3f}, chamfer distance to the data {dist:.3f}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def trajectory_explorer(data, trajectory, schedule, title: str = "DDPM"):
    """A slider over the reverse steps: left, the data noised forward to the same level; right, the
    sampler's points at that step; the text gives the level and the distance to the data."""
    from IPython.display import display

    steps = len(trajectory) - 1
    slider = widgets.IntSlider(value=0, min=0, max=steps, step=1, description="reverse step",
                               continuous_update=False)
    info = widgets.HTML()
    plot = widgets.Output()

    def redraw(_=None):
        t, _noised, _points, dist = step_summary(data, trajectory, schedule, slider.value)
        ab = float(schedule.alpha_bars[t])
        info.value = (f"<b>step {slider.value} of {steps}</b>: noise level t = {t}, "
                      f"signal kept sqrt(alpha_bar) = {np.sqrt(ab):.3f}; distance of the {title} points "
                      f"to the data (chamfer): {dist:.3f}")
        with plot:
            plot.clear_output(wait=True)
            fig = trajectory_figure(data, trajectory, schedule, slider.value, title)
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, info, plot])
