"""The digits data, the judge, and the class-conditional diffusion model (tiny shapes: seconds)."""
import json

import numpy as np
import pytest
import torch

from helpers.images.checkpoint_check import CheckpointError
from helpers.images.digits_data import (
    Digits,
    balanced_sample,
    digit_stats,
    frechet_distance,
    load_digits_16,
    recognised_share,
    share_by_digit,
    split,
    to_features,
    train_judge,
    upsample,
)
from helpers.images.digits_diffusion import (
    NO_PROMPT,
    PRESETS,
    SCHEDULERS,
    SHIPPED_DIR,
    DigitsPipeline,
    TrainSettings,
    UNetShape,
    drop_labels,
    generate,
    load_pipeline,
    lr_at,
    make_scheduler,
    make_unet,
    measure_quality,
    n_parameters,
    noise_schedule,
    save_pipeline,
    train,
    unet_config,
    unet_evaluations,
)

TINY = UNetShape(block_out_channels=(8, 16), norm_num_groups=4)


@pytest.fixture(scope="module")
def digits():
    return load_digits_16()


@pytest.fixture(scope="module")
def judge(digits):
    return train_judge(split(digits)[0])


@pytest.fixture(scope="module")
def tiny_pipe():
    torch.set_num_threads(1)
    return DigitsPipeline(unet=make_unet(TINY, seed=3).eval(), scheduler=noise_schedule())


# --- data -----------------------------------------------------------------------------------------

def test_digits_are_16x16_in_minus_one_to_one(digits):
    assert digits.images.shape == (1797, 1, 16, 16) and digits.images.dtype == np.float32
    assert digits.images.min() == -1.0 and digits.images.max() == 1.0
    assert sorted(np.unique(digits.labels)) == list(range(10))


def test_upsample_keeps_constants_and_checks_shape():
    flat = np.full((2, 8, 8), 16.0)
    assert np.allclose(upsample(flat), 1.0)
    assert np.allclose(upsample(np.zeros((1, 8, 8))), -1.0)
    ramp = np.tile(np.arange(8) * 2.0, (1, 8, 1))
    row = upsample(ramp)[0, 0, 0]
    assert np.all(np.diff(row) >= 0) and row[0] == -1.0 and row[-1] == pytest.approx(14 / 8 - 1)
    with pytest.raises(ValueError, match="8, 8"):
        upsample(np.zeros((1, 4, 4)))


def test_split_is_deterministic_and_disjoint(digits):
    train_a, held_a = split(digits)
    train_b, held_b = split(digits)
    assert len(train_a) + len(held_a) == len(digits)
    assert np.array_equal(held_a.labels, held_b.labels) and np.array_equal(train_a.images, train_b.images)
    assert np.array_equal(held_a.images[1], digits.images[5])


def test_balanced_sample_takes_the_first_n_of_each_digit_in_order(digits):
    sample = balanced_sample(digits, 3)
    assert sample.labels.tolist() == [d for d in range(10) for _ in range(3)]
    first_two = np.flatnonzero(digits.labels == 2)[:3]
    assert np.array_equal(sample.images[6:9], digits.images[first_two])
    for bad in (0, 10_000):
        with pytest.raises(ValueError, match="n_per_digit"):
            balanced_sample(digits, bad)


# --- the judge ------------------------------------------------------------------------------------

def test_judge_recognises_held_out_real_digits(digits, judge):
    _, held = split(digits)
    assert recognised_share(judge, held.images, held.labels) > 0.95


def test_judge_does_not_read_noise_as_the_requested_digits(judge):
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1, 1, size=(200, 1, 16, 16)).astype(np.float32)
    requested = np.arange(200) % 10
    assert recognised_share(judge, noise, requested) < 0.3


def test_judge_does_not_read_blank_images_as_every_digit(judge):
    blank = -np.ones((10, 1, 16, 16), np.float32)
    assert recognised_share(judge, blank, np.arange(10)) <= 0.2


class FixedJudge:
    """Predicts given labels, whatever the images."""

    def __init__(self, answers):
        self.answers = np.asarray(answers)

    def predict(self, features):
        assert features.shape == (len(self.answers), 256)
        return self.answers


def test_share_and_share_by_digit():
    images = np.zeros((4, 1, 16, 16))
    judge = FixedJudge([1, 2, 3, 3])
    assert recognised_share(judge, images, [1, 2, 0, 0]) == 0.5
    assert share_by_digit(judge, images, [1, 2, 3, 0]) == {0: 0.0, 1: 1.0, 2: 1.0, 3: 1.0}
    with pytest.raises(ValueError, match="requested"):
        recognised_share(judge, images, [1, 2])


def test_features_accept_tensors_and_clip():
    x = torch.full((2, 1, 16, 16), 3.0)
    f = to_features(x)
    assert f.shape == (2, 256) and f.max() == 1.0


# --- the model ------------------------------------------------------------------------------------

def test_presets_use_the_course_shape():
    for shape, settings in PRESETS.values():
        assert unet_config(shape)["num_class_embeds"] == NO_PROMPT + 1
        assert settings.label_dropout == pytest.approx(0.1)
    assert PRESETS["learner"][1].steps > PRESETS["quick"][1].steps


def test_tiny_unet_predicts_noise_of_the_image_shape():
    unet = make_unet(TINY)
    x = torch.randn(3, 1, 16, 16)
    out = unet(x, torch.tensor([0, 500, 999]), class_labels=torch.tensor([0, 7, NO_PROMPT])).sample
    assert out.shape == x.shape
    assert n_parameters(unet) < n_parameters(make_unet(UNetShape()))


def test_same_seed_same_initial_weights():
    a, b = make_unet(TINY, seed=5), make_unet(TINY, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_drop_labels():
    labels = torch.arange(10)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(drop_labels(labels, 0.0, g), labels)
    assert torch.all(drop_labels(labels, 1.0, g) == NO_PROMPT)
    many = drop_labels(torch.zeros(10_000, dtype=torch.long), 0.1, g)
    assert 0.08 < (many == NO_PROMPT).float().mean() < 0.12
    with pytest.raises(ValueError, match="between 0 and 1"):
        drop_labels(labels, 1.5, g)


def test_learning_rate_warms_up_then_decays():
    s = TrainSettings(steps=100, warmup=10, lr=1e-3)
    assert lr_at(0, s) < lr_at(9, s) == pytest.approx(1e-3)
    assert lr_at(99, s) < lr_at(50, s) < lr_at(10, s)
    assert lr_at(99, s) >= 0.1 * 1e-3 - 1e-12


def test_training_steps_give_finite_losses_and_change_weights(digits):
    torch.set_num_threads(1)
    unet = make_unet(TINY, seed=1)
    before = [p.detach().clone() for p in unet.parameters()]
    s = TrainSettings(steps=3, batch_size=8, warmup=1)
    hist = train(unet, noise_schedule(), digits.images[:64], digits.labels[:64], s, progress=False)
    assert hist["step"] == [0, 1, 2]
    assert all(np.isfinite(hist["loss"])) and all(v > 0 for v in hist["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, unet.parameters()))
    assert not unet.training


def test_training_is_reproducible(digits):
    torch.set_num_threads(1)
    s = TrainSettings(steps=2, batch_size=4, warmup=1)
    runs = []
    for _ in range(2):
        unet = make_unet(TINY, seed=2)
        runs.append(train(unet, noise_schedule(), digits.images[:32], digits.labels[:32], s, progress=False)["loss"])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", SCHEDULERS)
def test_sampling_shape_range_and_seed(tiny_pipe, name):
    a = tiny_pipe([0, 1, 2], num_inference_steps=3, guidance_scale=2.0, seed=7, scheduler=name)
    b = tiny_pipe([0, 1, 2], num_inference_steps=3, guidance_scale=2.0, seed=7, scheduler=name)
    c = tiny_pipe([0, 1, 2], num_inference_steps=3, guidance_scale=2.0, seed=8, scheduler=name)
    assert a.shape == (3, 1, 16, 16) and a.dtype == np.float32
    assert a.min() >= -1 and a.max() <= 1
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_guidance_zero_ignores_the_label_and_guidance_changes_images(tiny_pipe):
    unet, sched = tiny_pipe.unet, make_scheduler("DDIM", tiny_pipe.scheduler.config)
    zeros = generate(unet, sched, [0, 0], steps=2, guidance=0.0, seed=1)
    fives = generate(unet, sched, [5, 5], steps=2, guidance=0.0, seed=1)
    assert np.array_equal(zeros, fives)
    g1 = generate(unet, sched, [5, 5], steps=2, guidance=1.0, seed=1)
    g3 = generate(unet, sched, [5, 5], steps=2, guidance=3.0, seed=1)
    assert not np.array_equal(g1, g3) and not np.array_equal(g1, fives)


def test_bad_sampling_inputs_are_refused(tiny_pipe):
    with pytest.raises(ValueError, match="labels must be"):
        tiny_pipe([11], num_inference_steps=2)
    with pytest.raises(ValueError, match="steps"):
        tiny_pipe([1], num_inference_steps=0)
    with pytest.raises(ValueError, match="guidance"):
        tiny_pipe([1], num_inference_steps=2, guidance_scale=-1)
    with pytest.raises(ValueError, match="choose from"):
        make_scheduler("Euler", tiny_pipe.scheduler.config)


@pytest.mark.parametrize("labels", [[1.5], ["3"], [True], [[1, 12]]])
def test_labels_that_are_not_whole_numbers_0_to_10_are_named(tiny_pipe, labels):
    with pytest.raises(ValueError, match=r"labels must be whole numbers: digits 0-9 or 10 \(no prompt\), got "):
        tiny_pipe(labels, num_inference_steps=2)


@pytest.mark.parametrize("steps", [2.5, "25", True, 1001])
def test_steps_outside_the_trained_noise_levels_are_named(tiny_pipe, steps):
    with pytest.raises(ValueError, match=rf"steps must be a whole number from 1 to 1000 .*got {steps!r}$"):
        tiny_pipe([1], num_inference_steps=steps)


@pytest.mark.parametrize("guidance", ["2", float("nan"), float("inf"), None])
def test_guidance_that_is_not_a_number_is_named(tiny_pipe, guidance):
    with pytest.raises(ValueError, match=r"guidance must be a number, 0 or more, got "):
        tiny_pipe([1], num_inference_steps=2, guidance_scale=guidance)


def test_numpy_labels_steps_and_guidance_are_accepted(tiny_pipe):
    images = tiny_pipe(np.arange(3), num_inference_steps=np.int64(2), guidance_scale=np.float32(2.0))
    assert images.shape == (3, 1, 16, 16)


def test_unet_evaluations_count_the_guidance_pass():
    assert unet_evaluations(25, 1.0) == 25 and unet_evaluations(25, 0.0) == 25
    assert unet_evaluations(25, 3.0) == 50


def test_save_and_load_round_trip(tmp_path, tiny_pipe):
    out = tmp_path / "model"
    out.mkdir()
    (out / "README.md").write_text("kept")
    save_pipeline(tiny_pipe, out, {"preset": "test"})
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "unet/diffusion_pytorch_model.safetensors" in files and "model_index.json" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".ckpt"))]
    assert (out / "README.md").read_text() == "kept"
    assert json.loads((out / "train_log.json").read_text()) == {"preset": "test"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folder left behind"
    loaded = load_pipeline(out)
    for name in SCHEDULERS:
        assert np.array_equal(tiny_pipe([3, 4], 3, 2.0, seed=0, scheduler=name),
                              loaded([3, 4], 3, 2.0, seed=0, scheduler=name))


def test_load_refuses_a_pipeline_of_another_shape(tmp_path):
    from diffusers import UNet2DModel

    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                       norm_num_groups=4, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"))
    save_pipeline(DigitsPipeline(unet=unet, scheduler=noise_schedule()), tmp_path / "other", {})
    with pytest.raises(CheckpointError, match="num_class_embeds"):
        load_pipeline(tmp_path / "other")


@pytest.mark.skipif(not (SHIPPED_DIR / "model_index.json").exists(), reason="shipped model not trained yet")
def test_single_safetensors_file_loads_into_the_shipped_shape(tmp_path, tiny_pipe):
    from safetensors.torch import save_file

    shipped = load_pipeline()
    f = tmp_path / "my_unet.safetensors"
    save_file({k: v.contiguous() for k, v in shipped.unet.state_dict().items()}, str(f))
    mine = load_pipeline(f)
    assert np.array_equal(shipped([1, 2], 2, 2.0, seed=4), mine([1, 2], 2, 2.0, seed=4))
    wrong = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_pipe.unet.state_dict().items()}, str(wrong))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_pipeline(wrong)


@pytest.mark.skipif(not (SHIPPED_DIR / "model_index.json").exists(), reason="shipped model not trained yet")
def test_shipped_model_is_small_safetensors_and_logged():
    files = [p for p in SHIPPED_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 5 * 10**6  # bytes
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".ckpt", ".pth")]
    log = json.loads((SHIPPED_DIR / "train_log.json").read_text())
    assert log["preset"] == "learner" and len(log["history"]["loss"]) == log["settings"]["steps"]
    config = json.loads((SHIPPED_DIR / "unet" / "config.json").read_text())
    expected = unet_config(PRESETS["learner"][0])
    assert config["num_class_embeds"] == expected["num_class_embeds"]
    assert tuple(config["block_out_channels"]) == expected["block_out_channels"]


def test_shipped_model_draws_the_requested_digits_and_ignores_them_without_guidance(judge):
    """The quality target on a small sample: DDIM, 25 steps, guidance 2 -> at least 90% recognised."""
    torch.set_num_threads(1)
    pipe = load_pipeline(SHIPPED_DIR)
    labels = np.repeat(np.arange(10), 2)
    guided = pipe(labels, num_inference_steps=25, guidance_scale=2.0, seed=0, scheduler="DDIM")
    unguided = pipe(labels, num_inference_steps=25, guidance_scale=0.0, seed=0, scheduler="DDIM")
    assert recognised_share(judge, guided, labels) >= 0.9
    assert recognised_share(judge, unguided, labels) <= 0.5


def test_digits_dataclass_length():
    assert len(Digits(np.zeros((3, 1, 16, 16)), np.zeros(3))) == 3


def test_frechet_distance_is_zero_for_the_real_digits(digits):
    assert frechet_distance(digit_stats(digits, n_components=5), digits.images) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_shifted_and_a_stretched_copy():
    """2x2 'images' with 4 components: a shift adds its squared length, doubling the spread adds trace(C)."""
    rng = np.random.default_rng(0)
    images = 0.1 * rng.standard_normal((500, 1, 2, 2))
    stats = digit_stats(Digits(images, np.zeros(500, dtype=np.int64)), n_components=4)
    shift = np.array([0.3, 0.0, -0.4, 0.0]).reshape(1, 1, 2, 2)
    assert frechet_distance(stats, images + shift) == pytest.approx(0.25, rel=1e-9)
    centre = images.mean(axis=0)
    stretched = centre + 2.0 * (images - centre)
    assert frechet_distance(stats, stretched) == pytest.approx(np.trace(stats.cov), rel=1e-9)


def test_frechet_distance_punishes_samples_that_do_not_vary(digits, judge):
    """Each held-out digit replaced by the average of its class: the judge still reads it, the distance does not."""
    stats = digit_stats(digits, n_components=10)
    held_out = split(digits)[1]
    average_per_digit = np.stack([digits.images[digits.labels == d].mean(axis=0) for d in held_out.labels])
    real = frechet_distance(stats, held_out.images)
    blurred = frechet_distance(stats, average_per_digit)
    assert 0.0 < real < blurred
    assert recognised_share(judge, average_per_digit, held_out.labels) > 0.9


def test_digit_stats_and_frechet_distance_refuse_bad_input(digits):
    with pytest.raises(ValueError, match="n_components must be between 1 and 256, got 0"):
        digit_stats(digits, n_components=0)
    with pytest.raises(ValueError, match="at least 2 images"):
        frechet_distance(digit_stats(digits), digits.images[:1])


def test_measure_quality_counts_balanced_images_and_repeats_with_the_seed(tiny_pipe, judge, digits):
    stats = digit_stats(digits)
    first = measure_quality(tiny_pipe, judge, "DDIM", 2, 2.0, n_per_digit=2, seed=3, stats=stats)
    again = measure_quality(tiny_pipe, judge, "DDIM", 2, 2.0, n_per_digit=2, seed=3, stats=stats)
    assert first["images"] == 20
    assert 0.0 <= first["recognised (share)"] <= 1.0 and first["frechet distance"] > 0.0
    assert (first["recognised (share)"], first["frechet distance"]) == (again["recognised (share)"],
                                                                         again["frechet distance"])
    assert "frechet distance" not in measure_quality(tiny_pipe, judge, "DDIM", 1, 0.0, n_per_digit=1)
