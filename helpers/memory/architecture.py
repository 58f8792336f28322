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
FAMILIES = ("llama", "qwen2", "qwen3", "qwen3moe", "gemma2", "gemma3", "phi3", "gpt-oss", "deepseek2")

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
    "expert_ffn": (0, 524288),
    "n_shared_experts": (0, 64),
    "n_dense_layers": (0, 1024),
    "sliding_window": (0, 10_000_000),
    "swa_period": (0, 64),
    "kv_lora_rank": (0, 65536),
    "q_lora_rank": (0, 65536),
    "qk_rope_head_dim": (0, 1024),
    "v_head_dim": (0, 1024),
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
    expert FFNs per layer and ``n_experts_used`` how many run for each token. ``expert_ffn`` is one
    expert's FFN width (config.json ``moe_intermediate_size``; 0: the same as ``ffn``, as in Mixtral),
    ``n_shared_experts`` experts run for every token besides the routed ones (DeepSeek), and the first
    ``n_dense_layers`` blocks have a plain FFN of width ``ffn`` instead (DeepSeek's ``first_k_dense_replace``).

    Sliding-window attention: ``sliding_window`` tokens (0: none), on the blocks ``i`` with
    ``i % swa_period < swa_period - 1`` (llama.cpp's ``set_swa_pattern``): Gemma 3's period 6 gives
    5 local blocks then 1 global one, gpt-oss's period 2 alternates local and global.

    Multi-head latent attention (DeepSeek V2/V3): ``kv_lora_rank`` > 0; keys and values are rebuilt
    from a compressed ``kv_lora_rank`` vector plus a ``qk_rope_head_dim`` rotary part, queries go
    through a ``q_lora_rank`` bottleneck; ``head_dim`` is then the query/key head size (nope + rope).
    ``v_head_dim``: the value head size where it differs from ``head_dim`` (0: the same).
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
    expert_ffn: int = 0
    n_shared_experts: int = 0
    n_dense_layers: int = 0
    sliding_window: int = 0
    swa_period: int = 0
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0

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
        if bool(self.sliding_window) != bool(self.swa_period) or self.swa_period == 1:
            raise ValueError(f"sliding_window and swa_period go together (swa_period >= 2), got "
                             f"{self.sliding_window!r} and {self.swa_period!r}")
        if self.kv_lora_rank and not 0 < self.qk_rope_head_dim < self.head_dim:
            raise ValueError(f"latent attention needs 0 < qk_rope_head_dim < head_dim ({self.head_dim}), "
                             f"got {self.qk_rope_head_dim!r}")
        if self.n_dense_layers > self.n_layers or (self.n_dense_layers and not self.is_moe):
            raise ValueError(f"n_dense_layers must be at most n_layers ({self.n_layers}) and needs experts, "
                             f"got {self.n_dense_layers!r}")

    @property
    def gqa(self) -> int:
        """Query heads per key/value head (grouped-query attention factor)."""
        return self.n_heads // self.n_kv_heads

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (DeepSeek): a compressed K/V vector per token."""
        return self.kv_lora_rank > 0

    @property
    def expert_width(self) -> int:
        """FFN width of one expert (``expert_ffn``, or ``ffn`` when that is 0)."""
        return self.expert_ffn or self.ffn

    @property
    def value_head_dim(self) -> int:
        return self.v_head_dim or self.head_dim

    def is_swa_layer(self, i: int) -> bool:
        """Whether block ``i`` attends over a sliding window only (llama.cpp's ``hparams.is_swa``)."""
        return bool(self.sliding_window) and i % self.swa_period < self.swa_period - 1

    def is_moe_layer(self, i: int) -> bool:
        return self.is_moe and i >= self.n_dense_layers

    @property
    def size_class_70b(self) -> bool:
        """llama.cpp's LLM_TYPE_70B: 80 blocks in the llama and qwen2 loaders (it changes attn_v's type)."""
        return self.family in ("llama", "qwen2") and self.n_layers == 80


def _attention_tensors(arch: Architecture, p: str) -> list:
    d, hd = arch.hidden, arch.head_dim
    q_width, kv_width = arch.n_heads * hd, arch.n_kv_heads * hd
    if arch.is_mla:  # DeepSeek: low-rank query, compressed K/V + rotary part, per-head K and V up-projections
        nope, rank = hd - arch.qk_rope_head_dim, arch.kv_lora_rank
        out = [Tensor(p + "attn_q_a.weight", (d, arch.q_lora_rank)), Tensor(p + "attn_q_a_norm.weight", (arch.q_lora_rank,)),
               Tensor(p + "attn_q_b.weight", (arch.q_lora_rank, q_width))] if arch.q_lora_rank else \
              [Tensor(p + "attn_q.weight", (d, q_width))]
        return out + [Tensor(p + "attn_kv_a_mqa.weight", (d, rank + arch.qk_rope_head_dim)),
                      Tensor(p + "attn_kv_a_norm.weight", (rank,)),
                      Tensor(p + "attn_k_b.weight", (nope, rank, arch.n_heads)),
                      Tensor(p + "attn_v_b.weight", (rank, arch.value_head_dim, arch.n_heads)),
                      Tensor(p + "attn_output.weight", (arch.n_heads * arch.value_head_dim, d))]
    if arch.family == "phi3":  # fused q|k|v
        out = [Tensor(p + "attn_qkv.weight", (d, q_width + 2 * kv_width))]
    else:
        out = [Tensor(p + "attn_q.weight", (d, q_width)), Tensor(p + "attn_k.weight", (d, kv_width)),
               Tensor(p + "attn_v.weight", (d, kv_width))]
    if arch.family in ("qwen2", "gpt-oss"):  # biases on q, k and v
        out += [Tensor(p + "attn_q.bias", (q_width,)), Tensor(p + "attn_k.bias", (kv_width,)),
                Tensor(p + "attn_v.bias", (kv_width,))]
    if arch.family in ("qwen3", "qwen3moe", "gemma3"):  # RMS norms on each query and key head
        out += [Tensor(p + "attn_q_norm.weight", (hd,)), Tensor(p + "attn_k_norm.weight", (hd,))]
    out.append(Tensor(p + "attn_output.weight", (q_width, d)))
    if arch.family == "gpt-oss":  # output bias and one learned "sink" logit per head
        out += [Tensor(p + "attn_output.bias", (d,)), Tensor(p + "attn_sinks.weight", (arch.n_heads,))]
    return out


def _ffn_tensors(arch: Architecture, i: int, p: str) -> list:
    d = arch.hidden
    if arch.is_moe_layer(i):
        e, f = arch.n_experts, arch.expert_width
        out = [Tensor(p + "ffn_gate_inp.weight", (d, e))]
        if arch.family == "gpt-oss":
            out.append(Tensor(p + "ffn_gate_inp.bias", (e,)))
        if arch.family == "deepseek2":  # V3's routing bias
            out.append(Tensor(p + "exp_probs_b.bias", (e,)))
        out += [Tensor(p + "ffn_gate_exps.weight", (d, f, e)), Tensor(p + "ffn_up_exps.weight", (d, f, e)),
                Tensor(p + "ffn_down_exps.weight", (f, d, e))]
        if arch.family == "gpt-oss":
            out += [Tensor(p + "ffn_gate_exps.bias", (f, e)), Tensor(p + "ffn_up_exps.bias", (f, e)),
                    Tensor(p + "ffn_down_exps.bias", (d, e))]
        if arch.n_shared_experts:
            s = f * arch.n_shared_experts
            out += [Tensor(p + "ffn_gate_shexp.weight", (d, s)), Tensor(p + "ffn_up_shexp.weight", (d, s)),
                    Tensor(p + "ffn_down_shexp.weight", (s, d))]
        return out
    if arch.family == "phi3":  # fused gate|up
        return [Tensor(p + "ffn_up.weight", (d, 2 * arch.ffn)), Tensor(p + "ffn_down.weight", (arch.ffn, d))]
    return [Tensor(p + "ffn_gate.weight", (d, arch.ffn)), Tensor(p + "ffn_up.weight", (d, arch.ffn)),
            Tensor(p + "ffn_down.weight", (arch.ffn, d))]


def layer_tensors(arch: Architecture, i: int) -> list:
    """The weight tensors of block ``i`` in GGUF naming, with GGUF shapes."""
    d, p = arch.hidden, f"blk.{i}."
    out = [Tensor(p + "attn_norm.weight", (d,))] + _attention_tensors(arch, p)
    if arch.family == "gpt-oss":  # its pre-FFN norm is called post_attention_norm
        out.append(Tensor(p + "post_attention_norm.weight", (d,)))
    else:
        out.append(Tensor(p + "ffn_norm.weight", (d,)))
    if arch.family in ("gemma2", "gemma3"):  # extra norms after attention and after the FFN
        out += [Tensor(p + "post_attention_norm.weight", (d,)), Tensor(p + "post_ffw_norm.weight", (d,))]
    return out + _ffn_tensors(arch, i, p)


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
    """Weights used for one token: for a mixture of experts only ``n_experts_used`` experts count
    (shared experts, attention, norms and both embedding matrices count in full, as model cards count them)."""
    total = 0
    for t in model_tensors(arch):
        if "_exps." in t.name:
            total += t.n_elements // arch.n_experts * arch.n_experts_used
        else:
            total += t.n_elements
    return total


def parameters_read_per_token(arch: Architecture) -> int:
    """Weights one token's pass multiplies: the active parameters less the embedding table, of which a
    token looks up a single row; a table tied to the output layer is multiplied in full and stays counted."""
    lookup = 0 if arch.tied_embeddings else arch.vocab * arch.hidden
    return active_parameter_count(arch) - lookup
