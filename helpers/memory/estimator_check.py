"""Check the size estimator against llama.cpp itself: write a small random-weight GGUF of a real
architecture, quantize it with llama.cpp's own quantizer, load it, and compare the file tensor by
tensor and the KV cache and compute buffer llama.cpp reports with the prediction.

``REDUCED`` holds small configurations of the newer families (sliding-window Gemma 3 and gpt-oss,
the mixtures of experts Qwen3 MoE, gpt-oss and DeepSeek, DeepSeek's latent attention): each keeps its
family's tensor layout, layer pattern and cache layout, with small widths so a file is a few MB.
Sizes in bytes. A family runs in a second or two on a CPU; nothing is downloaded.

``check_published_buffers`` does the same against GPUs: the KV cache and compute buffer llama.cpp
reported when people loaded real models on CUDA, Metal and Vulkan (``data/published_buffers.csv``,
each log with its source, settings and build), beside the estimate for the same settings.
"""
import contextlib
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from helpers.course.catalog import get_model
from helpers.course.paths import DATA_DIR
from helpers.gguf.header import open_checked
from helpers.memory.architecture import Architecture
from helpers.memory.gguf_size import gguf_file_size, predicted_tensors
from helpers.memory.llama_log import cpu_buffers
from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes

_SMALL = dict(vocab=1024, max_context=8192, tokenizer="spm")
# Reduced configurations: the family's layout at small widths (rows stay multiples of 32 for MXFP4/Q8_0).
REDUCED = {
    "gemma3": Architecture("Gemma 3 (reduced)", n_layers=12, hidden=256, ffn=512, n_heads=4, n_kv_heads=2,
                           head_dim=64, family="gemma3", tied_embeddings=True, sliding_window=512, swa_period=6,
                           **_SMALL),
    "qwen3moe": Architecture("Qwen3 MoE (reduced)", n_layers=4, hidden=256, ffn=768, n_heads=8, n_kv_heads=2,
                             head_dim=64, family="qwen3moe", n_experts=16, n_experts_used=4, expert_ffn=128,
                             **_SMALL),
    "gpt-oss": Architecture("gpt-oss (reduced)", n_layers=4, hidden=256, ffn=256, n_heads=8, n_kv_heads=2,
                            head_dim=64, family="gpt-oss", n_experts=8, n_experts_used=2, sliding_window=128,
                            swa_period=2, **_SMALL),
    "deepseek2": Architecture("DeepSeek V3 (reduced)", n_layers=4, hidden=256, ffn=512, n_heads=8, n_kv_heads=8,
                              head_dim=96, family="deepseek2", n_experts=16, n_experts_used=4, expert_ffn=128,
                              n_shared_experts=1, n_dense_layers=1, kv_lora_rank=128, q_lora_rank=192,
                              qk_rope_head_dim=32, v_head_dim=64, **_SMALL),
}
# The quantization each family's published files use most (gpt-oss ships its experts in MXFP4).
REDUCED_QUANT = {"gemma3": "Q4_K_M", "qwen3moe": "Q4_K_M", "gpt-oss": "MXFP4_MOE", "deepseek2": "Q4_K_M"}


def compare_with_file(path, arch: Architecture, mix: str) -> dict:
    """Predicted vs real: per-tensor type agreement and sizes (bytes) of a GGUF file on disk."""
    reader = open_checked(path)
    real = {t.name: t.tensor_type.name for t in reader.tensors}
    predicted = {t.name: t.ggml_type for t in predicted_tensors(arch, mix)}
    estimate = gguf_file_size(arch, mix)
    return {
        "mix": mix,
        "tensors": len(real),
        "types that differ": sum(predicted.get(name) != kind for name, kind in real.items()),
        "real file (bytes)": Path(path).stat().st_size,
        "estimated (bytes)": estimate.total_bytes,
        "real tensor data (bytes)": Path(path).stat().st_size - reader.data_offset,
        "estimated tensor data (bytes)": estimate.tensor_data_bytes,
    }


def llama_cpp_buffers(path, context: int, flash_attention: bool = False, ubatch: int = 512,
                      swa_full: bool = True) -> dict:
    """Load a GGUF on the CPU with llama.cpp and return the KV cache and compute buffer sizes it reports (bytes).

    A model with sliding-window blocks gets two caches (full and window); their sizes are added.
    ``swa_full``: llama.cpp's library default (on); its CLI and server turn it off.
    """
    import llama_cpp

    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        model = llama_cpp.Llama(str(path), n_ctx=context, n_batch=ubatch, n_ubatch=ubatch, n_threads=1,
                                flash_attn=flash_attention, swa_full=swa_full, verbose=True)
        del model
    return cpu_buffers(log.getvalue())


def reduced_model(family: str, folder, quant: str = None) -> Path:
    """The random-weight GGUF of ``REDUCED[family]`` at ``quant`` (default ``REDUCED_QUANT``), cached in ``folder``."""
    from helpers.gguf.random_weights import cached_random_gguf

    if family not in REDUCED:
        raise ValueError(f"family must be one of {sorted(REDUCED)}, got {family!r}")
    return cached_random_gguf(REDUCED[family], quant or REDUCED_QUANT[family], folder)


def check_family(family: str, folder, context: int = 4096, quant: str = None) -> list:
    """Estimator vs llama.cpp for one reduced family: rows of (what, estimated, llama.cpp) in bytes.

    The file: tensor types that differ, tensor data and total size (the header size taken from the
    file, since the vocabulary is random). The KV cache with the window only and with ``swa_full``,
    and the compute buffer, as llama.cpp reports them when it loads the file with ``context`` tokens.
    """
    arch, quant = REDUCED[family], quant or REDUCED_QUANT[family]
    path = reduced_model(family, folder, quant)
    reader = open_checked(path)
    real_types = {t.name: t.tensor_type.name for t in reader.tensors}
    predicted = {t.name: t.ggml_type for t in predicted_tensors(arch, quant)}
    size = gguf_file_size(arch, quant, metadata_bytes=reader.data_offset)
    rows = [("tensors of another type (count)", 0, sum(predicted.get(n) != k for n, k in real_types.items())
             + len(set(predicted) ^ set(real_types))),
            ("tensor data", size.tensor_data_bytes, Path(path).stat().st_size - reader.data_offset),
            ("file", size.total_bytes, Path(path).stat().st_size)]
    for swa_full in (False, True):
        real = llama_cpp_buffers(path, context, swa_full=swa_full)
        label = "swa_full" if swa_full else "window only"
        rows += [(f"KV cache ({label})", kv_cache_bytes(arch, context, swa_full=swa_full), real["kv_cache_bytes"]),
                 (f"compute buffer ({label})", compute_buffer_bytes(arch, context, swa_full=swa_full, flash_attention=False),
                  real["compute_buffer_bytes"])]
    return [{"family": family, "quant": quant, "what": what, "estimated (bytes)": est, "llama.cpp (bytes)": real,
             "error (%)": round(100 * (est / real - 1), 2) if real else 0.0} for what, est, real in rows]


PUBLISHED_BUFFERS_CSV = DATA_DIR / "published_buffers.csv"
SHAPE_COLUMNS = ("n_layers", "hidden", "ffn", "n_heads", "n_kv_heads", "head_dim", "vocab")


@dataclass(frozen=True)
class PublishedBuffers:
    """One published llama.cpp load log, every layer on one GPU: its settings and the sizes it printed (MiB)."""

    model: str
    architecture: Architecture
    backend: str
    device: str
    n_ctx: int
    n_ubatch: int
    n_seq_max: int
    flash_attention: bool
    swa_full: bool
    kv_type: str
    kv_buffer_mib: object  # float, or None when the log has no KV line
    compute_buffer_mib: object  # float, or None when the log has no compute line
    build: str
    source: str
    note: str


def _architecture(row: dict, line: int) -> Architecture:
    """A catalog model's shape, or the shape the log printed (columns ``SHAPE_COLUMNS``) for another model."""
    given = {k: row[k].strip() for k in SHAPE_COLUMNS if row[k].strip()}
    if not given:
        return get_model(row["model"]).architecture
    if len(given) != len(SHAPE_COLUMNS):
        raise ValueError(f"published_buffers.csv line {line}: give all of {SHAPE_COLUMNS} or none, got {sorted(given)}")
    return Architecture(row["model"], max_context=10_000_000, **{k: int(v) for k, v in given.items()})


def load_published_buffers(path=PUBLISHED_BUFFERS_CSV) -> list:
    """Every log of ``data/published_buffers.csv``, checked: a shape, whole settings, at least one size, a source."""
    def mib(text):
        return float(text) if text.strip() else None

    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            if not r["source"].startswith("https://") or r["flash_attn"] not in ("0", "1") \
                    or r["swa_full"] not in ("0", "1") or not (r["kv_buffer_mib"].strip() or r["compute_buffer_mib"].strip()):
                raise ValueError(f"{Path(path).name} line {line}: need an https source, flash_attn and swa_full 0 or 1, "
                                 f"and a KV or compute size; got {r['source']!r}, {r['flash_attn']!r}, {r['swa_full']!r}")
            out.append(PublishedBuffers(r["model"], _architecture(r, line), r["backend"], r["device"], int(r["n_ctx"]),
                                        int(r["n_ubatch"]), int(r["n_seq_max"]), r["flash_attn"] == "1",
                                        r["swa_full"] == "1", r["kv_type"], mib(r["kv_buffer_mib"]),
                                        mib(r["compute_buffer_mib"]), r["build"], r["source"], r["note"]))
    return out


def check_published_buffers(logs=None) -> list:
    """Each published log beside the estimate for its settings: rows with MiB (2**20 bytes) and errors (%).

    KV cache: ``kv_cache_bytes`` at the log's n_ctx (llama.cpp's n_ctx counts every slot's cells).
    Compute buffer: ``compute_buffer_bytes`` at its n_ctx, n_ubatch and flash-attention setting, every
    layer on the GPU (nothing copied from RAM).
    """
    rows = []
    for log in load_published_buffers() if logs is None else logs:
        arch = log.architecture
        kv = kv_cache_bytes(arch, log.n_ctx, cache_type=log.kv_type, swa_full=log.swa_full, ubatch=log.n_ubatch) / 2**20
        compute = compute_buffer_bytes(arch, log.n_ctx, ubatch=log.n_ubatch, flash_attention=log.flash_attention,
                                       swa_full=log.swa_full) / 2**20
        rows.append({"model": log.model, "backend": log.backend, "device": log.device, "n_ctx": log.n_ctx,
                     "n_ubatch": log.n_ubatch, "flash attention": "on" if log.flash_attention else "off",
                     "KV published (MiB)": log.kv_buffer_mib, "KV estimated (MiB)": round(kv, 2),
                     "KV error (%)": _error(kv, log.kv_buffer_mib),
                     "compute published (MiB)": log.compute_buffer_mib, "compute estimated (MiB)": round(compute, 2),
                     "compute error (%)": _error(compute, log.compute_buffer_mib), "build": log.build,
                     "source": log.source})
    return rows


def _error(estimate: float, published):
    return None if published is None else round(100 * (estimate / published - 1), 1)
