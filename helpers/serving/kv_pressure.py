"""When vLLM's KV cache runs out: pre-emption, seen in its ``/metrics``.

vLLM hands KV memory out in blocks (PagedAttention; 128 tokens each in its CPU build, one of them
kept aside: a cache of 1,024 tokens holds 7 blocks of requests). A waiting request is admitted when
there are free blocks for its prompt, and takes another block each time its reply fills one. When
a running request needs a block and none is free, vLLM *pre-empts* the request that arrived last:
frees its blocks and puts it back at the front of the waiting queue, to be recomputed (its prompt
and the tokens it had produced) once blocks are free again. Nothing fails; the cost shows as
waiting (time to first token) and as work done twice (throughput).

vLLM's ``/metrics`` counts it: :data:`VLLM_SERIES` names the samples :func:`pressure_rows` turns
into a time series (the pre-emption counter rose seconds after the running and waiting gauges
showed a request moving back to the queue; its last value is right). :func:`kv_cache_gib_for_tokens`
sizes a cache that holds a given number of tokens, :func:`cache_tokens_in_log` reads back the size
vLLM reports when it starts, and :func:`measure_pressure` starts vLLM with a given cache, sends one
load and records all of it.
"""
import re
from dataclasses import dataclass

from helpers.memory.vram import kv_cache_bytes
from helpers.serving.compare import measure_one, tool_for, vllm_settings
from helpers.serving.latency import DEFAULT_SLO, ServiceLevel
from helpers.serving.metrics import MetricsRecorder
from helpers.serving.server import start_server

VLLM_SERIES = {"vllm:num_requests_running": "running requests", "vllm:num_requests_waiting": "waiting requests",
               "vllm:kv_cache_usage_perc": "KV cache in use (share)", "vllm:num_preemptions_total": "pre-emptions so far"}
LOG_CACHE_SIZE = re.compile(r"KV cache size: ([\d,]+) tokens")
TOKENS_PER_ROUNDING = 256  # kv_cache_bytes counts cells in steps of 256: measure a multiple of it


def kv_cache_gib_for_tokens(arch, tokens: int) -> float:
    """GiB of 16-bit KV cache that hold ``tokens`` tokens of ``arch`` (2 x layers x KV heads x head
    size x 2 bytes each), for ``ServerSettings(kind="vllm", kv_cache_gib=...)``; vLLM rounds the
    tokens down to whole blocks."""
    if not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens must be a whole number >= 1, got {tokens!r}")
    bytes_per_token = kv_cache_bytes(arch, TOKENS_PER_ROUNDING, cache_type="f16") // TOKENS_PER_ROUNDING
    return tokens * bytes_per_token / 2**30


def cache_tokens_in_log(log_text: str) -> int:
    """The KV cache size in tokens that vLLM wrote to its log at start ("KV cache size: 1,024 tokens")."""
    found = LOG_CACHE_SIZE.findall(log_text)
    if not found:
        raise ValueError("no 'KV cache size: N tokens' line in the log: did vLLM finish starting?")
    return int(found[-1].replace(",", ""))


def pressure_rows(samples) -> list:
    """One row per scrape of :data:`VLLM_SERIES` (``MetricsRecorder(..., names=VLLM_SERIES)``): seconds
    since the first scrape and each series under its plain name."""
    samples = list(samples)
    if not samples:
        raise ValueError("no scrapes given")
    start = samples[0]["time_s"]
    return [{"time (s)": s["time_s"] - start, **{label: s[name] for name, label in VLLM_SERIES.items()}}
            for s in samples]


@dataclass(frozen=True)
class PressureRun:
    """One load against vLLM with a KV cache of ``cache_tokens`` tokens (as vLLM reported it)."""

    cache_tokens: int
    summary: dict  # helpers.serving.latency.bench_summary's columns
    series: list  # pressure_rows of the scrapes taken while the load ran

    def row(self) -> dict:
        """The run in one row: the cache, the summary, and the most running and waiting requests and
        the pre-emptions seen in ``/metrics`` (whole numbers)."""
        most = {label: round(max(r[label] for r in self.series)) for label in ("running requests", "waiting requests")}
        return {"KV cache (tokens)": self.cache_tokens, **self.summary, "most running": most["running requests"],
                "most waiting": most["waiting requests"], "pre-emptions": round(self.series[-1]["pre-emptions so far"])}


def measure_pressure(model_path, alias: str, prompts, kv_cache_gib: float, clients: int, reply_tokens: int,
                     n_ctx: int = 512, level: ServiceLevel = DEFAULT_SLO, interval_s: float = 0.25) -> PressureRun:
    """Start vLLM on ``model_path`` with ``kv_cache_gib`` GiB of KV cache and ``n_ctx`` tokens per request,
    send ``clients`` greedy requests of ``reply_tokens`` tokens at once while scraping ``/metrics`` every
    ``interval_s`` seconds, stop it, and return what happened."""
    settings = vllm_settings(model_path, alias, n_ctx=n_ctx, kv_cache_gib=kv_cache_gib)
    with start_server(settings) as vllm:
        with MetricsRecorder(vllm.url, interval_s, names=tuple(VLLM_SERIES)) as recorder:
            summary, = measure_one(vllm, alias, prompts, [clients], reply_tokens, level, tool_for(vllm))
        cache_tokens = cache_tokens_in_log(vllm.log_path.read_text(errors="replace"))
    return PressureRun(cache_tokens, summary, pressure_rows(recorder.samples))
