"""How many learners one server holds: queueing turned into a head count. An estimate, said so.

A learner in a workshop alternates between reading and typing (``think_s`` seconds) and waiting for
a reply of ``reply_tokens`` tokens. With ``c`` requests in flight, each takes
R = time to first token + reply_tokens / per-request speed. By Little's law each learner has a
request in flight R / (R + think_s) of the time, so ``c`` requests in flight serve
N = c x (R + think_s) / R learners, as long as the server keeps up: it delivers X tokens/s in all,
so it is busy N x reply_tokens / (X x (R + think_s)) of the time, which must stay below
``TARGET_UTILIZATION``. The answer is the largest N that keeps each reply faster than reading.

Per-request speed comes from a measurement (a :class:`helpers.serving.load.LoadResult` row) or,
for a GPU the learner does not have, from the card's fitted speed model
(``helpers.hardware.device_speed``): with ``b`` replies batched, one decoding step reads the weights
once and every slot's KV cache and runs every layer once, so a step takes
(weight bytes + b x KV bytes per slot) / (efficiency x bandwidth) + layers x time per layer (the
published single-request runs it is fitted to cannot tell how batching changes the per-layer time,
so it is kept as it is: an estimate), and every turn first reads its
prompt (the conversation so far), which takes 2 x active parameters FLOPs per prompt token at the
card's fp16 rate. The server is kept below ``TARGET_UTILIZATION`` busy: as a queue approaches
full use, waits grow without bound (a queue's wait scales with 1 / (1 - utilization)). Bytes;
bandwidth in GB/s; compute in TFLOPS (10**12 operations per second).
"""
from dataclasses import dataclass

from helpers.course.catalog import get_gpu, get_model
from helpers.hardware.device_speed import prompt_tokens_per_second, speed_model
from helpers.hardware.roofline import SpeedModel
from helpers.memory.gguf_size import bytes_read_per_token
from helpers.memory.vram import kv_cache_bytes, memory_plan, usable_gpu_bytes

# Silent reading of English runs at about 238 words per minute (Brysbaert 2019, "How many words do
# we read per minute?", Journal of Memory and Language 109), about 4 words/s; at about 1.3 tokens
# per word that is 5.3 tokens/s. A reply slower than this makes the learner wait on every line.
READING_TOKENS_PER_SECOND = 5.3
TARGET_UTILIZATION = 0.8


def learners_served(in_flight: float, first_token_s: float, reply_tokens: int, tokens_per_second: float,
                    think_s: float) -> float:
    """Learners that ``in_flight`` concurrent requests serve, by Little's law (see the module)."""
    for name, value in (("in_flight", in_flight), ("reply_tokens", reply_tokens), ("tokens_per_second", tokens_per_second)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if not first_token_s >= 0 or not think_s >= 0:
        raise ValueError(f"first_token_s and think_s must be >= 0 seconds, got {first_token_s!r}, {think_s!r}")
    reply_s = first_token_s + reply_tokens / tokens_per_second
    return in_flight * (reply_s + think_s) / reply_s


def learners_from_measurements(rows, reply_tokens: int, think_s: float,
                               floor_tokens_per_second: float = READING_TOKENS_PER_SECOND,
                               utilization: float = TARGET_UTILIZATION) -> dict:
    """Learners a measured server holds, from :meth:`LoadResult.row` dicts (one per concurrency).

    For each measured concurrency ``c`` whose per-request speed s(c) is at least the floor: a reply
    takes R = TTFT alone + ``reply_tokens`` / s(c) (TTFT of the one-client row: reading the prompt,
    without queueing), and the server delivers its aggregate X(c) tokens/s. Kept ``utilization``
    busy it serves utilization x X(c) x (R + think) / reply_tokens learners. A server that queues
    has the same X at every c, so more clients add nothing; one that batches gains with c.
    Returns the best row's figures (``learners`` 0 when even one client is slower than the floor).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no measurements given")
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization must be in (0, 1], got {utilization!r}")
    alone = min(rows, key=lambda r: r["clients"])["median TTFT (s)"]
    best = {"clients": 0, "per request (tokens/s)": 0.0, "aggregate (tokens/s)": 0.0, "learners": 0.0}
    for row in rows:
        speed = row["per request (tokens/s)"]
        if not speed >= floor_tokens_per_second:
            continue
        reply_s = alone + reply_tokens / speed
        learners = utilization * row["aggregate (tokens/s)"] * (reply_s + think_s) / reply_tokens
        if learners > best["learners"]:
            best = {"clients": row["clients"], "per request (tokens/s)": speed,
                    "aggregate (tokens/s)": row["aggregate (tokens/s)"], "learners": learners}
    return best


def batched_tokens_per_second(weight_bytes: float, kv_bytes_per_slot: float, slots: int, bandwidth_gbps: float,
                              model: SpeedModel, n_layers: int) -> float:
    """Speed each of ``slots`` batched replies gets (tokens/s per request): one step per token for all of them."""
    if not slots >= 1:
        raise ValueError(f"slots must be >= 1, got {slots!r}")
    step_bytes = weight_bytes + slots * kv_bytes_per_slot
    return 1 / model.seconds_per_token(step_bytes, bandwidth_gbps, n_layers)


@dataclass(frozen=True)
class GPUWorkshopEstimate:
    """One model on one GPU for a room: slots that fit, the speed each gets, learners served."""

    model: str
    mix: str
    gpu: str
    context_per_learner: int  # tokens
    slots_that_fit: int
    slots_used: int
    tokens_per_second_each: float
    prompt_seconds_per_turn: float
    learners_by_slots: float  # Little's law over the slots in use
    learners_by_utilization: float  # server busy TARGET_UTILIZATION of the time
    learners: float  # the smaller of the two
    prompt_rate_source: str = ""  # where the prompt-processing rate came from


def gpu_workshop_estimate(model: str, mix: str, gpu: str, context_per_learner: int = 4096, prompt_tokens: int = 1000,
                          reply_tokens: int = 200, think_s: float = 60.0,
                          floor_tokens_per_second: float = READING_TOKENS_PER_SECOND,
                          max_slots: int = 64) -> GPUWorkshopEstimate:
    """How many learners ``gpu`` serves with ``model`` at ``mix`` (see the module for the model).

    Slots that fit: (usable GPU bytes - weights, compute buffer and runtime for one slot) / KV bytes
    per slot of ``context_per_learner`` tokens, at most ``max_slots``. Slots used: the most, up to
    that, whose batched speed stays at or above the floor. Prompt time: the card's published
    prompt-processing rate (``prompt_tokens_per_second``) where the record has one, else the fp16 rate
    of ``data/gpus.csv``, the shader rate without tensor cores (then the prompt time is an upper bound).
    Every turn re-reads its whole prompt: llama-server's prompt cache, which keeps each slot's last
    prompt, would shorten it.
    """
    arch = get_model(model).architecture
    card = get_gpu(gpu)
    base = memory_plan(arch, mix, context_per_learner).gpu_total
    kv_per_slot = kv_cache_bytes(arch, context_per_learner)
    usable = usable_gpu_bytes(card)
    fit = int(min(max_slots, 1 + (usable - base) // kv_per_slot)) if base <= usable else 0
    weights = bytes_read_per_token(arch, mix)
    used, speed = 0, 0.0
    for slots in range(1, fit + 1):
        each = batched_tokens_per_second(weights, kv_per_slot, slots, card.bandwidth_gbps, speed_model(card),
                                         arch.n_layers)
        if each < floor_tokens_per_second:
            break
        used, speed = slots, each
    prompt_rate, source = prompt_tokens_per_second(arch, card)
    prompt_s = prompt_tokens / prompt_rate
    if not used:
        return GPUWorkshopEstimate(model, mix, gpu, context_per_learner, fit, 0, 0.0, prompt_s, 0.0, 0.0, 0.0, source)
    by_slots = learners_served(used, prompt_s, reply_tokens, speed, think_s)
    turn_s = prompt_s + reply_tokens / speed + think_s
    server_s_per_turn = prompt_s + reply_tokens / (speed * used)
    by_utilization = TARGET_UTILIZATION * turn_s / server_s_per_turn
    return GPUWorkshopEstimate(model, mix, gpu, context_per_learner, fit, used, speed, prompt_s, by_slots,
                               by_utilization, min(by_slots, by_utilization), source)
