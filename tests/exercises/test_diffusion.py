"""Exercise checks of notebook 16: right answers pass, typical mistakes get their hint."""
from helpers.exercises.diffusion import (
    check_guided_noise,
    check_no_prompt_label,
    check_share_without_guidance,
    check_unet_evaluations,
    guided_noise,
)


def test_unet_evaluations_check():
    assert check_unet_evaluations(50, 25, 3.0)
    assert "twice" in check_unet_evaluations(25, 25, 3.0).message
    assert "does not add" in check_unet_evaluations(150, 25, 3.0).message
    assert "noise levels" in check_unet_evaluations(1000, 25, 3.0).message
    assert check_unet_evaluations(25, 25, 1.0)
    assert "need not" in check_unet_evaluations(50, 25, 1.0).message
    assert not check_unet_evaluations(None, 25, 3.0)


def test_guided_noise_check():
    assert guided_noise(0.2, 0.5, 3.0) == 0.2 + 3.0 * 0.3
    assert check_guided_noise(1.1, 0.2, 0.5, 3.0)
    assert "difference" in check_guided_noise(1.5, 0.2, 0.5, 3.0).message
    assert "add it" in check_guided_noise(0.9, 0.2, 0.5, 3.0).message
    assert "not uncond - cond" in check_guided_noise(-0.4, 0.2, 0.5, 3.0).message
    assert "guidance 1" in check_guided_noise(0.5, 0.2, 0.5, 3.0).message


def test_no_prompt_label_check():
    assert check_no_prompt_label(10)
    assert "digit zero" in check_no_prompt_label(0).message
    assert "numbered from 0" in check_no_prompt_label(11).message


def test_share_without_guidance_check():
    assert check_share_without_guidance(0.1) and check_share_without_guidance(0.12)
    assert "by chance" in check_share_without_guidance(0.0).message
    assert "never used" in check_share_without_guidance(1.0).message
    assert "between 0 and 1" in check_share_without_guidance(10).message
    assert not check_share_without_guidance(None)
