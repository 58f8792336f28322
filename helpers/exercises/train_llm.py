"""Checks for the exercises of notebook 19 (train your own LLM)."""
import math

from helpers.exercises import check_choice, check_number


def check_layer_parameters(answer, d_model: int, n_head: int, n_kv_head: int, d_ff: int):
    """19 ex. 1: parameters of one transformer block (2 RMSNorms, q/k/v/o, SwiGLU: gate, up, down)."""
    kv = n_kv_head * d_model // n_head
    norms, attn, ffn = 2 * d_model, 2 * d_model * d_model + 2 * d_model * kv, 3 * d_model * d_ff
    right = norms + attn + ffn
    return check_number(answer, right, rel_tol=1e-9, unit="parameters", mistakes=[  # a count: exact
        (norms + 4 * d_model * d_model + ffn, "K and V have only n_kv_head heads (grouped-query attention): "
                                              "their matrices are d_model x (n_kv_head x head_dim)."),
        (norms + attn + 2 * d_model * d_ff, "SwiGLU has three matrices: gate, up and down."),
        (attn + ffn, "Add the two RMSNorm weight vectors (d_model each)."),
    ])


def check_uniform_perplexity(answer, vocab_size: int):
    """19 ex. 2: perplexity of a model that spreads probability evenly over the vocabulary."""
    return check_number(answer, vocab_size, rel_tol=0.001, mistakes=[
        (math.log(vocab_size), "That is the loss (cross-entropy in nats); perplexity is exp(loss)."),
        (math.log2(vocab_size), "That is the loss in bits; perplexity is 2**bits = exp(nats)."),
        (1 / vocab_size, "That is the probability of each token; perplexity is its inverse."),
    ])


def check_rope_pairing(answer):
    """19 ex. 3: which dimensions llama.cpp's LLAMA architecture rotates together."""
    return check_choice(answer, "adjacent", allowed=("adjacent", "halves"), hints={
        "halves": "Rotating x[i] with x[i + d/2] is the NeoX pairing (Hugging Face's layout): that is why "
                  "HF-to-GGUF converters permute q and k. LLAMA in llama.cpp rotates (x[2i], x[2i+1]).",
    })
