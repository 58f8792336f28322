"""Published llama.cpp generation speeds (``data/published_speeds.csv``, one source per row) beside the estimate.

Speeds in tokens/s. A llama-bench ``tgN`` test generates N tokens from an empty context, and a
token's time grows linearly with the tokens before it (their KV cache is read), so its average
speed is the speed at the mean context, N / 2 tokens: the ``mean_context_tokens`` column. A chat
session's context is not published; those rows leave it empty.
"""
import csv
from dataclasses import dataclass

from helpers.course.catalog import get_gpu, get_model
from helpers.course.paths import DATA_DIR
from helpers.hardware.roofline import BANDWIDTH_EFFICIENCY, generation_tokens_per_second, weight_and_kv_bytes

PUBLISHED_SPEEDS_CSV = DATA_DIR / "published_speeds.csv"


@dataclass(frozen=True)
class PublishedSpeed:
    """One published run: the device (a ``data/gpus.csv`` row) and model (``data/models.csv``), all layers on it
    (``n_gpu_layers`` "all") or none ("0", CPU only)."""

    device: str
    model: str
    mix: str
    test: str  # "tg512" (llama-bench) or "chat"
    mean_context_tokens: object  # int, or None when not published
    n_gpu_layers: str
    tokens_per_second: float
    engine: str
    date: str
    note: str
    source: str

    @property
    def is_benchmark(self) -> bool:
        return self.mean_context_tokens is not None


def load_published_speeds(path=PUBLISHED_SPEEDS_CSV) -> list:
    """Every row of the published-speeds file, checked: a known device and model, a positive speed, a source."""
    rows = []
    with open(path, newline="") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            kind = get_gpu(r["device"]).kind  # unknown names raise, naming what exists
            get_model(r["model"])
            speed = float(r["tokens_per_second"])
            context = r["mean_context_tokens"].strip()
            layers = "0" if kind == "cpu" else "all"  # the estimate covers a model in one kind of memory only
            if not speed > 0 or not r["source"].startswith("https://") or r["n_gpu_layers"] != layers:
                raise ValueError(f"{path.name} line {line}: need tokens_per_second > 0, an https source and "
                                 f"n_gpu_layers {layers!r} on a {kind} device; got {r['tokens_per_second']!r}, "
                                 f"{r['source']!r}, {r['n_gpu_layers']!r}")
            rows.append(PublishedSpeed(r["device"], r["model"], r["mix"], r["context_note"],
                                       int(context) if context else None, r["n_gpu_layers"], speed, r["engine"],
                                       r["date"], r["note"], r["source"]))
    return rows


@dataclass(frozen=True)
class SpeedCheck:
    """A published run beside the estimate at its context (tokens/s)."""

    published: PublishedSpeed
    estimate_context_tokens: int  # the run's mean context, or 0 (weights only, an upper bound) when unknown
    estimate: float

    @property
    def ratio(self) -> float:
        """Estimate / published: above 1, the estimate is too high."""
        return self.estimate / self.published.tokens_per_second

    @property
    def efficiency_reached(self) -> float:
        """The share of the device's peak bandwidth this run reached, counting the bytes the estimate counts."""
        device = get_gpu(self.published.device)
        nbytes = weight_and_kv_bytes(get_model(self.published.model).architecture, self.published.mix,
                                     self.estimate_context_tokens)
        return self.published.tokens_per_second * nbytes / (device.bandwidth_gbps * 1e9)

    @property
    def efficiency_assumed(self) -> float:
        return BANDWIDTH_EFFICIENCY[get_gpu(self.published.device).kind]


def check_published(rows=None) -> list:
    """Each published run beside ``generation_tokens_per_second`` at its mean context (all in one memory)."""
    checks = []
    for row in load_published_speeds() if rows is None else rows:
        context = row.mean_context_tokens or 0
        estimate = generation_tokens_per_second(get_model(row.model).architecture, row.mix, context,
                                                get_gpu(row.device))
        checks.append(SpeedCheck(row, context, estimate))
    return checks
