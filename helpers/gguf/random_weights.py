"""Random-weight GGUF files of a real architecture: true llama.cpp speed without downloading a model.

Generation speed depends on how many bytes each token reads, not on what the weights say, so a
file with the shapes of SmolLM2 or Llama 3.2 filled with random numbers runs exactly as fast as
the real one. The vocabulary is a byte-fallback SentencePiece vocabulary padded to the model's
real vocabulary size, so the embedding and output matrices (often the biggest single tensors)
have their real size. Files are written atomically (``helpers.course.atomic``) and reused when present.
Sizes are in bytes.
"""
import tempfile
from pathlib import Path

import numpy as np

from helpers.gguf.quantize import quantize
from helpers.gguf.writer import write_gguf_file
from helpers.memory.architecture import Architecture, model_tensors
from helpers.memory.gguf_size import is_quantizable

SUPPORTED_FAMILIES = ("llama", "qwen2", "qwen3", "qwen3moe", "gemma3", "gpt-oss", "deepseek2")
# Families written here with experts (llama's Mixtral layout is ``write_random_llama_gguf``'s). The
# files carry the sliding window's size but not its layer pattern: llama.cpp's gemma3 and gpt-oss
# loaders set that themselves (period 6 and 2, the catalog's ``swa_period``).
MOE_FAMILIES = ("qwen3moe", "gpt-oss", "deepseek2")
# The llama.cpp file types this module can produce, by the name llama-quantize uses.
QUANT_FTYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K", "MXFP4_MOE")
N_SPECIAL, N_BYTE_TOKENS = 3, 256  # <unk> <s> </s>, then <0x00>..<0xFF>
WEIGHT_STD = 0.02


def check_supported(arch: Architecture) -> None:
    """Refuse what this writer cannot lay out (other families, experts where the family has none or the
    reverse, tiny vocabularies)."""
    if arch.family not in SUPPORTED_FAMILIES:
        raise ValueError(f"family must be one of {SUPPORTED_FAMILIES}, got {arch.family!r}")
    if arch.is_moe != (arch.family in MOE_FAMILIES):
        raise ValueError(f"{arch.family} needs {'experts' if arch.family in MOE_FAMILIES else 'no experts'} "
                         f"here, got n_experts={arch.n_experts}")
    if arch.vocab < N_SPECIAL + N_BYTE_TOKENS + 1:
        raise ValueError(f"vocab must be at least {N_SPECIAL + N_BYTE_TOKENS + 1} for a byte-fallback vocabulary, "
                         f"got {arch.vocab}")


def byte_fallback_vocab(n_vocab: int):
    """Tokens, scores and token types of a SentencePiece-style vocabulary of exactly ``n_vocab`` entries."""
    import gguf

    tokens = [b"<unk>", b"<s>", b"</s>"] + [f"<0x{i:02X}>".encode() for i in range(N_BYTE_TOKENS)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * N_BYTE_TOKENS
    n_normal = n_vocab - len(tokens)
    tokens += [f"\u2581t{i}".encode() for i in range(n_normal)]
    types += [gguf.TokenType.NORMAL] * n_normal
    scores = [0.0] * N_SPECIAL + [-1000.0] * N_BYTE_TOKENS + [-float(i) for i in range(n_normal)]
    return tokens, scores, types


def add_hyperparameters(writer, arch: Architecture, context: int = None) -> None:
    """Write ``arch``'s llama.cpp hyperparameters (sizes, heads, RoPE, norm epsilon) into a ``gguf.GGUFWriter``.

    ``context``: the context length written in the metadata (default: the model's own maximum).
    """
    writer.add_context_length(context or arch.max_context)
    writer.add_embedding_length(arch.hidden)
    writer.add_block_count(arch.n_layers)
    writer.add_feed_forward_length(arch.ffn)
    writer.add_head_count(arch.n_heads)
    if arch.is_mla:  # the converter's MLA layout: attention runs on the compressed vector (+ rope part)
        writer.add_head_count_kv(1)  # as one shared "head"; the per-head sizes go under the *_mla keys
        writer.add_key_length(arch.kv_lora_rank + arch.qk_rope_head_dim)
        writer.add_value_length(arch.kv_lora_rank)
        writer.add_key_length_mla(arch.head_dim)
        writer.add_value_length_mla(arch.value_head_dim)
        writer.add_rope_dimension_count(arch.qk_rope_head_dim)
    else:
        writer.add_head_count_kv(arch.n_kv_heads)
        writer.add_key_length(arch.head_dim)
        writer.add_value_length(arch.value_head_dim)
        writer.add_rope_dimension_count(arch.head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    add_family_hyperparameters(writer, arch)


def add_family_hyperparameters(writer, arch: Architecture) -> None:
    """Experts, sliding window and latent attention keys, as llama.cpp's converter writes them."""
    import gguf

    if arch.is_moe:
        writer.add_expert_count(arch.n_experts)
        writer.add_expert_used_count(arch.n_experts_used)
        writer.add_expert_feed_forward_length(arch.expert_width)
    if arch.sliding_window:
        writer.add_sliding_window(arch.sliding_window)
    if arch.family == "deepseek2":
        writer.add_leading_dense_block_count(arch.n_dense_layers)
        writer.add_expert_shared_count(arch.n_shared_experts)
        writer.add_expert_weights_scale(2.5)
        writer.add_expert_weights_norm(True)
        writer.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
        if arch.q_lora_rank:
            writer.add_q_lora_rank(arch.q_lora_rank)
        writer.add_kv_lora_rank(arch.kv_lora_rank)


def add_byte_fallback_vocab(writer, n_vocab: int) -> None:
    """Write the :func:`byte_fallback_vocab` of ``n_vocab`` tokens as a llama (SentencePiece) tokenizer."""
    tokens, scores, types = byte_fallback_vocab(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)


def random_tensor(shape, rng: np.random.Generator, keep_f32: bool = False) -> np.ndarray:
    """Values for a tensor of GGUF shape ``shape`` (row length first): norms are ones, matrices small noise.

    Matrices are F16 unless ``keep_f32`` (2-D biases and the expert router, which llama.cpp never quantizes).
    """
    if len(shape) == 1:
        return np.ones(shape, dtype=np.float32)
    array = rng.standard_normal(tuple(reversed(shape)), dtype=np.float32)
    array *= WEIGHT_STD
    return array if keep_f32 else array.astype(np.float16)


def write_random_gguf(arch: Architecture, path, seed: int = 0, context: int = None) -> Path:
    """Write ``arch`` with random F16 weights (F32 norms and biases) as a GGUF file at ``path`` (atomically).

    ``context``: the context length written in the metadata (default: the model's own maximum).
    """
    import gguf

    check_supported(arch)
    rng = np.random.default_rng(seed)

    def add_metadata(writer):
        writer.add_name(f"{arch.name} (random weights)")
        add_hyperparameters(writer, arch, context)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
        add_byte_fallback_vocab(writer, arch.vocab)
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
        writer.add_unk_token_id(0)

    tensors = ((t.name, random_tensor(t.shape, rng, keep_f32=not is_quantizable(t))) for t in model_tensors(arch))
    return write_gguf_file(path, arch.family, add_metadata, tensors)


def file_stem(arch: Architecture, quant: str) -> str:
    return "random_" + "".join(c if c.isalnum() else "_" for c in arch.name).strip("_").lower() + f"_{quant}"


def cached_random_gguf(arch: Architecture, quant: str, folder, seed: int = 0, keep_f16: bool = False) -> Path:
    """Path of a random-weight ``arch`` GGUF at ``quant`` ("F16" or a key of ``QUANT_FTYPES``) in ``folder``.

    Built on first use (F16 first, then quantized), reused afterwards. Unless ``keep_f16`` (or an
    F16 file is already there to reuse), the F16 intermediate lives in a private scratch folder that
    is removed afterwards, so two processes building the same file at once never share it.
    """
    if quant != "F16" and quant not in QUANT_FTYPES:
        raise ValueError(f"quant must be 'F16' or one of {sorted(QUANT_FTYPES)}, got {quant!r}")
    folder = Path(folder)
    target = folder / (file_stem(arch, quant) + ".gguf")
    if target.is_file():
        return target
    f16 = folder / (file_stem(arch, "F16") + ".gguf")
    if quant == "F16" or keep_f16 or f16.is_file():
        if not f16.is_file():
            write_random_gguf(arch, f16, seed=seed)
        return f16 if quant == "F16" else quantize(f16, target, quant)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".scratch-") as scratch:
        private_f16 = write_random_gguf(arch, Path(scratch) / f16.name, seed=seed)
        return quantize(private_f16, target, quant)


def write_random_llama_gguf(path, arch: Architecture, seed: int = 0) -> Path:
    """An F32 llama GGUF with random weights, ``arch``'s tensors (experts too) and a SentencePiece-style vocab."""
    if arch.family != "llama" or arch.vocab < 300:
        raise ValueError(f"needs a llama-family architecture with vocab >= 300, got {arch.family!r}, {arch.vocab}")
    rng = np.random.default_rng(seed)

    def add_metadata(writer):
        add_hyperparameters(writer, arch)  # experts' keys too (add_family_hyperparameters)
        add_byte_fallback_vocab(writer, arch.vocab)

    def tensor(shape):  # numpy order: rows first
        return np.ones(shape, np.float32) if len(shape) == 1 else rng.standard_normal(shape).astype(np.float32) * 0.02

    tensors = ((t.name, tensor(tuple(reversed(t.shape)))) for t in model_tensors(arch))
    return write_gguf_file(path, "llama", add_metadata, tensors)
