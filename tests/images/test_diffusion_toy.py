"""Diffusion on 2D points: schedules, the forward process, a trained model that denoises, seeds."""
import numpy as np
import pytest
import torch

from helpers.images import diffusion_toy as dt


@pytest.mark.parametrize("kind", dt.SCHEDULES)
def test_schedule_alpha_bar_decreases_inside_0_1(kind):
    s = dt.make_schedule(100, kind)
    ab = s.alpha_bars.numpy()
    assert s.T == 100 and np.all(np.diff(ab) < 0)
    assert np.all((ab > 0) & (ab < 1))
    assert ab[0] > 0.99 and ab[-1] < 0.01  # starts almost clean, ends almost pure noise
    assert np.allclose(np.cumprod(1 - s.betas.numpy()), ab)


def test_add_noise_ends():
    x0 = torch.as_tensor(dt.make_data("moons", 4000, seed=1))
    s = dt.make_schedule(100)
    g = torch.Generator().manual_seed(0)
    start = dt.add_noise(x0, 0, s, generator=g)
    assert float((start - x0).abs().mean()) < 0.05
    end = dt.add_noise(x0, s.T - 1, s, generator=g)
    assert abs(float(end.var(0).mean()) - 1) < 0.1 and abs(float(end.mean())) < 0.1
    assert float(torch.corrcoef(torch.stack([end[:, 0], x0[:, 0]]))[0, 1]) < 0.1
    with pytest.raises(ValueError, match="timestep"):
        dt.add_noise(x0, 100, s)


def test_bad_input():
    with pytest.raises(ValueError, match="schedule"):
        dt.make_schedule(100, "quadratic")
    with pytest.raises(ValueError, match="data set"):
        dt.make_data("swiss")
    with pytest.raises(ValueError, match="steps"):
        dt.timesteps_for(dt.make_schedule(50), 51)
    assert dt.timesteps_for(dt.make_schedule(50), 1) == [49]
    assert dt.timesteps_for(dt.make_schedule(50), 50) == list(range(49, -1, -1))


@pytest.fixture(scope="module")
def trained():
    data = dt.make_data("moons", 2000, seed=0)
    s = dt.make_schedule(100)
    model = dt.make_model(s, seed=0)
    losses = dt.train(model, data, s, steps=2000, seed=0)
    return data, s, model, losses


def test_training_lowers_the_loss(trained):
    _, _, _, losses = trained
    assert np.mean(losses[-50:]) < 0.8 * np.mean(losses[:50])


@pytest.mark.parametrize("sampler, steps", [("DDPM", None), ("DDIM", 20)])
def test_samples_are_closer_to_data_than_noise(trained, sampler, steps):
    data, s, model, _ = trained
    kwargs = {"steps": steps} if steps else {}
    samples, trajectory = dt.SAMPLERS[sampler](model, s, n=1000, seed=3, **kwargs)
    noise = np.random.default_rng(3).normal(size=(1000, 2))
    assert len(trajectory) == (steps or s.T) + 1 and np.array_equal(trajectory[-1], samples)
    # samples lie near the data (half noise's distance at most) and cover it better than noise does
    assert dt.nearest_neighbour_distance(samples, data) < 0.5 * dt.nearest_neighbour_distance(noise, data)
    assert dt.chamfer_distance(samples, data) < dt.chamfer_distance(noise, data)
    # and the end of the trajectory is closer than its start
    assert dt.chamfer_distance(trajectory[-1], data) < dt.chamfer_distance(trajectory[0], data)


def test_seeds_make_everything_repeatable(trained):
    data, s, _, losses = trained
    m2 = dt.make_model(s, seed=0)
    assert dt.train(m2, data, s, steps=5, seed=0) == dt.train(dt.make_model(s, seed=0), data, s, steps=5, seed=0)
    _, _, model, _ = trained
    a, _ = dt.ddpm_sample(model, s, n=200, seed=7)
    b, _ = dt.ddpm_sample(model, s, n=200, seed=7)
    c, _ = dt.ddpm_sample(model, s, n=200, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_chamfer_distance_basics():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert dt.chamfer_distance(a, a) == 0
    assert dt.nearest_neighbour_distance(a, np.array([[0.0, 1.0]])) == pytest.approx((1 + 2 ** 0.5) / 2)
    with pytest.raises(ValueError):
        dt.chamfer_distance(np.zeros((0, 2)), a)


def test_ddim_keeps_the_sample_across_step_counts_and_ddpm_does_not(trained):
    """Notebook 15's claim: with the same seed, DDIM at 20 and at 100 steps gives nearly the same points;
    DDPM gives points about as far apart as another seed's."""
    _, s, model, _ = trained

    def moved(sampler, seed_b):
        a, _ = dt.SAMPLERS[sampler](model, s, n=500, steps=20, seed=5)
        b, _ = dt.SAMPLERS[sampler](model, s, n=500, steps=100, seed=seed_b)
        return float(np.linalg.norm(a - b, axis=1).mean())

    other_seed = moved("DDIM", 6)
    assert moved("DDIM", 5) < 0.25 * other_seed
    assert moved("DDPM", 5) > 0.5 * other_seed
