"""Published llama.cpp speeds (``data/published_speeds.csv``): one row per device, model, quant and test, sourced.

Speeds in tokens/s. Most rows are llama-bench results: ``tgN`` generates N tokens, ``ppN`` processes a
prompt of N tokens, both after ``depth`` tokens already in the context (llama-bench's ``-d``, 0 by
default). A token's generation time grows with the tokens before it (their KV cache is read), so a
``tgN`` average is the speed at the mean context, ``depth + N / 2`` tokens. A chat session's context is
not published; those rows (test ``chat``) have none and are not benchmarks.

A few runs are kept but marked ``not_fitted_because``: setups outside what the speed model describes
(a GPU behind a single-board computer's CPU, a vendor's fork, two CPU sockets), shown beside the
others, never fitted to.

Every row names its device (``helpers.course.catalog.load_devices``: the buying catalog or
``data/benchmark_devices.csv``, each with its bandwidth and that figure's source), the llama.cpp build,
backend and flash-attention setting, and its source: a public page, or a results file of this
repository that a measurement of the course's own wrote (``benchmarks/gpu_check.py``).
"""
import csv
import re
from dataclasses import dataclass

from helpers.course.catalog import get_device, get_model
from helpers.course.paths import DATA_DIR, REPO_ROOT
from helpers.memory.gguf_size import check_mix

PUBLISHED_SPEEDS_CSV = DATA_DIR / "published_speeds.csv"
COLUMNS = ("device", "model", "mix", "test", "depth", "tokens_per_second", "backend", "build", "flash_attn",
           "n_gpu_layers", "date", "source", "note", "not_fitted_because")
BACKENDS = ("CUDA", "ROCm", "Vulkan", "Metal", "SYCL", "CPU")
FLASH_ATTN = ("0", "1", "unknown")
OWN_RESULTS = "benchmarks/results/"  # sources of the course's own measurements start here
TEST = re.compile(r"^(tg|pp)([1-9][0-9]*)$")


@dataclass(frozen=True)
class PublishedSpeed:
    """One published run, all layers on one device (``n_gpu_layers`` "all") or on the CPU alone ("0")."""

    device: str
    model: str
    mix: str
    test: str  # "tg128", "pp512", ... (llama-bench) or "chat"
    depth: object  # tokens in the context before the test (int), None for a chat
    tokens_per_second: float
    backend: str
    build: str
    flash_attn: str  # "0", "1" or "unknown"
    n_gpu_layers: str
    date: str
    source: str
    note: str
    not_fitted_because: str = ""  # why the speed model is not fitted to this run; "" when it is

    @property
    def is_benchmark(self) -> bool:
        return self.test != "chat"

    @property
    def phase(self) -> str:
        """"generation" (tgN), "prompt" (ppN) or "chat"."""
        return {"tg": "generation", "pp": "prompt"}.get(self.test[:2], "chat")

    @property
    def test_tokens(self) -> int:
        """N of tgN or ppN."""
        return int(TEST.match(self.test).group(2))

    @property
    def mean_context_tokens(self):
        """The context a ``tgN`` run's average speed stands for, depth + N / 2 tokens; None otherwise."""
        return self.depth + self.test_tokens // 2 if self.phase == "generation" else None


def _check_row(r: dict, line: int, name: str) -> PublishedSpeed:
    def refuse(what):
        raise ValueError(f"{name} line {line}: {what}")

    kind = get_device(r["device"]).kind  # unknown names raise, naming what exists
    get_model(r["model"])
    check_mix(r["mix"])
    if not (TEST.match(r["test"]) or r["test"] == "chat"):
        refuse(f"test must be tgN, ppN or chat, got {r['test']!r}")
    depth = r["depth"].strip()
    if r["test"] == "chat":
        if depth:
            refuse(f"a chat has no depth, got {depth!r}")
    elif not depth.isdigit():
        refuse(f"depth must be a whole number of tokens >= 0, got {depth!r}")
    speed = float(r["tokens_per_second"])
    if not speed > 0:
        refuse(f"need tokens_per_second > 0, got {r['tokens_per_second']!r}")
    if r["backend"] not in BACKENDS or r["flash_attn"] not in FLASH_ATTN:
        refuse(f"backend must be one of {BACKENDS} and flash_attn one of {FLASH_ATTN}, got "
               f"{r['backend']!r}, {r['flash_attn']!r}")
    layers = "0" if kind == "cpu" else "all"  # the estimate covers a model in one kind of memory only
    if r["n_gpu_layers"] != layers:
        refuse(f"need n_gpu_layers {layers!r} on a {kind} device, got {r['n_gpu_layers']!r}")
    if not re.match(r"^20[0-9]{2}-[01][0-9]$", r["date"]) or not r["build"].strip():
        refuse(f"need a date YYYY-MM and a build ('unknown' if not published), got {r['date']!r}, {r['build']!r}")
    source = r["source"]
    own = source.startswith(OWN_RESULTS) and (REPO_ROOT / source).is_file()
    if not (source.startswith("https://") or own):
        refuse(f"need an https source or an existing {OWN_RESULTS} file, got {source!r}")
    return PublishedSpeed(r["device"], r["model"], r["mix"], r["test"], int(depth) if depth else None, speed,
                          r["backend"], r["build"], r["flash_attn"], r["n_gpu_layers"], r["date"], source, r["note"],
                          r["not_fitted_because"].strip())


def load_published_speeds(path=PUBLISHED_SPEEDS_CSV) -> list:
    """Every row of the published-speeds file, checked: known device, model and mix, a test, a speed, a source."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path.name}: columns must be {COLUMNS}, got {reader.fieldnames}")
        return [_check_row(r, line, path.name) for line, r in enumerate(reader, start=2)]
