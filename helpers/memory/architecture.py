"""A transformer's shape, from its config.json, and the weight tensors that shape implies.

The numbers are the ones Hugging Face ``config.json`` files use (``num_hidden_layers``,
``hidden_size``, ``intermediate_size``, ``num_attention_heads``, ``num_key_value_heads``,
``head_dim``, ``vocab_size``...). From them this module lists every weight tensor the way a
llama.cpp GGUF file names and shapes it, so parameter counts and file sizes are *computed*
from the architecture, not looked up.

Shapes are given in GGUF order: ``(n_columns, n_rows[, n_experts])``, i.e. the first number
is the length of one row (the input dimension of a matrix). Counts are plain numbers of weights.
"""
import math
from dataclasses import dataclass

# The llama.cpp architectures this module can lay out, and what sets each apart.
FAMILIES = ("llama", "qwen2", "gemma2", "phi3")

# Allowed ranges for each architecture number; anything outside is refused with this range.
LIMITS = {
    "n_layers": (1, 1024),
    "hidden": (8, 65536),
    "ffn": (8, 524288),
    "n_heads": (1, 1024),
    "n_kv_heads": (1, 1024),
    "head_dim": (4, 1024),
    "vocab": (2, 4_000_000),
    "max_context": (16, 10_000_000),
    "n_experts": (0, 1024),
    "n_experts_used": (0, 1024),
}


@dataclass(frozen=True)
class Tensor:
    """One weight tensor: GGUF name, GGUF shape (row length first) and whether it is 1-D."""

    name: str
    shape: tuple

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def layer(self):
        """The block index for ``blk.N.*`` tensors, else None."""
        if not self.name.startswith("blk."):
            return None
        return int(self.name.split(".")[1])


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer as its config.json describes it.

    ``n_experts`` is 0 for a dense model; for a mixture of experts (Mixtral) it is the number of
    expert FFNs per layer and ``n_experts_used`` how many run for each token.
    """

    name: str
    n_layers: int
    hidden: int
    ffn: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    max_context: int = 4096
    tied_embeddings: bool = False
    family: str = "llama"
    n_experts: int = 0
    n_experts_used: int = 0
    tokenizer: str = "bpe"  # "bpe" (GPT-2 style, with merges) or "spm" (SentencePiece, with scores)

    def __post_init__(self):
        for field_name, (low, high) in LIMITS.items():
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{field_name} must be an integer in [{low}, {high}], got {value!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.n_experts and not 1 <= self.n_experts_used <= self.n_experts:
            raise ValueError(f"n_experts_used must be in [1, {self.n_experts}], got {self.n_experts_used!r}")
        if self.tokenizer not in ("bpe", "spm"):
            raise ValueError(f"tokenizer must be 'bpe' or 'spm', got {self.tokenizer!r}")

    @property
    def gqa(self) -> int:
        """Query heads per key/value head (grouped-query attention factor)."""
        return self.n_heads // self.n_kv_heads

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def size_class_70b(self) -> bool:
        """llama.cpp's LLM_TYPE_70B: 80 blocks in the llama and qwen2 loaders (it changes attn_v's type)."""
        return self.family in ("llama", "qwen2") and self.n_layers == 80


def layer_tensors(arch: Architecture, i: int) -> list:
    """The weight tensors of block ``i`` in GGUF naming, with GGUF shapes."""
    d, hd, p = arch.hidden, arch.head_dim, f"blk.{i}."
    q_width, kv_width = arch.n_heads * hd, arch.n_kv_heads * hd
    out = [Tensor(p + "attn_norm.weight", (d,))]
    if arch.family == "phi3":  # fused q|k|v and fused gate|up
        out += [Tensor(p + "attn_qkv.weight", (d, q_width + 2 * kv_width))]
    else:
        out += [Tensor(p + "attn_q.weight", (d, q_width)),
                Tensor(p + "attn_k.weight", (d, kv_width)),
                Tensor(p + "attn_v.weight", (d, kv_width))]
    if arch.family == "qwen2":  # Qwen2 keeps biases on q, k and v
        out += [Tensor(p + "attn_q.bias", (q_width,)), Tensor(p + "attn_k.bias", (kv_width,)),
                Tensor(p + "attn_v.bias", (kv_width,))]
    out += [Tensor(p + "attn_output.weight", (q_width, d)), Tensor(p + "ffn_norm.weight", (d,))]
    if arch.family == "gemma2":  # extra norms after attention and after the FFN
        out += [Tensor(p + "post_attention_norm.weight", (d,)), Tensor(p + "post_ffw_norm.weight", (d,))]
    if arch.is_moe:
        e = arch.n_experts
        out += [Tensor(p + "ffn_gate_inp.weight", (d, e)),
                Tensor(p + "ffn_gate_exps.weight", (d, arch.ffn, e)),
                Tensor(p + "ffn_up_exps.weight", (d, arch.ffn, e)),
                Tensor(p + "ffn_down_exps.weight", (arch.ffn, d, e))]
    elif arch.family == "phi3":
        out += [Tensor(p + "ffn_up.weight", (d, 2 * arch.ffn)), Tensor(p + "ffn_down.weight", (arch.ffn, d))]
    else:
        out += [Tensor(p + "ffn_gate.weight", (d, arch.ffn)), Tensor(p + "ffn_up.weight", (d, arch.ffn)),
                Tensor(p + "ffn_down.weight", (arch.ffn, d))]
    return out


def model_tensors(arch: Architecture) -> list:
    """Every weight tensor of the model, in llama.cpp's file order (non-block tensors by name, then blocks)."""
    top = [Tensor("token_embd.weight", (arch.hidden, arch.vocab)), Tensor("output_norm.weight", (arch.hidden,))]
    if not arch.tied_embeddings:
        top.append(Tensor("output.weight", (arch.hidden, arch.vocab)))
    top.sort(key=lambda t: t.name)
    return top + [t for i in range(arch.n_layers) for t in layer_tensors(arch, i)]


def parameter_count(arch: Architecture) -> int:
    """Total number of weights (tied embeddings counted once), as model cards count them."""
    return sum(t.n_elements for t in model_tensors(arch))


def active_parameter_count(arch: Architecture) -> int:
    """Weights used for one token: for a mixture of experts only ``n_experts_used`` experts count."""
    total = 0
    for t in model_tensors(arch):
        if "_exps." in t.name:
            total += t.n_elements // arch.n_experts * arch.n_experts_used
        else:
            total += t.n_elements
    return total
