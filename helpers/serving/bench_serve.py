"""vLLM's serving benchmark, ``vllm bench serve``, against any OpenAI-compatible server on this machine.

``vllm bench serve`` sends streamed requests to a server (vLLM or any other that speaks the OpenAI
API), times every streamed chunk and reports the metrics :mod:`helpers.serving.latency` defines. It
comes with vLLM, so it runs in vLLM's environment (``.venv-vllm``), through
``helpers/serving/bench_serve_runs.py``, which makes the calls the ``vllm`` command makes and runs a
whole list of benchmarks in one process.

One run here is ``clients`` requests sent at once (``--max-concurrency`` and ``--num-prompts`` both
``clients``, ``--request-rate inf``), each a greedy chat reply of ``output_tokens`` tokens
(``--ignore-eos --temperature 0``) to one of the course's prompts: vLLM's *custom* dataset, a JSONL
file of ``{"prompt": ...}`` lines, sent as the user's message (``--skip-chat-template``: the server
applies the chat template). Before each run it sends one request alone (its "initial test run"),
which also warms the server up. It counts tokens with the model's tokenizer
(:func:`helpers.serving.vllm_weights.hf_tokenizer_dir`) where a server reports no usage.

It times every streamed chunk that carries a choice, text or not. llama-server and vLLM both send a
first chunk with the role and no text, right before the first token's (TTFT is the same within a
millisecond); the gap between the two counts as one ITL value of about 0 ms, and llama-server's
closing chunk (``finish_reason``, no text) as another. With replies of 64 tokens that moves ITL's
median by little and its p95 not at all; the course's own loop (:mod:`helpers.serving.load`) times
the chunks with text only.
"""
import json
import os
import shlex
import subprocess
from pathlib import Path

from helpers.course.atomic import write_text_atomic
from helpers.course.orphan_guard import guarded
from helpers.course.paths import BUILD_DIR
from helpers.serving.latency import (
    DEFAULT_SLO,
    METRICS,
    OUTPUT_THROUGHPUT,
    PERCENTILES,
    REQUEST_THROUGHPUT,
    ServiceLevel,
    goodput_column,
    percentile_column,
)
from helpers.serving.vllm_env import require_vllm_env

RUNNER = Path(__file__).with_name("bench_serve_runs.py")
WORK_DIR = BUILD_DIR / "bench_serve"
SECONDS_PER_RUN = 300.0  # the most one run may take before the whole list is stopped


class BenchServeFailed(RuntimeError):
    """``vllm bench serve`` stopped, or some of its requests failed; the message says which and why."""


def write_prompts(prompts, path: Path) -> Path:
    """Write ``prompts`` as vLLM's custom dataset: one ``{"prompt": ...}`` JSON object per line."""
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise ValueError(f"prompts must be a non-empty list of non-empty strings, got {prompts!r}")
    write_text_atomic(path, "".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    return Path(path)


def bench_serve_args(base_url: str, model: str, tokenizer_dir, prompts_path, clients: int, output_tokens: int,
                     level: ServiceLevel = DEFAULT_SLO, percentiles=(50, 95)) -> list:
    """The arguments of one ``vllm bench serve`` run (what follows the command): ``clients`` greedy chat
    requests of ``output_tokens`` tokens at once against ``base_url`` (``http://host:port``, with or
    without ``/v1``), goodput at ``level``, the ``percentiles`` of TTFT, TPOT, ITL and E2EL."""
    if not isinstance(clients, int) or clients < 1:
        raise ValueError(f"clients must be a whole number >= 1, got {clients!r}")
    if not isinstance(output_tokens, int) or output_tokens < 1:
        raise ValueError(f"output_tokens must be a whole number >= 1, got {output_tokens!r}")
    if any(p not in PERCENTILES for p in percentiles):
        raise ValueError(f"percentiles must be among {PERCENTILES}, got {percentiles!r}")
    server = base_url.rstrip("/").removesuffix("/v1")
    return ["--backend", "openai-chat", "--base-url", server, "--endpoint", "/v1/chat/completions",
            "--model", model, "--tokenizer", str(tokenizer_dir),
            "--dataset-name", "custom", "--dataset-path", str(prompts_path), "--skip-chat-template",
            "--custom-output-len", str(output_tokens), "--ignore-eos", "--temperature", "0",
            "--num-prompts", str(clients), "--max-concurrency", str(clients), "--request-rate", "inf",
            "--goodput", f"ttft:{level.ttft_s * 1000:g}", f"tpot:{level.tpot_s * 1000:g}",
            "--percentile-metrics", ",".join(m.lower() for m in METRICS),
            "--metric-percentiles", ",".join(str(p) for p in percentiles), "--save-detailed", "--disable-tqdm"]


def command_line(args) -> str:
    """One run as you would type it where the ``vllm`` command works, one option per line."""
    lines, words = [["vllm", "bench", "serve"]], list(map(str, args))
    for word in words:
        if word.startswith("--"):
            lines.append([])
        lines[-1].append(word)
    return " \\\n    ".join(shlex.join(line) for line in lines)


def run_bench_serve(runs, work_dir: Path = WORK_DIR) -> list:
    """Run every argument list in ``runs`` with ``vllm bench serve``, in order, in one process; return
    the result dictionaries. Its output goes to ``work_dir/bench_serve.log``; when it fails, the error
    holds the log's last lines."""
    runs = [list(map(str, argv)) for argv in runs]
    if not runs:
        raise ValueError("no runs given")
    python = require_vllm_env()
    work_dir = Path(work_dir)
    runs_path, results_path, log_path = (work_dir / name for name in ("runs.json", "results.json", "bench_serve.log"))
    write_text_atomic(runs_path, json.dumps(runs))
    results_path.unlink(missing_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}  # nothing leaves the machine
    with open(log_path, "w") as log:
        try:
            done = subprocess.run(guarded([python, RUNNER, runs_path, results_path]), stdout=log,
                                  stderr=subprocess.STDOUT, env=env, timeout=SECONDS_PER_RUN * len(runs))
        except subprocess.TimeoutExpired:
            raise BenchServeFailed(f"vllm bench serve took longer than {SECONDS_PER_RUN:.0f} s per run "
                                   f"and was stopped; see {log_path}") from None
    if done.returncode != 0 or not results_path.is_file():
        raise BenchServeFailed(f"vllm bench serve failed (exit code {done.returncode}):\n{_tail(log_path)}")
    return json.loads(results_path.read_text())


def bench_row(result: dict, level: ServiceLevel = DEFAULT_SLO, percentiles=(50, 95)) -> dict:
    """One result of ``vllm bench serve`` as a row with the columns of
    :func:`helpers.serving.latency.bench_summary`. Refuses a run in which any request failed."""
    if result["failed"]:
        errors = [e for e in result.get("errors", []) if e]
        first = errors[0].strip().splitlines()[-1] if errors else "no error text"
        raise BenchServeFailed(f"{result['failed']} of {result['failed'] + result['completed']} requests failed "
                               f"(first: {first})")
    row = {"requests": result["completed"], REQUEST_THROUGHPUT: result["request_throughput"],
           OUTPUT_THROUGHPUT: result["output_throughput"], goodput_column(level): result["request_goodput"]}
    for metric in METRICS:
        for p in percentiles:
            row[percentile_column(metric, p)] = result[f"p{p:g}_{metric.lower()}_ms"]
    return row


def _tail(log_path: Path, lines: int = 12) -> str:
    text = log_path.read_text(errors="replace") if log_path.is_file() else ""
    useful = [line for line in text.splitlines() if not line.startswith((" - ", "nanobind"))]  # leak reports at exit
    return "\n".join(useful[-lines:])
