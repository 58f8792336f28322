"""Widget for notebook 16: generate digits with the course's diffusion pipeline, knob by knob.

Every change of a control regenerates the images and redraws one HTML panel (an ``<img>`` of
the grid, the time it took and the share the judge recognised).
"""
import base64
import html
import io
import time

import ipywidgets as widgets
import numpy as np

from helpers.images.digits_data import image_grid, recognised
from helpers.images.digits_diffusion import SCHEDULERS, balanced_labels, unet_evaluations


def grid_png(images, ncols: int, scale: int = 4) -> bytes:
    """PNG bytes of :func:`helpers.images.digits_data.image_grid`, each pixel drawn as ``scale`` x ``scale``."""
    from PIL import Image

    grid = image_grid(images, ncols)
    big = np.kron(grid, np.ones((scale, scale)))
    buffer = io.BytesIO()
    Image.fromarray((big * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def panel_html(images, labels, hits, seconds: float, steps: int, guidance: float, ncols: int) -> str:
    """The widget's panel: the image grid (one row per digit), time per image, share recognised."""
    png = base64.b64encode(grid_png(images, ncols)).decode("ascii")
    per_image = seconds / len(labels)
    return (f"<img src='data:image/png;base64,{png}' alt='generated digits, one row per requested digit'/>"
            f"<p>{len(labels)} images, {unet_evaluations(steps, guidance)} UNet evaluations each, "
            f"{seconds:.2f} s ({per_image * 1000:.0f} ms per image) · judge recognised "
            f"{int(np.sum(hits))} of {len(labels)} ({html.escape(f'{np.mean(hits):.0%}')})</p>")


def generation_explorer(pipe, judge, n_per_digit: int = 2, steps: int = 25, guidance: float = 2.0):
    """Dropdown (scheduler) and sliders (steps, guidance, seed) that regenerate a grid of digits."""
    scheduler = widgets.Dropdown(options=list(SCHEDULERS), value="DDIM", description="scheduler")
    n_steps = widgets.IntSlider(value=steps, min=1, max=50, description="steps", continuous_update=False)
    scale = widgets.FloatSlider(value=guidance, min=0.0, max=8.0, step=0.5, description="guidance",
                                continuous_update=False)
    seed = widgets.IntSlider(value=0, min=0, max=99, description="seed", continuous_update=False)
    panel = widgets.HTML()
    labels = balanced_labels(n_per_digit)

    def redraw(_=None):
        start = time.perf_counter()
        images = pipe(labels, num_inference_steps=n_steps.value, guidance_scale=scale.value, seed=seed.value,
                      scheduler=scheduler.value)
        seconds = time.perf_counter() - start
        panel.value = panel_html(images, labels, recognised(judge, images, labels), seconds, n_steps.value,
                                 scale.value, n_per_digit)

    for control in (scheduler, n_steps, scale, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([scheduler, n_steps]), widgets.HBox([scale, seed]), panel])
