"""The notebook-15 generation explorer redraws its image panel when a control moves (no browser needed)."""
import base64
import re

import numpy as np
import pytest
import torch

from helpers.images.digits_data import image_grid
from helpers.images.digits_diffusion import DigitsPipeline, UNetShape, make_unet, noise_schedule
from helpers.widgets.diffusion import generation_explorer, grid_png


class CountingJudge:
    def predict(self, features):
        return np.zeros(len(features), dtype=int)


@pytest.fixture(scope="module")
def pipe():
    torch.set_num_threads(1)
    unet = make_unet(UNetShape(block_out_channels=(8, 16), norm_num_groups=4), seed=0).eval()
    return DigitsPipeline(unet=unet, scheduler=noise_schedule())


def test_image_grid_layout_and_colours():
    images = np.stack([np.full((1, 16, 16), -1.0), np.full((1, 16, 16), 1.0), np.zeros((1, 16, 16))])
    grid = image_grid(images, ncols=2)
    assert grid.shape == (2 * 17 + 1, 2 * 17 + 1)
    assert grid[1, 1] == 1.0 and grid[1, 18] == 0.0 and grid[18, 1] == 0.5  # paper, ink, mid grey
    assert grid[18, 18] == 1.0 and grid[0, 0] == 0.5  # empty cell is white, border grey
    with pytest.raises(ValueError, match="ncols"):
        image_grid(images, ncols=0)


def test_grid_png_is_a_png_of_the_scaled_size():
    png = grid_png(np.zeros((4, 1, 16, 16)), ncols=2, scale=3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == ((2 * 17 + 1) * 3, (2 * 17 + 1) * 3)


def test_explorer_redraws_on_every_control(pipe):
    app = generation_explorer(pipe, CountingJudge(), n_per_digit=1, steps=2)
    (scheduler, steps), (guidance, seed) = app.children[0].children, app.children[1].children
    panel = app.children[2]
    first = panel.value
    assert "<img src='data:image/png;base64," in first and "judge recognised 1 of 10" in first
    seen = {first}
    for control, value in [(seed, 5), (guidance, 0.0), (scheduler, "DPM-Solver++"), (steps, 3)]:
        control.value = value
        assert panel.value not in seen, f"panel did not change when {control.description} moved"
        seen.add(panel.value)
    assert "3 UNet evaluations each" in panel.value  # guidance 0: one evaluation per step


def test_panel_image_decodes(pipe):
    app = generation_explorer(pipe, CountingJudge(), n_per_digit=1, steps=1)
    data = re.search(r"base64,([A-Za-z0-9+/=]+)'", app.children[2].value).group(1)
    assert base64.b64decode(data)[:4] == b"\x89PNG"
