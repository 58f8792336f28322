"""The size of a GGUF file, tensor by tensor, from a model's architecture and a quantization mix.

A "Q4_K_M" file is not 4.5 bits everywhere: llama.cpp's quantizer (src/llama-quant.cpp,
``llama_tensor_get_type``) picks a type per tensor - Q6_K for the output matrix and for some
layers' attn_v and ffn_down, F32 for norms - and falls back to another type when a row length is
not a multiple of the block size. ``data/quant_mixes.json`` holds those rules as data;
``predicted_tensors`` applies them to every tensor ``helpers.memory.architecture`` lists, and
``gguf_file_size`` adds the file's header, metadata (vocabulary) and 32-byte alignment padding.

Sizes are in bytes; ``GGUFSize`` reports GB (10**9 bytes) where it says so.
"""
import json
import math
from dataclasses import dataclass
from functools import lru_cache

from helpers.course.catalog import load_quant_types, suggest
from helpers.course.paths import DATA_DIR
from helpers.memory.architecture import Architecture, Tensor, model_tensors

GGUF_ALIGNMENT = 32  # bytes; GGUF_DEFAULT_ALIGNMENT in ggml/include/gguf.h
# Metadata besides the vocabulary (architecture keys, chat template, license text...): a
# round budget in bytes. Real files hold 2-10 KB here; the vocabulary dominates.
BASE_METADATA_BYTES = 8_000
# Average UTF-8 length of one vocabulary entry, in bytes (GPT-2-style and SentencePiece vocabularies
# of 32k-256k entries average 5-8 bytes per token; 7 is the assumed middle).
MEAN_TOKEN_BYTES = 7


@lru_cache(maxsize=1)
def load_mixes() -> dict:
    """``data/quant_mixes.json``: the per-tensor recipes of llama.cpp's quantization mixes."""
    return json.loads((DATA_DIR / "quant_mixes.json").read_text(encoding="utf-8"))


def mix_names() -> list:
    return list(load_mixes()["mixes"])


def check_mix(mix: str) -> dict:
    """The recipe of ``mix``; an unknown name raises ValueError with the closest names."""
    mixes = load_mixes()["mixes"]
    if mix not in mixes:
        raise ValueError(f"unknown quantization mix {mix!r}; {suggest(mix, mixes)}")
    return mixes[mix]


def tensor_nbytes(shape, ggml_type: str) -> int:
    """Bytes of one tensor of ``shape`` (GGUF order, row length first) stored as ``ggml_type``."""
    qt = load_quant_types()[ggml_type]
    if shape[0] % qt.block_size:
        raise ValueError(f"row length {shape[0]} is not a multiple of {ggml_type}'s block of {qt.block_size}")
    return math.prod(shape) // qt.block_size * qt.bytes_per_block


def padded(nbytes: int, alignment: int = GGUF_ALIGNMENT) -> int:
    """``nbytes`` rounded up to the next multiple of ``alignment``."""
    return -(-nbytes // alignment) * alignment


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama.cpp's rule for which blocks get more bits: first and last eighth, and every third between."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


def tensor_category(name: str) -> str:
    """The quantizer's category of a tensor name (``tensor_get_category`` in llama-quant.cpp)."""
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for key, category in (("attn_qkv.weight", "attn_v"), ("attn_v.weight", "attn_v"), ("attn_k.weight", "attn_k"),
                          ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                          ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return category
    return "other"


def is_quantizable(t: Tensor) -> bool:
    """2-D/3-D weights are quantized; norms, biases and the expert router keep their type."""
    return (len(t.shape) >= 2 and t.name.endswith("weight") and "_norm.weight" not in t.name
            and "ffn_gate_inp.weight" not in t.name)


def _condition(cond: str, t: Tensor, arch: Architecture, current: str, default: str, imatrix: bool) -> bool:
    layer, n = t.layer, arch.n_layers
    if cond.startswith("current_in:"):
        return current in cond.split(":", 1)[1].split("|")
    if cond.startswith("default_not:"):
        return default != cond.split(":", 1)[1]
    checks = {
        "use_more_bits": lambda: use_more_bits(layer, n),
        "layer_lt_n/8": lambda: layer < n // 8,
        "layer_lt_n/16": lambda: layer < n // 16,
        "layer_lt_2": lambda: layer < 2,
        "layer_lt_4": lambda: layer < 4,
        "gqa_ge_4": lambda: arch.gqa >= 4,
        "n_expert_eq_8": lambda: arch.n_experts == 8,
        "not_n_expert_eq_8": lambda: arch.n_experts != 8,
        "imatrix": lambda: imatrix,
        "no_imatrix": lambda: not imatrix,
        "size_class_70b": lambda: arch.size_class_70b,
        "expert_tensor": lambda: "_exps." in t.name,
        "ncols_not_multiple_of_default_block": lambda: t.shape[0] % load_quant_types()[default].block_size != 0,
    }
    if cond not in checks:
        raise ValueError(f"unknown rule condition {cond!r} in data/quant_mixes.json")
    return checks[cond]()


def _apply(rules, t, arch, current, default, imatrix) -> str:
    for rule in rules:
        if all(_condition(c, t, arch, current, default, imatrix) for c in rule.get("when", [])):
            return rule["type"]
    return current


def _fallback(t: Tensor, ggml_type: str) -> str:
    types = load_quant_types()
    if t.shape[0] % types[ggml_type].block_size == 0:
        return ggml_type
    fallback = load_mixes()["fallback"].get(ggml_type, "F16")
    return fallback if t.shape[0] % types[fallback].block_size == 0 else "F16"


def tensor_type(t: Tensor, arch: Architecture, mix: str, imatrix: bool = False, legacy_qkv: bool = False) -> str:
    """The ggml type llama.cpp's quantizer gives tensor ``t`` of ``arch`` under ``mix``.

    ``imatrix``: whether an importance matrix was used (it changes a few rules, e.g. IQ4_XS ffn_down).
    ``legacy_qkv``: use the older rule for fused attn_qkv tensors (files quantized in 2024).
    """
    recipe, data = check_mix(mix), load_mixes()
    default = recipe["default"]
    if not is_quantizable(t):
        return "F32"
    if not recipe["quantized"]:
        return default
    category = tensor_category(t.name)
    if legacy_qkv and "attn_qkv" in t.name:
        return _fallback(t, data["legacy_attn_qkv"]["types"].get(mix, default))
    if category == "token_embd" and arch.tied_embeddings:
        category = "output"
    new = default
    if category == "output":
        new = _apply(data["common"]["output"], t, arch, new, default, imatrix)
    elif category == "attn_v":
        new = _apply(recipe["rules"].get("attn_v", []), t, arch, new, default, imatrix)
        new = _apply(data["common"]["attn_v_after"], t, arch, new, default, imatrix)
    elif category == "attn_k":
        new = _apply(data["common"]["attn_k"], t, arch, new, default, imatrix)
    elif category in recipe["rules"]:
        new = _apply(recipe["rules"][category], t, arch, new, default, imatrix)
    return _fallback(t, new)


@dataclass(frozen=True)
class PredictedTensor:
    """A tensor as the predicted GGUF file stores it; ``nbytes`` without alignment padding."""

    name: str
    shape: tuple
    ggml_type: str
    nbytes: int


@lru_cache(maxsize=128)  # offload searches ask for the same file hundreds of times
def predicted_tensors(arch: Architecture, mix: str, imatrix: bool = False, legacy_qkv: bool = False) -> tuple:
    """Every tensor of the GGUF file ``mix`` makes from ``arch``: name, GGUF shape, ggml type, bytes.

    Compare with a real file: ``[(t.name, tuple(t.shape), t.tensor_type.name) for t in
    gguf.GGUFReader(path).tensors]``.
    """
    out = []
    for t in model_tensors(arch):
        ggml_type = tensor_type(t, arch, mix, imatrix, legacy_qkv)
        out.append(PredictedTensor(t.name, t.shape, ggml_type, tensor_nbytes(t.shape, ggml_type)))
    return tuple(out)


def metadata_bytes_estimate(arch: Architecture, tensors) -> int:
    """Bytes before the tensor data: header, key/value metadata, tensor infos, padded to 32.

    Exact for the tensor infos (name, dims, type, offset per tensor). The vocabulary is estimated:
    per token a string (8-byte length + ``MEAN_TOKEN_BYTES``) and a 4-byte token type, plus a
    4-byte score for SentencePiece vocabularies, or one merge string (8 + 2 x MEAN_TOKEN_BYTES + 1)
    per token for GPT-2-style BPE vocabularies.
    """
    header = 4 + 4 + 8 + 8  # magic, version, tensor count, key/value count
    infos = sum(8 + len(t.name) + 4 + 8 * len(t.shape) + 4 + 8 for t in tensors)
    per_token = 8 + MEAN_TOKEN_BYTES + 4
    per_token += 4 if arch.tokenizer == "spm" else 8 + 2 * MEAN_TOKEN_BYTES + 1
    return padded(header + BASE_METADATA_BYTES + arch.vocab * per_token + infos)


@dataclass(frozen=True)
class GGUFSize:
    """A predicted GGUF file: its parts in bytes, and summaries."""

    mix: str
    tensor_data_bytes: int  # all tensors, each padded to 32 bytes
    metadata_bytes: int  # header + metadata + tensor infos (+ padding)
    n_weights: int
    bytes_by_type: dict

    @property
    def total_bytes(self) -> int:
        return self.tensor_data_bytes + self.metadata_bytes

    @property
    def total_gb(self) -> float:
        """Total size in GB (10**9 bytes), the unit model hubs show."""
        return self.total_bytes / 1e9

    @property
    def bits_per_weight(self) -> float:
        """Average bits per weight over the tensor data (what llama.cpp prints as BPW)."""
        return 8 * self.tensor_data_bytes / self.n_weights


def gguf_file_size(arch: Architecture, mix: str, imatrix: bool = False, metadata_bytes=None,
                   legacy_qkv: bool = False) -> GGUFSize:
    """Predicted size of the GGUF file of ``arch`` quantized with ``mix``.

    ``metadata_bytes``: the real header size when known (e.g. from the unquantized file); by
    default it is estimated from the vocabulary (``metadata_bytes_estimate``).
    """
    tensors = predicted_tensors(arch, mix, imatrix, legacy_qkv)
    by_type = {}
    for t in tensors:
        by_type[t.ggml_type] = by_type.get(t.ggml_type, 0) + t.nbytes
    meta = metadata_bytes_estimate(arch, tensors) if metadata_bytes is None else int(metadata_bytes)
    return GGUFSize(
        mix=mix,
        tensor_data_bytes=sum(padded(t.nbytes) for t in tensors),
        metadata_bytes=meta,
        n_weights=sum(math.prod(t.shape) for t in tensors),
        bytes_by_type=by_type,
    )



def bytes_read_per_token(arch: Architecture, mix: str, imatrix: bool = False) -> int:
    """Weight bytes one generated token reads (bytes).

    Every matrix is read once, except: token_embd is a lookup of one row (negligible) unless it is
    tied to the output, and a mixture of experts reads only ``n_experts_used`` of its experts.
    """
    total = 0
    for t in predicted_tensors(arch, mix, imatrix):
        if t.name == "token_embd.weight" and not arch.tied_embeddings:
            continue
        if "_exps." in t.name:
            total += t.nbytes * arch.n_experts_used // arch.n_experts
        else:
            total += t.nbytes
    return total


def size_accuracy_rows() -> list:
    """Estimated vs published size for every row of ``data/published_gguf_sizes.csv``.

    Each row: model, quant, published GB, estimated GB (10**9 bytes), relative error, source.
    """
    from helpers.course.catalog import get_model, load_published_sizes

    out = []
    for row in load_published_sizes():
        arch = get_model(row["model"]).architecture
        est = gguf_file_size(arch, row["quant"], imatrix=row["imatrix"], legacy_qkv=row["legacy_qkv"]).total_gb
        published = float(row["published_gb"])
        out.append({"model": row["model"], "quant": row["quant"], "published (GB)": published,
                    "estimated (GB)": round(est, 3), "error (%)": round(100 * (est / published - 1), 2),
                    "source": row["source"]})
    return out
