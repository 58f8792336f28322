"""Train the course's tiny Llama on the Shakespeare corpus, on CPU, seeded.

    python -m helpers.training.train --preset learner --out data/tiny_llama   # the shipped model
    python -m helpers.training.train --preset quick --out build/tiny_llama_quick    # seconds

Writes into ``--out``: ``vocab.json``, ``config.json``, ``model.safetensors`` (float32),
``train_log.json`` (loss history, timings, seed, preset) and the GGUF files (see ``helpers.training.export``).
"""
import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers.course.atomic import atomic_path, write_text_atomic
from helpers.training.checkpoint import save_model
from helpers.training.corpus import load_split
from helpers.training.export import export_all
from helpers.training.tiny_llama import LlamaConfig, TinyLlama
from helpers.training.tokenizer import SpmVocab, train_spm_bpe


@dataclass
class TrainSettings:
    """Optimisation settings. ``batch_size`` sequences of ``seq_len`` tokens per step."""
    steps: int
    batch_size: int
    seq_len: int
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.1
    eval_every: int = 50
    seed: int = 1234

    def __post_init__(self):
        for name in ("steps", "batch_size", "seq_len", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be a whole number of steps >= 0, got {self.warmup!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < float("inf")):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")


PRESETS = {
    "quick": (LlamaConfig(vocab_size=512, d_model=64, n_layer=2, n_head=4, n_kv_head=2, d_ff=256,
                       n_ctx=128),
           TrainSettings(steps=30, batch_size=8, seq_len=64, warmup=5, eval_every=10)),
    "learner": (LlamaConfig(vocab_size=1024, d_model=128, n_layer=4, n_head=4, n_kv_head=2,
                            d_ff=512, n_ctx=256),
                TrainSettings(steps=250, batch_size=16, seq_len=128, warmup=20, eval_every=25)),
}


def speeches_to_ids(text: str, vocab: SpmVocab, speeches_per_chunk: int = 20) -> np.ndarray:
    """One token stream: chunks of ``speeches_per_chunk`` speeches (blank-line separated), each
    chunk encoded as BOS + its text + "\n\n".

    Inside a chunk a speaker's name follows "\n\n" with no space token, as in generated text;
    at a chunk start it follows BOS with the tokenizer's leading space, as in a prompt.
    """
    speeches = [s.strip("\n") for s in text.split("\n\n") if s.strip()]
    ids = []
    for i in range(0, len(speeches), speeches_per_chunk):
        ids.extend(vocab.encode("\n\n".join(speeches[i:i + speeches_per_chunk]) + "\n\n", add_bos=True))
    return np.asarray(ids, dtype=np.int64)


def random_batch(stream: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator):
    """(inputs, targets) of shape (batch, seq_len): random windows, targets shifted by one token."""
    if len(stream) <= seq_len + 1:
        raise ValueError(f"token stream of {len(stream)} is too short for seq_len {seq_len}")
    starts = rng.integers(0, len(stream) - seq_len - 1, size=batch_size)
    windows = np.stack([stream[s:s + seq_len + 1] for s in starts])
    return torch.from_numpy(windows[:, :-1]), torch.from_numpy(windows[:, 1:])


def lr_at(step: int, s: TrainSettings) -> float:
    """Linear warm-up then cosine decay to 10% of ``s.lr``."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    progress = (step - s.warmup) / max(1, s.steps - s.warmup)
    return s.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def mean_loss(model: TinyLlama, stream: np.ndarray, seq_len: int, n_windows: int = 16) -> float:
    """Mean cross-entropy (nats/token) over ``n_windows`` evenly spaced windows of ``stream``."""
    starts = np.linspace(0, len(stream) - seq_len - 2, n_windows).astype(int)
    x = torch.from_numpy(np.stack([stream[s:s + seq_len] for s in starts]))
    y = torch.from_numpy(np.stack([stream[s + 1:s + seq_len + 1] for s in starts]))
    model.eval()
    loss = model(x, y)[1].item()
    model.train()
    return loss


def train(model: TinyLlama, train_ids, heldout_ids, s: TrainSettings, progress: bool = True) -> dict:
    """Train in place with AdamW; return the history {step, loss, eval_step, heldout_loss, seconds}."""
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=s.lr, betas=(0.9, 0.95))
    hist = {"step": [], "loss": [], "eval_step": [], "heldout_loss": []}
    start = time.perf_counter()
    bar = tqdm(range(s.steps), disable=not progress, desc="training")
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, s)
        x, y = random_batch(train_ids, s.batch_size, s.seq_len, rng)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        hist["step"].append(step)
        hist["loss"].append(round(loss.item(), 4))
        if (step + 1) % s.eval_every == 0 or step + 1 == s.steps:
            hist["eval_step"].append(step)
            hist["heldout_loss"].append(round(mean_loss(model, heldout_ids, s.seq_len), 4))
            bar.set_postfix(loss=hist["loss"][-1], heldout=hist["heldout_loss"][-1])
    hist["seconds"] = round(time.perf_counter() - start, 1)
    return hist


def run(preset: str, out_dir, threads: int = 2, progress: bool = True) -> dict:
    """Tokenizer + model training for a preset, then safetensors, log and GGUF export."""
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} unknown; choose from {sorted(PRESETS)}")
    cfg, settings = PRESETS[preset]
    torch.set_num_threads(threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_text, heldout_text = load_split("train"), load_split("heldout")
    t0 = time.perf_counter()
    vocab, _ = train_spm_bpe(train_text, cfg.vocab_size)
    tokenizer_seconds = time.perf_counter() - t0
    with atomic_path(out_dir / "vocab.json") as tmp:
        vocab.save(tmp)
    train_ids = speeches_to_ids(train_text, vocab)
    heldout_ids = speeches_to_ids(heldout_text, vocab)
    torch.manual_seed(settings.seed)
    model = TinyLlama(cfg)
    hist = train(model, train_ids, heldout_ids, settings, progress=progress)
    save_model(model, out_dir)
    log = {"preset": preset, "config": asdict(cfg), "settings": asdict(settings),
           "threads": threads, "tokenizer_seconds": round(tokenizer_seconds, 1),
           "train_tokens": int(len(train_ids)), "heldout_tokens": int(len(heldout_ids)),
           "training_seconds": hist.pop("seconds"), "history": hist,
           "torch": torch.__version__}
    write_text_atomic(out_dir / "train_log.json", json.dumps(log) + "\n")
    export_all(out_dir)
    return log


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--out", default="build/tiny_llama_ci")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    log = run(args.preset, args.out, args.threads)
    print(f"trained {args.preset} in {log['training_seconds']} s; "
          f"final heldout loss {log['history']['heldout_loss'][-1]}")


if __name__ == "__main__":
    main()
