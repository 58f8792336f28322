"""Write the tiny Llama as a GGUF file llama.cpp loads like any downloaded model, and quantize it.

Tensor names and metadata follow llama.cpp's LLAMA architecture. No q/k permutation is needed:
the PyTorch model already rotates adjacent pairs, which is llama.cpp's normal (non-NeoX) rope.
Quantization runs through llama.cpp itself (:mod:`helpers.gguf.quantize`).
"""
from pathlib import Path

import numpy as np

from helpers.course.paths import BUILD_DIR
from helpers.gguf.quantize import ftype, quantize
from helpers.gguf.writer import write_gguf_file
from helpers.training.checkpoint import load_model

# Speeches as the model was trained on them: BOS, then "ROLE:\n" + text, blank line between turns.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] | upper }}:\n{{ message['content'] }}\n\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:\n{% endif %}"
)

# the quant types the course's tiny Llama is written in (llama.cpp's names)
FTYPES = ("F32", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")
SHIPPED = ("F16", "Q8_0", "Q4_K_M")


def gguf_name(quant: str) -> str:
    """File name of the tiny Llama in a given quant type, e.g. ``tiny_llama-q4_k_m.gguf``."""
    if quant not in FTYPES:
        raise ValueError(f"quant {quant!r} unknown; choose from {sorted(FTYPES)}")
    return f"tiny_llama-{quant.lower()}.gguf"


def tensor_name(torch_name: str) -> str:
    """llama.cpp tensor name for a TinyLlama state_dict key."""
    fixed = {"tok_embeddings.weight": "token_embd.weight", "norm.weight": "output_norm.weight",
             "output.weight": "output.weight"}
    if torch_name in fixed:
        return fixed[torch_name]
    parts = torch_name.split(".")  # layers.<i>.<module>[.<sub>].weight
    if parts[0] != "layers" or parts[-1] != "weight":
        raise ValueError(f"no GGUF name for tensor {torch_name!r}")
    local = {"attn_norm": "attn_norm", "ffn_norm": "ffn_norm", "attn.wq": "attn_q",
             "attn.wk": "attn_k", "attn.wv": "attn_v", "attn.wo": "attn_output",
             "ffn.w1": "ffn_gate", "ffn.w3": "ffn_up", "ffn.w2": "ffn_down"}
    key = ".".join(parts[2:-1])
    if key not in local:
        raise ValueError(f"no GGUF name for tensor {torch_name!r}")
    return f"blk.{parts[1]}.{local[key]}.weight"


def write_gguf(model, vocab, path, dtype: str = "F32") -> Path:
    """Write ``model`` (TinyLlama) with ``vocab`` (SpmVocab) to ``path`` as F32 or F16 GGUF.

    1-D tensors (the RMSNorm weights) stay float32 in both, as llama.cpp's converters do.
    """
    if dtype not in ("F32", "F16"):
        raise ValueError(f"dtype must be 'F32' or 'F16' (quantize for others), got {dtype!r}")
    cfg = model.cfg

    def add_metadata(w):
        w.add_name("tiny_llama (Shakespeare)")
        w.add_context_length(cfg.n_ctx)
        w.add_embedding_length(cfg.d_model)
        w.add_block_count(cfg.n_layer)
        w.add_feed_forward_length(cfg.d_ff)
        w.add_head_count(cfg.n_head)
        w.add_head_count_kv(cfg.n_kv_head)
        w.add_rope_dimension_count(cfg.head_dim)
        w.add_rope_freq_base(cfg.rope_theta)
        w.add_layer_norm_rms_eps(cfg.norm_eps)
        w.add_file_type(ftype(dtype))
        w.add_tokenizer_model("llama")
        w.add_token_list(vocab.tokens)
        w.add_token_scores(vocab.scores)
        w.add_token_types(vocab.types)
        w.add_unk_token_id(0)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        w.add_chat_template(CHAT_TEMPLATE)

    def tensor(data):
        return data.astype(np.float16) if dtype == "F16" and data.ndim > 1 else data

    tensors = ((tensor_name(name), tensor(t.detach().cpu().numpy().astype(np.float32)))
               for name, t in model.state_dict().items())
    return write_gguf_file(path, "llama", add_metadata, tensors)


def _is_fresh(derived: Path, source: Path) -> bool:
    """True if ``derived`` exists and was written after ``source`` (so it is not from older weights)."""
    return derived.exists() and derived.stat().st_mtime >= source.stat().st_mtime


def f32_gguf(folder, out_dir=BUILD_DIR / "tiny_llama") -> Path:
    """The F32 GGUF of the model in ``folder`` (safetensors), (re)written under ``out_dir`` when
    missing or older than the weights."""
    target = Path(out_dir) / gguf_name("F32")
    if not _is_fresh(target, Path(folder) / "model.safetensors"):
        model, vocab = load_model(folder)
        write_gguf(model, vocab, target, "F32")
    return target


def quant_gguf(folder, quant: str, out_dir=BUILD_DIR / "tiny_llama") -> Path:
    """The model in ``folder`` as a ``quant`` GGUF: the shipped file if present, else made in
    seconds under ``out_dir`` (and remade when older than the weights)."""
    shipped = Path(folder) / gguf_name(quant)
    if shipped.exists():
        return shipped
    src = f32_gguf(folder, out_dir)
    if quant == "F32":
        return src
    target = Path(out_dir) / gguf_name(quant)
    return target if _is_fresh(target, src) else quantize(src, target, quant)


def export_all(folder, quants=SHIPPED) -> list:
    """Write the shipped GGUF files into ``folder`` (quantized from a temporary F32 GGUF)."""
    folder = Path(folder)
    src = f32_gguf(folder, BUILD_DIR / "tiny_llama_export")
    written = []
    for quant in quants:
        dst = folder / gguf_name(quant)
        if quant == "F32":
            dst.write_bytes(src.read_bytes())
        else:
            quantize(src, dst, quant)
        written.append(dst)
    src.unlink()
    return written
