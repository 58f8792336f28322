"""Diffusion from scratch on 2D points: noise a point cloud step by step, learn to undo it.

Everything a diffusion image model does, on data you can plot:

* a **schedule** of noise levels: ``betas`` (noise added at each step), ``alphas = 1 - betas`` and
  ``alpha_bars`` (their running product: how much of the data survives up to step t);
* the **forward process** ``add_noise``: ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise``,
  in one jump for any t;
* a small MLP that sees a noisy point and its step t and predicts the noise that was added;
* **DDPM** sampling (start from pure noise, remove a little predicted noise per step, add a little
  fresh noise back) and **DDIM** sampling (deterministic, and happy with far fewer steps), both
  returning the whole trajectory so it can be plotted;
* a distance between point clouds (``chamfer_distance``) to measure how close samples are to data.

Steps are indexed ``t = 0 .. T-1``; ``alpha_bars[0]`` is close to 1 (almost clean), ``alpha_bars[T-1]``
close to 0 (almost pure noise). Points are standardised to about unit scale, so distances are in
those units. No files are read or written; the data come from scikit-learn/numpy, offline.
"""
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

DATASETS = ("moons", "spiral", "circles")
SCHEDULES = ("linear", "cosine")
MAX_STEPS = 10_000


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return int(value)


@contextmanager
def one_thread():
    """Run torch on one thread for the block: far faster for these tiny matrices (no thread
    hand-offs, no fighting over a busy machine's cores) and the same numbers on every machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- data --------------------------------------------------------------------------------------

def make_data(name: str = "moons", n: int = 2000, seed: int = 0) -> np.ndarray:
    """``n`` 2D points (float32 array of shape (n, 2)), centred and scaled to unit standard deviation.

    ``name``: "moons" (scikit-learn's two moons), "spiral" (two arms) or "circles" (two rings).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {DATASETS}")
    n = _whole("n", n, 2, 1_000_000)
    rng = np.random.default_rng(seed)
    if name == "moons":
        from sklearn.datasets import make_moons
        x, _ = make_moons(n, noise=0.05, random_state=seed)
    elif name == "circles":
        from sklearn.datasets import make_circles
        x, _ = make_circles(n, noise=0.03, factor=0.5, random_state=seed)
    else:
        arm = rng.integers(0, 2, n)
        r = np.sqrt(rng.uniform(0.02, 1.0, n)) * 3 * math.pi
        x = np.stack([r * np.cos(r + math.pi * arm), r * np.sin(r + math.pi * arm)], 1)
        x += rng.normal(0, 0.25, x.shape)
    x = x - x.mean(0)
    return (x / x.std()).astype(np.float32)


# --- schedule ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """Noise levels of a ``T``-step diffusion: float64 tensors of length T (dimensionless)."""

    kind: str
    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor

    @property
    def T(self) -> int:
        return len(self.betas)


def make_schedule(T: int = 100, kind: str = "linear") -> Schedule:
    """A ``kind`` ("linear" or "cosine") schedule of ``T`` steps.

    linear: betas evenly from 1e-4 to 0.02, scaled by 1000 / T so that a short schedule still ends
    in (almost) pure noise (Ho et al. 2020 used T = 1000; the scaling is Nichol & Dhariwal's).
    cosine: alpha_bar(t) = cos²((t/T + s)/(1 + s) · π/2) / alpha_bar(0), s = 0.008, betas capped at 0.999
    (Nichol & Dhariwal 2021): it destroys the data more gently at the start.
    """
    T = _whole("T", T, 2, MAX_STEPS)
    if kind == "linear":
        scale = 1000 / T
        betas = torch.linspace(scale * 1e-4, min(scale * 0.02, 0.999), T, dtype=torch.float64)
    elif kind == "cosine":
        s = 0.008
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(1e-5, 0.999)
    else:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {SCHEDULES}")
    alphas = 1 - betas
    return Schedule(kind, betas, alphas, torch.cumprod(alphas, 0))


def add_noise(x0, t, schedule: Schedule, noise=None, generator=None) -> torch.Tensor:
    """Forward process in one jump: ``sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise``.

    ``x0``: (n, d) points; ``t``: one step index or n of them (0 .. T-1); ``noise``: (n, d) standard
    normal noise, drawn with ``generator`` when not given. Returns a float32 tensor like ``x0``.
    """
    x0 = torch.as_tensor(x0, dtype=torch.float32)
    t = torch.as_tensor(t, dtype=torch.long)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= schedule.T):
        raise ValueError(f"timestep must be in [0, {schedule.T - 1}], got {t.tolist()!r}")
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator)
    ab = schedule.alpha_bars[t].float()
    if ab.ndim:
        ab = ab[:, None]
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


# --- the noise predictor -------------------------------------------------------------------------

def time_embedding(t, dim: int = 32, T: int = 100) -> torch.Tensor:
    """Sinusoidal embedding of step indices ``t`` (as in transformers' positions): (len(t), dim)."""
    t = torch.as_tensor(t, dtype=torch.float32).reshape(-1) / T * 1000
    freqs = torch.exp(-math.log(10_000) * torch.arange(dim // 2, dtype=torch.float32) / (dim // 2))
    angles = t[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], 1)


class NoisePredictor(nn.Module):
    """A small MLP: (noisy point, step t) → predicted noise. About 38 thousand parameters."""

    def __init__(self, T: int, dim: int = 2, hidden: int = 128, emb: int = 32):
        super().__init__()
        self.T, self.emb = T, emb
        self.net = nn.Sequential(
            nn.Linear(dim + emb, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, dim),
        )

    def forward(self, x, t):
        t = torch.as_tensor(t).reshape(-1).expand(len(x)) if torch.as_tensor(t).numel() == 1 else t
        return self.net(torch.cat([x, time_embedding(t, self.emb, self.T)], 1))


def make_model(schedule: Schedule, seed: int = 0, hidden: int = 128) -> NoisePredictor:
    """A freshly initialised ``NoisePredictor`` for ``schedule``; the same seed gives the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return NoisePredictor(schedule.T, hidden=hidden)


def train(model: NoisePredictor, data, schedule: Schedule, steps: int = 1500, batch: int = 256,
          lr: float = 3e-3, seed: int = 0, progress: bool = False) -> list:
    """Teach ``model`` to predict the noise: pick points, a random step t each, noise them, regress.

    Loss = mean squared error between the true and the predicted noise (Ho et al.'s simple loss).
    Returns the loss of every step (floats). The same seed and data give the same model.
    """
    steps = _whole("steps", steps, 1, 1_000_000)
    batch = _whole("batch", batch, 1, 1_000_000)
    data = torch.as_tensor(data, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    losses = []
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc="training", mininterval=1.0)
    model.train()
    with one_thread():
        losses = _train_loop(model, data, schedule, iterator, batch, g, opt, sched)
    model.eval()
    return losses


def _train_loop(model, data, schedule, iterator, batch, g, opt, sched) -> list:
    losses = []
    for _ in iterator:
        x0 = data[torch.randint(len(data), (batch,), generator=g)]
        t = torch.randint(schedule.T, (batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        loss = ((model(add_noise(x0, t, schedule, noise), t) - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


# --- sampling ----------------------------------------------------------------------------------

def timesteps_for(schedule: Schedule, steps: int) -> list:
    """``steps`` step indices from T-1 down to 0, evenly spaced (what a scheduler's ``set_timesteps`` does)."""
    steps = _whole("steps", steps, 1, schedule.T)
    return sorted({int(round(v)) for v in np.linspace(schedule.T - 1, 0, steps)}, reverse=True)


CLIP_X0 = 3.0  # predicted clean points are clipped to [-3, 3] (data have unit std), like diffusers' clip_sample


def _predict_x0(model, x, t, ab_t):
    eps = model(x, torch.full((len(x),), t))
    x0 = ((x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()).clamp(-CLIP_X0, CLIP_X0)
    return x0, (x - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()


@torch.no_grad()
@one_thread()
def ddpm_sample(model, schedule: Schedule, n: int = 1000, steps=None, seed: int = 0):
    """DDPM (ancestral) sampling: ``(samples (n, 2) array, trajectory list of (n, 2) arrays)``.

    Start at pure noise; at each step predict the noise, hence the clean point x0, step to the mean
    of the previous, less noisy point given x0, and add fresh noise of the posterior variance
    ("beta tilde"; none at the last step). ``steps`` < T skips steps, with the betas recomputed for the
    coarser grid ("respacing"). The trajectory holds the starting noise and the points after every
    step (steps + 1 arrays).
    """
    n = _whole("n", n, 1, 10_000_000)
    ts = timesteps_for(schedule, schedule.T if steps is None else steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 2), generator=g)
    trajectory = [x.numpy().copy()]
    ab = schedule.alpha_bars.float()
    for i, t in enumerate(ts):
        ab_prev = ab[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
        alpha = ab[t] / ab_prev
        beta = 1 - alpha
        x0, _ = _predict_x0(model, x, t, ab[t])
        x = (ab_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - ab_prev) * x) / (1 - ab[t])
        if i + 1 < len(ts):
            var = beta * (1 - ab_prev) / (1 - ab[t])
            x = x + var.sqrt() * torch.randn((n, 2), generator=g)
        trajectory.append(x.numpy().copy())
    return x.numpy(), trajectory


@torch.no_grad()
@one_thread()
def ddim_sample(model, schedule: Schedule, n: int = 1000, steps: int = 20, seed: int = 0):
    """DDIM sampling (eta = 0, deterministic after the starting noise); returns like ``ddpm_sample``.

    At each step predict the noise, estimate the clean point ``x0 = (x - sqrt(1 - ab) eps) / sqrt(ab)``
    and jump straight to the next (lower) noise level along the same noise direction.
    """
    n = _whole("n", n, 1, 10_000_000)
    ts = timesteps_for(schedule, steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 2), generator=g)
    trajectory = [x.numpy().copy()]
    ab = schedule.alpha_bars.float()
    for i, t in enumerate(ts):
        ab_prev = ab[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
        x0, eps = _predict_x0(model, x, t, ab[t])
        x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
        trajectory.append(x.numpy().copy())
    return x.numpy(), trajectory


SAMPLERS = {"DDPM": ddpm_sample, "DDIM": ddim_sample}


# --- measuring ---------------------------------------------------------------------------------

def nearest_neighbour_distance(a, b) -> float:
    """Mean distance from each point of ``a`` to its nearest point of ``b`` (data units)."""
    a = torch.as_tensor(np.asarray(a), dtype=torch.float32)
    b = torch.as_tensor(np.asarray(b), dtype=torch.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"expected two non-empty (n, d) point clouds, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    best = torch.cat([torch.cdist(chunk, b).min(1).values for chunk in a.split(4096)])
    return float(best.mean())


def chamfer_distance(samples, data) -> float:
    """Symmetric distance between point clouds: mean of (samples → nearest data point) and
    (data → nearest sample). Small only if samples lie on the data AND cover all of it."""
    return 0.5 * (nearest_neighbour_distance(samples, data) + nearest_neighbour_distance(data, samples))
