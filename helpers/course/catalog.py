"""The course's catalogs in ``data/``: models, GPUs and GGUF quantization types, each row with a source.

Loading validates every row (ranges, required source) so a typo in a CSV fails loudly, and a name
that is not in a catalog is refused with the closest names suggested (difflib).
Units: GPU memory in GiB (2**30 bytes; see ``memory_unit_note``), bandwidth in GB/s (10**9 bytes/s),
FP16 throughput in TFLOPS, power in W, price in US dollars.
"""
import csv
import difflib
import math
from dataclasses import dataclass
from functools import lru_cache

from helpers.course.paths import DATA_DIR
from helpers.memory.architecture import Architecture

GPU_KINDS = ("discrete", "unified", "cpu")
# Families of devices that share one fitted speed model (``helpers.hardware.device_speed``), with the
# kind of memory each has: a card's own VRAM, memory shared with the CPU, or system RAM alone.
DEVICE_CLASSES = {
    "nvidia-consumer": "discrete", "nvidia-workstation": "discrete", "nvidia-datacenter": "discrete",
    "amd-consumer": "discrete", "amd-instinct": "discrete", "intel-discrete": "discrete",
    "apple": "unified", "integrated": "unified", "cpu": "cpu",
}


def _squeezed(text) -> str:
    return str(text).lower().replace(" ", "")


def _names_part(query, name: str) -> bool:
    """Whether ``query``'s words start consecutive words of ``name`` ("3060" and "rtx 3060" in "RTX 3060 12GB")."""
    want, words = str(query).lower().split(), name.lower().split()
    return bool(want) and any(all(w.startswith(q) for w, q in zip(words[i:], want)) for i in range(len(words) - len(want) + 1))


def suggest(name: str, choices) -> str:
    """'did you mean ...?' text: the entries of ``choices`` that contain ``name`` (case and spaces forgiven), else
    the closest spellings."""
    choices = list(choices)
    containing = [c for c in choices if _names_part(name, c)]
    lowered = {c.lower(): c for c in choices}
    close = containing[:4] or [lowered[c] for c in difflib.get_close_matches(str(name).lower(), lowered, n=3, cutoff=0.4)]
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return f"choose one of {choices!r}"


def _find(name: str, rows: dict, what: str):
    """The row called ``name``: exactly, with case and spaces forgiven, or the one name it starts words of ("3060")."""
    if name in rows:
        return rows[name]
    for key, row in rows.items():
        if _squeezed(key) == _squeezed(name):
            return row
    containing = [key for key in rows if _names_part(name, key)]
    if len(containing) == 1:
        return rows[containing[0]]
    raise ValueError(f"unknown {what} {name!r}; {suggest(name, rows)}")


def _read_csv(filename: str) -> list:
    path = DATA_DIR / filename
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows, start=2):
        if not row.get("source", "").strip():
            raise ValueError(f"{filename} line {i}: every row needs a source")
    return rows


def _number(row: dict, key: str, low: float, high: float, filename: str) -> float:
    value = float(row[key])
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{filename}: {row.get('name', row.get('type'))!r} {key}={row[key]!r} outside [{low}, {high}]")
    return value


def _bool(text: str) -> bool:
    if text.strip().lower() not in ("true", "false"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text.strip().lower() == "true"


# --- models ------------------------------------------------------------------------------------

# The whole-number columns of data/models.csv: config.json figures (see ``Architecture``).
MODEL_INT_COLUMNS = ("n_layers", "hidden", "ffn", "n_heads", "n_kv_heads", "head_dim", "vocab", "max_context",
                     "n_experts", "n_experts_used", "expert_ffn", "n_shared_experts", "n_dense_layers",
                     "sliding_window", "swa_period", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "v_head_dim")


@dataclass(frozen=True)
class CatalogModel:
    """A model of ``data/models.csv``: its architecture, published parameter count and source."""

    architecture: Architecture
    params_published_b: float  # billions of parameters, as the model card states
    source: str

    @property
    def name(self) -> str:
        return self.architecture.name


@lru_cache(maxsize=1)
def load_models() -> dict:
    """``data/models.csv`` as {name: CatalogModel}."""
    out = {}
    for row in _read_csv("models.csv"):
        ints = {k: int(row[k]) for k in MODEL_INT_COLUMNS}
        arch = Architecture(name=row["name"], family=row["family"], tied_embeddings=_bool(row["tied_embeddings"]),
                            tokenizer=row["tokenizer"], **ints)
        out[row["name"]] = CatalogModel(arch, _number(row, "params_published_b", 0.01, 2000, "models.csv"),
                                        row["source"])
    return out


def get_model(name: str) -> CatalogModel:
    """The catalog model called ``name``; unknown names raise ValueError with close matches."""
    return _find(name, load_models(), "model")


# --- GPUs --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GPU:
    """A GPU or machine of ``data/gpus.csv``.

    ``memory_gib``: the marketed "GB" figure, which vendors mean as GiB (2**30 bytes) for VRAM
    and unified memory (a "24 GB" RTX 3090 reports 24 GiB in nvidia-smi).
    """

    name: str
    kind: str  # discrete, unified or cpu
    memory_gib: float
    bandwidth_gbps: float  # GB/s, 10**9 bytes per second
    fp16_tflops: float
    device_class: str  # a key of DEVICE_CLASSES: which fitted speed model describes it
    power_w: float
    price_usd: float
    price_date: str
    source: str

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 2**30)


# The system RAM beside a discrete GPU when none is named: the machine notebooks 09-13 compare with.
DEFAULT_SYSTEM_RAM = "CPU desktop DDR5-5600 dual-channel"


def _device_class(row: dict, filename: str, kind: str = None) -> str:
    """The row's device class, checked against DEVICE_CLASSES and (when given) the row's kind of memory."""
    device_class = row["device_class"]
    if device_class not in DEVICE_CLASSES:
        raise ValueError(f"{filename}: {row['name']!r} device_class must be one of {sorted(DEVICE_CLASSES)}, "
                         f"got {device_class!r}")
    if kind is not None and DEVICE_CLASSES[device_class] != kind:
        raise ValueError(f"{filename}: {row['name']!r} is {kind} but device_class {device_class!r} is "
                         f"{DEVICE_CLASSES[device_class]}")
    return device_class


@lru_cache(maxsize=1)
def load_gpus() -> dict:
    """``data/gpus.csv`` as {name: GPU}."""
    out = {}
    for row in _read_csv("gpus.csv"):
        if row["kind"] not in GPU_KINDS:
            raise ValueError(f"gpus.csv: {row['name']!r} kind must be one of {GPU_KINDS}, got {row['kind']!r}")
        out[row["name"]] = GPU(
            name=row["name"], kind=row["kind"],
            memory_gib=_number(row, "memory_gib", 1, 4096, "gpus.csv"),
            bandwidth_gbps=_number(row, "bandwidth_gbps", 1, 20000, "gpus.csv"),
            fp16_tflops=_number(row, "fp16_tflops", 0.1, 5000, "gpus.csv"),
            device_class=_device_class(row, "gpus.csv", row["kind"]),
            power_w=_number(row, "power_w", 1, 5000, "gpus.csv"),
            price_usd=_number(row, "price_usd", 1, 100000, "gpus.csv"),
            price_date=row["price_date"], source=row["source"],
        )
    return out


def get_gpu(name: str) -> GPU:
    """The catalog GPU called ``name``; unknown names raise ValueError with close matches."""
    return _find(name, load_gpus(), "GPU")


@dataclass(frozen=True)
class BenchmarkDevice:
    """A device of ``data/benchmark_devices.csv``: one that published speeds were measured on but that the
    buying catalog (``data/gpus.csv``) does not list. Memory in GiB, bandwidth in GB/s (10**9 bytes/s)."""

    name: str
    device_class: str
    memory_gib: object  # float, or None where the source does not say
    bandwidth_gbps: float
    source: str  # of the bandwidth

    @property
    def kind(self) -> str:
        return DEVICE_CLASSES[self.device_class]


@lru_cache(maxsize=1)
def load_devices() -> dict:
    """Every device with a known bandwidth: the GPUs of ``data/gpus.csv`` and ``data/benchmark_devices.csv``.

    {name: GPU or BenchmarkDevice}; a name in both files is refused (one home per device).
    """
    devices = dict(load_gpus())
    for row in _read_csv("benchmark_devices.csv"):
        if row["name"] in devices:
            raise ValueError(f"benchmark_devices.csv: {row['name']!r} is already in gpus.csv; keep it in one file")
        devices[row["name"]] = BenchmarkDevice(
            row["name"], _device_class(row, "benchmark_devices.csv"),
            _number(row, "memory_gib", 0.5, 4096, "benchmark_devices.csv") if row["memory_gib"].strip() else None,
            _number(row, "bandwidth_gbps", 1, 20000, "benchmark_devices.csv"), row["source"])
    return devices


def get_device(name: str):
    """A device of :func:`load_devices` (a ``GPU`` or a ``BenchmarkDevice``); unknown names raise with close matches."""
    return _find(name, load_devices(), "device")


# --- GGUF quantization types -------------------------------------------------------------------

FIELD_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "u8": 1, "i8": 1, "u16": 2, "i16": 2}


def layout_bytes(layout: str) -> int:
    """Bytes of one block from its struct layout, e.g. 'd:f16 dmin:f16 scales:u8x12 qs:u8x128' -> 144."""
    total = 0
    for field in layout.split():
        name, _, ctype = field.partition(":")
        base, _, count = ctype.partition("x")
        if base not in FIELD_BYTES:
            raise ValueError(f"unknown field type {base!r} in layout {layout!r}; allowed: {sorted(FIELD_BYTES)}")
        total += FIELD_BYTES[base] * (int(count) if count else 1)
    return total


@dataclass(frozen=True)
class QuantType:
    """A ggml tensor type: ``block_size`` weights stored in ``bytes_per_block`` bytes."""

    name: str
    ggml_type_id: int
    block_size: int
    bytes_per_block: int
    layout: str
    source: str

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.bytes_per_block / self.block_size


@lru_cache(maxsize=1)
def load_quant_types() -> dict:
    """``data/quant_types.csv`` as {name: QuantType}; each row's byte count must match its layout."""
    out = {}
    for row in _read_csv("quant_types.csv"):
        qt = QuantType(row["type"], int(row["ggml_type_id"]), int(row["block_size"]), int(row["bytes_per_block"]),
                       row["layout"], row["source"])
        if layout_bytes(qt.layout) != qt.bytes_per_block:
            raise ValueError(f"quant_types.csv: {qt.name} layout gives {layout_bytes(qt.layout)} bytes, "
                             f"row says {qt.bytes_per_block}")
        if not math.isclose(float(row["bits_per_weight"]), qt.bits_per_weight):
            raise ValueError(f"quant_types.csv: {qt.name} bits_per_weight {row['bits_per_weight']} != "
                             f"{qt.bits_per_weight}")
        out[qt.name] = qt
    return out


# --- published GGUF file sizes -----------------------------------------------------------------

@lru_cache(maxsize=1)
def load_published_sizes() -> list:
    """``data/published_gguf_sizes.csv``: file sizes as model hubs show them (GB = 10**9 bytes), with source."""
    rows = _read_csv("published_gguf_sizes.csv")
    models = load_models()
    for row in rows:
        if row["model"] not in models:
            raise ValueError(f"published_gguf_sizes.csv: unknown model {row['model']!r}; {suggest(row['model'], models)}")
        _number(row, "published_gb", 0.001, 2000, "published_gguf_sizes.csv")
        row["imatrix"], row["legacy_qkv"] = _bool(row["imatrix"]), _bool(row["legacy_qkv"])
    return rows
