"""The course's own image model: a class-conditional diffusion UNet (diffusers) for 16x16 digits.

    python -m helpers.images.digits_diffusion train --preset learner --out data/digits_diffusion   # the shipped model
    python -m helpers.images.digits_diffusion train --preset ci --out build/digits_diffusion_ci     # seconds, for checks

The model is a ``diffusers.UNet2DModel`` (0.70 M parameters) that predicts the noise in a noisy
16x16 digit, told the time step and a **class label**: 0-9 ask for that digit, 10 (:data:`NO_PROMPT`)
asks for nothing in particular. During training 10% of labels are replaced by 10, so the same
network learns both; at sampling time **classifier-free guidance** pushes each step away from the
"no prompt" prediction and towards the "this digit" one:

    noise = noise(no prompt) + guidance * (noise(digit) - noise(no prompt))

The label plays the role that the text prompt plays in Stable Diffusion (where a text encoder
turns the prompt into vectors; here an embedding table turns the label into one vector).

Saved with ``save_pretrained`` as a diffusers pipeline folder (``model_index.json``, ``unet/``
with ``config.json`` + ``diffusion_pytorch_model.safetensors``, ``scheduler/``) plus
``train_log.json``; loaded with ``from_pretrained(..., use_safetensors=True)``, offline.
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler, UNet2DModel
from tqdm.auto import tqdm

from helpers.course.paths import DATA_DIR
from helpers.images.checkpoint_check import CheckpointError, check_checkpoint
from helpers.images.digits_data import IMAGE_SIZE, N_DIGITS, load_digits_16, split

NO_PROMPT = 10                     # the class label that means "no prompt" (unconditional)
NUM_CLASS_EMBEDS = N_DIGITS + 1    # digits 0-9 and NO_PROMPT
SCHEDULERS = ("DDPM", "DDIM", "DPM-Solver++")
SHIPPED_DIR = DATA_DIR / "digits_diffusion"


@dataclass(frozen=True)
class UNetShape:
    """The UNet's size: channels per resolution level, resnet layers per level, norm groups."""
    block_out_channels: tuple = (32, 64)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    sample_size: int = IMAGE_SIZE


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation: ``steps`` of ``batch_size`` images, AdamW at ``lr`` with warm-up and cosine decay.

    ``label_dropout`` is the share of labels replaced by NO_PROMPT (classifier-free guidance);
    ``ema_decay`` the exponential moving average kept of the weights (what is saved).
    """
    steps: int
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 50
    weight_decay: float = 0.01
    label_dropout: float = 0.1
    ema_decay: float = 0.995
    num_train_timesteps: int = 1000
    seed: int = 0


PRESETS = {
    "quick": (UNetShape(), TrainSettings(steps=20, batch_size=32, warmup=5)),
    "learner": (UNetShape(), TrainSettings(steps=1500, batch_size=64)),
}


def unet_config(shape: UNetShape = UNetShape()) -> dict:
    """Keyword arguments of ``UNet2DModel`` for ``shape``: attention at the lower resolution and in the middle."""
    return dict(sample_size=shape.sample_size, in_channels=1, out_channels=1,
                layers_per_block=shape.layers_per_block, block_out_channels=tuple(shape.block_out_channels),
                down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                norm_num_groups=shape.norm_num_groups, num_class_embeds=NUM_CLASS_EMBEDS)


def make_unet(shape: UNetShape = UNetShape(), seed: int = 0) -> UNet2DModel:
    """A freshly initialised class-conditional UNet (weights drawn with ``seed``)."""
    torch.manual_seed(seed)
    return UNet2DModel(**unet_config(shape))


def n_parameters(model: torch.nn.Module) -> int:
    """Number of trainable values in ``model``."""
    return sum(p.numel() for p in model.parameters())


def noise_schedule(num_train_timesteps: int = 1000) -> DDIMScheduler:
    """The noise schedule the model is trained with: cosine (``squaredcos_cap_v2``), predicting the noise.

    Stored as a DDIM scheduler (the pipeline's default sampler); DDPM and DPM-Solver++ are made
    from its config by :func:`make_scheduler`. ``trailing`` spacing makes every sampler start at
    the last (pure-noise) time step, whatever the number of steps.
    """
    return DDIMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                         prediction_type="epsilon", clip_sample=True, timestep_spacing="trailing")


def make_scheduler(name: str, config):
    """A sampler by name (one of SCHEDULERS) built from a scheduler ``config`` of the model."""
    if name == "DDPM":
        return DDPMScheduler.from_config(config)
    if name == "DDIM":
        return DDIMScheduler.from_config(config)
    if name == "DPM-Solver++":
        # thresholding with sample_max_value 1 clips each predicted clean image to [-1, 1], as DDIM's
        # clip_sample does; lambda_min_clipped keeps the first step finite with the cosine schedule.
        # Without both, this model's DPM-Solver++ digits are recognised far less often.
        return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++", solver_order=2,
                                                       thresholding=True, sample_max_value=1.0,
                                                       lambda_min_clipped=-5.1)
    raise ValueError(f"scheduler {name!r} unknown; choose from {list(SCHEDULERS)}")


def drop_labels(labels: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each label by NO_PROMPT with probability ``p`` (0-1)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"label dropout must be between 0 and 1, got {p}")
    drop = torch.rand(labels.shape, generator=generator) < p
    return torch.where(drop, torch.full_like(labels, NO_PROMPT), labels)


def diffusion_loss(unet, schedule, images, labels, generator, label_dropout: float = 0.1) -> torch.Tensor:
    """One batch's training loss: mean squared error between the true and the predicted noise.

    Each image gets a random time step t and Gaussian noise; the UNet sees the noisy image,
    t and the (possibly dropped) label, and must say which noise was added.
    """
    noise = torch.randn(images.shape, generator=generator)
    t = torch.randint(0, schedule.config.num_train_timesteps, (len(images),), generator=generator)
    noisy = schedule.add_noise(images, noise, t)
    predicted = unet(noisy, t, class_labels=drop_labels(labels, label_dropout, generator)).sample
    return torch.nn.functional.mse_loss(predicted, noise)


def lr_at(step: int, s: TrainSettings) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine decay to 10% of ``s.lr``."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    progress = (step - s.warmup) / max(1, s.steps - s.warmup)
    return s.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(unet, schedule, images: np.ndarray, labels: np.ndarray, s: TrainSettings,
          progress: bool = True) -> dict:
    """Train ``unet`` in place (AdamW, seeded), then copy the averaged (EMA) weights into it.

    Returns the log ``{"step": [...], "loss": [...], "seconds": float}``: the loss of every step.
    """
    generator = torch.Generator().manual_seed(s.seed)
    x_all = torch.from_numpy(np.asarray(images, dtype=np.float32))
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    opt = torch.optim.AdamW(unet.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    ema = [p.detach().clone() for p in unet.parameters()]
    hist = {"step": [], "loss": []}
    unet.train()
    start = time.perf_counter()
    bar = tqdm(range(s.steps), disable=not progress, desc="training", mininterval=1.0)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, s)
        idx = torch.randint(0, len(y_all), (s.batch_size,), generator=generator)
        loss = diffusion_loss(unet, schedule, x_all[idx], y_all[idx], generator, s.label_dropout)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        decay = min(s.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, unet.parameters()):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        hist["step"].append(step)
        hist["loss"].append(round(loss.item(), 5))
        if step % 10 == 0 or step + 1 == s.steps:
            bar.set_postfix(loss=f"{np.mean(hist['loss'][-50:]):.4f}")
    hist["seconds"] = round(time.perf_counter() - start, 1)
    with torch.no_grad():
        for e, p in zip(ema, unet.parameters()):
            p.copy_(e)
    unet.eval()
    return hist


@torch.no_grad()
def generate(unet, scheduler, labels, steps: int = 25, guidance: float = 2.0, seed: int = 0,
             trajectory: list = None) -> np.ndarray:
    """Images (N, 1, 16, 16) float32 in [-1, 1], one per requested label, from pure noise.

    ``scheduler`` is a diffusers scheduler (see :func:`make_scheduler`); ``steps`` its number of
    denoising steps; ``guidance`` the classifier-free guidance scale (0: ignore the label,
    1: the label's prediction alone, >1: pushed further towards the label). The same ``seed``
    gives the same images: the start noise and any noise a sampler adds come from one
    ``torch.Generator`` seeded with it. Pass a list as ``trajectory`` to receive the images
    after every step (numpy arrays, clipped to [-1, 1]).
    """
    labels = _checked_labels(labels)
    most_steps = scheduler.config.num_train_timesteps
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= most_steps:
        raise ValueError(f"steps must be a whole number from 1 to {most_steps} (the noise levels the model "
                         f"was trained on), got {steps!r}")
    if isinstance(guidance, (bool, np.bool_)) or not isinstance(guidance, (int, float, np.number)) \
            or not 0 <= guidance < float("inf"):
        raise ValueError(f"guidance must be a number, 0 or more, got {guidance!r}")
    generator = torch.Generator().manual_seed(int(seed))
    cfg = unet.config
    x = torch.randn((len(labels), cfg.in_channels, cfg.sample_size, cfg.sample_size), generator=generator)
    x = x * scheduler.init_noise_sigma
    scheduler.set_timesteps(steps)
    empty = torch.full_like(labels, NO_PROMPT)
    # DDIM: re-derive the noise from the clipped clean-image estimate (else strong guidance overshoots)
    extra = {"use_clipped_model_output": True} if isinstance(scheduler, DDIMScheduler) else {}
    for t in scheduler.timesteps:
        x_in = scheduler.scale_model_input(x, t)
        if guidance == 0.0:
            eps = unet(x_in, t, class_labels=empty).sample
        elif guidance == 1.0:
            eps = unet(x_in, t, class_labels=labels).sample
        else:
            both = unet(torch.cat([x_in, x_in]), t, class_labels=torch.cat([labels, empty])).sample
            cond, uncond = both.chunk(2)
            eps = uncond + guidance * (cond - uncond)
        x = scheduler.step(eps, t, x, generator=generator, **extra).prev_sample
        if trajectory is not None:
            trajectory.append(x.clamp(-1.0, 1.0).numpy().copy())
    return x.clamp(-1.0, 1.0).numpy()


def _checked_labels(labels) -> torch.Tensor:
    """``labels`` as a 1-D long tensor, or a ValueError naming what is allowed (whole numbers 0-10)."""
    values = np.asarray(labels, dtype=object).reshape(-1)
    if len(values) == 0:
        raise ValueError("no labels: ask for at least one image")
    whole = [isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values]
    if not all(whole) or min(values) < 0 or max(values) > NO_PROMPT:
        raise ValueError(f"labels must be whole numbers: digits 0-9 or {NO_PROMPT} (no prompt), got {values.tolist()}")
    return torch.as_tensor(values.astype(np.int64), dtype=torch.long)


def balanced_labels(n_per_digit: int) -> np.ndarray:
    """Labels 0,0,...,1,1,...,9: each digit ``n_per_digit`` times in a row (one grid row per digit)."""
    if n_per_digit < 1:
        raise ValueError(f"n_per_digit must be at least 1, got {n_per_digit}")
    return np.repeat(np.arange(N_DIGITS), n_per_digit)


def measure_quality(pipe, judge, scheduler: str, steps: int, guidance: float, n_per_digit: int,
                    seed: int = 0, stats=None) -> dict:
    """Generate ``n_per_digit`` images of each digit and judge them.

    Returns {"scheduler", "steps", "guidance", "images", "recognised (share)", "seconds"}: the
    share (0-1) the judge reads as the requested digit, and the wall-clock seconds of generation.
    With ``stats`` (:func:`helpers.images.digits_data.digit_stats` of real digits) also "frechet distance"
    (:func:`helpers.images.digits_data.frechet_distance`; lower is better).
    """
    from helpers.images.digits_data import frechet_distance, recognised_share

    labels = balanced_labels(n_per_digit)
    start = time.perf_counter()
    images = pipe(labels, num_inference_steps=steps, guidance_scale=guidance, seed=seed, scheduler=scheduler)
    seconds = time.perf_counter() - start
    row = {"scheduler": scheduler, "steps": steps, "guidance": guidance, "images": len(labels),
           "recognised (share)": recognised_share(judge, images, labels), "seconds": seconds}
    if stats is not None:
        row["frechet distance"] = frechet_distance(stats, images)
    return row


def unet_evaluations(steps: int, guidance: float) -> int:
    """UNet evaluations per image: one per step, two with classifier-free guidance (guidance not 0 or 1)."""
    return steps * (1 if guidance in (0.0, 1.0) else 2)


class DigitsPipeline(DiffusionPipeline):
    """The digits model as a diffusers pipeline: a UNet and a scheduler, saved and loaded as a folder."""

    def __init__(self, unet: UNet2DModel, scheduler):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    def __call__(self, labels, num_inference_steps: int = 25, guidance_scale: float = 2.0, seed: int = 0,
                 scheduler: str = "DDIM") -> np.ndarray:
        """Images (N, 1, 16, 16) in [-1, 1] for ``labels`` (see :func:`generate`)."""
        return generate(self.unet, make_scheduler(scheduler, self.scheduler.config), labels,
                        num_inference_steps, guidance_scale, seed)


def save_pipeline(pipe: DigitsPipeline, out_dir, log: dict) -> Path:
    """``save_pretrained`` (safetensors) + ``train_log.json`` into ``out_dir``, file by file atomically.

    Everything is first written to a temporary folder beside ``out_dir``; each file then replaces
    its old version with a rename. Other files already in ``out_dir`` (its README) are kept.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        pipe.save_pretrained(tmp, safe_serialization=True)
        (tmp / "train_log.json").write_text(json.dumps(log) + "\n", encoding="utf-8")
        for f in sorted(p for p in tmp.rglob("*") if p.is_file()):
            target = out_dir / f.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(f, 0o644)
            os.replace(f, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _check_unet(unet: UNet2DModel) -> None:
    cfg = unet.config
    if cfg.num_class_embeds != NUM_CLASS_EMBEDS or cfg.in_channels != 1 or cfg.out_channels != 1:
        raise CheckpointError(
            f"this UNet has num_class_embeds={cfg.num_class_embeds}, in_channels={cfg.in_channels}, "
            f"out_channels={cfg.out_channels}; the digits pipeline needs {NUM_CLASS_EMBEDS}, 1 and 1.")


@contextmanager
def quiet_diffusers():
    """Silence diffusers' loading progress bars and notices (notebook outputs stay clean)."""
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(verbosity)
        diffusers_logging.enable_progress_bar()


def load_pipeline(path=SHIPPED_DIR, available_bytes: int = None) -> DigitsPipeline:
    """Check ``path`` (:func:`helpers.images.checkpoint_check.check_checkpoint`), then load it offline.

    Accepts the pipeline folder this module saves, a UNet folder (``config.json`` + safetensors;
    the shipped scheduler is used) or a single ``.safetensors`` file of a UNet with the shipped
    shape. Raises CheckpointError (a ValueError) for anything else. ``available_bytes``: memory
    the tensors may take (default: RAM available now).
    """
    path = Path(path)
    report = check_checkpoint(path, available_bytes=available_bytes)
    with quiet_diffusers():
        if report.kind == "diffusers pipeline folder":
            pipe = DigitsPipeline.from_pretrained(path, use_safetensors=True, low_cpu_mem_usage=False)
            _check_unet(pipe.unet)
            pipe.unet.eval()
            return pipe
        scheduler = DDIMScheduler.from_pretrained(SHIPPED_DIR, subfolder="scheduler")
        if report.kind == "diffusers model folder":
            unet = UNet2DModel.from_pretrained(path, use_safetensors=True, low_cpu_mem_usage=False)
        else:
            from safetensors.torch import load_file

            unet = UNet2DModel.from_config(UNet2DModel.load_config(SHIPPED_DIR, subfolder="unet"))
            state = load_file(str(path))
            try:
                missing, unexpected = unet.load_state_dict(state, strict=False)
            except RuntimeError as e:  # tensors of the right names but other shapes
                raise CheckpointError(f"{path.name} does not fit the shipped UNet's shape: "
                                      f"{str(e).splitlines()[-1].strip()}") from None
            if missing or unexpected:
                raise CheckpointError(
                    f"{path.name} does not fit the shipped UNet's shape: {len(missing)} tensors missing "
                    f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {list(unexpected)[:2]}).")
    _check_unet(unet)
    return DigitsPipeline(unet=unet.eval(), scheduler=scheduler)


def training_data() -> tuple:
    """(images, labels) the model trains on: the training part of :func:`helpers.images.digits_data.split`."""
    train_part, _ = split(load_digits_16())
    return train_part.images, train_part.labels


def run(preset: str, out_dir, threads: int = 2, progress: bool = True) -> dict:
    """Train a preset from scratch and save the pipeline and its log into ``out_dir``."""
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} unknown; choose from {sorted(PRESETS)}")
    shape, settings = PRESETS[preset]
    torch.set_num_threads(threads)
    images, labels = training_data()
    unet = make_unet(shape, seed=settings.seed)
    schedule = noise_schedule(settings.num_train_timesteps)
    hist = train(unet, schedule, images, labels, settings, progress=progress)
    log = {"preset": preset, "shape": asdict(shape), "settings": asdict(settings),
           "parameters": n_parameters(unet), "training_images": int(len(labels)), "threads": threads,
           "training_seconds": hist.pop("seconds"), "history": hist, "torch": torch.__version__,
           "command": f"python -m helpers.images.digits_diffusion train --preset {preset} --out <folder> "
                      f"--threads {threads}"}
    save_pipeline(DigitsPipeline(unet=unet, scheduler=schedule), out_dir, log)
    return log


def load_log(folder=SHIPPED_DIR) -> dict:
    """The ``train_log.json`` written beside a saved pipeline."""
    return json.loads((Path(folder) / "train_log.json").read_text(encoding="utf-8"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a preset and save the pipeline")
    t.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    t.add_argument("--out", default="build/digits_diffusion_ci")
    t.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    log = run(args.preset, args.out, args.threads)
    losses = log["history"]["loss"]
    print(f"trained {args.preset} ({log['parameters']:,} parameters) in {log['training_seconds']} s; "
          f"mean loss of the last 50 steps {np.mean(losses[-50:]):.4f}", file=sys.stdout)


if __name__ == "__main__":
    main()
