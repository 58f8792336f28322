"""A serving benchmark's metrics, as vLLM's ``vllm bench serve`` defines them, from timed requests.

Definitions (vLLM's benchmark CLI, https://docs.vllm.ai/en/latest/benchmarking/cli/, and its source
``vllm/benchmarks/serve.py``), every time in seconds:

* **TTFT**, time to first token: from sending the request to the first piece of text.
* **TPOT**, time per output token after the first: ``(latency - TTFT) / (output tokens - 1)``, one
  value per request (undefined for a reply of one token).
* **ITL**, inter-token latency: every gap between two consecutive streamed pieces, pooled over all
  requests (a stall shows in ITL's high percentiles, while TPOT averages it away).
* **E2EL**, end-to-end latency: from sending to the last piece.
* Percentiles p50, p95, p99 of each, by linear interpolation (``numpy.percentile``'s default).
* **Request throughput**: completed requests per second of the whole run; **output token
  throughput**: output tokens per second of the whole run.
* **Goodput** at a service-level objective (``--goodput ttft:1000 tpot:100``, milliseconds there):
  completed requests per second whose TTFT *and* TPOT both stay within the objective.

The timings are :class:`helpers.serving.load.RequestTiming` (tokens = streamed pieces with text).
"""
from dataclasses import dataclass

import numpy as np

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class ServiceLevel:
    """A service-level objective: the longest acceptable TTFT and TPOT, in seconds."""

    ttft_s: float = 1.0
    tpot_s: float = 0.1

    def __post_init__(self):
        for name in ("ttft_s", "tpot_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


DEFAULT_SLO = ServiceLevel()  # TTFT within 1 s, TPOT within 100 ms


def time_per_output_token(first_token_s: float, total_s: float, tokens: int) -> float:
    """TPOT in seconds: ``(total_s - first_token_s) / (tokens - 1)``; NaN for fewer than 2 tokens."""
    if tokens < 2:
        return float("nan")
    return (total_s - first_token_s) / (tokens - 1)


def inter_token_gaps(piece_s) -> list:
    """ITL values of one request: the gaps in seconds between consecutive arrival times ``piece_s``."""
    piece_s = list(piece_s)
    if any(b < a for a, b in zip(piece_s, piece_s[1:])):
        raise ValueError("arrival times must not decrease; got them out of order")
    return [b - a for a, b in zip(piece_s, piece_s[1:])]


def percentile(values, p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, interpolated linearly; NaN when there are none."""
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, got {p!r}")
    values = [v for v in values if v == v]  # NaN (a one-token reply's TPOT) counts for nothing
    return float(np.percentile(values, p)) if values else float("nan")


def meets(timing, level: ServiceLevel) -> bool:
    """Whether one request met the objective: TTFT and TPOT within it (a one-token reply: TTFT only)."""
    tpot = time_per_output_token(timing.first_token_s, timing.total_s, timing.tokens)
    return timing.tokens > 0 and timing.first_token_s <= level.ttft_s and not tpot > level.tpot_s


def goodput(timings, wall_s: float, level: ServiceLevel) -> float:
    """Requests per second (of ``wall_s``, the whole run) that met ``level``."""
    if not wall_s > 0:
        raise ValueError(f"wall_s must be a positive number of seconds, got {wall_s!r}")
    return sum(meets(t, level) for t in timings) / wall_s


METRICS = ("TTFT", "TPOT", "ITL", "E2EL")
REQUEST_THROUGHPUT = "request throughput (req/s)"
OUTPUT_THROUGHPUT = "output throughput (tokens/s)"


def goodput_column(level: ServiceLevel) -> str:
    """The goodput column's name, with its objective: "goodput (req/s, TTFT ≤ 1 s, TPOT ≤ 100 ms)"."""
    return f"goodput (req/s, TTFT ≤ {level.ttft_s:g} s, TPOT ≤ {level.tpot_s * 1000:g} ms)"


def percentile_column(metric: str, p: int) -> str:
    """A percentile column's name, e.g. "TTFT p95 (ms)"."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return f"{metric} p{p} (ms)"


def bench_summary(timings, wall_s: float, level: ServiceLevel = DEFAULT_SLO, percentiles=(50, 95)) -> dict:
    """One table row in ``vllm bench serve``'s terms: throughputs, goodput, and the percentiles (in ms)
    of TTFT, TPOT, ITL and E2EL over ``timings``, a run of ``wall_s`` seconds."""
    timings = list(timings)
    if not timings:
        raise ValueError("no timed requests given")
    if not wall_s > 0:
        raise ValueError(f"wall_s must be a positive number of seconds, got {wall_s!r}")
    if any(p not in PERCENTILES for p in percentiles):
        raise ValueError(f"percentiles must be among {PERCENTILES}, got {percentiles!r}")
    series = {"TTFT": [t.first_token_s for t in timings],
              "TPOT": [time_per_output_token(t.first_token_s, t.total_s, t.tokens) for t in timings],
              "ITL": [gap for t in timings for gap in inter_token_gaps(t.piece_s)],
              "E2EL": [t.total_s for t in timings]}
    row = {"requests": len(timings), REQUEST_THROUGHPUT: len(timings) / wall_s,
           OUTPUT_THROUGHPUT: sum(t.tokens for t in timings) / wall_s,
           goodput_column(level): goodput(timings, wall_s, level)}
    for name, values in series.items():
        for p in percentiles:
            row[percentile_column(name, p)] = 1000 * percentile(values, p)
    return row
