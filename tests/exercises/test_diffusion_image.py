"""Exercise checks of notebooks 15 and 17: right answers pass, typical mistakes get their hint."""
import math

from helpers.exercises.diffusion_toy import check_alpha_bar, check_deterministic_sampler, check_noisy_point
from helpers.exercises.image_memory import check_attention_growth, check_checkpoint_format, check_unet_weights_gb
from helpers.images.memory import component_params

BETAS = [0.1, 0.2, 0.3]


def test_alpha_bar():
    assert check_alpha_bar(0.9 * 0.8 * 0.7, BETAS, 2)
    assert "alone" in check_alpha_bar(0.7, BETAS, 2).message
    assert "multiply" in check_alpha_bar(0.4, BETAS, 2).message
    assert "root" in check_alpha_bar(math.sqrt(0.504), BETAS, 2).message
    assert not check_alpha_bar(None, BETAS, 2)


def test_noisy_point():
    assert check_noisy_point(0.8 * 2 + 0.6 * 1, 2.0, 0.64, 1.0)
    assert "square roots" in check_noisy_point(0.64 * 2 + 0.36, 2.0, 0.64, 1.0).message
    assert "shrunk" in check_noisy_point(3.0, 2.0, 0.64, 1.0).message


def test_deterministic_sampler():
    assert check_deterministic_sampler("DDIM")
    assert "fresh random noise" in check_deterministic_sampler("DDPM").message
    assert "not one of" in check_deterministic_sampler("Euler").message


def test_unet_weights():
    n = component_params("sdxl", "unet")
    assert check_unet_weights_gb(n * 2 / 1e9)
    assert "GiB" in check_unet_weights_gb(n * 2 / 2**30).message
    assert "fp32" in check_unet_weights_gb(n * 4 / 1e9).message
    assert "billions" in check_unet_weights_gb(n / 1e9).message


def test_attention_growth():
    assert check_attention_growth(16)
    assert "tokens" in check_attention_growth(4).message
    assert "side length" in check_attention_growth(2).message


def test_checkpoint_format():
    assert check_checkpoint_format(".safetensors")
    assert "pickle" in check_checkpoint_format(".ckpt").message
