"""The course's serving metrics against vLLM's own: ``vllm.benchmarks.serve.calculate_metrics``, run in
vLLM's environment (.venv-vllm) on the same timed requests. Skipped where that environment is missing."""
import json
import math
import os
import random
import statistics
import subprocess
from itertools import accumulate

import pytest

from helpers.serving.latency import ServiceLevel, bench_summary, goodput, percentile, time_per_output_token
from helpers.serving.load import RequestTiming
from helpers.serving.vllm_env import vllm_python

pytestmark = pytest.mark.vllm

PERCENTILES = (50, 95, 99)
LEVEL = ServiceLevel(ttft_s=1.0, tpot_s=0.1)
GOODPUT_MS = {"ttft": 1000, "tpot": 100}  # the same objective as `vllm bench serve --goodput ttft:1000 tpot:100`

VLLM_METRICS = """
import dataclasses, json, sys
from vllm.benchmarks.datasets import SampleRequest
from vllm.benchmarks.lib.endpoint_request_func import RequestFuncOutput
from vllm.benchmarks.serve import calculate_metrics

cases = json.load(open(sys.argv[1]))
results = {}
for name, case in cases.items():
    outputs = [RequestFuncOutput(**fields) for fields in case["outputs"]]
    requests = [SampleRequest(prompt="", prompt_len=fields["prompt_len"]) for fields in case["outputs"]]
    metrics, _ = calculate_metrics(requests, outputs, case["dur_s"], None, case["percentiles"], case["goodput"])
    results[name] = dataclasses.asdict(metrics)
json.dump(results, open(sys.argv[2], "w"), default=float)
"""


def request(first_s, total_s, tokens, gaps=None):
    """A timed reply: ``tokens`` pieces from ``first_s`` to exactly ``total_s``, spaced by the weights ``gaps``."""
    gaps = gaps or [1] * (tokens - 1)
    assert len(gaps) == tokens - 1
    marks = list(accumulate(gaps, initial=0))
    pieces = [first_s + (total_s - first_s) * mark / marks[-1] for mark in marks[:-1]] + [total_s]
    return RequestTiming(0, first_s, total_s, tokens, "x" * tokens, tuple(pieces))


def varied_requests(seed=7, count=12):
    rng = random.Random(seed)
    timings = []
    for _ in range(count):
        tokens = rng.randint(2, 40)
        first = rng.uniform(0.05, 1.6)
        timings.append(request(first, first + rng.uniform(0.02, 0.16) * (tokens - 1), tokens,
                               [rng.expovariate(1.0) for _ in range(tokens - 1)]))
    return timings


CASES = {  # name: (timings, wall_s)
    "uneven gaps and a stall": ([request(0.3, 1.9, 6, [1, 1, 9, 1, 1]),  # a stall of about 1.2 s
                                 request(0.2, 0.9, 8, [1, 2, 1, 3, 1, 1, 2]),
                                 request(0.45, 1.4, 5)], 2.5),
    "objective edges": ([request(1.0, 2.0, 11),  # TTFT exactly 1 s and TPOT exactly 100 ms: met
                         request(0.25, 1.25, 11, [1, 3, 1, 1, 1, 5, 1, 1, 2, 1]),  # TPOT exactly 100 ms
                         request(math.nextafter(1.0, 2.0), 2.0, 11),  # TTFT just over 1 s, TPOT within
                         request(0.25, math.nextafter(1.25, 2.0), 11),  # TPOT just over 100 ms
                         request(0.75, 0.75, 1),  # one token in time: met (no TPOT)
                         request(1.5, 1.5, 1)], 3.0),  # one token too late
    "varied token counts": (varied_requests(), 7.5),
}


def as_vllm_output(timing: RequestTiming) -> dict:
    """The fields vLLM's streaming client records for this reply (times in seconds from its sending)."""
    return {"success": True, "generated_text": timing.text, "output_tokens": timing.tokens, "prompt_len": 16,
            "ttft": timing.first_token_s, "latency": timing.total_s, "start_time": 0.0,
            "itl": [b - a for a, b in zip(timing.piece_s, timing.piece_s[1:])]}


@pytest.fixture(scope="module")
def vllm_metrics(tmp_path_factory):
    """vLLM's BenchmarkMetrics of every case, as dicts, from one run of vLLM's Python."""
    folder = tmp_path_factory.mktemp("vllm-metrics")
    cases = {name: {"outputs": [as_vllm_output(t) for t in timings], "dur_s": wall_s,
                    "percentiles": [float(p) for p in PERCENTILES], "goodput": GOODPUT_MS}
             for name, (timings, wall_s) in CASES.items()}
    (folder / "cases.json").write_text(json.dumps(cases))
    run = subprocess.run([str(vllm_python()), "-c", VLLM_METRICS, "cases.json", "metrics.json"], cwd=folder,
                         timeout=120, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((folder / "metrics.json").read_text())


def close(ours, theirs):
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=0.0)


def test_the_edge_case_sits_exactly_on_the_objective():
    timings, wall_s = CASES["objective edges"]
    tpots = [time_per_output_token(t.first_token_s, t.total_s, t.tokens) for t in timings]
    assert timings[0].first_token_s == LEVEL.ttft_s and tpots[0] == tpots[1] == LEVEL.tpot_s
    assert timings[2].first_token_s > LEVEL.ttft_s and tpots[2] < LEVEL.tpot_s < tpots[3]
    assert goodput(timings, wall_s, LEVEL) * wall_s == 3  # both exact edges and the prompt one-token reply


@pytest.mark.parametrize("name", CASES)
def test_bench_summary_matches_vllms_calculate_metrics(name, vllm_metrics):
    timings, wall_s = CASES[name]
    theirs = vllm_metrics[name]
    row = bench_summary(timings, wall_s, level=LEVEL, percentiles=PERCENTILES)
    (goodput_key,) = [key for key in row if key.startswith("goodput")]
    assert row["requests"] == theirs["completed"] == len(timings) and theirs["failed"] == 0
    assert close(row["request throughput (req/s)"], theirs["request_throughput"])
    assert close(row["output throughput (tokens/s)"], theirs["output_throughput"])
    assert row[goodput_key] == theirs["request_goodput"] == goodput(timings, wall_s, LEVEL)
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for p, value_ms in theirs[f"percentiles_{metric}_ms"]:
            assert close(row[f"{metric.upper()} p{p:g} (ms)"], value_ms), (metric, p)


@pytest.mark.parametrize("name", CASES)
def test_per_request_tpot_and_median_match_vllm(name, vllm_metrics):
    timings, _ = CASES[name]
    theirs = vllm_metrics[name]
    tpots = [time_per_output_token(t.first_token_s, t.total_s, t.tokens) for t in timings]
    tpots = [tpot for tpot in tpots if not math.isnan(tpot)]
    assert close(1000 * statistics.fmean(tpots), theirs["mean_tpot_ms"])
    assert close(1000 * percentile(tpots, 50), theirs["median_tpot_ms"])
    assert close(1000 * percentile([t.first_token_s for t in timings], 50), theirs["median_ttft_ms"])
