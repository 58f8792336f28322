"""What quantization costs, measured: weight error, output error, and which quant to pick.

Errors are plain numbers in the weights' own units (RMSE, max |error|) or ratios (relative error
of a layer's output ``W @ x``). Sizes: bits per weight, bytes, GiB (2**30 bytes) where stated.
"""
import numpy as np

from helpers.quantization.block_formats import LAYOUTS, QK_K, round_trip

# llama.cpp mixes from most to fewest bits: the ladder an operator walks down until the model fits.
QUANT_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")


def bits_per_weight(fmt: str) -> float:
    """Storage bits per weight of a GGUF block format, from its byte layout."""
    return LAYOUTS[fmt].bits_per_weight


def k_quant_ready(matrices: dict) -> dict:
    """The matrices whose rows are a multiple of 256 weights (every format here can store them)."""
    return {k: v for k, v in matrices.items() if v.ndim == 2 and v.shape[1] % QK_K == 0}


def measure(w, fmt: str, x) -> dict:
    """Round-trip ``w`` (rows, cols) through ``fmt``; errors of the weights and of ``w @ x``.

    ``x``: (cols,) or (cols, n) inputs. Returns RMSE, max |error| and the relative error
    ``||(W_q - W) x|| / ||W x||`` of the layer's output.
    """
    w = np.asarray(w, np.float32)
    back = round_trip(w, fmt).astype(np.float64)
    diff = back - w
    y = w.astype(np.float64) @ x
    return {"format": fmt, "bits per weight": bits_per_weight(fmt),
            "RMSE": float(np.sqrt(np.mean(diff ** 2))), "max abs error": float(np.abs(diff).max()),
            "relative output error": float(np.linalg.norm(diff @ x) / np.linalg.norm(y))}


def error_table(matrices: dict, formats, seed: int = 0, n_inputs: int = 8) -> list:
    """``measure`` every format on every matrix with the same random inputs; pooled over matrices.

    RMSE is pooled over all weights, max error is the largest anywhere, output error is the
    weight-count-weighted mean over matrices. Rows sorted by bits per weight, most first.
    """
    matrices = k_quant_ready(matrices)
    if not matrices:
        raise ValueError("no matrix with rows that are a multiple of 256 weights to measure")
    rng = np.random.default_rng(seed)
    inputs = {k: rng.standard_normal((w.shape[1], n_inputs)) for k, w in matrices.items()}
    total = sum(w.size for w in matrices.values())
    rows = []
    for fmt in formats:
        per = [(w.size, measure(w, fmt, inputs[k])) for k, w in matrices.items()]
        rows.append({"format": fmt, "bits per weight": bits_per_weight(fmt),
                     "RMSE": float(np.sqrt(sum(n * m["RMSE"] ** 2 for n, m in per) / total)),
                     "max abs error": max(m["max abs error"] for _, m in per),
                     "relative output error": sum(n * m["relative output error"] for n, m in per) / total})
    return sorted(rows, key=lambda r: -r["bits per weight"])


def blockwise_round_trip(w, bits: int, block: int | None) -> np.ndarray:
    """Symmetric ``bits``-bit absmax quantization with one float scale per ``block`` weights of a row.

    ``block=None`` means one scale for the whole matrix. Scales kept in float32 here (GGUF stores
    them in f16); their cost is ``32 / block`` extra bits per weight in this form.
    """
    w = np.asarray(w, np.float32)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {w.shape}")
    qmax = 2 ** (bits - 1) - 1
    if block is None:
        groups = w.reshape(1, -1)
    else:
        if block < 1 or w.shape[1] % block:
            raise ValueError(f"block must divide the row length {w.shape[1]}, got {block!r}")
        groups = w.reshape(-1, block)
    amax = np.abs(groups).max(axis=1, keepdims=True)
    scale = np.where(amax > 0, amax / qmax, 1).astype(np.float32)
    return (np.clip(np.rint(groups / scale), -qmax, qmax) * scale).reshape(w.shape)


def scale_bits_per_weight(block: int | None, n_weights: int, scale_bits: int = 16) -> float:
    """Extra bits per weight that the scales cost: ``scale_bits / block`` (one scale per tensor: ~0)."""
    return scale_bits / (n_weights if block is None else block)


def best_scale(x, importance, bits: int, n_candidates: int = 200) -> float:
    """The scale (searched on a grid around absmax/qmax) minimising ``sum(importance * (x - s*q)**2)``.

    This is the idea behind an importance matrix: with importance = how strongly each input
    channel is used (mean of its squared activations), the rounding error moves to weights that
    matter less. ``importance`` all ones gives the plain least-squares scale.
    """
    x = np.asarray(x, np.float64)
    importance = np.asarray(importance, np.float64)
    if x.shape != importance.shape or np.any(importance < 0):
        raise ValueError("importance must have x's shape and be non-negative")
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(x).max()
    if amax == 0:
        return 0.0
    candidates = amax / qmax * np.linspace(0.6, 1.1, n_candidates)
    errors = [np.sum(importance * (x - s * np.clip(np.rint(x / s), -qmax, qmax)) ** 2) for s in candidates]
    return float(candidates[int(np.argmin(errors))])


def weighted_error(x, importance, scale: float, bits: int) -> float:
    """``sum(importance * (x - scale*q)**2)`` with ``q = clip(round(x/scale))``."""
    qmax = 2 ** (bits - 1) - 1
    x = np.asarray(x, np.float64)
    q = np.clip(np.rint(x / scale), -qmax, qmax) if scale else np.zeros_like(x)
    return float(np.sum(np.asarray(importance) * (x - scale * q) ** 2))


def recommend_quant(arch, gpu_bytes: int, context: int = 8192, ladder=QUANT_LADDER):
    """The mix with the most bits whose full-GPU memory plan fits a card of ``gpu_bytes``, or None.

    ``gpu_bytes`` is the card's memory (bytes); a plan fits when it leaves ``FIT_MARGIN_BYTES`` (1 GiB)
    of it free, as :func:`helpers.memory.vram.plan_budget_bytes` counts it, the margin llama.cpp's
    ``--fit`` keeps. Memory from :func:`helpers.memory.vram.memory_plan` (weights from llama.cpp's
    per-tensor rules, f16 KV cache at ``context`` tokens, compute buffer, runtime overhead).
    Returns ``(mix, bytes needed)``, or ``(None, None)``.
    """
    from helpers.memory.vram import memory_plan, plan_budget_bytes

    budget = plan_budget_bytes(gpu_bytes)
    for mix in ladder:
        need = memory_plan(arch, mix, context).gpu_total
        if need <= budget:
            return mix, need
    return None, None


def gguf_perplexity(model_path, text: str, n_ctx: int = 256, n_threads: int = 2) -> float:
    """Perplexity of a GGUF model on ``text`` with llama.cpp: exp(mean negative log-likelihood).

    One window of at most ``n_ctx`` tokens (BOS included); every token after the first is scored.
    Lower is better; a model that guesses uniformly over V tokens scores V.
    """
    from llama_cpp import Llama

    llm = Llama(model_path=str(model_path), n_ctx=n_ctx, logits_all=True, verbose=False, n_threads=n_threads)
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)[:n_ctx]
    if len(tokens) < 2:
        raise ValueError("text is too short: need at least one token after BOS")
    llm.reset()
    llm.eval(tokens)
    logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -log_probs[np.arange(len(tokens) - 1), tokens[1:]]
    return float(np.exp(nll.mean()))


def load_quality_catalog(path=None) -> list:
    """Perplexity increase per llama.cpp mix as llama-quantize reports it, from data/quant_quality.csv.

    Each row: ``mix``, ``size_gib_at_reference`` (GiB, 2**30 bytes, of the reference model's file),
    ``perplexity_increase`` (over the 16-bit model, on wikitext), ``reference_model``, ``source``.
    """
    import csv

    from helpers.course.paths import DATA_DIR

    path = DATA_DIR / "quant_quality.csv" if path is None else path
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            size, delta = float(row["size_gib_at_reference"]), float(row["perplexity_increase"])
            if not (0 < size < 100 and 0 <= delta < 100) or not row["source"].strip():
                raise ValueError(f"{path}: bad row for {row.get('mix')!r}: size {size}, increase {delta}, "
                                 "each needs 0 < size < 100 GiB, 0 <= increase < 100 and a source")
            rows.append({"mix": row["mix"], "size_gib_at_reference": size, "perplexity_increase": delta,
                         "reference_model": row["reference_model"], "source": row["source"]})
    return rows


def storage_type(fmt: str, row_length: int) -> str:
    """The type llama.cpp really stores a row of ``row_length`` weights in when asked for ``fmt``.

    When the row is not a multiple of the format's block, llama.cpp falls back (Q4_K -> Q5_0,
    Q6_K -> Q8_0..., ``data/quant_mixes.json``); if that does not divide the row either, F16.
    """
    from helpers.memory.gguf_size import load_mixes

    if row_length % LAYOUTS[fmt].weights_per_block == 0:
        return fmt
    fallback = load_mixes()["fallback"].get(fmt)
    if fallback in LAYOUTS and row_length % LAYOUTS[fallback].weights_per_block == 0:
        return fallback
    return "F16"


def quantize_params(params: dict, fmt: str) -> tuple:
    """Every 2-D matrix of ``params`` round-tripped through ``fmt`` (biases untouched).

    Returns ``(new params, {matrix name: storage type used})``; see :func:`storage_type`.
    """
    out, used = {}, {}
    for name, value in params.items():
        if value.ndim != 2:
            out[name] = value
            continue
        kind = storage_type(fmt, value.shape[1])
        used[name] = kind
        out[name] = (value.astype(np.float16).astype(np.float32) if kind == "F16" else round_trip(value, kind))
    return out, used


def classifier_quant_table(params: dict, formats, x, y) -> list:
    """Quality of the digits classifier with every matrix quantized to each format, vs float32.

    Per format: held-out perplexity (over the 10 classes) and accuracy, the mean KL divergence
    (nats) from the float32 model's predicted distribution (llama.cpp's ``llama-perplexity
    --kl-divergence`` reports the same for language models), and how often the top answer changes.
    """
    from helpers.quantization.model_weights import classifier_quality, mlp_logits

    def log_probs(p):
        logits = mlp_logits(p, x)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    base = log_probs(params)
    rows = [{"format": "F32", "bits per weight": 32.0, **classifier_quality(params, x, y),
             "KL divergence from F32": 0.0, "top answer changed": 0.0}]
    for fmt in formats:
        quantized, _ = quantize_params(params, fmt)
        lp = log_probs(quantized)
        rows.append({"format": fmt, "bits per weight": bits_per_weight(fmt), **classifier_quality(quantized, x, y),
                     "KL divergence from F32": float((np.exp(base) * (base - lp)).sum(axis=1).mean()),
                     "top answer changed": float((base.argmax(axis=1) != lp.argmax(axis=1)).mean())})
    return rows
